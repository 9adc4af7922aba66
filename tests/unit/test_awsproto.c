/* test_awsproto.c - AWS wire formats: bodies, results, errors, retry table. */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "awsproto.h"
#include "entry.h"

#define T_MS 1700000000123LL    /* 2023-11-14T22:13:20.123Z */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static struct entry *
mk_entry(const char *detail, const char *event_json, const char *event_type)
{
	struct entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->source = xstrdup("nice.cxone.routing");
	e->detail_type = xstrdup("routing:queued");
	e->detail = detail != NULL ? xstrdup(detail) : NULL;
	e->bus = xstrdup("arn:aws:events:eu-west-1:123456789012:event-bus/cx");
	e->time_ms = T_MS;
	e->received_ms = T_MS + 1877;
	e->event_json = event_json != NULL ? xstrdup(event_json) : NULL;
	e->event_type = event_type != NULL ? xstrdup(event_type) : NULL;
	return e;
}

static void
add_resources(struct entry *e)
{
	e->resources = calloc(2, sizeof(char *));
	assert_non_null(e->resources);
	e->resources[0] = xstrdup("arn:aws:connect:::queue/q1");
	e->resources[1] = xstrdup("skill/7");
	e->n_resources = 2;
}

static json_t *
load_flags(const char *text, size_t len, size_t flags)
{
	json_error_t err;
	json_t *v = json_loadb(text, len, flags, &err);

	if (v == NULL)
		fail_msg("not JSON (%s): %s", err.text, text);
	return v;
}

static json_t *
load(const char *text, size_t len)
{
	return load_flags(text, len, 0);
}

static const char *
sget(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void
test_time_epoch(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(awsproto_time_epoch(T_MS, b, sizeof(b)),
	    "1700000000.123");
	assert_string_equal(awsproto_time_epoch(1700000000005LL, b, sizeof(b)),
	    "1700000000.005");
	assert_string_equal(awsproto_time_epoch(1700000000000LL, b, sizeof(b)),
	    "1700000000.000");
	assert_string_equal(awsproto_time_epoch(0, b, sizeof(b)), "0.000");
	assert_string_equal(awsproto_time_epoch(999, b, sizeof(b)), "0.999");
	assert_string_equal(awsproto_time_epoch(-1, b, sizeof(b)), "-0.001");
	assert_string_equal(awsproto_time_epoch(-1500, b, sizeof(b)), "-1.500");
	assert_string_equal(awsproto_time_epoch(INT64_MIN, b, sizeof(b)),
	    "-9223372036854775.808");
}

static void
test_time_rfc3339(void **state)
{
	char b[32];

	(void)state;
	assert_int_equal(awsproto_time_rfc3339(T_MS, b, sizeof(b)), 0);
	assert_string_equal(b, "2023-11-14T22:13:20.123Z");
	assert_int_equal(awsproto_time_rfc3339(0, b, sizeof(b)), 0);
	assert_string_equal(b, "1970-01-01T00:00:00.000Z");
	assert_int_equal(awsproto_time_rfc3339(7, b, sizeof(b)), 0);
	assert_string_equal(b, "1970-01-01T00:00:00.007Z");
	assert_int_equal(awsproto_time_rfc3339(-1, b, sizeof(b)), 0);
	assert_string_equal(b, "1969-12-31T23:59:59.999Z");
	assert_int_equal(awsproto_time_rfc3339(951782400000LL, b, sizeof(b)), 0);
	assert_string_equal(b, "2000-02-29T00:00:00.000Z");
	assert_int_equal(awsproto_time_rfc3339(253402300799999LL, b, sizeof(b)), 0);
	assert_string_equal(b, "9999-12-31T23:59:59.999Z");
	assert_int_equal(awsproto_time_rfc3339(253402300800000LL, b, sizeof(b)), -1);
	assert_string_equal(b, "");
	assert_int_equal(awsproto_time_rfc3339(INT64_MAX, b, sizeof(b)), -1);
	assert_int_equal(awsproto_time_rfc3339(T_MS, b, 10), -1);
	assert_string_equal(b, "");
}

static void
check_pe_entry(const json_t *j, const struct entry *e)
{
	assert_true(json_is_object(j));
	assert_string_equal(sget(j, "Source"), e->source);
	assert_string_equal(sget(j, "DetailType"), e->detail_type);
	assert_string_equal(sget(j, "Detail"), e->detail);
	assert_string_equal(sget(j, "EventBusName"), e->bus);
	assert_true(json_is_number(json_object_get(j, "Time")));
	assert_true(json_number_value(json_object_get(j, "Time")) * 1000.0 -
	    (double)e->time_ms < 0.5);
	assert_true((double)e->time_ms -
	    json_number_value(json_object_get(j, "Time")) * 1000.0 < 0.5);
}

static void
test_putevents_body(void **state)
{
	const char *detail =
	    "{\"id\":\"a\\\"b\",\"t\":\"tab\\there\",\"n\":\"\xc3\xa9\xe2\x82\xac\"}";
	struct entry *e[2];
	json_t *root, *arr, *j, *res;
	size_t len = 0;
	char *body;

	(void)state;
	e[0] = mk_entry(detail, NULL, "routing:queued");
	add_resources(e[0]);
	e[0]->trace_header = xstrdup("Root=1-5759e988-bd862e3fe1be46a994272793");
	e[1] = mk_entry("{}", NULL, NULL);
	e[1]->time_ms = 1700000000005LL;
	body = putevents_body(e, 2, &len);
	assert_non_null(body);
	assert_int_equal(len, strlen(body));
	/* exact number text: jansson would read it back as a double */
	assert_non_null(strstr(body, "\"Time\":1700000000.123"));
	assert_non_null(strstr(body, "\"Time\":1700000000.005"));
	assert_null(strchr(body, '\n'));

	root = load(body, len);
	assert_int_equal(json_object_size(root), 1);
	arr = json_object_get(root, "Entries");
	assert_int_equal(json_array_size(arr), 2);
	j = json_array_get(arr, 0);
	check_pe_entry(j, e[0]);
	assert_string_equal(sget(j, "TraceHeader"), e[0]->trace_header);
	res = json_object_get(j, "Resources");
	assert_int_equal(json_array_size(res), 2);
	assert_string_equal(json_string_value(json_array_get(res, 0)),
	    "arn:aws:connect:::queue/q1");
	assert_string_equal(json_string_value(json_array_get(res, 1)), "skill/7");
	assert_int_equal(json_object_size(j), 7);
	j = json_array_get(arr, 1);
	check_pe_entry(j, e[1]);
	assert_null(json_object_get(j, "Resources"));
	assert_null(json_object_get(j, "TraceHeader"));
	assert_int_equal(json_object_size(j), 5);
	json_decref(root);
	free(body);
	entry_free(e[0]);
	entry_free(e[1]);
}

/* Bytes that are not UTF-8 become U+FFFD; controls and U+FFFF are escaped. */
static void
test_putevents_body_escaping(void **state)
{
	struct entry *e = mk_entry("{\"a\":\"x\xef\xbf\xbfy\"}", NULL, NULL);
	json_t *root, *j;
	size_t len = 0;
	char *body;

	(void)state;
	free(e->source);
	e->source = xstrdup("bad\xff\xc3(\x01\x1f\"\\/end");
	body = putevents_body(&e, 1, &len);
	assert_non_null(body);
	assert_null(strstr(body, "\xef\xbf\xbf"));
	assert_non_null(strstr(body, "\\uffff"));
	assert_non_null(strstr(body, "\\u0001"));
	assert_non_null(strstr(body, "\\u001f"));
	root = load(body, len);
	j = json_array_get(json_object_get(root, "Entries"), 0);
	assert_string_equal(sget(j, "Source"),
	    "bad\xef\xbf\xbd\xef\xbf\xbd(\x01\x1f\"\\/end");
	assert_string_equal(sget(j, "Detail"), e->detail);
	json_decref(root);
	free(body);
	entry_free(e);
}

static void
test_putevents_body_bad_n(void **state)
{
	struct entry *e[AWSPROTO_MAX_ENTRIES + 1];
	size_t len = 77;

	(void)state;
	for (size_t i = 0; i <= AWSPROTO_MAX_ENTRIES; i++)
		e[i] = mk_entry("{}", NULL, NULL);
	assert_null(putevents_body(e, 0, &len));
	assert_null(putevents_body(e, AWSPROTO_MAX_ENTRIES + 1, &len));
	assert_int_equal(len, 77);
	for (size_t i = 0; i <= AWSPROTO_MAX_ENTRIES; i++)
		entry_free(e[i]);
}

/* Over AWSPROTO_MAX_BODY the builder gives up rather than grow forever. */
static void
test_putevents_body_cap(void **state)
{
	size_t big = AWSPROTO_MAX_BODY / 4;
	struct entry *e = mk_entry(NULL, NULL, NULL);
	char *body;

	(void)state;
	e->detail = malloc(big + 1);
	assert_non_null(e->detail);
	memset(e->detail, '\x01', big);     /* six bytes each when escaped */
	e->detail[big] = '\0';
	assert_null(putevents_body(&e, 1, NULL));
	memset(e->detail, 'a', big);
	body = putevents_body(&e, 1, NULL);
	assert_non_null(body);
	free(body);
	entry_free(e);
}

static void
test_putevents_parse_success(void **state)
{
	const char *b = "{\"FailedEntryCount\":0,\"Entries\":"
	    "[{\"EventId\":\"11710aed-b79e-4468-a20b-bb3c0c3b4860\"},"
	    "{\"EventId\":\"d804d26a-88db-4b66-9eaf-9a11c708ae82\"}]}";
	struct putevents_result r[2];

	(void)state;
	assert_int_equal(putevents_parse(b, strlen(b), 2, r), 0);
	assert_int_equal(r[0].ok, 1);
	assert_string_equal(r[0].event_id, "11710aed-b79e-4468-a20b-bb3c0c3b4860");
	assert_string_equal(r[0].error_code, "");
	assert_int_equal(r[1].ok, 1);
	assert_string_equal(r[1].event_id, "d804d26a-88db-4b66-9eaf-9a11c708ae82");
}

static void
test_putevents_parse_partial(void **state)
{
	const char *b = "{\"FailedEntryCount\":2,\"Entries\":["
	    "{\"EventId\":\"e0\"},"
	    "{\"ErrorCode\":\"ThrottlingException\",\"ErrorMessage\":\"Rate exceeded\"},"
	    "{},"
	    "{\"ErrorCode\":\"MalformedDetail\",\"ErrorMessage\":\"Detail is malformed.\"},"
	    "{\"EventId\":\"both\",\"ErrorCode\":\"InternalFailure\"}]}";
	struct putevents_result r[5];

	(void)state;
	assert_int_equal(putevents_parse(b, strlen(b), 5, r), 0);
	assert_int_equal(r[4].ok, 0);     /* an ErrorCode always means failed */
	assert_string_equal(r[4].error_code, "InternalFailure");
	assert_int_equal(r[0].ok, 1);
	assert_string_equal(r[0].event_id, "e0");
	assert_int_equal(r[1].ok, 0);
	assert_string_equal(r[1].error_code, "ThrottlingException");
	assert_string_equal(r[1].error_message, "Rate exceeded");
	assert_string_equal(r[1].event_id, "");
	assert_int_equal(r[2].ok, 0);
	assert_string_equal(r[2].error_code, "MissingResult");
	assert_int_equal(r[3].ok, 0);
	assert_string_equal(r[3].error_code, "MalformedDetail");
	assert_string_equal(r[3].error_message, "Detail is malformed.");
}

static void
assert_pe_bad(const char *b, size_t len, size_t n)
{
	struct putevents_result r[AWSPROTO_MAX_ENTRIES];
	static const struct putevents_result zero;

	memset(r, 0xaa, sizeof(r));
	assert_int_equal(putevents_parse(b, len, n, r), -1);
	for (size_t i = 0; i < n && i < AWSPROTO_MAX_ENTRIES; i++)
		assert_memory_equal(&r[i], &zero, sizeof(zero));
}

static void
test_putevents_parse_bad(void **state)
{
	const char *two = "{\"FailedEntryCount\":0,\"Entries\":"
	    "[{\"EventId\":\"a\"},{\"EventId\":\"b\"}]}";
	const char *bad[] = {
		"", "not json", "<html>503</html>", "[]", "{}", "null",
		"{\"Entries\":{}}", "{\"Entries\":[1,2]}",
		"{\"FailedEntryCount\":\"x\",\"Entries\":[{},{}]}",
		"{\"Entries\":[{\"EventId\":\"a\"},{\"EventId\":\"b\"}]} trailing",
		/* Ambiguous: which list is the answer?  AWS never sends it. */
		"{\"Entries\":[{},{}],\"Entries\":[{\"EventId\":\"a\"},"
		    "{\"EventId\":\"b\"}]}",
		/* Deeper than AWSPROTO_MAX_DEPTH. */
		"{\"Entries\":[{\"EventId\":\"a\",\"x\":[[[[[[[[[[[[[[[[[[[["
		    "[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},{\"EventId\":\"b\"}]}",
	};
	char *huge;

	(void)state;
	assert_pe_bad(two, strlen(two), 3);     /* count mismatch */
	assert_pe_bad(two, strlen(two), 1);
	assert_pe_bad(two, strlen(two) - 1, 2); /* truncated */
	assert_pe_bad(two, strlen(two), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_pe_bad(bad[i], strlen(bad[i]), 2);
	assert_pe_bad(NULL, 0, 2);

	/* a valid body over the cap is refused unread */
	huge = malloc(AWSPROTO_MAX_RESPONSE + 64);
	assert_non_null(huge);
	memset(huge, ' ', AWSPROTO_MAX_RESPONSE + 64);
	memcpy(huge, two, strlen(two));
	assert_pe_bad(huge, AWSPROTO_MAX_RESPONSE + 64, 2);
	free(huge);
}

/* Long strings are cut, and never inside a UTF-8 character. */
static void
test_putevents_parse_truncates(void **state)
{
	char b[2048], id[301], msg[601];
	struct putevents_result r[2];

	(void)state;
	memset(id, 'i', 300);
	id[300] = '\0';
	for (size_t i = 0; i < 600; i += 2)
		memcpy(msg + i, "\xc3\xa9", 2);  /* 'é' */
	msg[600] = '\0';
	snprintf(b, sizeof(b), "{\"Entries\":[{\"EventId\":\"%s\"},"
	    "{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"x%s\"}]}",
	    id, msg);
	assert_int_equal(putevents_parse(b, strlen(b), 2, r), 0);
	assert_int_equal(strlen(r[0].event_id), sizeof(r[0].event_id) - 1);
	/* "x" + 127 whole two-byte characters = 255 fits; 256 would not */
	assert_int_equal(strlen(r[1].error_message), 255);
	json_t *s = json_string(r[1].error_message);   /* NULL if not UTF-8 */
	assert_non_null(s);
	json_decref(s);

	snprintf(b, sizeof(b), "{\"Entries\":[{\"EventId\":\"a\"},"
	    "{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"%s\"}]}", msg);
	assert_int_equal(putevents_parse(b, strlen(b), 2, r), 0);
	assert_int_equal(strlen(r[1].error_message), 254);
}

static void
check_envelope(const char *env, size_t len, const struct entry *e)
{
	char ts[32];
	/* the event may hold integers too big for json_int_t */
	json_t *j = load_flags(env, len, JSON_DECODE_INT_AS_REAL), *en;

	assert_string_equal(sget(j, "reason"), dlq_reason_name(e->reason));
	assert_string_equal(sget(j, "errorCode"), e->error_code);
	assert_string_equal(sget(j, "errorMessage"), e->error_message);
	assert_true(json_number_value(json_object_get(j, "attempts")) ==
	    (double)e->attempts);
	assert_non_null(strstr(env, "\"attempts\":"));
	assert_int_equal(awsproto_time_rfc3339(e->received_ms, ts, sizeof(ts)), 0);
	assert_string_equal(sget(j, "receivedAt"), ts);
	en = json_object_get(j, "entry");
	assert_string_equal(sget(en, "Source"), e->source);
	assert_string_equal(sget(en, "DetailType"), e->detail_type);
	assert_string_equal(sget(en, "EventBusName"), e->bus);
	assert_string_equal(sget(en, "Time"), "2023-11-14T22:13:20.123Z");
	if (e->n_resources == 0) {
		assert_null(json_object_get(en, "Resources"));
	} else {
		json_t *res = json_object_get(en, "Resources");

		assert_int_equal(json_array_size(res), e->n_resources);
		for (size_t i = 0; i < e->n_resources; i++)
			assert_string_equal(json_string_value(json_array_get(res, i)),
			    e->resources[i]);
	}
	assert_int_equal(json_object_size(en), e->n_resources ? 5 : 4);
	json_decref(j);
}

static void
test_envelope_each_reason(void **state)
{
	const char *ev = "{\n  \"id\": \"6f1c\",\n  \"eventType\": \"routing:queued\",\n"
	    "  \"routingContext\": {\"waitTimeMs\": 0.1, \"big\": 12345678901234567890,"
	    " \"s\": \"a b\\n\"}\n}\n";
	static const struct {
		enum dlq_reason reason;
		const char *code, *message;
		unsigned attempts;
	} cases[] = {
		{ DLQ_EVENTBRIDGE_ERROR, "ThrottlingException", "Rate exceeded", 5 },
		{ DLQ_NON_RETRYABLE, "MalformedDetail", "Detail is malformed.", 1 },
		{ DLQ_OUT_OF_ORDER, "", "", 0 },
		{ DLQ_DEADLINE, "InternalFailure", "", 3 },
		{ DLQ_CIRCUIT_OPEN, "", "", 0 },
		{ DLQ_SHUTDOWN, "HTTP503", "", 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct entry *e = mk_entry("{\"x\":1}", ev, "routing:queued");
		json_t *j, *want;
		size_t len = 0;
		char *env;

		e->reason = cases[i].reason;
		snprintf(e->error_code, sizeof(e->error_code), "%s", cases[i].code);
		snprintf(e->error_message, sizeof(e->error_message), "%s",
		    cases[i].message);
		e->attempts = cases[i].attempts;
		if (i % 2 == 0)
			add_resources(e);
		env = dlq_envelope(e, &len);
		assert_non_null(env);
		assert_int_equal(len, strlen(env));
		check_envelope(env, len, e);
		/* compact, with the event's numbers exactly as sent */
		assert_null(strchr(env, '\n'));
		assert_null(strstr(env, "\": "));
		assert_non_null(strstr(env, "\"waitTimeMs\":0.1,"));
		assert_non_null(strstr(env, "\"big\":12345678901234567890,\"s\""));
		assert_non_null(strstr(env, "\"s\":\"a b\\n\""));
		j = load_flags(env, len, JSON_DECODE_INT_AS_REAL);
		want = json_loads(ev, JSON_DECODE_INT_AS_REAL, NULL);
		assert_true(json_equal(json_object_get(j, "event"), want));
		assert_null(json_object_get(j, "eventText"));
		assert_int_equal(json_object_size(j), 7);
		json_decref(want);
		json_decref(j);
		free(env);
		entry_free(e);
	}
}

/* event_json, else detail, else the text as eventText. */
static void
test_envelope_event_fallback(void **state)
{
	struct entry *e = mk_entry("{\"d\":true}", NULL, NULL);
	json_t *j;
	char *env;
	size_t len;

	(void)state;
	env = dlq_envelope(e, &len);
	j = load(env, len);
	assert_true(json_is_true(json_object_get(json_object_get(j, "event"), "d")));
	json_decref(j);
	free(env);

	e->event_json = xstrdup("{\"cut\":");
	env = dlq_envelope(e, &len);
	j = load(env, len);
	assert_true(json_is_true(json_object_get(json_object_get(j, "event"), "d")));
	json_decref(j);
	free(env);

	free(e->detail);
	e->detail = xstrdup("[1,2]");   /* JSON, but not an object */
	env = dlq_envelope(e, &len);
	j = load(env, len);
	assert_null(json_object_get(j, "event"));
	assert_string_equal(sget(j, "eventText"), "{\"cut\":");
	json_decref(j);
	free(env);

	free(e->event_json);
	e->event_json = NULL;
	free(e->detail);
	e->detail = NULL;
	e->received_ms = 400000000000000LL;     /* year > 9999 */
	env = dlq_envelope(e, &len);
	j = load(env, len);
	assert_null(json_object_get(j, "event"));
	assert_null(json_object_get(j, "eventText"));
	assert_true(json_is_null(json_object_get(j, "receivedAt")));
	assert_string_equal(sget(j, "errorCode"), "");
	json_decref(j);
	free(env);
	entry_free(e);
}

/* U+FFFF inside the event's strings would make SQS refuse the message. */
static void
test_envelope_sqs_safe(void **state)
{
	struct entry *e = mk_entry(NULL, "{\"k\":\"a\xef\xbf\xbe\\\"\xef\xbf\xbf\"}", NULL);
	json_t *j;
	char *env;
	size_t len;

	(void)state;
	env = dlq_envelope(e, &len);
	assert_non_null(env);
	assert_null(strstr(env, "\xef\xbf\xbe"));
	assert_null(strstr(env, "\xef\xbf\xbf"));
	assert_non_null(strstr(env, "{\"k\":\"a\\ufffe\\\"\\uffff\"}"));
	j = load(env, len);
	assert_string_equal(sget(json_object_get(j, "event"), "k"),
	    "a\xef\xbf\xbe\"\xef\xbf\xbf");
	json_decref(j);
	free(env);
	entry_free(e);
}

static void
test_sqs_message_size(void **state)
{
	struct entry *e = mk_entry("{}", NULL, "routing:agent");

	(void)state;
	e->reason = DLQ_OUT_OF_ORDER;
	assert_int_equal(sqs_message_size(e, 1000),
	    1000 + 6 + 6 + strlen("out_of_order") + 9 + 6 + 13);
	e->reason = DLQ_DEADLINE;
	assert_int_equal(sqs_message_size(e, 0), 6 + 6 + 8 + 9 + 6 + 13);
	free(e->event_type);
	e->event_type = NULL;
	assert_int_equal(sqs_message_size(e, 1000), 1000 + 6 + 6 + 8);
	/* a control character goes out as U+FFFD: three bytes */
	e->event_type = xstrdup("routing:\x01");
	assert_int_equal(sqs_message_size(e, 0), 6 + 6 + 8 + 9 + 6 + 8 + 3);
	free(e->event_type);
	e->event_type = malloc(1001);
	assert_non_null(e->event_type);
	memset(e->event_type, 'r', 1000);
	e->event_type[1000] = '\0';
	assert_int_equal(sqs_message_size(e, 0),
	    6 + 6 + 8 + 9 + 6 + AWSPROTO_MAX_ATTR);
	entry_free(e);
}

/* What sqs_message_size says equals what the body carries. */
static size_t
sqs_counted_size(const json_t *msg)
{
	const json_t *attrs = json_object_get(msg, "MessageAttributes"), *a;
	const char *name;
	size_t size = json_string_length(json_object_get(msg, "MessageBody"));

	json_object_foreach((json_t *)attrs, name, a) {
		size += strlen(name) + strlen(sget(a, "DataType")) +
		    json_string_length(json_object_get(a, "StringValue"));
	}
	return size;
}

static void
test_sqs_batch_body(void **state)
{
	const char *url = "https://sqs.eu-west-1.amazonaws.com/123456789012/cx-dlq";
	struct entry *e[2];
	json_t *root, *arr, *m, *attrs;
	size_t len = 0, elen = 0;
	char *body, *env;

	(void)state;
	e[0] = mk_entry("{\"a\":1}", NULL, "routing:queued\x02");
	e[0]->reason = DLQ_NON_RETRYABLE;
	snprintf(e[0]->error_code, sizeof(e[0]->error_code), "MalformedDetail");
	e[1] = mk_entry("{\"b\":2}", NULL, NULL);
	e[1]->reason = DLQ_SHUTDOWN;
	assert_null(sqs_batch_body(NULL, e, 2, &len));
	assert_null(sqs_batch_body(url, e, 0, &len));
	body = sqs_batch_body(url, e, 2, &len);
	assert_non_null(body);
	assert_int_equal(len, strlen(body));
	root = load(body, len);
	assert_string_equal(sget(root, "QueueUrl"), url);
	arr = json_object_get(root, "Entries");
	assert_int_equal(json_array_size(arr), 2);
	for (size_t i = 0; i < 2; i++) {
		char id[4];

		m = json_array_get(arr, i);
		snprintf(id, sizeof(id), "%zu", i);
		assert_string_equal(sget(m, "Id"), id);
		env = dlq_envelope(e[i], &elen);
		assert_string_equal(sget(m, "MessageBody"), env);
		check_envelope(sget(m, "MessageBody"), elen, e[i]);
		assert_int_equal(sqs_counted_size(m), sqs_message_size(e[i], elen));
		free(env);
		attrs = json_object_get(m, "MessageAttributes");
		assert_string_equal(sget(json_object_get(attrs, "reason"), "DataType"),
		    "String");
		assert_string_equal(sget(json_object_get(attrs, "reason"),
		    "StringValue"), dlq_reason_name(e[i]->reason));
	}
	attrs = json_object_get(json_array_get(arr, 0), "MessageAttributes");
	assert_string_equal(sget(json_object_get(attrs, "eventType"), "DataType"),
	    "String");
	assert_string_equal(sget(json_object_get(attrs, "eventType"),
	    "StringValue"), "routing:queued\xef\xbf\xbd");
	attrs = json_object_get(json_array_get(arr, 1), "MessageAttributes");
	assert_null(json_object_get(attrs, "eventType"));
	assert_int_equal(json_object_size(attrs), 1);
	json_decref(root);
	free(body);
	entry_free(e[0]);
	entry_free(e[1]);
}

static void
test_sqs_parse_mixed(void **state)
{
	const char *b = "{\"Successful\":["
	    "{\"Id\":\"0\",\"MessageId\":\"m-0\",\"MD5OfMessageBody\":\"x\"},"
	    "{\"Id\":\"2\",\"MessageId\":\"m-2\"},"
	    "{\"Id\":\"4\",\"MessageId\":\"m-4\"},"
	    "{\"Id\":\"9\",\"MessageId\":\"not ours\"},"
	    "{\"Id\":\"01\",\"MessageId\":\"not ours either\"}],"
	    "\"Failed\":["
	    "{\"Id\":\"1\",\"SenderFault\":true,\"Code\":\"InvalidParameterValue\","
	    "\"Message\":\"Message must be shorter than 262144 bytes.\"},"
	    "{\"Id\":\"4\",\"SenderFault\":false,\"Code\":\"InternalError\"},"
	    "{\"Id\":\"5\",\"SenderFault\":false}]}";
	struct sqs_result r[7];

	(void)state;
	assert_int_equal(sqs_batch_parse(b, strlen(b), 7, r), 0);
	assert_int_equal(r[0].ok, 1);
	assert_string_equal(r[0].message_id, "m-0");
	assert_int_equal(r[1].ok, 0);
	assert_int_equal(r[1].sender_fault, 1);
	assert_string_equal(r[1].error_code, "InvalidParameterValue");
	assert_string_equal(r[1].error_message,
	    "Message must be shorter than 262144 bytes.");
	assert_int_equal(r[2].ok, 1);
	assert_string_equal(r[2].message_id, "m-2");
	assert_int_equal(r[3].ok, 0);
	assert_string_equal(r[3].error_code, "MissingResult");
	assert_int_equal(r[4].ok, 0);     /* in both lists: failure wins */
	assert_string_equal(r[4].error_code, "InternalError");
	assert_string_equal(r[4].message_id, "");
	assert_int_equal(r[4].sender_fault, 0);
	assert_int_equal(r[5].ok, 0);
	assert_string_equal(r[5].error_code, "UnknownError");
	assert_int_equal(r[6].ok, 0);
	assert_string_equal(r[6].error_code, "MissingResult");
}

static void
test_sqs_parse_shapes(void **state)
{
	const char *ok = "{\"Successful\":[{\"Id\":\"0\",\"MessageId\":\"m\"}],"
	    "\"Failed\":[]}";
	const char *only_failed = "{\"Failed\":[{\"Id\":\"0\",\"Code\":\"X\"}]}";
	const char *bad[] = {
		"", "garbage", "[]", "{}", "{\"Successful\":{}}",
		"{\"Successful\":[1]}", "{\"Successful\":[],\"Failed\":\"no\"}",
		"{\"Successful\":null,\"Failed\":null}",
	};
	struct sqs_result r[2];

	(void)state;
	assert_int_equal(sqs_batch_parse(ok, strlen(ok), 1, r), 0);
	assert_string_equal(r[0].message_id, "m");
	assert_int_equal(sqs_batch_parse(only_failed, strlen(only_failed), 1, r), 0);
	assert_string_equal(r[0].error_code, "X");
	assert_int_equal(sqs_batch_parse(ok, strlen(ok), 2, r), 0);
	assert_string_equal(r[1].error_code, "MissingResult");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(r, 0x55, sizeof(r));
		assert_int_equal(sqs_batch_parse(bad[i], strlen(bad[i]), 2, r), -1);
		assert_int_equal(r[0].ok, 0);
		assert_string_equal(r[1].error_code, "");
	}
	assert_int_equal(sqs_batch_parse(ok, strlen(ok), 0, r), -1);
	assert_int_equal(sqs_batch_parse(ok, strlen(ok), 11, r), -1);
}

static void
test_error_putevents_validation(void **state)
{
	const char *b = "{\"__type\":\"ValidationException\",\"message\":"
	    "\"1 validation error detected: Value at 'entries' failed to satisfy "
	    "constraint: Member must have length less than or equal to 10\"}";
	struct aws_error err;

	(void)state;
	assert_int_equal(aws_error_parse(400, b, strlen(b), NULL,
	    "ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/",
	    &err), 0);
	assert_string_equal(err.code, "ValidationException");
	assert_non_null(strstr(err.message, "less than or equal to 10"));
	assert_int_equal(aws_error_retryable(err.code, 400), 0);
}

static void
test_error_sqs_queue_missing(void **state)
{
	const char *b = "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
	    "\"message\":\"The specified queue does not exist.\"}";
	const char *qe = "AWS.SimpleQueueService.NonExistentQueue;Sender";
	struct aws_error err;

	(void)state;
	assert_int_equal(aws_error_parse(400, b, strlen(b), qe, NULL, &err), 0);
	assert_string_equal(err.code, "QueueDoesNotExist");
	assert_string_equal(err.message, "The specified queue does not exist.");
	assert_int_equal(aws_error_retryable(err.code, 400), 0);
	/* without __type the query-compatible header names it */
	assert_int_equal(aws_error_parse(400, "", 0, qe, NULL, &err), 0);
	assert_string_equal(err.code, "AWS.SimpleQueueService.NonExistentQueue");
	assert_string_equal(err.message, "");
}

static void
test_error_503_html(void **state)
{
	const char *b = "<html><body><b>Http/1.1 Service Unavailable</b></body></html>";
	struct aws_error err;

	(void)state;
	assert_int_equal(aws_error_parse(503, b, strlen(b), NULL, NULL, &err), 1);
	assert_string_equal(err.code, "HTTP503");
	assert_string_equal(err.message, "");
	assert_int_equal(aws_error_retryable(err.code, 503), 1);
	assert_int_equal(aws_error_parse(403, NULL, 0, "", "  ", &err), 1);
	assert_string_equal(err.code, "HTTP403");
}

static void
test_error_shapes(void **state)
{
	const char *b1 = "{\"__type\":\"aws.protocoltests.restjson#FooError:"
	    "http://internal.amazon.com/coral/com.amazon.coral.validate/\","
	    "\"Message\":\"capital M\"}";
	const char *b2 = "{\"message\":\"no type\"}";
	const char *b3 = "{\"__type\":\"\\u0001Bad Code\"}";
	struct aws_error err;
	char b4[1200];

	(void)state;
	assert_int_equal(aws_error_parse(400, b1, strlen(b1), NULL, NULL, &err), 0);
	assert_string_equal(err.code, "FooError");
	assert_string_equal(err.message, "capital M");
	assert_int_equal(aws_error_parse(400, b2, strlen(b2), NULL,
	    "AccessDeniedException:http://internal.amazon.com/x", &err), 0);
	assert_string_equal(err.code, "AccessDeniedException");
	assert_string_equal(err.message, "no type");
	assert_int_equal(aws_error_parse(400, b3, strlen(b3), NULL, NULL, &err), 0);
	assert_string_equal(err.code, "?Bad?Code");
	snprintf(b4, sizeof(b4), "{\"__type\":\"%0100d\",\"message\":\"%0900d\"}",
	    0, 0);
	assert_int_equal(aws_error_parse(500, b4, strlen(b4), NULL, NULL, &err), 0);
	assert_int_equal(strlen(err.code), sizeof(err.code) - 1);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

static void
test_retryable_table(void **state)
{
	static const struct {
		const char *code;
		long status;
		int want;
	} t[] = {
		{ "ThrottlingException", 400, 1 }, { "ThrottlingException", 0, 1 },
		{ "Throttling", 400, 1 }, { "ThrottledException", 400, 1 },
		{ "RequestThrottledException", 400, 1 },
		{ "TooManyRequestsException", 400, 1 },
		{ "ProvisionedThroughputExceededException", 400, 1 },
		{ "TransactionInProgressException", 400, 1 },
		{ "RequestLimitExceeded", 400, 1 }, { "BandwidthLimitExceeded", 400, 1 },
		{ "LimitExceededException", 400, 1 }, { "RequestThrottled", 400, 1 },
		{ "SlowDown", 400, 1 }, { "PriorRequestNotComplete", 400, 1 },
		{ "EC2ThrottledException", 400, 1 },
		{ "RequestTimeout", 400, 1 }, { "RequestTimeoutException", 408, 1 },
		{ "InternalFailure", 0, 1 }, { "InternalError", 200, 1 },
		{ "InternalServerError", 0, 1 }, { "InternalException", 0, 1 },
		{ "ServiceUnavailable", 0, 1 }, { "Transport", 0, 1 },
		{ "HTTP500", 500, 1 }, { "HTTP502", 502, 1 }, { "HTTP503", 503, 1 },
		{ "HTTP504", 504, 1 }, { "HTTP429", 429, 1 }, { NULL, 503, 1 },
		{ "AccessDeniedException", 400, 0 }, { "ValidationException", 400, 0 },
		{ "MalformedDetail", 0, 0 }, { "InvalidArgument", 0, 0 },
		{ "NotAuthorizedForSourceException", 0, 0 },
		{ "QueueDoesNotExist", 400, 0 },
		{ "AWS.SimpleQueueService.NonExistentQueue", 400, 0 },
		{ "InvalidParameterValue", 400, 0 }, { "ExpiredTokenException", 400, 0 },
		{ "HTTP404", 404, 0 }, { "HTTP501", 501, 0 }, { "HTTP403", 403, 0 },
		{ "throttlingexception", 400, 0 }, { "", 400, 0 }, { NULL, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (aws_error_retryable(t[i].code, t[i].status) != t[i].want)
			fail_msg("%s/%ld: want %d", t[i].code ? t[i].code : "(null)",
			    t[i].status, t[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_epoch),
		cmocka_unit_test(test_time_rfc3339),
		cmocka_unit_test(test_putevents_body),
		cmocka_unit_test(test_putevents_body_escaping),
		cmocka_unit_test(test_putevents_body_bad_n),
		cmocka_unit_test(test_putevents_body_cap),
		cmocka_unit_test(test_putevents_parse_success),
		cmocka_unit_test(test_putevents_parse_partial),
		cmocka_unit_test(test_putevents_parse_bad),
		cmocka_unit_test(test_putevents_parse_truncates),
		cmocka_unit_test(test_envelope_each_reason),
		cmocka_unit_test(test_envelope_event_fallback),
		cmocka_unit_test(test_envelope_sqs_safe),
		cmocka_unit_test(test_sqs_message_size),
		cmocka_unit_test(test_sqs_batch_body),
		cmocka_unit_test(test_sqs_parse_mixed),
		cmocka_unit_test(test_sqs_parse_shapes),
		cmocka_unit_test(test_error_putevents_validation),
		cmocka_unit_test(test_error_sqs_queue_missing),
		cmocka_unit_test(test_error_503_html),
		cmocka_unit_test(test_error_shapes),
		cmocka_unit_test(test_retryable_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
