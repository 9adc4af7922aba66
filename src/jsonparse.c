/* jsonparse.c - a webhook body to a jansson tree in one strict pass. */
#include "jsonparse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

/* The recursion's bound, whatever the caller asks for (jsonparse.h). */
#define JP_DEPTH_MAX 256

/* A real number's text is copied for strtod; longer ones go to the heap. */
#define JP_NUMBER_STACK 64

struct jp {
	const unsigned char    *start, *p, *end;
	unsigned                depth_left;
	/*
	 * Strings with escapes are decoded here.  It is used as a stack: an
	 * object key stays on it while its value (which may hold more keys) is
	 * parsed.  A decoded string is never longer than its source text and
	 * the strings on the stack never overlap, so the body's length is
	 * always enough.
	 */
	char                   *scratch;
	size_t                  scratch_used;
	struct jsonparse_error *err;
};

/* A string's bytes: in the body itself, or decoded on the scratch stack. */
struct jp_str {
	const char *ptr;
	size_t      len;
	size_t      scratch_mark;   /* scratch_used before it, to pop it */
};

static json_t *jp_value(struct jp *);

/* Records the problem; always -1.  A NUL or a bad UTF-8 byte where a token
 * should start is named as such rather than as a syntax error. */
static int
jp_fail(struct jp *jp, enum jsonparse_kind kind, const unsigned char *at,
    const char *what)
{
	if (kind == JSONPARSE_SYNTAX && at < jp->end) {
		if (*at == 0) {
			kind = JSONPARSE_NUL;
			what = "a NUL byte";
		} else if (*at >= 0x80 &&
		    jsonscan_utf8_len(at, (size_t)(jp->end - at)) == 0) {
			kind = JSONPARSE_BAD_UTF8;
			what = "not valid UTF-8";
		}
	}
	if (jp->err != NULL) {
		jp->err->kind = kind;
		jp->err->offset = (size_t)(at - jp->start);
		jp->err->what = what;
	}
	return -1;
}

static int
jp_nomem(struct jp *jp)
{
	return jp_fail(jp, JSONPARSE_NOMEM, jp->p, "out of memory");
}

static int
jp_peek(const struct jp *jp)
{
	return jp->p < jp->end ? *jp->p : -1;
}

static void
jp_skip_ws(struct jp *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' ||
	    *jp->p == '\r' || *jp->p == '\t'))
		jp->p++;
}

/* Four hex digits at q as a number, or -1. */
static long
jp_hex4(const unsigned char *q, const unsigned char *end)
{
	long v = 0;

	if (end - q < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = q[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t
jp_put_utf8(char *dst, long cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | (cp >> 6));
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | (cp >> 12));
		dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | (cp >> 18));
	dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX at *qp (the backslash), or a surrogate pair of two; appended to
 * dst + *n as UTF-8.  \u0000 is refused: C strings end there. */
static int
jp_unicode(struct jp *jp, const unsigned char **qp, char *dst, size_t *n)
{
	const unsigned char *q = *qp;
	long cp = jp_hex4(q + 2, jp->end), lo = -1;

	if (cp < 0)
		return jp_fail(jp, JSONPARSE_SYNTAX, q, "invalid \\u escape");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jp_fail(jp, JSONPARSE_SYNTAX, q, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (jp->end - q >= 12 && q[6] == '\\' && q[7] == 'u')
			lo = jp_hex4(q + 8, jp->end);
		if (lo < 0xdc00 || lo > 0xdfff)
			return jp_fail(jp, JSONPARSE_SYNTAX, q,
			    "high surrogate without its low half");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		q += 6;
	}
	if (cp == 0)
		return jp_fail(jp, JSONPARSE_SYNTAX, q, "\\u0000 in a string");
	*n += jp_put_utf8(dst + *n, cp);
	*qp = q + 6;
	return 0;
}

/* One escape at *qp (the backslash), decoded onto dst + *n. */
static int
jp_escape(struct jp *jp, const unsigned char **qp, char *dst, size_t *n)
{
	const unsigned char *q = *qp;
	char c;

	if (jp->end - q < 2)
		return jp_fail(jp, JSONPARSE_SYNTAX, jp->end, "unterminated string");
	switch (q[1]) {
	case '"':  c = '"';  break;
	case '\\': c = '\\'; break;
	case '/':  c = '/';  break;
	case 'b':  c = '\b'; break;
	case 'f':  c = '\f'; break;
	case 'n':  c = '\n'; break;
	case 'r':  c = '\r'; break;
	case 't':  c = '\t'; break;
	case 'u':
		return jp_unicode(jp, qp, dst, n);
	default:
		return jp_fail(jp, JSONPARSE_SYNTAX, q, "invalid escape");
	}
	dst[(*n)++] = c;
	*qp = q + 2;
	return 0;
}

/* The rest of a string from its first backslash at q: decoded onto the
 * scratch stack, with the plain run before q copied first. */
static int
jp_string_escaped(struct jp *jp, const unsigned char *q, struct jp_str *out)
{
	size_t n = (size_t)(q - jp->p);
	char *dst;

	if (jp->scratch == NULL) {
		jp->scratch = malloc((size_t)(jp->end - jp->start));
		if (jp->scratch == NULL)
			return jp_nomem(jp);
	}
	dst = jp->scratch + jp->scratch_used;
	memcpy(dst, jp->p, n);
	while (q < jp->end) {
		unsigned char c = *q;
		size_t k = 1;

		if (c == '"') {
			out->ptr = dst;
			out->len = n;
			jp->scratch_used += n;
			jp->p = q + 1;
			return 0;
		}
		if (c == '\\') {
			if (jp_escape(jp, &q, dst, &n) != 0)
				return -1;
			continue;
		}
		if (c < 0x20)
			return jp_fail(jp, JSONPARSE_SYNTAX, q,
			    "control character in a string");
		if (c >= 0x80) {
			k = jsonscan_utf8_len(q, (size_t)(jp->end - q));
			if (k == 0)
				return jp_fail(jp, JSONPARSE_BAD_UTF8, q,
				    "not valid UTF-8");
		}
		memcpy(dst + n, q, k);
		n += k;
		q += k;
	}
	return jp_fail(jp, JSONPARSE_SYNTAX, q, "unterminated string");
}

/* A string whose opening quote is at jp->p.  Without escapes (the usual
 * case) it is not copied: out points into the body. */
static int
jp_string(struct jp *jp, struct jp_str *out)
{
	const unsigned char *q;

	jp->p++;
	q = jp->p;
	out->scratch_mark = jp->scratch_used;
	while (q < jp->end) {
		unsigned char c = *q;

		if (c == '"') {
			out->ptr = (const char *)jp->p;
			out->len = (size_t)(q - jp->p);
			jp->p = q + 1;
			return 0;
		}
		if (c == '\\')
			return jp_string_escaped(jp, q, out);
		if (c < 0x20)
			return jp_fail(jp, JSONPARSE_SYNTAX, q,
			    "control character in a string");
		if (c < 0x80) {
			q++;
		} else {
			size_t k = jsonscan_utf8_len(q, (size_t)(jp->end - q));

			if (k == 0)
				return jp_fail(jp, JSONPARSE_BAD_UTF8, q,
				    "not valid UTF-8");
			q += k;
		}
	}
	return jp_fail(jp, JSONPARSE_SYNTAX, q, "unterminated string");
}

/* [-]digits with no fraction or exponent, as int64_t like strtoll. */
static json_t *
jp_integer(struct jp *jp, const unsigned char *s, const unsigned char *e)
{
	bool neg = *s == '-';
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
	json_t *j;

	for (const unsigned char *q = s + neg; q < e; q++) {
		unsigned d = (unsigned)(*q - '0');

		if (v > (limit - d) / 10) {
			jp_fail(jp, JSONPARSE_SYNTAX, s, "integer out of range");
			return NULL;
		}
		v = v * 10 + d;
	}
	if (!neg)
		j = json_integer((json_int_t)v);
	else if (v == (uint64_t)INT64_MAX + 1)
		j = json_integer(INT64_MIN);
	else
		j = json_integer(-(json_int_t)v);
	if (j == NULL)
		jp_nomem(jp);
	return j;
}

/* Converted by strtod in the C locale, the daemon's (it never calls
 * setlocale), as jansson does; only an overflow to infinity is refused. */
static json_t *
jp_real(struct jp *jp, const unsigned char *s, const unsigned char *e)
{
	char stack[JP_NUMBER_STACK], *text = stack;
	size_t n = (size_t)(e - s);
	double d;
	json_t *j;

	if (n >= sizeof(stack)) {
		text = malloc(n + 1);
		if (text == NULL) {
			jp_nomem(jp);
			return NULL;
		}
	}
	memcpy(text, s, n);
	text[n] = '\0';
	errno = 0;
	d = strtod(text, NULL);
	if (text != stack)
		free(text);
	if (errno == ERANGE && isinf(d)) {
		jp_fail(jp, JSONPARSE_SYNTAX, s, "real number out of range");
		return NULL;
	}
	j = json_real(d);
	if (j == NULL)
		jp_nomem(jp);
	return j;
}

static const unsigned char *
jp_digits(const unsigned char *q, const unsigned char *end)
{
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return q;
}

/* RFC 8259's number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_t *
jp_number(struct jp *jp)
{
	const unsigned char *s = jp->p, *q = s, *end = jp->end, *d;
	bool real = false;

	if (*q == '-')
		q++;
	if (q < end && *q == '0')
		d = q + 1;
	else
		d = jp_digits(q, end);
	if (d == q)
		goto bad;
	q = d;
	if (q < end && *q == '.') {
		real = true;
		d = jp_digits(q + 1, end);
		if (d == q + 1)
			goto bad;
		q = d;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		real = true;
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		d = jp_digits(q, end);
		if (d == q)
			goto bad;
		q = d;
	}
	jp->p = q;
	return real ? jp_real(jp, s, q) : jp_integer(jp, s, q);
bad:
	jp_fail(jp, JSONPARSE_SYNTAX, s, "invalid number");
	return NULL;
}

static json_t *
jp_literal(struct jp *jp)
{
	size_t avail = (size_t)(jp->end - jp->p);

	if (avail >= 4 && memcmp(jp->p, "true", 4) == 0) {
		jp->p += 4;
		return json_true();
	}
	if (avail >= 5 && memcmp(jp->p, "false", 5) == 0) {
		jp->p += 5;
		return json_false();
	}
	if (avail >= 4 && memcmp(jp->p, "null", 4) == 0) {
		jp->p += 4;
		return json_null();
	}
	jp_fail(jp, JSONPARSE_SYNTAX, jp->p, "invalid token");
	return NULL;
}

/* Recursion is bounded: jp_container refuses to open more than max_depth
 * (at most 256) containers. */
/* NOLINTBEGIN(misc-no-recursion) */

/* "key": value, added to obj; jp->p is at the key's quote. */
static int
jp_member(struct jp *jp, json_t *obj)
{
	const unsigned char *at = jp->p;
	struct jp_str key = { NULL, 0, 0 };
	json_t *v;
	int rc;

	if (jp_peek(jp) != '"')
		return jp_fail(jp, JSONPARSE_SYNTAX, at, "string or '}' expected");
	if (jp_string(jp, &key) != 0)
		return -1;
	if (json_object_getn(obj, key.ptr, key.len) != NULL)
		return jp_fail(jp, JSONPARSE_SYNTAX, at, "duplicate object key");
	jp_skip_ws(jp);
	if (jp_peek(jp) != ':')
		return jp_fail(jp, JSONPARSE_SYNTAX, jp->p, "':' expected");
	jp->p++;
	jp_skip_ws(jp);
	v = jp_value(jp);
	if (v == NULL)
		return -1;
	rc = json_object_setn_new_nocheck(obj, key.ptr, key.len, v);
	jp->scratch_used = key.scratch_mark;
	return rc == 0 ? 0 : jp_nomem(jp);
}

/* One array element, appended to arr. */
static int
jp_element(struct jp *jp, json_t *arr)
{
	json_t *v = jp_value(jp);

	if (v == NULL)
		return -1;
	return json_array_append_new(arr, v) == 0 ? 0 : jp_nomem(jp);
}

/* After a member or element: 0 on ',', 1 on the closing bracket. */
static int
jp_next(struct jp *jp, int close, const char *what)
{
	int c;

	jp_skip_ws(jp);
	c = jp_peek(jp);
	if (c == ',') {
		jp->p++;
		jp_skip_ws(jp);
		return 0;
	}
	if (c == close) {
		jp->p++;
		return 1;
	}
	return jp_fail(jp, JSONPARSE_SYNTAX, jp->p, what);
}

/* The container that opens at jp->p: { or [. */
static json_t *
jp_container(struct jp *jp)
{
	bool is_object = *jp->p == '{';
	int close = is_object ? '}' : ']', rc;
	json_t *c;

	if (jp->depth_left == 0) {
		jp_fail(jp, JSONPARSE_TOO_DEEP, jp->p, "nested too deep");
		return NULL;
	}
	c = is_object ? json_object() : json_array();
	if (c == NULL) {
		jp_nomem(jp);
		return NULL;
	}
	jp->depth_left--;
	jp->p++;
	jp_skip_ws(jp);
	rc = jp_peek(jp) == close ? 1 : 0;
	if (rc == 1)
		jp->p++;
	while (rc == 0) {
		rc = is_object ? jp_member(jp, c) : jp_element(jp, c);
		if (rc == 0)
			rc = jp_next(jp, close, is_object ?
			    "',' or '}' expected" : "',' or ']' expected");
	}
	jp->depth_left++;
	if (rc < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *
jp_value(struct jp *jp)
{
	struct jp_str s = { NULL, 0, 0 };
	json_t *v;
	int c = jp_peek(jp);

	if (c == '{' || c == '[')
		return jp_container(jp);
	if (c == '-' || (c >= '0' && c <= '9'))
		return jp_number(jp);
	if (c < 0) {
		jp_fail(jp, JSONPARSE_SYNTAX, jp->p, "unexpected end of input");
		return NULL;
	}
	if (c != '"')
		return jp_literal(jp);
	if (jp_string(jp, &s) != 0)
		return NULL;
	v = json_stringn_nocheck(s.ptr, s.len);
	jp->scratch_used = s.scratch_mark;
	if (v == NULL)
		jp_nomem(jp);
	return v;
}

/* NOLINTEND(misc-no-recursion) */

json_t *
jsonparse(const char *buf, size_t len, unsigned max_depth,
    struct jsonparse_error *err)
{
	struct jsonparse_error local = { JSONPARSE_OK, 0, "" };
	struct jp jp = {
		.start = (const unsigned char *)buf,
		.p = (const unsigned char *)buf,
		.end = (const unsigned char *)buf + len,
		.depth_left = max_depth < JP_DEPTH_MAX ? max_depth : JP_DEPTH_MAX,
		.err = err != NULL ? err : &local,
	};
	json_t *root = NULL;
	int c;

	jp.err->kind = JSONPARSE_OK;
	jp.err->offset = 0;
	jp.err->what = "";
	jp_skip_ws(&jp);
	c = jp_peek(&jp);
	if (c != '{' && c != '[') {
		jp_fail(&jp, JSONPARSE_SYNTAX, jp.p, "'[' or '{' expected");
		goto out;
	}
	root = jp_container(&jp);
	if (root == NULL)
		goto out;
	jp_skip_ws(&jp);
	if (jp.p != jp.end) {
		jp_fail(&jp, JSONPARSE_SYNTAX, jp.p, "end of input expected");
		json_decref(root);
		root = NULL;
	}
out:
	free(jp.scratch);
	return root;
}
