/* xmlscan.c - pulls one element's text out of a small XML answer (AWS Query protocol, STS). */
#include "xmlscan.h"

#include <stdint.h>
#include <string.h>

struct xmlscan {
	const char *s;
	size_t      len, i;
	char        stack[XMLSCAN_MAX_DEPTH][XMLSCAN_NAME_MAX + 1];
	size_t      depth;
	char        want[XMLSCAN_MAX_DEPTH][XMLSCAN_NAME_MAX + 1];
	size_t      nwant;
	int         collecting;
	int         found;      /* the first match is in out */
	char       *out;
	size_t      outlen, n;
};

static int
xmlscan_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	    c == ':' || (unsigned char)c >= 0x80;
}

static int
xmlscan_name_char(char c)
{
	return xmlscan_name_start(c) || (c >= '0' && c <= '9') || c == '-' ||
	    c == '.';
}

static int
xmlscan_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "A/B/C" into want[]; every component a non-empty name. */
static int
xmlscan_path(struct xmlscan *x, const char *path)
{
	const char *p = path;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || n > XMLSCAN_NAME_MAX || x->nwant >= XMLSCAN_MAX_DEPTH)
			return -1;
		memcpy(x->want[x->nwant], p, n);
		x->want[x->nwant++][n] = '\0';
		p += n;
		if (*p == '/')
			p++;
	}
	return x->nwant > 0 ? 0 : -1;
}

/* Moves past the first occurrence of `end`; -1 if there is none. */
static int
xmlscan_skip_past(struct xmlscan *x, const char *end)
{
	size_t elen = strlen(end);

	for (; x->i + elen <= x->len; x->i++) {
		if (memcmp(x->s + x->i, end, elen) == 0) {
			x->i += elen;
			return 0;
		}
	}
	return -1;
}

/* A name at x->i, without its namespace prefix, into name. */
static int
xmlscan_read_name(struct xmlscan *x, char name[XMLSCAN_NAME_MAX + 1])
{
	size_t start = x->i;
	size_t colon = start, n;

	if (x->i >= x->len || !xmlscan_name_start(x->s[x->i]))
		return -1;
	while (x->i < x->len && xmlscan_name_char(x->s[x->i])) {
		if (x->s[x->i] == ':')
			colon = x->i + 1;
		x->i++;
	}
	if (x->i - start > (size_t)4 * XMLSCAN_NAME_MAX)
		return -1;
	n = x->i - colon;
	if (n == 0 || n > XMLSCAN_NAME_MAX)
		return -1;
	memcpy(name, x->s + colon, n);
	name[n] = '\0';
	return 0;
}

static int
xmlscan_put(struct xmlscan *x, const char *p, size_t n)
{
	if (n >= x->outlen - x->n)
		return -1;
	memcpy(x->out + x->n, p, n);
	x->n += n;
	x->out[x->n] = '\0';
	return 0;
}

static int
xmlscan_put_utf8(struct xmlscan *x, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return xmlscan_put(x, b, n);
}

/* "&#65;" or "&#x41;" (the "&#" already consumed) up to and past ";". */
static int
xmlscan_charref(struct xmlscan *x)
{
	int hex = x->i < x->len && x->s[x->i] == 'x';
	uint32_t cp = 0;
	size_t digits = 0;

	x->i += (size_t)hex;
	for (; x->i < x->len && x->s[x->i] != ';'; x->i++, digits++) {
		char c = x->s[x->i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return -1;
		if (digits >= 8)
			return -1;
		cp = cp * (hex ? 16u : 10u) + d;
	}
	if (digits == 0 || x->i >= x->len)
		return -1;
	x->i++;
	return xmlscan_put_utf8(x, cp);
}

/* One entity at x->i (on the "&"). */
static int
xmlscan_entity(struct xmlscan *x)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};

	if (x->i + 1 < x->len && x->s[x->i + 1] == '#') {
		x->i += 2;
		return xmlscan_charref(x);
	}
	for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
		size_t n = strlen(ents[k].name);

		if (x->len - x->i >= n && memcmp(x->s + x->i, ents[k].name, n) == 0) {
			x->i += n;
			return xmlscan_put(x, &ents[k].c, 1);
		}
	}
	return -1;
}

/* Character data up to the next "<"; kept only inside the wanted element. */
static int
xmlscan_chars(struct xmlscan *x)
{
	while (x->i < x->len && x->s[x->i] != '<') {
		const char *lt;
		size_t n;

		if (!x->collecting) {
			lt = memchr(x->s + x->i, '<', x->len - x->i);
			x->i = lt != NULL ? (size_t)(lt - x->s) : x->len;
			return 0;
		}
		if (x->s[x->i] == '&') {
			if (xmlscan_entity(x) == -1)
				return -1;
			continue;
		}
		for (n = 0; x->i + n < x->len && x->s[x->i + n] != '<' &&
		    x->s[x->i + n] != '&'; n++)
			;
		if (xmlscan_put(x, x->s + x->i, n) == -1)
			return -1;
		x->i += n;
	}
	return 0;
}

static int
xmlscan_at_want(const struct xmlscan *x)
{
	if (x->depth != x->nwant)
		return 0;
	for (size_t k = 0; k < x->depth; k++)
		if (strcmp(x->stack[k], x->want[k]) != 0)
			return 0;
	return 1;
}

/* "<name attr='v'>" or "<name/>", x->i just past "<".  Returns 1 when
 * the wanted element turned out empty (found), 0 to go on, -1. */
static int
xmlscan_open(struct xmlscan *x)
{
	char quote = 0;
	int empty;

	if (x->collecting || x->depth >= XMLSCAN_MAX_DEPTH ||
	    xmlscan_read_name(x, x->stack[x->depth]) == -1)
		return -1;
	for (; x->i < x->len; x->i++) {
		char c = x->s[x->i];

		if (quote != 0) {
			if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '>' || c == '<') {
			break;
		}
	}
	if (x->i >= x->len || x->s[x->i] != '>')
		return -1;
	empty = x->s[x->i - 1] == '/';
	x->i++;
	x->depth++;
	if (!x->found && xmlscan_at_want(x)) {
		if (empty) {
			x->depth--;
			return 1;
		}
		x->collecting = 1;
	}
	if (empty)
		x->depth--;
	return 0;
}

/* "</name>", x->i just past "</".  Returns 1 when it closes the wanted
 * element, 0 to go on, -1. */
static int
xmlscan_close(struct xmlscan *x)
{
	char name[XMLSCAN_NAME_MAX + 1];

	if (x->depth == 0 || xmlscan_read_name(x, name) == -1 ||
	    strcmp(name, x->stack[x->depth - 1]) != 0)
		return -1;
	while (x->i < x->len && xmlscan_space(x->s[x->i]))
		x->i++;
	if (x->i >= x->len || x->s[x->i] != '>')
		return -1;
	x->i++;
	x->depth--;
	return x->collecting ? 1 : 0;
}

/* One markup construct at x->i (on the "<"). */
static int
xmlscan_markup(struct xmlscan *x)
{
	const char *p = x->s + x->i;
	size_t left = x->len - x->i;

	if (left >= 2 && p[1] == '?')
		return xmlscan_skip_past(x, "?>");
	if (left >= 4 && memcmp(p, "<!--", 4) == 0)
		return xmlscan_skip_past(x, "-->");
	if (left >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
		size_t start = x->i + 9;

		x->i = start;
		if (xmlscan_skip_past(x, "]]>") == -1)
			return -1;
		return x->collecting ?
		    xmlscan_put(x, x->s + start, x->i - 3 - start) : 0;
	}
	if (left >= 2 && p[1] == '!')
		return -1;   /* DOCTYPE and the like: no DTDs here */
	if (left >= 2 && p[1] == '/') {
		x->i += 2;
		return xmlscan_close(x);
	}
	x->i++;
	return xmlscan_open(x);
}

static void
xmlscan_trim(struct xmlscan *x)
{
	size_t start = 0;

	while (x->n > 0 && xmlscan_space(x->out[x->n - 1]))
		x->out[--x->n] = '\0';
	while (start < x->n && xmlscan_space(x->out[start]))
		start++;
	memmove(x->out, x->out + start, x->n - start + 1);
}

int
xmlscan_text(const char *xml, size_t len, const char *path, char *out,
    size_t outlen)
{
	struct xmlscan x;
	int rc;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	memset(&x, 0, sizeof(x));
	if (xml == NULL || path == NULL || len > XMLSCAN_MAX_INPUT ||
	    memchr(xml, '\0', len) != NULL || xmlscan_path(&x, path) == -1)
		return -1;
	x.s = xml;
	x.len = len;
	x.out = out;
	x.outlen = outlen;
	if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0)
		x.i = 3;
	/* The whole document is read even after the match: a truncated or
	 * malformed answer is refused, not half-trusted. */
	for (rc = 0; rc != -1 && x.i < x.len; ) {
		rc = x.s[x.i] == '<' ? xmlscan_markup(&x) : xmlscan_chars(&x);
		if (rc == 1) {
			xmlscan_trim(&x);
			x.found = 1;
			x.collecting = 0;
		}
	}
	if (rc != -1 && x.depth == 0 && !x.collecting)
		return x.found ? 0 : 1;
	out[0] = '\0';
	return -1;
}
