/* jsonscan.c - one pass over a body before parsing: strict UTF-8, nesting depth. */
#include "jsonscan.h"

#include <stdbool.h>
#include <stdint.h>

static int
jsonscan_fail(struct jsonscan_error *err, enum jsonscan_kind kind,
    size_t offset)
{
	if (err != NULL) {
		err->kind = kind;
		err->offset = offset;
	}
	return -1;
}

/*
 * The allowed range of the second byte depends on the lead
 * byte; that one table-free check is what excludes overlong forms (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4), per RFC 3629's ABNF.
 */
size_t
jsonscan_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;       /* 80-BF stray, C0/C1 overlong, F5-FF never */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

int
jsonscan_check(const char *buf, size_t len, unsigned max_depth,
    struct jsonscan_error *err)
{
	const unsigned char *p = (const unsigned char *)buf;
	bool in_string = false, escaped = false;
	size_t depth = 0, i = 0;

	while (i < len) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			size_t n = jsonscan_utf8_len(p + i, len - i);
			if (n == 0)
				return jsonscan_fail(err, JSONSCAN_BAD_UTF8, i);
			/* A non-ASCII byte after a backslash is bad JSON,
			 * but the parser says so; it ends the escape here. */
			escaped = false;
			i += n;
			continue;
		}
		/* JSON never holds a raw NUL, and jansson skips one after a
		 * number: let it through and the event is cut short. */
		if (c == 0)
			return jsonscan_fail(err, JSONSCAN_NUL, i);
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return jsonscan_fail(err, JSONSCAN_TOO_DEEP, i);
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
		i++;
	}
	if (err != NULL) {
		err->kind = JSONSCAN_OK;
		err->offset = 0;
	}
	return 0;
}
