/* test_schema.c - unit tests for the JSON Schema subset and the default schema. */
#include "testutil.h"

#include "schema.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIPPED "conf/schemas/cxone-routing-event.json"
#define EVENTS  "tests/data/events/"

static struct schema *
compile(const char *text)
{
	char err[256] = "";
	json_error_t jerr;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	struct schema *s;

	if (doc == NULL)
		fail_msg("test schema is not JSON: %s: %s", jerr.text, text);
	s = schema_from_json(doc, err, sizeof(err));
	/* The compiled schema must not borrow from the document. */
	json_decref(doc);
	if (s == NULL)
		fail_msg("schema refused: %s", err);
	return s;
}

/* Validates instance text; expects pointer and rule, or success if rule is
 * NULL.  Returns nothing: each mismatch fails the test with the details. */
static void
expect(const struct schema *s, const char *text, const char *pointer,
    const char *rule)
{
	struct schema_error e;
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	int rc;

	if (j == NULL)
		fail_msg("instance is not JSON: %s", text);
	memset(&e, 0x5a, sizeof(e));
	rc = schema_validate(s, j, &e);
	json_decref(j);
	if (rule == NULL) {
		if (rc != 0)
			fail_msg("%s: refused at \"%s\" by %s: %s", text,
			    e.pointer, e.rule, e.message);
		return;
	}
	if (rc != -1)
		fail_msg("%s: accepted, wanted %s at %s", text, rule, pointer);
	if (strcmp(e.pointer, pointer) != 0 || strcmp(e.rule, rule) != 0)
		fail_msg("%s: got \"%s\" %s (%s), wanted \"%s\" %s", text,
		    e.pointer, e.rule, e.message, pointer, rule);
	assert_true(strlen(e.message) > 0);
	assert_true(strlen(e.message) < sizeof(e.message));
}

static void
expect_load_error(const char *text, const char *needle)
{
	char err[256] = "";
	json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
	struct schema *s;

	assert_non_null(doc);
	s = schema_from_json(doc, err, sizeof(err));
	json_decref(doc);
	if (s != NULL) {
		schema_free(s);
		fail_msg("schema accepted: %s", text);
	}
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

/* ---- the shipped schema against tests/data/events ---------------------- */

static int
shipped_setup(void **state)
{
	char err[256];

	*state = schema_load(SHIPPED, err, sizeof(err));
	if (*state == NULL)
		fprintf(stderr, "%s\n", err);
	return *state == NULL ? -1 : 0;
}

static int
shipped_teardown(void **state)
{
	schema_free(*state);
	return 0;
}

static int
validate_file(const struct schema *s, const char *name,
    struct schema_error *e)
{
	char path[256];
	json_error_t jerr;
	json_t *j;
	int rc;

	snprintf(path, sizeof(path), EVENTS "%s", name);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		fail_msg("%s: %s", path, jerr.text);
	rc = schema_validate(s, j, e);
	json_decref(j);
	return rc;
}

static void
test_shipped_valid(void **state)
{
	static const char *const files[] = {
		"valid.json", "valid-minimal-extra.json",
	};
	struct schema_error e;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (validate_file(*state, files[i], &e) != 0)
			fail_msg("%s refused at %s by %s: %s", files[i],
			    e.pointer, e.rule, e.message);
		assert_string_equal(e.pointer, "");
	}
}

static void
test_shipped_invalid(void **state)
{
	static const struct {
		const char *file, *pointer, *rule, *words;
	} cases[] = {
		{ "invalid-wait-negative.json", "/routingContext/waitTimeMs",
		  "minimum", "-1 is less than the minimum 0" },
		{ "invalid-missing-retry.json", "/retryDirective", "required",
		  "\"retryDirective\"" },
		{ "invalid-bad-uuid.json", "/id", "format", "uuid" },
		{ "invalid-event-type.json", "/eventType", "pattern",
		  "^routing:.+" },
		{ "invalid-timestamp.json", "/timestamp", "format",
		  "RFC 3339" },
		{ "invalid-max-attempts.json", "/retryDirective/maxAttempts",
		  "maximum", "11 is greater than the maximum 10" },
		{ "invalid-backoff.json", "/retryDirective/backoffMs",
		  "minimum", "99" },
		{ "invalid-wait-string.json", "/routingContext/waitTimeMs",
		  "type", "expected integer, got string" },
		{ "invalid-wait-fraction.json", "/routingContext/waitTimeMs",
		  "type", "expected integer, got number" },
		{ "invalid-missing-agent.json", "/routingContext/agentId",
		  "required", "agentId" },
		{ "invalid-schema-version.json", "/schemaVersion", "pattern",
		  "pattern" },
		{ "invalid-context-array.json", "/routingContext", "type",
		  "expected object, got array" },
		/* Required is checked before the properties' own rules. */
		{ "invalid-two-faults.json", "/retryDirective", "required",
		  "missing" },
	};
	struct schema_error e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (validate_file(*state, cases[i].file, &e) != -1)
			fail_msg("%s accepted", cases[i].file);
		if (strcmp(e.pointer, cases[i].pointer) != 0 ||
		    strcmp(e.rule, cases[i].rule) != 0 ||
		    strstr(e.message, cases[i].words) == NULL)
			fail_msg("%s: got \"%s\" %s \"%s\"", cases[i].file,
			    e.pointer, e.rule, e.message);
	}
}

/* The schema's promises, one member at a time, on top of valid.json. */
static void
test_shipped_edges(void **state)
{
	const struct schema *s = *state;
	const char *head = "{\"id\":\"3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a23\","
	    "\"eventType\":\"routing:x\",\"timestamp\":\"2024-01-01T00:00:00Z\","
	    "\"routingContext\":{\"queueId\":\"q\",\"skillId\":\"s\","
	    "\"agentId\":\"a\",\"waitTimeMs\":";
	static const struct {
		const char *tail, *pointer, *rule;
	} cases[] = {
		{ "0},\"retryDirective\":{\"maxAttempts\":1,\"backoffMs\":100}}",
		  NULL, NULL },
		{ "0.0},\"retryDirective\":{\"maxAttempts\":10.0,"
		  "\"backoffMs\":100}}", NULL, NULL },
		{ "0},\"retryDirective\":{\"maxAttempts\":0,\"backoffMs\":100}}",
		  "/retryDirective/maxAttempts", "minimum" },
		{ "0},\"retryDirective\":{\"maxAttempts\":1,\"backoffMs\":100},"
		  "\"schemaVersion\":\"v10.0\",\"extra\":[1,{}]}", NULL, NULL },
		{ "0},\"retryDirective\":{\"maxAttempts\":1,\"backoffMs\":100},"
		  "\"schemaVersion\":\"v1.0.1\"}", "/schemaVersion", "pattern" },
		{ "0},\"retryDirective\":{\"maxAttempts\":1}}",
		  "/retryDirective/backoffMs", "required" },
		{ "0},\"retryDirective\":{\"maxAttempts\":1,\"backoffMs\":100},"
		  "\"eventType\":\"routing:\"}", "/eventType", "pattern" },
		{ "-0.5},\"retryDirective\":{\"maxAttempts\":1,"
		  "\"backoffMs\":100}}", "/routingContext/waitTimeMs", "type" },
		{ "null},\"retryDirective\":{}}", "/routingContext/waitTimeMs",
		  "type" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "%s%s", head, cases[i].tail);
		expect(s, text, cases[i].pointer, cases[i].rule);
	}
	expect(s, "[]", "", "type");
	expect(s, "{}", "/id", "required");
}

/* Many threads on one schema: results stay exact (ASan/TSan builds). */
struct worker {
	const struct schema *s;
	json_t *good, *bad;
	int errors;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct schema_error e;

	for (int i = 0; i < 5000; i++) {
		if (schema_validate(w->s, w->good, &e) != 0)
			w->errors++;
		if (schema_validate(w->s, w->bad, &e) != -1 ||
		    strcmp(e.pointer, "/routingContext/waitTimeMs") != 0)
			w->errors++;
	}
	return NULL;
}

static void
test_shipped_threads(void **state)
{
	struct worker w[4];
	pthread_t t[4];
	json_t *good = json_load_file(EVENTS "valid.json", 0, NULL);
	json_t *bad = json_load_file(EVENTS "invalid-wait-negative.json", 0,
	    NULL);
	char *before = json_dumps(bad, JSON_COMPACT);

	assert_non_null(good);
	assert_non_null(bad);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ *state, good, bad, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker_run,
		    &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	/* Validation is read-only: no reference taken, nothing changed. */
	assert_int_equal(good->refcount, 1);
	assert_int_equal(bad->refcount, 1);
	{
		char *after = json_dumps(bad, JSON_COMPACT);
		assert_string_equal(before, after);
		free(after);
	}
	free(before);
	json_decref(good);
	json_decref(bad);
}

/* ---- keywords ----------------------------------------------------------- */

static void
test_type(void **state)
{
	struct schema *s = compile("{\"type\":[\"string\",\"null\"]}");
	struct schema *i = compile("{\"type\":\"integer\"}");
	struct schema *n = compile("{\"type\":\"number\"}");
	struct schema *b = compile("{\"type\":\"boolean\"}");
	struct schema_error e;
	json_t *j = json_real(3.0);

	(void)state;
	expect(s, "\"x\"", NULL, NULL);
	expect(s, "null", NULL, NULL);
	expect(s, "1", "", "type");
	schema_validate(s, j, &e);
	assert_string_equal(e.message, "expected string or null, got number");
	/* JSON Schema, not jansson: a whole-valued real is an integer. */
	expect(i, "1", NULL, NULL);
	expect(i, "1.0", NULL, NULL);
	expect(i, "-0.0", NULL, NULL);
	expect(i, "1e3", NULL, NULL);
	expect(i, "1.5", "", "type");
	expect(i, "\"1\"", "", "type");
	expect(i, "true", "", "type");
	expect(n, "1", NULL, NULL);
	expect(n, "1.25", NULL, NULL);
	expect(n, "null", "", "type");
	expect(b, "false", NULL, NULL);
	expect(b, "0", "", "type");
	json_decref(j);
	schema_free(s);
	schema_free(i);
	schema_free(n);
	schema_free(b);
}

static void
test_numbers(void **state)
{
	struct schema *s = compile("{\"minimum\":-5,\"maximum\":5.5,"
	    "\"exclusiveMinimum\":-5.5,\"exclusiveMaximum\":5}");
	struct schema *x = compile("{\"exclusiveMinimum\":0,"
	    "\"exclusiveMaximum\":1}");
	struct schema *h = compile("{\"minimum\":0.5}");
	/* 2^53 + 1: a double cannot hold it, so a double-only check passes
	 * 2^53 where it must fail. */
	struct schema *big = compile("{\"minimum\":9007199254740993}");
	struct schema *huge = compile("{\"maximum\":1e300,\"minimum\":-1e300}");

	(void)state;
	expect(s, "-5", NULL, NULL);
	expect(s, "-5.0", NULL, NULL);
	expect(s, "-6", "", "minimum");
	expect(s, "-5.000001", "", "minimum");
	expect(s, "4.999", NULL, NULL);
	expect(s, "5", "", "exclusiveMaximum");
	expect(s, "\"strings are not numbers\"", NULL, NULL);
	expect(x, "0", "", "exclusiveMinimum");
	expect(x, "0.0", "", "exclusiveMinimum");
	expect(x, "1e-300", NULL, NULL);
	expect(x, "1", "", "exclusiveMaximum");
	expect(x, "0.9999999", NULL, NULL);
	expect(h, "0", "", "minimum");
	expect(h, "1", NULL, NULL);
	expect(h, "0.5", NULL, NULL);
	expect(h, "-9223372036854775808", "", "minimum");
	expect(big, "9007199254740992", "", "minimum");
	expect(big, "9007199254740993", NULL, NULL);
	expect(big, "9007199254740994", NULL, NULL);
	expect(huge, "9223372036854775807", NULL, NULL);
	expect(huge, "-9223372036854775808", NULL, NULL);
	expect(huge, "1e301", "", "maximum");
	schema_free(s);
	schema_free(x);
	schema_free(h);
	schema_free(big);
	schema_free(huge);
}

static void
test_strings(void **state)
{
	struct schema *s = compile("{\"minLength\":2,\"maxLength\":5}");
	struct schema *p = compile("{\"pattern\":\"[0-9]{3}\"}");
	struct schema *a = compile("{\"pattern\":\"^(ab|cd)+$\"}");
	struct schema *u = compile("{\"format\":\"uuid\"}");
	struct schema *d = compile("{\"format\":\"date-time\"}");
	struct schema_error e;
	json_t *j = json_string("\xe2\x82\xac");

	(void)state;
	/* Lengths are code points: "héllo" is 6 bytes, 5 characters. */
	expect(s, "\"h\xc3\xa9llo\"", NULL, NULL);
	expect(s, "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", NULL, NULL);
	expect(s, "\"\xe2\x82\xac\"", "", "minLength");
	expect(s, "\"abcdef\"", "", "maxLength");
	schema_validate(s, j, &e);
	assert_string_equal(e.message,
	    "string has 1 characters, fewer than the minimum 2");
	expect(s, "12", NULL, NULL);        /* only strings have a length */
	/* ERE search semantics: unanchored unless the pattern says so. */
	expect(p, "\"ab123cd\"", NULL, NULL);
	expect(p, "\"12a3\"", "", "pattern");
	expect(a, "\"abcdab\"", NULL, NULL);
	expect(a, "\"abc\"", "", "pattern");
	expect(u, "\"3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a23\"", NULL, NULL);
	expect(u, "\"3F1C2A9E-7B4D-4E2F-9A61-0C5D8E7F1A23\"", NULL, NULL);
	expect(u, "\"00000000-0000-0000-0000-000000000000\"", NULL, NULL);
	expect(u, "\"3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a2g\"", "", "format");
	expect(u, "\"3f1c2a9e7b4d-4e2f-9a61-0c5d8e7f1a23-\"", "", "format");
	expect(u, "\"3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a234\"", "", "format");
	expect(u, "\"{3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a23}\"", "", "format");
	expect(u, "\"3f1c2a9e7b4d4e2f9a610c5d8e7f1a23\"", "", "format");
	expect(u, "\"\"", "", "format");
	expect(d, "\"2024-02-29T23:59:59.999+14:00\"", NULL, NULL);
	expect(d, "\"2016-12-31T23:59:60Z\"", "", "format");
	expect(d, "\"2024-02-29\"", "", "format");
	json_decref(j);
	schema_free(s);
	schema_free(p);
	schema_free(a);
	schema_free(u);
	schema_free(d);
}

/* A string holding U+0000 never matches a pattern (regexec stops at NUL). */
static void
test_pattern_nul(void **state)
{
	struct schema *p = compile("{\"pattern\":\"^a\"}");
	json_t *j = json_stringn("a\0b", 3);
	struct schema_error e;

	(void)state;
	assert_int_equal(schema_validate(p, j, &e), -1);
	assert_string_equal(e.rule, "pattern");
	json_decref(j);
	schema_free(p);
}

static void
test_enum_const(void **state)
{
	struct schema *e = compile("{\"enum\":[\"a\",1,null,[1,2],"
	    "{\"k\":{\"x\":true}}]}");
	struct schema *c = compile("{\"const\":{\"a\":1,\"b\":[\"x\"]}}");
	struct schema *t = compile("{\"type\":\"string\",\"enum\":[1]}");

	(void)state;
	expect(e, "\"a\"", NULL, NULL);
	expect(e, "1.0", NULL, NULL);         /* 1 == 1.0 in JSON Schema */
	expect(e, "null", NULL, NULL);
	expect(e, "[1,2]", NULL, NULL);
	expect(e, "[1.0,2]", NULL, NULL);
	expect(e, "{\"k\":{\"x\":true}}", NULL, NULL);
	expect(e, "\"A\"", "", "enum");
	expect(e, "[2,1]", "", "enum");
	expect(e, "[1]", "", "enum");
	expect(e, "{\"k\":{\"x\":false}}", "", "enum");
	expect(e, "{\"k\":{\"x\":true},\"z\":1}", "", "enum");
	expect(e, "false", "", "enum");
	expect(c, "{\"b\":[\"x\"],\"a\":1}", NULL, NULL);  /* order free */
	expect(c, "{\"a\":1,\"b\":[\"y\"]}", "", "const");
	expect(c, "{\"a\":1}", "", "const");
	expect(t, "1", "", "type");           /* type comes first */
	schema_free(e);
	schema_free(c);
	schema_free(t);
}

static void
test_objects(void **state)
{
	struct schema *s = compile("{\"required\":[\"r1\",\"r2\"],"
	    "\"properties\":{\"b\":{\"type\":\"string\"},"
	    "\"a\":{\"type\":\"string\"},\"r1\":{},\"r2\":{}},"
	    "\"additionalProperties\":false}");
	struct schema *m = compile("{\"properties\":{\"known\":{}},"
	    "\"additionalProperties\":{\"type\":\"integer\",\"minimum\":0}}");

	(void)state;
	expect(s, "{\"r1\":0,\"r2\":0}", NULL, NULL);
	expect(s, "{\"r2\":0}", "/r1", "required");
	expect(s, "{\"r1\":0}", "/r2", "required");
	/* Properties in schema order (b before a), not instance order. */
	expect(s, "{\"a\":1,\"b\":1,\"r1\":0,\"r2\":0}", "/b", "type");
	expect(s, "{\"a\":1,\"b\":\"\",\"r1\":0,\"r2\":0}", "/a", "type");
	/* Missing required wins over a bad property. */
	expect(s, "{\"a\":1,\"r1\":0}", "/r2", "required");
	expect(s, "{\"r1\":0,\"r2\":0,\"zz\":1,\"yy\":2}", "/zz",
	    "additionalProperties");
	expect(s, "[1]", NULL, NULL);         /* only objects have members */
	expect(m, "{\"known\":\"x\",\"n\":3}", NULL, NULL);
	expect(m, "{\"known\":\"x\",\"n\":-3}", "/n", "minimum");
	expect(m, "{\"n\":3,\"o\":\"x\"}", "/o", "type");
	schema_free(s);
	schema_free(m);
}

static void
test_arrays(void **state)
{
	struct schema *s = compile("{\"type\":\"object\",\"properties\":{"
	    "\"list\":{\"minItems\":1,\"maxItems\":3,\"items\":{"
	    "\"type\":\"object\",\"required\":[\"v\"],\"properties\":{"
	    "\"v\":{\"maximum\":9}}}}}}");

	(void)state;
	expect(s, "{\"list\":[{\"v\":1}]}", NULL, NULL);
	expect(s, "{\"list\":[]}", "/list", "minItems");
	expect(s, "{\"list\":[{\"v\":1},{\"v\":1},{\"v\":1},{\"v\":1}]}",
	    "/list", "maxItems");
	expect(s, "{\"list\":[{\"v\":1},{\"v\":1},{\"v\":10}]}", "/list/2/v",
	    "maximum");
	expect(s, "{\"list\":[{\"v\":1},{}]}", "/list/1/v", "required");
	expect(s, "{\"list\":[{\"v\":1},7]}", "/list/1", "type");
	expect(s, "{\"list\":\"not an array\"}", NULL, NULL);
	schema_free(s);
}

/* RFC 6901: "~" is written "~0" and "/" is written "~1". */
static void
test_pointer_escape(void **state)
{
	struct schema *s = compile("{\"properties\":{\"a/b~c\":{"
	    "\"properties\":{\"~\":{\"type\":\"null\"}}}},"
	    "\"required\":[\"x/y\"]}");

	(void)state;
	expect(s, "{\"x/y\":0,\"a/b~c\":{\"~\":1}}", "/a~1b~0c/~0", "type");
	expect(s, "{}", "/x~1y", "required");
	schema_free(s);
}

/* Long names: the pointer ends in "...", the message quotes a prefix. */
static void
test_caps(void **state)
{
	char name[301], text[2048];
	struct schema_error e;
	struct schema *s;
	json_t *j;

	(void)state;
	memset(name, 'n', 300);
	name[300] = '\0';
	snprintf(text, sizeof(text), "{\"properties\":{\"%s\":{"
	    "\"required\":[\"%s\"]}}}", name, name);
	s = compile(text);
	snprintf(text, sizeof(text), "{\"%s\":{}}", name);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(schema_validate(s, j, &e), -1);
	assert_string_equal(e.rule, "required");
	assert_int_equal(strlen(e.pointer), SCHEMA_POINTER_MAX - 1);
	assert_string_equal(e.pointer + SCHEMA_POINTER_MAX - 4, "...");
	assert_memory_equal(e.pointer, "/nnnn", 5);
	assert_non_null(strstr(e.message, "nnnn...\" is missing"));
	assert_true(strlen(e.message) < 120);
	/* NULL err is allowed. */
	assert_int_equal(schema_validate(s, j, NULL), -1);
	json_decref(j);
	schema_free(s);
	schema_free(NULL);
}

/* A pointer cut inside a multi-byte name never splits a character. */
static void
check_cut(const char *ch, size_t width)
{
	char text[4096], key[1024] = "x";
	struct schema_error e;
	struct schema *s;
	json_t *j, *p;

	for (int i = 0; i < 200; i++)
		strcat(key, ch);
	snprintf(text, sizeof(text), "{\"required\":[\"%s\"]}", key);
	s = compile(text);
	j = json_object();
	assert_int_equal(schema_validate(s, j, &e), -1);
	assert_string_equal(e.pointer + strlen(e.pointer) - 3, "...");
	/* "/x" then whole characters only. */
	assert_int_equal((strlen(e.pointer) - 3 - 2) % width, 0);
	/* Both must stay valid UTF-8: they end up in a JSON answer. */
	p = json_string(e.pointer);
	assert_non_null(p);
	json_decref(p);
	p = json_string(e.message);
	assert_non_null(p);
	json_decref(p);
	json_decref(j);
	schema_free(s);
}

static void
test_caps_utf8(void **state)
{
	(void)state;
	check_cut("\xc3\xa9", 2);
	check_cut("\xe2\x82\xac", 3);
	check_cut("\xf0\x9f\x98\x80", 4);
}

/* ---- loading ------------------------------------------------------------ */

static void
test_load_errors(void **state)
{
	(void)state;
	expect_load_error("[]", "(document root): a schema must be a JSON "
	    "object");
	expect_load_error("{\"properties\":{\"id\":{\"fromat\":\"uuid\"}}}",
	    "/properties/id/fromat: unsupported keyword \"fromat\"");
	expect_load_error("{\"$ref\":\"#/x\"}", "/$ref: unsupported keyword");
	expect_load_error("{\"allOf\":[]}", "/allOf: unsupported");
	expect_load_error("{\"default\":1}", "/default: unsupported");
	expect_load_error("{\"properties\":{\"a/b~c\":{\"bogus\":1}}}",
	    "/properties/a~1b~0c/bogus: unsupported");
	expect_load_error("{\"format\":\"email\"}",
	    "/format: unknown format \"email\"");
	expect_load_error("{\"format\":1}", "/format: format must be");
	expect_load_error("{\"items\":{\"pattern\":\"((\"}}",
	    "/items/pattern: pattern is not a POSIX extended");
	expect_load_error("{\"pattern\":7}", "/pattern: pattern must be");
	expect_load_error("{\"type\":\"int\"}", "/type: unknown type \"int\"");
	expect_load_error("{\"type\":[]}", "/type: type must be");
	expect_load_error("{\"type\":[\"string\",\"string\"]}", "twice");
	expect_load_error("{\"type\":[\"string\",3]}", "/type: type names");
	expect_load_error("{\"minimum\":\"0\"}", "/minimum: must be a number");
	expect_load_error("{\"exclusiveMaximum\":true}",
	    "/exclusiveMaximum: must be a number");
	expect_load_error("{\"minLength\":-1}", "/minLength: must be a "
	    "non-negative integer");
	expect_load_error("{\"maxItems\":1.5}", "/maxItems: must be");
	expect_load_error("{\"items\":[{}]}", "/items: items must be a schema");
	expect_load_error("{\"additionalProperties\":\"no\"}",
	    "/additionalProperties: additionalProperties must be");
	expect_load_error("{\"additionalProperties\":{\"x\":1}}",
	    "/additionalProperties/x: unsupported");
	expect_load_error("{\"required\":\"a\"}", "/required: required must");
	expect_load_error("{\"required\":[\"a\",1]}", "/required: required");
	expect_load_error("{\"required\":[\"a\",\"a\"]}", "\"a\" twice");
	expect_load_error("{\"enum\":[]}", "/enum: enum must be a non-empty");
	expect_load_error("{\"properties\":[]}", "/properties: properties");
	expect_load_error("{\"properties\":{\"a\":true}}",
	    "/properties/a: a schema must be a JSON object");
}

static void
test_load_accepts(void **state)
{
	struct schema *s;

	(void)state;
	s = compile("{\"$schema\":\"x\",\"$id\":\"y\",\"title\":\"t\","
	    "\"description\":\"d\",\"$comment\":\"c\",\"examples\":[1],"
	    "\"minLength\":2.0,\"maxItems\":0,\"properties\":{},"
	    "\"required\":[],\"additionalProperties\":true,\"const\":null}");
	expect(s, "null", NULL, NULL);
	expect(s, "0", "", "const");
	schema_free(s);
	s = compile("{}");                   /* the empty schema allows all */
	expect(s, "[{\"a\":[null]}]", NULL, NULL);
	schema_free(s);
}

/* "properties" nests one schema per level: 32 load, 33 do not. */
static struct schema *
nested(int levels, char *err, size_t errlen)
{
	char text[2048] = "";
	struct schema *s;
	json_t *doc;

	for (int i = 1; i < levels; i++)
		strcat(text, "{\"properties\":{\"a\":");
	strcat(text, "{}");
	for (int i = 1; i < levels; i++)
		strcat(text, "}}");
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	s = schema_from_json(doc, err, errlen);
	json_decref(doc);
	return s;
}

static void
test_load_depth(void **state)
{
	char err[256];
	struct schema *s;

	(void)state;
	s = nested(SCHEMA_DEPTH_MAX, err, sizeof(err));
	assert_non_null(s);
	schema_free(s);
	assert_null(nested(SCHEMA_DEPTH_MAX + 1, err, sizeof(err)));
	assert_non_null(strstr(err, "nest deeper than 32"));
	/* The error names where: 32 levels of "/properties/a" (truncated). */
	assert_memory_equal(err, "/properties/a/properties/a/", 27);
}

static char *
write_temp(const char *text, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_schema.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void
test_load_file_errors(void **state)
{
	char err[256];
	char *path, *big;
	struct schema *s;

	(void)state;
	assert_null(schema_load("tests/data/events/nope.json", err,
	    sizeof(err)));
	assert_non_null(strstr(err, "nope.json: No such file"));
	assert_null(schema_load("tests/data/events/nope.json", NULL, 0));

	path = write_temp("{\"type\":\n\"object\",}", 20);
	assert_null(schema_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":2:"));
	unlink(path);

	path = write_temp("{\"type\":\"object\",\"type\":\"array\"}", 33);
	assert_null(schema_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "duplicate"));
	unlink(path);

	path = write_temp("{\"maxLength\":\"x\"}", 17);
	assert_null(schema_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, ": /maxLength: must be"));
	assert_memory_equal(err, path, strlen(path));
	unlink(path);

	/* Exactly the cap loads (valid JSON padded with spaces); one more
	 * byte does not. */
	big = malloc(SCHEMA_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', SCHEMA_FILE_MAX + 1);
	memcpy(big, "{}", 2);
	path = write_temp(big, SCHEMA_FILE_MAX);
	s = schema_load(path, err, sizeof(err));
	assert_non_null(s);
	schema_free(s);
	unlink(path);
	path = write_temp(big, SCHEMA_FILE_MAX + 1);
	assert_null(schema_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than 1048576 bytes"));
	unlink(path);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shipped_valid,
		    shipped_setup, shipped_teardown),
		cmocka_unit_test_setup_teardown(test_shipped_invalid,
		    shipped_setup, shipped_teardown),
		cmocka_unit_test_setup_teardown(test_shipped_edges,
		    shipped_setup, shipped_teardown),
		cmocka_unit_test_setup_teardown(test_shipped_threads,
		    shipped_setup, shipped_teardown),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_pattern_nul),
		cmocka_unit_test(test_enum_const),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_pointer_escape),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_caps_utf8),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_accepts),
		cmocka_unit_test(test_load_depth),
		cmocka_unit_test(test_load_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
