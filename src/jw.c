/* jw.c - JSON text written into a buffer with a hard size cap. */
#include "jw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

void
jw_init(struct jw *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void
jw_init_fixed(struct jw *w, char *buf, size_t size)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = size;
	w->max = size;
	w->fixed = true;
	buf[0] = '\0';
}

void
jw_fail(struct jw *w)
{
	w->err = true;
}

/* Room for extra more bytes and the NUL, within max. */
static int
jw_reserve(struct jw *w, size_t extra)
{
	size_t want, cap;
	char *p;

	if (w->err)
		return -1;
	if (extra >= w->max - w->len) {
		w->err = true;
		return -1;
	}
	want = w->len + extra + 1;
	if (want <= w->cap)
		return 0;
	if (w->fixed) {
		w->err = true;
		return -1;
	}
	cap = w->cap == 0 ? 1024 : w->cap;
	while (cap < want)
		cap *= 2;
	if (cap > w->max)
		cap = w->max;
	p = realloc(w->buf, cap);
	if (p == NULL) {
		w->err = true;
		return -1;
	}
	w->buf = p;
	w->cap = cap;
	return 0;
}

void
jw_raw(struct jw *w, const char *s, size_t n)
{
	if (jw_reserve(w, n) != 0)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void
jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

char *
jw_finish(struct jw *w, size_t *len)
{
	if (w->err || w->buf == NULL) {
		if (!w->fixed)
			free(w->buf);
		return NULL;
	}
	if (len != NULL)
		*len = w->len;
	return w->buf;
}

size_t
jw_utf8_decode(const unsigned char *p, size_t left, uint32_t *cp)
{
	/* jsonscan holds the rule of what is well-formed; this only takes
	 * the bits out of a sequence it accepted. */
	size_t n = p[0] < 0x80 ? 1 : jsonscan_utf8_len(p, left);
	uint32_t c;

	if (n <= 1) {
		*cp = p[0];
		return n;
	}
	c = p[0] & (0x7fu >> n);    /* payload bits of the lead byte */
	for (size_t i = 1; i < n; i++)
		c = (c << 6) | (p[i] & 0x3f);
	*cp = c;
	return n;
}

/*
 * U+FFFE and U+FFFF are valid UTF-8 but SQS refuses them in a message, and
 * a PutEvents body may end up in one, so they are always written escaped.
 */
static int
json_plain(uint32_t cp)
{
	return cp >= 0x20 && cp != '"' && cp != '\\' && cp != 0xfffe &&
	    cp != 0xffff;
}

/* The escape of a character json_plain refuses, written at o: its length,
 * at most 6 (\u00XX, \uFFFE). */
static size_t
jw_escape_to(char *o, uint32_t cp)
{
	static const char hex[] = "0123456789abcdef";
	char c;

	switch (cp) {
	case '"':  c = '"';  break;
	case '\\': c = '\\'; break;
	case '\n': c = 'n';  break;
	case '\r': c = 'r';  break;
	case '\t': c = 't';  break;
	case '\b': c = 'b';  break;
	case '\f': c = 'f';  break;
	default:
		o[0] = '\\';
		o[1] = 'u';
		o[2] = hex[(cp >> 12) & 0xf];
		o[3] = hex[(cp >> 8) & 0xf];
		o[4] = hex[(cp >> 4) & 0xf];
		o[5] = hex[cp & 0xf];
		return 6;
	}
	o[0] = '\\';
	o[1] = c;
	return 2;
}

static int
jw_ascii_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * Writes the inside of the JSON string for n bytes at p to o (NULL: only
 * counts) and returns how many bytes that is.  At most 6 per byte in: a
 * control character becomes 6, a byte that is not UTF-8 3 (U+FFFD), the 3
 * bytes of U+FFFE 6.
 */
static size_t
jw_string_body(char *o, const unsigned char *p, size_t n)
{
	char esc[6];
	size_t i = 0, out = 0, k, run;
	uint32_t cp = 0;

	while (i < n) {
		unsigned char c = p[i];

		/* Plain ASCII and the quotes of JSON text, nearly all of a
		 * Detail, need no decoding and no call. */
		if (jw_ascii_plain(c)) {
			if (o != NULL)
				o[out] = (char)c;
			out++;
			i++;
			continue;
		}
		if (c == '"' || c == '\\') {
			if (o != NULL) {
				o[out] = '\\';
				o[out + 1] = (char)c;
			}
			out += 2;
			i++;
			continue;
		}
		k = jw_utf8_decode(p + i, n - i, &cp);
		if (k != 0 && json_plain(cp)) {
			if (o != NULL)
				memcpy(o + out, p + i, k);
			out += k;
			i += k;
			continue;
		}
		run = k == 0 ? 3 : jw_escape_to(esc, cp);
		if (o != NULL)
			memcpy(o + out, k == 0 ? "\xef\xbf\xbd" : esc, run);
		out += run;
		i += k == 0 ? 1 : k;
	}
	return out;
}

void
jw_strn(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	if (w->err)
		return;
	/* One reservation for the worst case, then one pass.  Where a tight
	 * cap (an answer's fixed buffer) refuses the worst case, the exact
	 * size is counted first. */
	if (n > (SIZE_MAX - 2) / 6 || jw_reserve(w, n * 6 + 2) != 0) {
		w->err = false;
		if (jw_reserve(w, jw_string_body(NULL, p, n) + 2) != 0)
			return;
	}
	w->buf[w->len++] = '"';
	w->len += jw_string_body(w->buf + w->len, p, n);
	w->buf[w->len++] = '"';
	w->buf[w->len] = '\0';
}

void
jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

void
jw_key(struct jw *w, int *first, const char *key)
{
	if (!*first)
		jw_raw(w, ",", 1);
	*first = 0;
	jw_str(w, key);
	jw_raw(w, ":", 1);
}

void
jw_member(struct jw *w, int *first, const char *key, const char *val)
{
	if (val == NULL)
		return;
	jw_key(w, first, key);
	jw_str(w, val);
}

void
jw_compact(struct jw *w, const char *text)
{
	const char *p = text, *start = text;
	int in_str = 0;

	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!in_str) {
			if (c == '"')
				in_str = 1;
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
				jw_raw(w, start, (size_t)(p - start));
				start = p + 1;
			}
			continue;
		}
		if (c == '\\') {
			p++;    /* the escaped character cannot end the string */
			if (*p == '\0')
				break;
		} else if (c == '"') {
			in_str = 0;
		} else if (c == 0xef && (unsigned char)p[1] == 0xbf &&
		    ((unsigned char)p[2] & 0xfe) == 0xbe) {
			/* U+FFFE/U+FFFF: see json_plain */
			jw_raw(w, start, (size_t)(p - start));
			jw_lit(w, (unsigned char)p[2] == 0xbe ? "\\ufffe" : "\\uffff");
			p += 2;
			start = p + 1;
		}
	}
	jw_raw(w, start, (size_t)(p - start));
}
