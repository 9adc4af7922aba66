/* test_jsonparse.c - unit tests for the one-pass webhook body parser. */
#include "testutil.h"

#include "jsonparse.h"
#include "jsonscan.h"

#include <stdlib.h>
#include <string.h>

static json_t *
parse(const char *s, unsigned depth, struct jsonparse_error *e)
{
	return jsonparse(s, strlen(s), depth, e);
}

/* Parses s and returns the tree printed with its members in order. */
static char *
parse_dump(const char *s, size_t len)
{
	struct jsonparse_error e;
	json_t *v = jsonparse(s, len, 16, &e);
	char *out;

	if (v == NULL)
		fail_msg("refused (kind %d at %zu: %s): %.*s", (int)e.kind,
		    e.offset, e.what, (int)len, s);
	assert_int_equal(e.kind, JSONPARSE_OK);
	out = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(v);
	assert_non_null(out);
	return out;
}

static void
expect_fail(const char *s, size_t len, enum jsonparse_kind kind, size_t offset)
{
	struct jsonparse_error e;
	json_t *v = jsonparse(s, len, 8, &e);

	if (v != NULL)
		fail_msg("accepted %.*s", (int)len, s);
	assert_int_equal(e.kind, kind);
	assert_int_equal(e.offset, offset);
	assert_non_null(e.what);
	assert_true(e.what[0] != '\0');
}

#define FAIL(lit, kind, off) expect_fail(lit, sizeof(lit) - 1, kind, off)

static void
test_event_members_in_order(void **state)
{
	static const char body[] =
	    "{\"id\":\"1a2b-8001\",\"eventType\":\"routing:agent-assigned\","
	    "\"businessUnitId\":4601234,\"routingContext\":{\"queueId\":\"q-1\","
	    "\"waitTimeMs\":4551,\"priority\":5},\"score\":0.25,"
	    "\"flags\":[true,false,null],\"schemaVersion\":\"v1.2\"}";
	struct jsonparse_error e;
	json_t *v = parse(body, 8, &e), *rc;
	char *text;

	(void)state;
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "id")),
	    "1a2b-8001");
	assert_true(json_is_integer(json_object_get(v, "businessUnitId")));
	assert_int_equal(json_integer_value(json_object_get(v,
	    "businessUnitId")), 4601234);
	assert_true(json_is_real(json_object_get(v, "score")));
	rc = json_object_get(v, "routingContext");
	assert_int_equal(json_integer_value(json_object_get(rc, "waitTimeMs")),
	    4551);
	assert_true(json_is_null(json_array_get(json_object_get(v, "flags"), 2)));
	text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, body);
	free(text);
	json_decref(v);
}

static void
test_escapes_decoded(void **state)
{
	static const char body[] =
	    "{\"k\\n\":{\"a\\t\":\"b\\r\",\"c\":\"\\u00e9\\u20ac\"},"
	    "\"k2\\\"\":\"\\ud83d\\ude00 \\/\\\\\\b\\f\",\"plain\":\"x\"}";
	struct jsonparse_error e;
	json_t *v = parse(body, 8, &e), *inner;

	(void)state;
	assert_non_null(v);
	/* The escaped key survives its value's own escaped keys and strings. */
	inner = json_object_get(v, "k\n");
	assert_non_null(inner);
	assert_string_equal(json_string_value(json_object_get(inner, "a\t")),
	    "b\r");
	assert_string_equal(json_string_value(json_object_get(inner, "c")),
	    "\xc3\xa9\xe2\x82\xac");
	assert_string_equal(json_string_value(json_object_get(v, "k2\"")),
	    "\xf0\x9f\x98\x80 /\\\b\f");
	assert_string_equal(json_string_value(json_object_get(v, "plain")), "x");
	json_decref(v);
}

static void
test_numbers(void **state)
{
	char *t;
	char longreal[200];

	(void)state;
	t = parse_dump("[0,-0,9223372036854775807,-9223372036854775808]", 47);
	assert_string_equal(t, "[0,0,9223372036854775807,-9223372036854775808]");
	free(t);
	t = parse_dump("[1.5,-0.0,1e2,2E-2,1e-400]", 26);
	assert_string_equal(t, "[1.5,-0.0,100.0,0.02,0.0]");
	free(t);
	/* Longer than the stack buffer for strtod. */
	memset(longreal, '1', sizeof(longreal));
	longreal[0] = '[';
	longreal[100] = '.';
	longreal[sizeof(longreal) - 2] = ']';
	longreal[sizeof(longreal) - 1] = '\0';
	t = parse_dump(longreal, strlen(longreal));
	assert_string_equal(t, "[1.1111111111111112e98]");
	free(t);
	FAIL("[9223372036854775808]", JSONPARSE_SYNTAX, 1);
	FAIL("[-9223372036854775809]", JSONPARSE_SYNTAX, 1);
	FAIL("[1e309]", JSONPARSE_SYNTAX, 1);
	FAIL("[-1e309]", JSONPARSE_SYNTAX, 1);
	FAIL("[01]", JSONPARSE_SYNTAX, 2);
	FAIL("[1.]", JSONPARSE_SYNTAX, 1);
	FAIL("[.5]", JSONPARSE_SYNTAX, 1);
	FAIL("[1e+]", JSONPARSE_SYNTAX, 1);
	FAIL("[-]", JSONPARSE_SYNTAX, 1);
	FAIL("[+1]", JSONPARSE_SYNTAX, 1);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	FAIL("", JSONPARSE_SYNTAX, 0);
	FAIL("   ", JSONPARSE_SYNTAX, 3);
	FAIL("\"a\"", JSONPARSE_SYNTAX, 0);
	FAIL("17", JSONPARSE_SYNTAX, 0);
	FAIL("{\"a\":1}x", JSONPARSE_SYNTAX, 7);
	FAIL("{\"a\":1,}", JSONPARSE_SYNTAX, 7);
	FAIL("{\"a\" 1}", JSONPARSE_SYNTAX, 5);
	FAIL("{\"a\":1 \"b\":2}", JSONPARSE_SYNTAX, 7);
	FAIL("[1,2", JSONPARSE_SYNTAX, 4);
	FAIL("[1,]", JSONPARSE_SYNTAX, 3);
	FAIL("{a:1}", JSONPARSE_SYNTAX, 1);
	FAIL("[tru]", JSONPARSE_SYNTAX, 1);
	FAIL("[truex]", JSONPARSE_SYNTAX, 5);
	FAIL("{\"a\":\"b", JSONPARSE_SYNTAX, 7);
	FAIL("{\"a\":\"b\\", JSONPARSE_SYNTAX, 8);
	FAIL("{\"a\":\"\\x\"}", JSONPARSE_SYNTAX, 6);
	FAIL("{\"a\":\"\\u12G4\"}", JSONPARSE_SYNTAX, 6);
	FAIL("{\"a\":\"tab\there\"}", JSONPARSE_SYNTAX, 9);
	FAIL("{\"a\":1,\"a\":2}", JSONPARSE_SYNTAX, 7);
	FAIL("{\"a\\u0062\":1,\"ab\":2}", JSONPARSE_SYNTAX, 13);
}

static void
test_unicode_escapes_refused(void **state)
{
	(void)state;
	FAIL("[\"\\u0000\"]", JSONPARSE_SYNTAX, 2);
	FAIL("{\"\\u0000\":1}", JSONPARSE_SYNTAX, 2);
	FAIL("[\"\\udc00\"]", JSONPARSE_SYNTAX, 2);
	FAIL("[\"\\ud800\"]", JSONPARSE_SYNTAX, 2);
	FAIL("[\"\\ud800x\"]", JSONPARSE_SYNTAX, 2);
	FAIL("[\"\\ud800\\u0041\"]", JSONPARSE_SYNTAX, 2);
	FAIL("[\"\\ud800\\ud800\"]", JSONPARSE_SYNTAX, 2);
}

static void
test_bytes_refused(void **state)
{
	(void)state;
	FAIL("[\"\xc0\xaf\"]", JSONPARSE_BAD_UTF8, 2);
	FAIL("[\"\xed\xa0\x80\"]", JSONPARSE_BAD_UTF8, 2);
	FAIL("[\"ok\\n\xf4\x90\x80\x80\"]", JSONPARSE_BAD_UTF8, 6);
	FAIL("[\"\xe2\x82\"]", JSONPARSE_BAD_UTF8, 2);
	FAIL("[1,\xff]", JSONPARSE_BAD_UTF8, 3);
	/* Valid UTF-8 outside a string is still not JSON. */
	FAIL("[\xc3\xa9]", JSONPARSE_SYNTAX, 1);
	FAIL("[1\0]", JSONPARSE_NUL, 2);
	FAIL("{\"a\":4\0,\"b\":5}", JSONPARSE_NUL, 6);
	FAIL("[\"a\0\"]", JSONPARSE_NUL, 3);
	FAIL("{}\0", JSONPARSE_NUL, 2);
}

static void
test_depth(void **state)
{
	struct jsonparse_error e;
	json_t *v;

	(void)state;
	v = parse("[[[{\"a\":[]}]]]", 5, &e);
	assert_non_null(v);
	json_decref(v);
	assert_null(parse("[[[{\"a\":[]}]]]", 4, &e));
	assert_int_equal(e.kind, JSONPARSE_TOO_DEEP);
	assert_int_equal(e.offset, 8);
	assert_null(parse("{}", 0, &e));
	assert_int_equal(e.kind, JSONPARSE_TOO_DEEP);
	/* Brackets inside strings are not nesting. */
	v = parse("[\"[[[[[[\"]", 1, &e);
	assert_non_null(v);
	json_decref(v);
	/* Whatever the caller asks, the recursion stops at 256 levels. */
	{
		char deep[600];

		memset(deep, '[', 300);
		memset(deep + 300, ']', 300);
		assert_null(jsonparse(deep, sizeof(deep), 1000, &e));
		assert_int_equal(e.kind, JSONPARSE_TOO_DEEP);
		assert_int_equal(e.offset, 256);
		v = jsonparse(deep + 44, sizeof(deep) - 88, 1000, &e);
		assert_non_null(v);
		json_decref(v);
	}
	/* err may be NULL. */
	v = parse("[1]", 8, NULL);
	assert_non_null(v);
	json_decref(v);
	assert_null(parse("[1", 8, NULL));
}

/* The contract this parser took over: the same verdict and the same tree as
 * jsonscan_check followed by jansson's json_loadb. */
static void
test_agrees_with_jansson(void **state)
{
	static const char *const cases[] = {
		"{\"a\":[1,2.5,-3e4,\"x\\u00e9\",{\"b\":null}],\"c\":true}",
		" [ ] ", "{ }", "[\"\\ud834\\udd1e\"]", "[1e-400]", "[0.1]",
		"[123456789012345678]", "[-0.0]", "{\"\":\"\"}",
		"[\"\\u0000\"]", "{\"a\":1,\"a\":1}", "[1,]", "[\"\\uDFFF\"]",
		"[1 2]", "{\"a\":1}}", "[9223372036854775808]", "[\"\x7f\"]",
		"[\"\\u00\"]", "\t\n\r[]\t\n\r", "[nul]", "{\"x\":[[[[[[]]]]]]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i];
		json_t *mine = parse(s, 6, NULL), *theirs = NULL;

		if (jsonscan_check(s, strlen(s), 6, NULL) == 0)
			theirs = json_loadb(s, strlen(s), JSON_REJECT_DUPLICATES,
			    NULL);
		if ((mine == NULL) != (theirs == NULL))
			fail_msg("case %zu: jsonparse %s, jansson %s: %s", i,
			    mine ? "accepts" : "refuses",
			    theirs ? "accepts" : "refuses", s);
		if (mine != NULL) {
			char *a = json_dumps(mine, JSON_PRESERVE_ORDER);
			char *b = json_dumps(theirs, JSON_PRESERVE_ORDER);

			assert_string_equal(a, b);
			free(a);
			free(b);
		}
		json_decref(mine);
		json_decref(theirs);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_members_in_order),
		cmocka_unit_test(test_escapes_decoded),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_unicode_escapes_refused),
		cmocka_unit_test(test_bytes_refused),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_agrees_with_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
