/* test_jsonscan.c - unit tests for the pre-parse UTF-8 and depth scan. */
#include "testutil.h"

#include "jsonscan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEEP 100000

static int
scan(const char *s, size_t len, unsigned max, struct jsonscan_error *e)
{
	e->kind = (enum jsonscan_kind)-1;
	e->offset = (size_t)-1;
	return jsonscan_check(s, len, max, e);
}

static void
expect_ok(const char *s, size_t len, unsigned max)
{
	struct jsonscan_error e;

	if (scan(s, len, max, &e) != 0)
		fail_msg("refused (kind %d at %zu) %.*s", (int)e.kind, e.offset,
		    (int)len, s);
	assert_int_equal(e.kind, JSONSCAN_OK);
}

static void
expect_fail(const char *s, size_t len, unsigned max, enum jsonscan_kind kind,
    size_t offset)
{
	struct jsonscan_error e;

	if (scan(s, len, max, &e) != -1)
		fail_msg("accepted %.*s", (int)len, s);
	assert_int_equal(e.kind, kind);
	assert_int_equal(e.offset, offset);
}

#define OK(lit, max)          expect_ok(lit, sizeof(lit) - 1, max)
#define BAD(lit, max, k, off) expect_fail(lit, sizeof(lit) - 1, max, k, off)

static void
test_depth_basic(void **state)
{
	(void)state;
	OK("", 0);
	OK("1", 0);
	OK("\"x\"", 0);
	BAD("[]", 0, JSONSCAN_TOO_DEEP, 0);
	OK("{\"a\":[1,{\"b\":2}]}", 3);
	BAD("{\"a\":[1,{\"b\":2}]}", 2, JSONSCAN_TOO_DEEP, 8);
	/* Siblings do not add up; closing brings the depth back down. */
	OK("[[1],[2],[3],{\"a\":{}}]", 3);
	BAD("[[1],[2],[3],{\"a\":{}}]", 2, JSONSCAN_TOO_DEEP, 18);
	/* Stray closers cannot drive the count below zero. */
	OK("]]]}[[", 2);
	BAD("]]]}[[", 1, JSONSCAN_TOO_DEEP, 5);
}

static void
test_depth_strings(void **state)
{
	(void)state;
	/* Brackets inside strings are text. */
	OK("[\"[[[[{{{{\"]", 1);
	OK("{\"{\":\"}\",\"[\":\"]]]]\"}", 1);
	/* An escaped quote does not end the string... */
	OK("[\"\\\"[[[[\"]", 1);
	/* ...but an escaped backslash before a quote does. */
	BAD("[\"\\\\\"[[", 1, JSONSCAN_TOO_DEEP, 5);
	BAD("[\"a\\\\\\\"[\",[[", 2, JSONSCAN_TOO_DEEP, 11);
	/* \u escapes carry no quote. */
	OK("[\"\\u0022[[[\"]", 1);
	/* An unterminated string swallows the rest. */
	OK("[\"[[[[", 1);
}

static void
test_depth_100000(void **state)
{
	struct jsonscan_error e;
	char *buf = malloc(2 * DEEP);

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < DEEP; i++) {
		buf[i] = i % 2 ? '{' : '[';
		buf[2 * DEEP - 1 - i] = i % 2 ? '}' : ']';
	}
	assert_int_equal(jsonscan_check(buf, 2 * DEEP, DEEP, &e), 0);
	assert_int_equal(jsonscan_check(buf, 2 * DEEP, DEEP - 1, &e), -1);
	assert_int_equal(e.kind, JSONSCAN_TOO_DEEP);
	assert_int_equal(e.offset, DEEP - 1);
	assert_int_equal(jsonscan_check(buf, 2 * DEEP, 64, &e), -1);
	assert_int_equal(e.offset, 64);
	assert_int_equal(jsonscan_check(buf, 2 * DEEP, 64, NULL), -1);
	free(buf);
}

static void
test_utf8_valid(void **state)
{
	(void)state;
	OK("\"\xc2\x80\"", 1);                 /* U+0080 */
	OK("\"\xdf\xbf\"", 1);                 /* U+07FF */
	OK("\"\xe0\xa0\x80\"", 1);             /* U+0800 */
	OK("\"\xed\x9f\xbf\"", 1);             /* U+D7FF */
	OK("\"\xee\x80\x80\"", 1);             /* U+E000 */
	OK("\"\xef\xbf\xbf\"", 1);             /* U+FFFF */
	OK("\"\xf0\x90\x80\x80\"", 1);         /* U+10000 */
	OK("\"\xf4\x8f\xbf\xbf\"", 1);         /* U+10FFFF */
	OK("{\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", 1);
	/* A multi-byte character right after a backslash ends the escape. */
	OK("[\"\\\xc3\xa9\"]", 1);
	/* NUL is a valid code point but never valid raw in JSON, and jansson
	 * skips one after a number: the scan refuses it (test_nul). */
}

struct bad_utf8 {
	const char *bytes;
	size_t      offset;
	const char *what;
};

static void
test_utf8_invalid_classes(void **state)
{
	static const struct bad_utf8 cases[] = {
		{ "\x80", 0, "stray continuation 80" },
		{ "ab\xbf", 2, "stray continuation BF" },
		{ "\xc0\x80", 0, "overlong 2-byte NUL" },
		{ "\xc1\xbf", 0, "overlong 2-byte U+007F" },
		{ "\xe0\x80\x80", 0, "overlong 3-byte" },
		{ "\xe0\x9f\xbf", 0, "overlong 3-byte U+07FF" },
		{ "\xf0\x80\x80\x80", 0, "overlong 4-byte" },
		{ "\xf0\x8f\xbf\xbf", 0, "overlong 4-byte U+FFFF" },
		{ "\xed\xa0\x80", 0, "surrogate U+D800" },
		{ "\xed\xaf\xbf", 0, "surrogate U+DBFF" },
		{ "\xed\xb0\x80", 0, "surrogate U+DC00" },
		{ "\xed\xbf\xbf", 0, "surrogate U+DFFF" },
		{ "x\xed\xa0\xbd\xed\xb8\x80", 1, "CESU-8 pair" },
		{ "\xf4\x90\x80\x80", 0, "U+110000" },
		{ "\xf4\xbf\xbf\xbf", 0, "above U+10FFFF" },
		{ "\xf5\x80\x80\x80", 0, "lead F5" },
		{ "\xf7\xbf\xbf\xbf", 0, "lead F7" },
		{ "\xf8\x88\x80\x80\x80", 0, "5-byte form" },
		{ "\xfc\x84\x80\x80\x80\x80", 0, "6-byte form" },
		{ "\xfe", 0, "byte FE" },
		{ "\xff", 0, "byte FF" },
		{ "\"\xc2", 1, "truncated 2-byte at end" },
		{ "\"\xe2\x82", 1, "truncated 3-byte at end" },
		{ "\"\xf0\x9f\x98", 1, "truncated 4-byte at end" },
		{ "\"\xc2\"", 1, "2-byte cut by ASCII" },
		{ "\"\xe2\x82\"", 1, "3-byte cut by ASCII" },
		{ "\"\xf0\x9f\x98\"", 1, "4-byte cut by ASCII" },
		{ "\"\xe2\xc3\xa9\"", 1, "3-byte cut by a new lead" },
		{ "\"ok\xc3\xa9\",\"\xc3\xc3\"", 8, "after valid text" },
		{ "[\"\\\xff\"]", 3, "after a backslash" },
		{ "[1,2,\xff]", 5, "outside a string" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonscan_error e;
		size_t len = strlen(cases[i].bytes);
		if (scan(cases[i].bytes, len, 8, &e) != -1)
			fail_msg("accepted: %s", cases[i].what);
		if (e.kind != JSONSCAN_BAD_UTF8 || e.offset != cases[i].offset)
			fail_msg("%s: kind %d offset %zu", cases[i].what,
			    (int)e.kind, e.offset);
	}
}

/* Independent oracle: decode by bit masks, then judge each value. */
static bool
oracle_char(const unsigned char *p, size_t avail, size_t *used)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80) {
		*used = 1;
		return true;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return false;
	}
	if (avail < n)
		return false;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000))
		return false;
	*used = n;
	return cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
}

static bool
oracle_valid(const unsigned char *p, size_t n)
{
	size_t used;

	for (size_t i = 0; i < n; i += used) {
		if (!oracle_char(p + i, n - i, &used))
			return false;
	}
	return true;
}

static void
check_against_oracle(const unsigned char *p, size_t n)
{
	struct jsonscan_error e = { JSONSCAN_OK, 0 };
	/* The depth limit exceeds n: only UTF-8 or a NUL can fail here. */
	int got = jsonscan_check((const char *)p, n, 8, &e);
	bool has_nul = memchr(p, 0, n) != NULL;

	if (has_nul) {
		if (got == 0)
			fail_msg("a NUL byte passed (n=%zu)", n);
		return;
	}
	if ((got == 0) != oracle_valid(p, n) ||
	    (got != 0 && e.kind != JSONSCAN_BAD_UTF8))
		fail_msg("%02x %02x %02x %02x (n=%zu): scan %d", p[0],
		    n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0,
		    n, got);
}

/* A raw NUL anywhere is refused, with its offset. */
static void
test_nul(void **state)
{
	static const char body[] = "{\"a\":4\0,\"b\":\"x\0y\"}";
	struct jsonscan_error e;

	(void)state;
	assert_int_equal(jsonscan_check(body, sizeof(body) - 1, 8, &e), -1);
	assert_int_equal(e.kind, JSONSCAN_NUL);
	assert_int_equal(e.offset, 6);
	assert_int_equal(jsonscan_check("{}", 2, 8, &e), 0);
}

/* Every 1-, 2- and 3-byte string, and all 4-byte ones with lead F0-F7. */
static void
test_utf8_exhaustive(void **state)
{
	static const unsigned char last[] = { 0x00, 0x41, 0x80, 0xbf, 0xc0 };
	unsigned char b[4];

	(void)state;
	for (unsigned a = 0; a < 256; a++) {
		b[0] = (unsigned char)a;
		check_against_oracle(b, 1);
		for (unsigned c = 0; c < 256; c++) {
			b[1] = (unsigned char)c;
			check_against_oracle(b, 2);
			if (a < 0xe0)
				continue;
			for (unsigned d = 0; d < 256; d++) {
				b[2] = (unsigned char)d;
				check_against_oracle(b, 3);
				if (a >= 0xf8)
					continue;
				for (size_t k = 0; k < sizeof(last); k++) {
					b[3] = last[k];
					check_against_oracle(b, 4);
				}
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depth_basic),
		cmocka_unit_test(test_depth_strings),
		cmocka_unit_test(test_depth_100000),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid_classes),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
