/* test_jw.c - unit tests for the capped JSON text writer. */
#include "testutil.h"

#include "jw.h"

#include <stdlib.h>
#include <string.h>

static void
test_object_grows(void **state)
{
	struct jw w;
	int first = 1;
	size_t len = 0;
	char *text;

	(void)state;
	jw_init(&w, 1 << 20);
	jw_raw(&w, "{", 1);
	for (int i = 0; i < 200; i++)
		jw_member(&w, &first, "key", "a value long enough to grow");
	jw_member(&w, &first, "skipped", NULL);
	jw_raw(&w, "}", 1);
	text = jw_finish(&w, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_int_equal(len, 2 + 200 * 36 - 1);
	assert_null(strstr(text, "skipped"));
	assert_memory_equal(text, "{\"key\":\"a value long enough to grow\",", 37);
	free(text);
}

static void
test_escapes(void **state)
{
	static const char in[] = "q\" b\\ n\n t\t c\x01 ffff\xef\xbf\xbf bad\xff "
	    "cut\xe2\x82 e\xc3\xa9";
	char buf[256];
	struct jw w;

	(void)state;
	jw_init_fixed(&w, buf, sizeof(buf));
	jw_strn(&w, in, sizeof(in) - 1);
	assert_non_null(jw_finish(&w, NULL));
	assert_string_equal(buf, "\"q\\\" b\\\\ n\\n t\\t c\\u0001 ffff\\uffff "
	    "bad\xef\xbf\xbd cut\xef\xbf\xbd\xef\xbf\xbd e\xc3\xa9\"");
}

/* The cap counts the NUL: max - 1 bytes of text fit, max do not, and a
 * failed writer stays failed. */
static void
test_caps(void **state)
{
	char buf[8];
	struct jw w;
	size_t len = 0;
	char *text;

	(void)state;
	jw_init_fixed(&w, buf, sizeof(buf));
	jw_lit(&w, "1234567");
	assert_ptr_equal(jw_finish(&w, &len), buf);
	assert_int_equal(len, 7);
	jw_init_fixed(&w, buf, sizeof(buf));
	jw_lit(&w, "12345678");
	jw_lit(&w, "");
	assert_null(jw_finish(&w, NULL));
	jw_init(&w, 16);
	jw_lit(&w, "0123456789");
	jw_lit(&w, "abcdef");
	jw_lit(&w, "x");
	assert_null(jw_finish(&w, NULL));
	jw_init(&w, 16);
	jw_lit(&w, "0123456789abcde");
	text = jw_finish(&w, &len);
	assert_non_null(text);
	assert_int_equal(len, 15);
	free(text);
	jw_init(&w, 1024);
	jw_lit(&w, "x");
	jw_fail(&w);
	assert_null(jw_finish(&w, NULL));
}

/* A fixed buffer too small for a string's worst case (6 bytes out per
 * byte in) still takes it when its real size fits: answers hold messages
 * of a few hundred bytes in 1 KiB. */
static void
test_tight_buffer(void **state)
{
	char buf[1024], msg[400];
	struct jw w;
	int first = 1;
	size_t len = 0;

	(void)state;
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	msg[10] = '"';
	jw_init_fixed(&w, buf, sizeof(buf));
	jw_raw(&w, "{", 1);
	jw_member(&w, &first, "message", msg);
	jw_member(&w, &first, "pointer", "/a\x01" "b");
	jw_raw(&w, "}", 1);
	assert_non_null(jw_finish(&w, &len));
	assert_int_equal(len, strlen(buf));
	assert_int_equal(len, 1 + 10 + 400 + 1 + 1 + 10 + 12 + 1);
	assert_non_null(strstr(buf, "mmm\\\"mmm"));
	assert_non_null(strstr(buf, "\"pointer\":\"/a\\u0001b\"}"));
	/* Its real size does not fit either: failed, and stays failed. */
	jw_init_fixed(&w, buf, 300);
	jw_str(&w, msg);
	jw_lit(&w, "x");
	assert_null(jw_finish(&w, NULL));
}

static void
test_compact(void **state)
{
	char buf[128];
	struct jw w;

	(void)state;
	jw_init_fixed(&w, buf, sizeof(buf));
	jw_compact(&w, "{ \"a b\" : [ 1.50 , \"\\\" }\" ],\n\t\"c\":\"\xef\xbf\xbe\" }");
	assert_non_null(jw_finish(&w, NULL));
	assert_string_equal(buf, "{\"a b\":[1.50,\"\\\" }\"],\"c\":\"\\ufffe\"}");
}

static void
test_utf8_decode(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(jw_utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(jw_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80",
	    4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(jw_utf8_decode((const unsigned char *)"\xf0\x9f\x98",
	    3, &cp), 0);
	assert_int_equal(jw_utf8_decode((const unsigned char *)"\xed\xa0\x80",
	    3, &cp), 0);
	assert_int_equal(jw_utf8_decode((const unsigned char *)"\xc0\xaf",
	    2, &cp), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_grows),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_tight_buffer),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_utf8_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
