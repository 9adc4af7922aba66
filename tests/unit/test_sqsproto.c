/* test_sqsproto.c - SQS ReceiveMessage / DeleteMessageBatch / GetQueueAttributes, DLQ envelopes read back. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsproto.h"
#include "entry.h"
#include "sqsproto.h"

#define QURL "https://sqs.us-east-1.amazonaws.com/123456789012/dlq"
#define T_MS 1700000000123LL    /* 2023-11-14T22:13:20.123Z */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

/* ---- request bodies --------------------------------------------------- */

static void
test_receive_body(void **state)
{
	size_t len = 0;
	char *b = sqs_receive_body(QURL, 10, 20, 90, &len);

	(void)state;
	assert_non_null(b);
	assert_string_equal(b, "{\"QueueUrl\":\"" QURL "\",\"MaxNumberOfMessages\":10,"
	    "\"WaitTimeSeconds\":20,\"VisibilityTimeout\":90,"
	    "\"MessageAttributeNames\":[\"All\"],\"AttributeNames\":"
	    "[\"SentTimestamp\"]}");
	assert_int_equal(len, strlen(b));
	free(b);
	assert_null(sqs_receive_body(QURL, 0, 0, 30, NULL));
	assert_null(sqs_receive_body(QURL, 11, 0, 30, NULL));
	assert_null(sqs_receive_body(QURL, 1, 21, 30, NULL));
	assert_null(sqs_receive_body(QURL, 1, 0, 43201, NULL));
	assert_null(sqs_receive_body(NULL, 1, 0, 30, NULL));
}

static void
test_delete_body_and_answer(void **state)
{
	const char *h[2] = { "rh-0", "rh\"1" };
	struct sqs_result res[2];
	const char *answer = "{\"Successful\":[{\"Id\":\"1\"}],\"Failed\":[{\"Id\":"
	    "\"0\",\"Code\":\"ReceiptHandleIsInvalid\",\"SenderFault\":true,"
	    "\"Message\":\"bad\"}]}";
	char *b = sqs_delete_body(QURL, h, 2, NULL);

	(void)state;
	assert_non_null(b);
	assert_string_equal(b, "{\"QueueUrl\":\"" QURL "\",\"Entries\":["
	    "{\"Id\":\"0\",\"ReceiptHandle\":\"rh-0\"},"
	    "{\"Id\":\"1\",\"ReceiptHandle\":\"rh\\\"1\"}]}");
	free(b);
	assert_null(sqs_delete_body(QURL, h, 0, NULL));
	assert_null(sqs_delete_body(QURL, h, 11, NULL));
	/* The answer has SendMessageBatch's shape, without MessageId. */
	assert_int_equal(sqs_batch_parse(answer, strlen(answer), 2, res), 0);
	assert_false(res[0].ok);
	assert_true(res[0].sender_fault);
	assert_string_equal(res[0].error_code, "ReceiptHandleIsInvalid");
	assert_true(res[1].ok);
}

static void
test_attributes(void **state)
{
	char *b = sqs_attributes_body(QURL, NULL);
	int64_t v, h;
	const char *a = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"42\","
	    "\"ApproximateNumberOfMessagesNotVisible\":\"7\"}}";

	(void)state;
	assert_string_equal(b, "{\"QueueUrl\":\"" QURL "\",\"AttributeNames\":"
	    "[\"ApproximateNumberOfMessages\","
	    "\"ApproximateNumberOfMessagesNotVisible\"]}");
	free(b);
	assert_int_equal(sqs_attributes_parse(a, strlen(a), &v, &h), 0);
	assert_int_equal(v, 42);
	assert_int_equal(h, 7);
	a = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"-1\"}}";
	assert_int_equal(sqs_attributes_parse(a, strlen(a), &v, &h), 0);
	assert_int_equal(v, -1);
	assert_int_equal(h, -1);
	assert_int_equal(sqs_attributes_parse("[]", 2, &v, &h), -1);
}

/* ---- ReceiveMessage answers ------------------------------------------- */

static void
test_receive_parse(void **state)
{
	/* MD5 of "hello" is 5d41402abc4b2a76b9719d911017c592. */
	const char *a = "{\"Messages\":[{\"MessageId\":\"m1\",\"ReceiptHandle\":\"r1\","
	    "\"MD5OfBody\":\"5D41402ABC4B2A76B9719D911017C592\",\"Body\":\"hello\","
	    "\"Attributes\":{\"SentTimestamp\":\"1700000000123\"},"
	    "\"MessageAttributes\":{\"reason\":{\"DataType\":\"String\","
	    "\"StringValue\":\"deadline\"},\"eventType\":{\"DataType\":\"String\","
	    "\"StringValue\":\"routing:x\"}}},"
	    "{\"MessageId\":\"m2\",\"ReceiptHandle\":\"r2\",\"MD5OfBody\":"
	    "\"00000000000000000000000000000000\",\"Body\":\"a\\u0000b\"},"
	    "{\"MessageId\":\"m3\",\"ReceiptHandle\":\"r3\",\"Body\":\"x\"}]}";
	struct sqs_message m[3];
	size_t n = 99;

	(void)state;
	assert_int_equal(sqs_receive_parse(a, strlen(a), m, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].message_id, "m1");
	assert_string_equal(m[0].receipt_handle, "r1");
	assert_string_equal(m[0].body, "hello");
	assert_int_equal(m[0].md5_ok, 1);
	assert_int_equal(m[0].sent_ms, 1700000000123LL);
	assert_string_equal(m[0].reason, "deadline");
	assert_string_equal(m[0].event_type, "routing:x");
	assert_int_equal(m[1].md5_ok, 0);
	assert_int_equal(m[1].body_len, 3);
	assert_memory_equal(m[1].body, "a\0b", 3);
	assert_int_equal(m[1].sent_ms, -1);
	assert_string_equal(m[1].reason, "");
	assert_int_equal(m[2].md5_ok, -1);
	for (size_t i = 0; i < n; i++)
		sqs_message_fini(&m[i]);
	/* More than asked for is malformed, and nothing is left allocated. */
	assert_int_equal(sqs_receive_parse(a, strlen(a), m, 2, &n), -1);
	assert_int_equal(n, 0);
	sqs_message_fini(NULL);
}

static void
test_receive_parse_empty_and_bad(void **state)
{
	static const char *const empty[] = { "{}", "{\"Messages\":[]}",
	    "{\"Messages\":null}" };
	static const char *const bad[] = { "", "[]", "nope",
	    "{\"Messages\":{}}",
	    "{\"Messages\":[{\"MessageId\":\"m\",\"Body\":\"b\"}]}",
	    "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\"}]}",
	    "{\"Messages\":[{\"ReceiptHandle\":\"r\",\"Body\":\"b\"}]}",
	    "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\","
	    "\"Body\":\"b\"},{\"MessageId\":\"\",\"ReceiptHandle\":\"r\","
	    "\"Body\":\"b\"}]}",
	};
	struct sqs_message m[10];
	size_t n = 5;

	(void)state;
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		assert_int_equal(sqs_receive_parse(empty[i], strlen(empty[i]), m, 10,
		    &n), 0);
		assert_int_equal(n, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 5;
		assert_int_equal(sqs_receive_parse(bad[i], strlen(bad[i]), m, 10,
		    &n), -1);
		assert_int_equal(n, 0);
	}
}

static void
test_receive_parse_caps(void **state)
{
	size_t big = SQSPROTO_RECEIPT_MAX + 1, n;
	char *a = malloc(big + 128);
	struct sqs_message m[1];
	int k;

	(void)state;
	assert_non_null(a);
	k = snprintf(a, big + 128, "{\"Messages\":[{\"MessageId\":\"m\","
	    "\"ReceiptHandle\":\"%0*d\",\"Body\":\"b\"}]}", (int)big, 0);
	assert_int_equal(sqs_receive_parse(a, (size_t)k, m, 1, &n), -1);
	k = snprintf(a, big + 128, "{\"Messages\":[{\"MessageId\":\"m\","
	    "\"ReceiptHandle\":\"%0*d\",\"Body\":\"b\"}]}", (int)big - 1, 0);
	assert_int_equal(sqs_receive_parse(a, (size_t)k, m, 1, &n), 0);
	sqs_message_fini(&m[0]);
	free(a);
	assert_int_equal(sqs_receive_parse("{}", SQSPROTO_MAX_RESPONSE + 1, m, 1,
	    &n), -1);
}

/* ---- DLQ envelopes read back ------------------------------------------ */

static struct entry *
mk_entry(const char *detail, const char *event_json)
{
	struct entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->source = xstrdup("nice.cxone.routing");
	e->detail_type = xstrdup("routing:queued");
	e->detail = xstrdup(detail);
	e->bus = xstrdup("arn:aws:events:eu-west-1:123456789012:event-bus/cx");
	e->time_ms = T_MS;
	e->received_ms = T_MS + 1877;
	e->event_json = event_json != NULL ? xstrdup(event_json) : NULL;
	e->event_type = xstrdup("routing:queued");
	e->reason = DLQ_NON_RETRYABLE;
	e->attempts = 3;
	snprintf(e->error_code, sizeof(e->error_code), "InvalidArgument");
	return e;
}

/* The daemon's own envelope, read back, gives the entry it came from. */
static void
test_envelope_round_trip(void **state)
{
	const char *ev = "{\"id\":\"e-1\", \"eventType\":\"routing:queued\","
	    "\"n\":1.10,\"big\":12345678901234567890,\"s\":\"\\u00e9\\\"\"}";
	struct entry *e = mk_entry(ev, NULL), *back;
	struct dlq_message d;
	char err[128];
	size_t len;
	char *env;

	(void)state;
	e->resources = calloc(2, sizeof(char *));
	assert_non_null(e->resources);
	e->resources[0] = xstrdup("arn:aws:connect:::queue/q1");
	e->resources[1] = xstrdup("skill/7");
	e->n_resources = 2;
	env = dlq_envelope(e, &len);
	assert_non_null(env);
	assert_int_equal(dlq_envelope_parse(env, len, &d, err, sizeof(err)), 0);
	assert_int_equal(d.reason, DLQ_NON_RETRYABLE);
	assert_string_equal(d.reason_text, "non_retryable");
	assert_string_equal(d.error_code, "InvalidArgument");
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.received_ms, T_MS + 1877);
	assert_string_equal(d.event_id, "e-1");
	assert_string_equal(d.event_type, "routing:queued");
	back = dlq_message_take(&d);
	assert_null(d.entry);
	dlq_message_fini(&d);           /* the taken entry survives */
	assert_string_equal(back->source, e->source);
	assert_string_equal(back->detail_type, e->detail_type);
	assert_string_equal(back->bus, e->bus);
	assert_int_equal(back->time_ms, T_MS);
	assert_int_equal(back->n_resources, 2);
	assert_string_equal(back->resources[1], "skill/7");
	/* Compacted as the envelope stores it, digits untouched. */
	assert_string_equal(back->detail, "{\"id\":\"e-1\",\"eventType\":"
	    "\"routing:queued\",\"n\":1.10,\"big\":12345678901234567890,"
	    "\"s\":\"\\u00e9\\\"\"}");
	assert_int_equal(back->reason, DLQ_NONE);
	assert_int_equal(back->size, entry_size(back));
	assert_string_equal(back->event_id, "e-1");
	entry_free(back);
	entry_free(e);
	free(env);
}

/* With enrichment the Detail differs; the envelope keeps, and redrive
 * republishes, the original event. */
static void
test_envelope_keeps_the_original_event(void **state)
{
	struct entry *e = mk_entry("{\"id\":\"x\",\"cxbridge\":{\"i\":\"h\"}}",
	    "{\"id\":\"x\"}");
	struct dlq_message d;
	size_t len;
	char *env = dlq_envelope(e, &len), err[128];

	(void)state;
	assert_int_equal(dlq_envelope_parse(env, len, &d, err, sizeof(err)), 0);
	assert_string_equal(d.entry->detail, "{\"id\":\"x\"}");
	assert_null(d.entry->resources);
	dlq_message_fini(&d);
	entry_free(e);
	free(env);
}

static void
expect_refused(const char *body, const char *why)
{
	struct dlq_message d;
	char err[128] = "";

	if (dlq_envelope_parse(body, strlen(body), &d, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", body);
	assert_null(d.entry);
	if (strstr(err, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, why);
}

#define ENT "\"entry\":{\"Source\":\"s\",\"DetailType\":\"d\",\"Time\":" \
	"\"2024-01-01T00:00:00.000Z\"}"

static void
test_envelope_refusals(void **state)
{
	char deep[600];
	size_t n = 0;

	(void)state;
	expect_refused("not json", "not a JSON object");
	expect_refused("[1]", "not a JSON object");
	expect_refused("{" ENT ",\"eventText\":\"[1]\"}", "eventText");
	expect_refused("{" ENT "}", "no \"event\"");
	expect_refused("{\"event\":{}}", "no \"entry\"");
	expect_refused("{\"event\":{}," ENT "," ENT "}", "duplicate");
	expect_refused("{\"event\":{},\"entry\":{\"Source\":\"s\",\"DetailType\":"
	    "\"d\",\"Time\":\"yesterday\"}}", "Time");
	expect_refused("{\"event\":{},\"entry\":{\"Source\":\"\",\"DetailType\":"
	    "\"d\",\"Time\":\"2024-01-01T00:00:00Z\"}}", "Source");
	expect_refused("{\"event\":{},\"entry\":{\"Source\":\"s\",\"DetailType\":"
	    "\"d\",\"Time\":\"2024-01-01T00:00:00Z\",\"Resources\":[1]}}",
	    "Resources");
	expect_refused("{\"event\":{}," ENT ",\"x\":\"\xff\"}", "UTF-8");
	n += (size_t)snprintf(deep, sizeof(deep), "{" ENT ",\"event\":");
	for (int i = 0; i < SQSPROTO_MAX_DEPTH; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	expect_refused(deep, "deep");
}

static void
test_envelope_defaults_and_escaped_key(void **state)
{
	const char *a = "{\"reason\":\"later_reason\"," ENT ",\"\\u0065vent\":"
	    "{\"id\" : 7, \"n\" : [1, 2]}}";
	struct dlq_message d;
	char err[128];

	(void)state;
	assert_int_equal(dlq_envelope_parse(a, strlen(a), &d, err, sizeof(err)), 0);
	/* An unknown reason is kept as text; the bus defaults. */
	assert_int_equal(d.reason, DLQ_NONE);
	assert_string_equal(d.reason_text, "later_reason");
	assert_string_equal(d.entry->bus, "default");
	assert_int_equal(d.received_ms, -1);
	assert_string_equal(d.event_id, "");       /* not a string */
	/* The key was written with escapes; the value is still taken as is. */
	assert_string_equal(d.entry->detail, "{\"id\" : 7, \"n\" : [1, 2]}");
	dlq_message_fini(&d);
}

/* Only the top-level member counts, not text that looks like it. */
static void
test_envelope_event_decoys(void **state)
{
	const char *a = "{\"errorMessage\":\"\\\"event\\\":{\\\"id\\\":1}\","
	    "\"x\":{\"event\":{\"id\":\"nested\"}},\"y\":[{\"event\":2}],"
	    ENT ",\"event\":{\"id\":\"real\",\"s\":\"}]\\\\\"}}";
	struct dlq_message d;
	char err[128];

	(void)state;
	assert_int_equal(dlq_envelope_parse(a, strlen(a), &d, err, sizeof(err)), 0);
	assert_string_equal(d.event_id, "real");
	assert_string_equal(d.entry->detail,
	    "{\"id\":\"real\",\"s\":\"}]\\\\\"}");
	dlq_message_fini(&d);
}

static void
test_reason_names(void **state)
{
	enum dlq_reason r;

	(void)state;
	for (int i = DLQ_EVENTBRIDGE_ERROR; i <= DLQ_SHUTDOWN; i++) {
		assert_int_equal(dlq_reason_parse(dlq_reason_name((enum dlq_reason)i),
		    &r), 0);
		assert_int_equal(r, i);
	}
	assert_int_equal(dlq_reason_parse("none", &r), -1);
	assert_int_equal(dlq_reason_parse("bogus", &r), -1);
	assert_int_equal(dlq_reason_parse("", &r), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receive_body),
		cmocka_unit_test(test_delete_body_and_answer),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_receive_parse),
		cmocka_unit_test(test_receive_parse_empty_and_bad),
		cmocka_unit_test(test_receive_parse_caps),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_envelope_keeps_the_original_event),
		cmocka_unit_test(test_envelope_refusals),
		cmocka_unit_test(test_envelope_defaults_and_escaped_key),
		cmocka_unit_test(test_envelope_event_decoys),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
