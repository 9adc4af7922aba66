/* schema.c - a JSON Schema subset: compiled once at load, validated many times. */
#include "schema.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfc3339.h"

/* Longest piece of a name or pattern quoted in a message. */
#define SCHEMA_QUOTE_MAX 64

/* Longest schema pointer in a load error, so the reason after it shows. */
#define SCHEMA_WHERE_MAX 120

enum schema_type {
	SCHEMA_T_OBJECT  = 1 << 0,
	SCHEMA_T_ARRAY   = 1 << 1,
	SCHEMA_T_STRING  = 1 << 2,
	SCHEMA_T_NUMBER  = 1 << 3,
	SCHEMA_T_INTEGER = 1 << 4,
	SCHEMA_T_BOOLEAN = 1 << 5,
	SCHEMA_T_NULL    = 1 << 6
};

static const struct schema_type_name {
	const char *name;
	unsigned    bit;
} schema_type_names[] = {
	{ "object", SCHEMA_T_OBJECT },   { "array", SCHEMA_T_ARRAY },
	{ "string", SCHEMA_T_STRING },   { "number", SCHEMA_T_NUMBER },
	{ "integer", SCHEMA_T_INTEGER }, { "boolean", SCHEMA_T_BOOLEAN },
	{ "null", SCHEMA_T_NULL },
};

enum schema_format { SCHEMA_F_NONE, SCHEMA_F_UUID, SCHEMA_F_DATE_TIME };
enum schema_addl { SCHEMA_ADDL_ANY, SCHEMA_ADDL_NONE, SCHEMA_ADDL_SCHEMA };

/* A limit keeps a JSON integer exact; doubles cannot hold every int64. */
struct schema_num {
	bool       set;
	bool       is_int;
	json_int_t i;
	double     d;
};

struct schema_name {
	char              *name;      /* may hold NUL bytes: use len */
	size_t             len;
	struct schema_node *node;     /* properties only */
};

struct schema_node {
	unsigned            types;    /* 0: any type */
	const json_t       *konst;    /* owned deep copy, or NULL */
	const json_t       *enums;    /* owned deep copy (array), or NULL */
	struct schema_num   minimum, maximum, xminimum, xmaximum;
	size_t              min_len, max_len, min_items, max_items;
	bool                has_pattern;
	regex_t             pattern;
	char               *pattern_src;
	enum schema_format  format;
	struct schema_name *required;
	size_t              nrequired;
	struct schema_name *props;    /* in schema order */
	struct schema_name **sorted;  /* props by name, for bsearch */
	size_t              nprops;
	enum schema_addl    addl;
	struct schema_node *addl_node;
	struct schema_node *items;
};

struct schema {
	struct schema_node *root;
};

/* A JSON pointer under construction, truncated with "..." when too long. */
struct schema_ptr {
	char   buf[SCHEMA_POINTER_MAX];
	size_t len;
	bool   trunc;
};

struct schema_mark {
	size_t len;
	bool   trunc;
};

struct schema_compile {
	struct schema_ptr ptr;        /* where in the schema document */
	unsigned          depth;      /* schemas open, root = 1 */
	char             *err;
	size_t            errlen;
};

struct schema_vctx {
	struct schema_ptr    ptr;     /* where in the instance */
	struct schema_error *err;
};

/* ---- pointers and messages ---------------------------------------------- */

static struct schema_mark
schema_ptr_mark(const struct schema_ptr *p)
{
	struct schema_mark m = { p->len, p->trunc };

	return m;
}

static void
schema_ptr_reset(struct schema_ptr *p, struct schema_mark m)
{
	p->len = m.len;
	p->trunc = m.trunc;
	p->buf[p->len] = '\0';
}

/* Room is kept for "..." so a truncated pointer still says so. */
static bool
schema_ptr_put(struct schema_ptr *p, const char *bytes, size_t n)
{
	if (p->trunc || p->len + n > sizeof(p->buf) - 4) {
		p->trunc = true;
		return false;
	}
	memcpy(p->buf + p->len, bytes, n);
	p->len += n;
	p->buf[p->len] = '\0';
	return true;
}

/* Appends "/" and the token with RFC 6901 escapes, never cutting a UTF-8
 * character or an escape in two. */
static void
schema_ptr_push(struct schema_ptr *p, const char *tok, size_t n)
{
	size_t i = 0;

	if (!schema_ptr_put(p, "/", 1))
		return;
	while (i < n) {
		unsigned char c = (unsigned char)tok[i];
		size_t k = 1;
		bool ok;

		if (c == '~') {
			ok = schema_ptr_put(p, "~0", 2);
		} else if (c == '/') {
			ok = schema_ptr_put(p, "~1", 2);
		} else {
			if (c >= 0xf0)
				k = 4;
			else if (c >= 0xe0)
				k = 3;
			else if (c >= 0xc0)
				k = 2;
			k = k > n - i ? n - i : k;
			ok = schema_ptr_put(p, tok + i, k);
		}
		if (!ok)
			return;
		i += k;
	}
}

static void
schema_ptr_index(struct schema_ptr *p, size_t i)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%zu", i);

	schema_ptr_push(p, num, (size_t)n);
}

/* out has room for SCHEMA_POINTER_MAX bytes: schema_ptr_put keeps 4 spare. */
static void
schema_ptr_copy(const struct schema_ptr *p, char out[SCHEMA_POINTER_MAX])
{
	memcpy(out, p->buf, p->len);
	if (p->trunc)
		memcpy(out + p->len, "...", 3);
	out[p->len + (p->trunc ? 3 : 0)] = '\0';
}

/* Bytes of s (len long) to show: at most max, ending on a character
 * boundary and before any NUL, so the text stays valid UTF-8. */
static int
schema_cut_len(const char *s, size_t len, size_t max)
{
	size_t n = strnlen(s, len);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return (int)n;
}

static int
schema_quote_len(const char *s, size_t len)
{
	return schema_cut_len(s, len, SCHEMA_QUOTE_MAX);
}

static bool
schema_quote_cut(const char *s, size_t len)
{
	return (size_t)schema_quote_len(s, len) < len;
}

/* ---- compiling ----------------------------------------------------------- */

static int schema_compile_node(struct schema_compile *c, const json_t *doc,
    struct schema_node **out);

static int
schema_cerr(struct schema_compile *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
schema_cerr(struct schema_compile *c, const char *fmt, ...)
{
	char why[256], where[SCHEMA_POINTER_MAX];
	va_list ap;

	if (c->err == NULL || c->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->ptr.len == 0 && !c->ptr.trunc)
		snprintf(where, sizeof(where), "(document root)");
	else
		schema_ptr_copy(&c->ptr, where);
	/* A long pointer must not push the reason out of a short buffer. */
	if (strlen(where) > SCHEMA_WHERE_MAX) {
		int n = schema_cut_len(where, strlen(where), SCHEMA_WHERE_MAX);
		memcpy(where + n, "...", 4);
	}
	snprintf(c->err, c->errlen, "%s: %s", where, why);
	return -1;
}

/* Recursion is fine here: it follows the compiled tree, which
 * schema_compile_node caps at SCHEMA_DEPTH_MAX levels. */
/* NOLINTBEGIN(misc-no-recursion) */
static void
schema_node_free(struct schema_node *n)
{
	if (n == NULL)
		return;
	json_decref((json_t *)n->konst);
	json_decref((json_t *)n->enums);
	if (n->has_pattern)
		regfree(&n->pattern);
	free(n->pattern_src);
	for (size_t i = 0; i < n->nrequired; i++)
		free(n->required[i].name);
	free(n->required);
	for (size_t i = 0; i < n->nprops; i++) {
		free(n->props[i].name);
		schema_node_free(n->props[i].node);
	}
	free(n->props);
	free(n->sorted);
	schema_node_free(n->addl_node);
	schema_node_free(n->items);
	free(n);
}
/* NOLINTEND(misc-no-recursion) */

/* *bit is set on every path (0 on failure): the analyzer does not follow
 * schema_cerr, a variadic function, so it cannot see that it returns -1. */
static int
schema_type_bit(struct schema_compile *c, const json_t *v, unsigned *bit)
{
	const char *name = json_string_value(v);

	*bit = 0;
	if (name == NULL)
		return schema_cerr(c, "type names must be strings");
	for (size_t i = 0; i < sizeof(schema_type_names) /
	    sizeof(schema_type_names[0]); i++) {
		if (strcmp(name, schema_type_names[i].name) == 0) {
			*bit = schema_type_names[i].bit;
			return 0;
		}
	}
	return schema_cerr(c, "unknown type \"%.*s\"",
	    schema_quote_len(name, json_string_length(v)), name);
}

static int
schema_kw_type(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	unsigned bit;

	if (json_is_string(v)) {
		if (schema_type_bit(c, v, &bit) != 0)
			return -1;
		n->types = bit;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return schema_cerr(c, "type must be a string or a non-empty "
		    "array of strings");
	for (size_t i = 0; i < json_array_size(v); i++) {
		if (schema_type_bit(c, json_array_get(v, i), &bit) != 0)
			return -1;
		if (n->types & bit)
			return schema_cerr(c, "type lists a name twice");
		n->types |= bit;
	}
	return 0;
}

static char *
schema_memdup(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static int
schema_kw_required(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	size_t count = json_array_size(v);

	if (!json_is_array(v))
		return schema_cerr(c, "required must be an array of strings");
	if (count > SCHEMA_MEMBERS_MAX)
		return schema_cerr(c, "required lists more than %d names",
		    SCHEMA_MEMBERS_MAX);
	n->required = calloc(count ? count : 1, sizeof(*n->required));
	if (n->required == NULL)
		return schema_cerr(c, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const json_t *s = json_array_get(v, i);
		size_t len = json_string_length(s);
		if (!json_is_string(s))
			return schema_cerr(c, "required must be an array of "
			    "strings");
		for (size_t j = 0; j < i; j++) {
			if (n->required[j].len == len && memcmp(
			    n->required[j].name, json_string_value(s), len) == 0)
				return schema_cerr(c, "required lists \"%.*s\" "
				    "twice", schema_quote_len(
				    json_string_value(s), len),
				    json_string_value(s));
		}
		n->required[i].name = schema_memdup(json_string_value(s), len);
		if (n->required[i].name == NULL)
			return schema_cerr(c, "out of memory");
		n->required[i].len = len;
		n->nrequired = i + 1;
	}
	return 0;
}

static int
schema_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static int
schema_sort_cmp(const void *a, const void *b)
{
	const struct schema_name *x = *(const struct schema_name *const *)a;
	const struct schema_name *y = *(const struct schema_name *const *)b;

	return schema_name_cmp(x->name, x->len, y->name, y->len);
}

static int
schema_kw_properties(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	struct schema_mark m = schema_ptr_mark(&c->ptr);
	size_t count = json_object_size(v), i = 0;
	const char *key;
	size_t klen;
	json_t *sub;

	if (!json_is_object(v))
		return schema_cerr(c, "properties must be an object");
	if (count > SCHEMA_MEMBERS_MAX)
		return schema_cerr(c, "properties has more than %d members",
		    SCHEMA_MEMBERS_MAX);
	n->props = calloc(count ? count : 1, sizeof(*n->props));
	n->sorted = calloc(count ? count : 1, sizeof(struct schema_name *));
	if (n->props == NULL || n->sorted == NULL)
		return schema_cerr(c, "out of memory");
	/* jansson keeps members in document order: that is the check order. */
	json_object_keylen_foreach((json_t *)v, key, klen, sub) {
		struct schema_name *p = &n->props[i];
		p->name = schema_memdup(key, klen);
		if (p->name == NULL)
			return schema_cerr(c, "out of memory");
		p->len = klen;
		n->sorted[i] = p;
		n->nprops = ++i;
		schema_ptr_push(&c->ptr, key, klen);
		if (schema_compile_node(c, sub, &p->node) != 0)
			return -1;
		schema_ptr_reset(&c->ptr, m);
	}
	qsort(n->sorted, n->nprops, sizeof(struct schema_name *),
	    schema_sort_cmp);
	return 0;
}

static int
schema_kw_additional(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	if (json_is_boolean(v)) {
		n->addl = json_is_true(v) ? SCHEMA_ADDL_ANY : SCHEMA_ADDL_NONE;
		return 0;
	}
	if (!json_is_object(v))
		return schema_cerr(c, "additionalProperties must be a boolean "
		    "or a schema object");
	n->addl = SCHEMA_ADDL_SCHEMA;
	return schema_compile_node(c, v, &n->addl_node);
}

static int
schema_kw_items(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	if (!json_is_object(v))
		return schema_cerr(c, "items must be a schema object (the "
		    "array form is not supported)");
	return schema_compile_node(c, v, &n->items);
}

/* The copies keep the values alive after the caller frees its document. */
static int
schema_kw_enum(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	if (!json_is_array(v) || json_array_size(v) == 0)
		return schema_cerr(c, "enum must be a non-empty array");
	if (json_array_size(v) > SCHEMA_MEMBERS_MAX)
		return schema_cerr(c, "enum lists more than %d values",
		    SCHEMA_MEMBERS_MAX);
	n->enums = json_deep_copy(v);
	return n->enums == NULL ? schema_cerr(c, "out of memory") : 0;
}

static int
schema_kw_const(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	n->konst = json_deep_copy(v);
	return n->konst == NULL ? schema_cerr(c, "out of memory") : 0;
}

/*
 * glibc's regcomp grows exponentially on stacked quantifiers ("a+++++") and
 * on large repeat counts, so a schema file or a reload could eat the
 * daemon's memory.  Patterns are short, with repeats of modest size.
 */
#define SCHEMA_PATTERN_MAX 512
#define SCHEMA_REPEAT_MAX  255

static bool
schema_is_quantifier(char ch)
{
	return ch == '*' || ch == '+' || ch == '?' || ch == '{';
}

/* "{n}", "{n,}" or "{n,m}" with n or m over SCHEMA_REPEAT_MAX. */
static bool
schema_repeat_too_big(const char *p)
{
	char *end;
	unsigned long n = strtoul(p, &end, 10);

	if (n > SCHEMA_REPEAT_MAX)
		return true;
	return *end == ',' && strtoul(end + 1, NULL, 10) > SCHEMA_REPEAT_MAX;
}

static int
schema_pattern_risky(const char *src, char *why, size_t whylen)
{
	bool in_class = false, after_quant = false;

	if (strlen(src) > SCHEMA_PATTERN_MAX) {
		snprintf(why, whylen, "longer than %d bytes", SCHEMA_PATTERN_MAX);
		return -1;
	}
	for (const char *p = src; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			after_quant = false;
		} else if (in_class) {
			in_class = *p != ']';
		} else if (*p == '[') {
			in_class = true;
			after_quant = false;
		} else if (schema_is_quantifier(*p)) {
			if (after_quant) {
				snprintf(why, whylen, "a quantifier follows a "
				    "quantifier at byte %td", p - src);
				return -1;
			}
			if (*p == '{' && schema_repeat_too_big(p + 1)) {
				snprintf(why, whylen, "a repeat count over %d",
				    SCHEMA_REPEAT_MAX);
				return -1;
			}
			if (*p == '{')
				p += strcspn(p, "}") - (p[strcspn(p, "}")] == '\0');
			after_quant = true;
		} else {
			after_quant = false;
		}
	}
	return 0;
}

static int
schema_kw_pattern(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	const char *src = json_string_value(v);
	char why[128];
	int rc;

	if (src == NULL || strlen(src) != json_string_length(v))
		return schema_cerr(c, "pattern must be a string without NUL");
	if (schema_pattern_risky(src, why, sizeof(why)) != 0)
		return schema_cerr(c, "pattern refused: %s", why);
	rc = regcomp(&n->pattern, src, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, &n->pattern, why, sizeof(why));
		return schema_cerr(c, "pattern is not a POSIX extended regular "
		    "expression: %s", why);
	}
	n->has_pattern = true;
	n->pattern_src = strdup(src);
	return n->pattern_src == NULL ? schema_cerr(c, "out of memory") : 0;
}

static int
schema_kw_format(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	const char *f = json_string_value(v);

	if (f != NULL && strcmp(f, "uuid") == 0)
		n->format = SCHEMA_F_UUID;
	else if (f != NULL && strcmp(f, "date-time") == 0)
		n->format = SCHEMA_F_DATE_TIME;
	else if (f == NULL)
		return schema_cerr(c, "format must be a string");
	else
		return schema_cerr(c, "unknown format \"%.*s\" (supported: "
		    "uuid, date-time)", schema_quote_len(f,
		    json_string_length(v)), f);
	return 0;
}

static int
schema_get_num(struct schema_compile *c, const json_t *v,
    struct schema_num *out)
{
	if (!json_is_number(v))
		return schema_cerr(c, "must be a number");
	out->set = true;
	out->is_int = json_is_integer(v);
	out->i = out->is_int ? json_integer_value(v) : 0;
	out->d = json_number_value(v);
	return 0;
}

static int
schema_kw_minimum(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_num(c, v, &n->minimum);
}

static int
schema_kw_maximum(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_num(c, v, &n->maximum);
}

static int
schema_kw_xminimum(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_num(c, v, &n->xminimum);
}

static int
schema_kw_xmaximum(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_num(c, v, &n->xmaximum);
}

/* Counts are non-negative integers; 2.0 counts as 2, as JSON Schema says. */
static int
schema_get_count(struct schema_compile *c, const json_t *v, size_t *out)
{
	double d = json_number_value(v);

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (size_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && d >= 0 && d == trunc(d) && d < 1e15) {
		*out = (size_t)d;
		return 0;
	}
	return schema_cerr(c, "must be a non-negative integer");
}

static int
schema_kw_min_len(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_count(c, v, &n->min_len);
}

static int
schema_kw_max_len(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_count(c, v, &n->max_len);
}

static int
schema_kw_min_items(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_count(c, v, &n->min_items);
}

static int
schema_kw_max_items(struct schema_compile *c, struct schema_node *n,
    const json_t *v)
{
	return schema_get_count(c, v, &n->max_items);
}

static const struct schema_keyword {
	const char *name;
	int (*compile)(struct schema_compile *, struct schema_node *,
	    const json_t *);
} schema_keywords[] = {
	{ "type", schema_kw_type },
	{ "required", schema_kw_required },
	{ "properties", schema_kw_properties },
	{ "additionalProperties", schema_kw_additional },
	{ "enum", schema_kw_enum },
	{ "const", schema_kw_const },
	{ "pattern", schema_kw_pattern },
	{ "format", schema_kw_format },
	{ "minimum", schema_kw_minimum },
	{ "maximum", schema_kw_maximum },
	{ "exclusiveMinimum", schema_kw_xminimum },
	{ "exclusiveMaximum", schema_kw_xmaximum },
	{ "minLength", schema_kw_min_len },
	{ "maxLength", schema_kw_max_len },
	{ "items", schema_kw_items },
	{ "minItems", schema_kw_min_items },
	{ "maxItems", schema_kw_max_items },
};

/* Annotations: accepted so real-world schemas load, and otherwise ignored. */
static const char *const schema_ignored[] = {
	"$schema", "$id", "title", "description", "$comment", "examples",
};

static const struct schema_keyword *
schema_keyword_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(schema_keywords) /
	    sizeof(schema_keywords[0]); i++) {
		if (strlen(schema_keywords[i].name) == len &&
		    memcmp(schema_keywords[i].name, name, len) == 0)
			return &schema_keywords[i];
	}
	return NULL;
}

static bool
schema_keyword_ignored(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(schema_ignored) /
	    sizeof(schema_ignored[0]); i++) {
		if (strlen(schema_ignored[i]) == len &&
		    memcmp(schema_ignored[i], name, len) == 0)
			return true;
	}
	return false;
}

static int
schema_compile_keywords(struct schema_compile *c, const json_t *doc,
    struct schema_node *n)
{
	struct schema_mark m = schema_ptr_mark(&c->ptr);
	const struct schema_keyword *kw;
	const char *key;
	size_t klen;
	json_t *v;

	json_object_keylen_foreach((json_t *)doc, key, klen, v) {
		schema_ptr_push(&c->ptr, key, klen);
		kw = schema_keyword_find(key, klen);
		if (kw == NULL && !schema_keyword_ignored(key, klen))
			return schema_cerr(c, "unsupported keyword \"%.*s%s\"",
			    schema_quote_len(key, klen), key,
			    schema_quote_cut(key, klen) ? "..." : "");
		if (kw != NULL && kw->compile(c, n, v) != 0)
			return -1;
		schema_ptr_reset(&c->ptr, m);
	}
	return 0;
}

static int
schema_compile_node(struct schema_compile *c, const json_t *doc,
    struct schema_node **out)
{
	struct schema_node *n;
	int rc;

	*out = NULL;
	if (!json_is_object(doc))
		return schema_cerr(c, "a schema must be a JSON object");
	if (c->depth >= SCHEMA_DEPTH_MAX)
		return schema_cerr(c, "schemas nest deeper than %d",
		    SCHEMA_DEPTH_MAX);
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return schema_cerr(c, "out of memory");
	n->max_len = SIZE_MAX;
	n->max_items = SIZE_MAX;
	/* Hooked up before compiling, so a failure frees the partial tree. */
	*out = n;
	c->depth++;
	rc = schema_compile_keywords(c, doc, n);
	c->depth--;
	return rc;
}

struct schema *
schema_from_json(const json_t *doc, char *err, size_t errlen)
{
	struct schema_compile c;
	struct schema *s;

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		schema_cerr(&c, "out of memory");
		return NULL;
	}
	if (schema_compile_node(&c, doc, &s->root) != 0) {
		schema_free(s);
		return NULL;
	}
	return s;
}

void
schema_free(struct schema *s)
{
	if (s == NULL)
		return;
	schema_node_free(s->root);
	free(s);
}

/* Reads at most SCHEMA_FILE_MAX bytes; one more means the file is too big. */
static char *
schema_read_file(const char *file, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(file, "rb");
	char *buf = NULL;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	buf = malloc(SCHEMA_FILE_MAX + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		goto fail;
	}
	n = fread(buf, 1, SCHEMA_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", file);
		goto fail;
	}
	if (n > (size_t)SCHEMA_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", file,
		    SCHEMA_FILE_MAX);
		goto fail;
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

struct schema *
schema_load(const char *file, char *err, size_t errlen)
{
	char scratch[256], why[256];
	json_error_t jerr;
	struct schema *s;
	json_t *doc;
	char *text;
	size_t len;

	/* Always have somewhere to write, so callers may pass NULL. */
	if (err == NULL || errlen == 0) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	text = schema_read_file(file, &len, err, errlen);
	if (text == NULL)
		return NULL;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (doc == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", file, jerr.line,
		    jerr.column, jerr.text);
		return NULL;
	}
	s = schema_from_json(doc, why, sizeof(why));
	json_decref(doc);
	if (s == NULL)
		snprintf(err, errlen, "%s: %s", file, why);
	return s;
}

/* ---- validating ---------------------------------------------------------- */

static int
schema_fail(struct schema_vctx *v, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
schema_fail(struct schema_vctx *v, const char *rule, const char *fmt, ...)
{
	va_list ap;

	if (v->err == NULL)
		return -1;
	schema_ptr_copy(&v->ptr, v->err->pointer);
	snprintf(v->err->rule, sizeof(v->err->rule), "%s", rule);
	va_start(ap, fmt);
	vsnprintf(v->err->message, sizeof(v->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Whole-valued reals are integers, as JSON Schema (not jansson) has it. */
static bool
schema_is_integral(const json_t *j)
{
	double d;

	if (json_is_integer(j))
		return true;
	if (!json_is_real(j))
		return false;
	d = json_real_value(j);
	return isfinite(d) && d == trunc(d);
}

static unsigned
schema_type_of(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return SCHEMA_T_OBJECT;
	case JSON_ARRAY:
		return SCHEMA_T_ARRAY;
	case JSON_STRING:
		return SCHEMA_T_STRING;
	case JSON_INTEGER:
	case JSON_REAL:
		return SCHEMA_T_NUMBER |
		    (schema_is_integral(j) ? SCHEMA_T_INTEGER : 0);
	case JSON_TRUE:
	case JSON_FALSE:
		return SCHEMA_T_BOOLEAN;
	case JSON_NULL:
		return SCHEMA_T_NULL;
	}
	return 0;
}

static const char *
schema_type_str(const json_t *j)
{
	unsigned t = schema_type_of(j) & ~(unsigned)SCHEMA_T_INTEGER;

	for (size_t i = 0; i < sizeof(schema_type_names) /
	    sizeof(schema_type_names[0]); i++) {
		if (schema_type_names[i].bit == t)
			return schema_type_names[i].name;
	}
	return "?";
}

static int
schema_check_type(struct schema_vctx *v, unsigned want, const json_t *j)
{
	char names[96];
	size_t used = 0;

	if (want == 0 || (schema_type_of(j) & want) != 0)
		return 0;
	names[0] = '\0';
	for (size_t i = 0; i < sizeof(schema_type_names) /
	    sizeof(schema_type_names[0]); i++) {
		if ((want & schema_type_names[i].bit) == 0)
			continue;
		used += (size_t)snprintf(names + used, sizeof(names) - used,
		    "%s%s", used ? " or " : "", schema_type_names[i].name);
	}
	return schema_fail(v, "type", "expected %s, got %s", names,
	    schema_type_str(j));
}

/* Exact order of an integer and a double, both finite. */
static int
schema_cmp_int_real(json_int_t i, double d)
{
	double t;

	/* 2^63 as a double: beyond it, no json_int_t reaches. */
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	t = trunc(d);
	if (i != (json_int_t)t)
		return i < (json_int_t)t ? -1 : 1;
	return d > t ? -1 : (d < t ? 1 : 0);
}

/* Sign of (instance - limit), without rounding an integer through double. */
static int
schema_num_cmp(const json_t *j, const struct schema_num *lim)
{
	double d;

	if (json_is_integer(j) && lim->is_int) {
		json_int_t i = json_integer_value(j);
		return i < lim->i ? -1 : i > lim->i;
	}
	if (json_is_integer(j))
		return schema_cmp_int_real(json_integer_value(j), lim->d);
	d = json_real_value(j);
	if (lim->is_int)
		return -schema_cmp_int_real(lim->i, d);
	return d < lim->d ? -1 : d > lim->d;
}

static void
schema_num_text(const json_t *j, const struct schema_num *lim, char *buf,
    size_t len)
{
	if (j != NULL && json_is_integer(j))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(j));
	else if (j != NULL)
		snprintf(buf, len, "%.17g", json_real_value(j));
	else if (lim->is_int)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, lim->i);
	else
		snprintf(buf, len, "%.17g", lim->d);
}

static int
schema_check_number(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	static const struct {
		const char *rule;
		int         bad;     /* the comparison result that fails */
		bool        excl;    /* equality fails too */
		const char *what;
	} lims[] = {
		{ "minimum", -1, false, "less than the minimum" },
		{ "exclusiveMinimum", -1, true,
		  "not greater than the exclusive minimum" },
		{ "maximum", 1, false, "greater than the maximum" },
		{ "exclusiveMaximum", 1, true,
		  "not less than the exclusive maximum" },
	};
	const struct schema_num *have[] = {
		&n->minimum, &n->xminimum, &n->maximum, &n->xmaximum,
	};
	char val[40], lim[40];

	for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
		int c;
		if (!have[i]->set)
			continue;
		c = schema_num_cmp(j, have[i]);
		if (c != lims[i].bad && !(lims[i].excl && c == 0))
			continue;
		schema_num_text(j, NULL, val, sizeof(val));
		schema_num_text(NULL, have[i], lim, sizeof(lim));
		return schema_fail(v, lims[i].rule, "%s is %s %s", val,
		    lims[i].what, lim);
	}
	return 0;
}

static bool
schema_is_uuid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Code points, not bytes: jansson strings are valid UTF-8, so counting the
 * bytes that do not continue a sequence is enough. */
static size_t
schema_utf8_count(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int
schema_check_format(struct schema_vctx *v, const struct schema_node *n,
    const char *s, size_t len)
{
	int64_t ms;

	if (n->format == SCHEMA_F_UUID && !schema_is_uuid(s, len))
		return schema_fail(v, "format", "string is not a uuid "
		    "(8-4-4-4-12 hexadecimal digits)");
	if (n->format == SCHEMA_F_DATE_TIME && rfc3339_parse(s, len, &ms) != 0)
		return schema_fail(v, "format", "string is not an RFC 3339 "
		    "date-time");
	return 0;
}

static int
schema_check_string(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	const char *s = json_string_value(j);
	size_t len = json_string_length(j), count;

	if (n->min_len > 0 || n->max_len != SIZE_MAX) {
		count = schema_utf8_count(s, len);
		if (count < n->min_len)
			return schema_fail(v, "minLength", "string has %zu "
			    "characters, fewer than the minimum %zu", count,
			    n->min_len);
		if (count > n->max_len)
			return schema_fail(v, "maxLength", "string has %zu "
			    "characters, more than the maximum %zu", count,
			    n->max_len);
	}
	/* regexec stops at a NUL, so a string holding one cannot match. */
	if (n->has_pattern && (strlen(s) != len ||
	    regexec(&n->pattern, s, 0, NULL, 0) != 0))
		return schema_fail(v, "pattern", "string does not match the "
		    "pattern %.*s%s", schema_quote_len(n->pattern_src,
		    strlen(n->pattern_src)), n->pattern_src,
		    schema_quote_cut(n->pattern_src, strlen(n->pattern_src)) ?
		    "..." : "");
	return schema_check_format(v, n, s, len);
}

/*
 * The validator recurses, and misc-no-recursion is silenced for it alone: a
 * check descends only into a child schema node (at most SCHEMA_DEPTH_MAX
 * levels), and schema_equal stops at the depth of the schema's own const or
 * enum value.  An instance deeper than its schema is never walked.
 */
/* NOLINTBEGIN(misc-no-recursion) */
static bool schema_equal(const json_t *a, const json_t *b);

static bool
schema_equal_object(const json_t *a, const json_t *b)
{
	const char *key;
	size_t klen;
	json_t *av;

	if (json_object_size(a) != json_object_size(b))
		return false;
	json_object_keylen_foreach((json_t *)a, key, klen, av) {
		const json_t *bv = json_object_getn(b, key, klen);
		if (bv == NULL || !schema_equal(av, bv))
			return false;
	}
	return true;
}

/* JSON Schema equality: 1 equals 1.0, unlike json_equal.  The recursion
 * depth is bounded by the schema's own value, which jansson parsed. */
static bool
schema_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b)) {
		struct schema_num lim = { true, json_is_integer(b),
		    json_is_integer(b) ? json_integer_value(b) : 0,
		    json_number_value(b) };
		return schema_num_cmp(a, &lim) == 0;
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		return schema_equal_object(a, b);
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++) {
			if (!schema_equal(json_array_get(a, i),
			    json_array_get(b, i)))
				return false;
		}
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	default:
		return true;    /* true, false, null: the type is the value */
	}
}

static int schema_check_node(struct schema_vctx *v,
    const struct schema_node *n, const json_t *j);

static int
schema_check_child(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j, const char *tok, size_t len)
{
	struct schema_mark m = schema_ptr_mark(&v->ptr);

	schema_ptr_push(&v->ptr, tok, len);
	if (schema_check_node(v, n, j) != 0)
		return -1;
	schema_ptr_reset(&v->ptr, m);
	return 0;
}

static const struct schema_name *
schema_prop_find(const struct schema_node *n, const char *key, size_t len)
{
	size_t lo = 0, hi = n->nprops;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct schema_name *p = n->sorted[mid];
		int c = schema_name_cmp(key, len, p->name, p->len);
		if (c == 0)
			return p;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
schema_check_additional(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	const char *key;
	size_t klen;
	json_t *mv;

	json_object_keylen_foreach((json_t *)j, key, klen, mv) {
		if (schema_prop_find(n, key, klen) != NULL)
			continue;
		if (n->addl == SCHEMA_ADDL_NONE) {
			schema_ptr_push(&v->ptr, key, klen);
			return schema_fail(v, "additionalProperties", "member "
			    "is not allowed (additionalProperties is false)");
		}
		if (schema_check_child(v, n->addl_node, mv, key, klen) != 0)
			return -1;
	}
	return 0;
}

static int
schema_check_object(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	for (size_t i = 0; i < n->nrequired; i++) {
		const struct schema_name *r = &n->required[i];
		if (json_object_getn(j, r->name, r->len) != NULL)
			continue;
		schema_ptr_push(&v->ptr, r->name, r->len);
		return schema_fail(v, "required", "required member \"%.*s%s\" "
		    "is missing", schema_quote_len(r->name, r->len), r->name,
		    schema_quote_cut(r->name, r->len) ? "..." : "");
	}
	for (size_t i = 0; i < n->nprops; i++) {
		const struct schema_name *p = &n->props[i];
		const json_t *mv = json_object_getn(j, p->name, p->len);
		if (mv != NULL && schema_check_child(v, p->node, mv, p->name,
		    p->len) != 0)
			return -1;
	}
	if (n->addl == SCHEMA_ADDL_ANY)
		return 0;
	return schema_check_additional(v, n, j);
}

static int
schema_check_array(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	size_t count = json_array_size(j);
	struct schema_mark m;

	if (count < n->min_items)
		return schema_fail(v, "minItems", "array has %zu items, fewer "
		    "than the minimum %zu", count, n->min_items);
	if (count > n->max_items)
		return schema_fail(v, "maxItems", "array has %zu items, more "
		    "than the maximum %zu", count, n->max_items);
	if (n->items == NULL)
		return 0;
	m = schema_ptr_mark(&v->ptr);
	for (size_t i = 0; i < count; i++) {
		schema_ptr_index(&v->ptr, i);
		if (schema_check_node(v, n->items, json_array_get(j, i)) != 0)
			return -1;
		schema_ptr_reset(&v->ptr, m);
	}
	return 0;
}

static int
schema_check_values(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	size_t i;

	if (n->konst != NULL && !schema_equal(j, n->konst))
		return schema_fail(v, "const", "value is not the constant the "
		    "schema requires");
	if (n->enums == NULL)
		return 0;
	for (i = 0; i < json_array_size(n->enums); i++) {
		if (schema_equal(j, json_array_get(n->enums, i)))
			return 0;
	}
	return schema_fail(v, "enum", "value is not one of the %zu allowed "
	    "values", i);
}

static int
schema_check_node(struct schema_vctx *v, const struct schema_node *n,
    const json_t *j)
{
	if (schema_check_type(v, n->types, j) != 0 ||
	    schema_check_values(v, n, j) != 0)
		return -1;
	switch (json_typeof(j)) {
	case JSON_STRING:
		return schema_check_string(v, n, j);
	case JSON_INTEGER:
	case JSON_REAL:
		return schema_check_number(v, n, j);
	case JSON_OBJECT:
		return schema_check_object(v, n, j);
	case JSON_ARRAY:
		return schema_check_array(v, n, j);
	default:
		return 0;
	}
}
/* NOLINTEND(misc-no-recursion) */

int
schema_validate(const struct schema *s, const json_t *instance,
    struct schema_error *err)
{
	struct schema_vctx v;

	v.ptr.len = 0;
	v.ptr.trunc = false;
	v.ptr.buf[0] = '\0';
	v.err = err;
	if (err != NULL) {
		err->pointer[0] = '\0';
		err->rule[0] = '\0';
		err->message[0] = '\0';
	}
	if (s == NULL || instance == NULL)
		return schema_fail(&v, "schema", "no schema or no instance");
	return schema_check_node(&v, s->root, instance);
}
