/* test_entry.c - unit tests for the entry: AWS size rule, DLQ reason names. */
#include "testutil.h"

#include "entry.h"

#include <stdlib.h>
#include <string.h>

static void
test_size_ascii(void **state)
{
	struct entry e = { 0 };

	(void)state;
	e.source = (char *)"nice.cxone.routing";               /* 18 */
	e.detail_type = (char *)"routing:agent-assigned";      /* 22 */
	e.detail = (char *)"{\"a\":1}";                        /* 7 */
	/* Bus, trace header and ids are not part of AWS's size rule. */
	e.bus = (char *)"arn:aws:events:eu-west-1:123456789012:event-bus/x";
	e.trace_header = (char *)"Root=1-5759e988-bd862e3fe1be46a994272793";
	e.event_id = (char *)"3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a23";
	assert_int_equal(entry_size(&e), 14 + 18 + 22 + 7);
}

static void
test_size_utf8_bytes(void **state)
{
	struct entry e = { 0 };

	(void)state;
	e.source = (char *)"caf\xc3\xa9";                      /* 5 bytes, 4 chars */
	e.detail_type = (char *)"\xe2\x82\xac";                /* euro: 3 bytes */
	e.detail = (char *)"{\"s\":\"\xf0\x9f\x98\x80\"}";     /* 8 + 4 bytes */
	assert_int_equal(entry_size(&e), 14 + 5 + 3 + 12);
}

static void
test_size_resources(void **state)
{
	char *res[] = { (char *)"arn:aws:a", (char *)"",
	    (char *)"r\xc3\xa9s" };   /* 9, 0, 4 */
	struct entry e = { 0 };

	(void)state;
	e.source = (char *)"s";
	e.detail_type = (char *)"dt";
	e.detail = (char *)"{}";
	e.resources = res;
	e.n_resources = 3;
	assert_int_equal(entry_size(&e), 14 + 1 + 2 + 2 + 9 + 0 + 4);
	e.n_resources = 1;
	assert_int_equal(entry_size(&e), 14 + 1 + 2 + 2 + 9);
}

static void
test_size_empty_is_time_only(void **state)
{
	struct entry e = { 0 };

	(void)state;
	/* Time always counts 14 bytes, whatever else is missing. */
	assert_int_equal(entry_size(&e), 14);
}

static void
test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(dlq_reason_name(DLQ_NONE), "none");
	assert_string_equal(dlq_reason_name(DLQ_EVENTBRIDGE_ERROR),
	    "eventbridge_error");
	assert_string_equal(dlq_reason_name(DLQ_NON_RETRYABLE), "non_retryable");
	assert_string_equal(dlq_reason_name(DLQ_OUT_OF_ORDER), "out_of_order");
	assert_string_equal(dlq_reason_name(DLQ_DEADLINE), "deadline");
	assert_string_equal(dlq_reason_name(DLQ_CIRCUIT_OPEN), "circuit_open");
	assert_string_equal(dlq_reason_name(DLQ_SHUTDOWN), "shutdown");
}

static void
test_reason_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(dlq_reason_name((enum dlq_reason)(DLQ_SHUTDOWN + 1)),
	    "unknown");
	assert_string_equal(dlq_reason_name((enum dlq_reason)1000), "unknown");
	assert_string_equal(dlq_reason_name((enum dlq_reason)-1), "unknown");
}

static void
test_entry_free(void **state)
{
	struct entry *e = calloc(1, sizeof(*e));

	(void)state;
	entry_free(NULL);
	/* Every owned string is released: the sanitizer build reports leaks. */
	assert_non_null(e);
	e->source = strdup("s");
	e->detail_type = strdup("dt");
	e->detail = strdup("{}");
	e->bus = strdup("default");
	e->trace_header = strdup("Root=1-0-0");
	e->event_id = strdup("id");
	e->event_type = strdup("routing:x");
	e->event_json = strdup("{ }");
	e->resources = calloc(2, sizeof(char *));
	assert_non_null(e->resources);
	e->resources[0] = strdup("arn:1");
	e->resources[1] = strdup("arn:2");
	e->n_resources = 2;
	entry_free(e);
	/* A bare entry (as after a failed build) frees too. */
	entry_free(calloc(1, sizeof(struct entry)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_ascii),
		cmocka_unit_test(test_size_utf8_bytes),
		cmocka_unit_test(test_size_resources),
		cmocka_unit_test(test_size_empty_is_time_only),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_reason_out_of_range),
		cmocka_unit_test(test_entry_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
