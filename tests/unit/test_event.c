/* test_event.c - unit tests for event_build: checks, schema, mapping, sizes. */
#include "testutil.h"

#include "awsproto.h"
#include "entry.h"
#include "event.h"
#include "rfc3339.h"
#include "schema.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIPPED "conf/schemas/cxone-routing-event.json"
#define EVENTS  "tests/data/events/"

/* valid.json's timestamp, 2024-05-14T09:31:07.412Z. */
#define VALID_TS_MS   1715679067412LL
#define VALID_ID      "3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a23"
#define NOW_MS        (VALID_TS_MS + 3600000)
#define TRACE         "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"

static struct schema *shipped;

static int
group_setup(void **state)
{
	char err[256] = "";

	(void)state;
	shipped = schema_load(SHIPPED, err, sizeof(err));
	if (shipped == NULL) {
		fprintf(stderr, "schema_load: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	schema_free(shipped);
	return 0;
}

/* The configuration a default deployment runs with. */
static struct event_config
default_config(void)
{
	struct event_config c = {
		.schema = shipped,
		.max_depth = 32,
		.max_future_ms = 300000,
		.max_entry_bytes = 262144,
		.max_message_bytes = 262144,
		.dedupe_key = "/id",
		.order_key = "/routingContext/queueId",
		.bus = "cxone-bus",
		.source = "nice.cxone.routing",
		.detail_type = "",
		.enrich = false,
		.instance = "bridge-a",
	};
	return c;
}

/* Reads a file under EVENTS; the caller frees it. */
static char *
slurp(const char *name, size_t *len)
{
	char path[256];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof(path), EVENTS "%s", name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* A routing event with the given members substituted into the template. */
static char *
make_event(const char *id_json, const char *type, const char *ts,
    const char *queue_json)
{
	char *buf = NULL;

	if (asprintf(&buf, "{\"id\":%s,\"eventType\":\"%s\",\"timestamp\":\"%s\","
	    "\"routingContext\":{\"queueId\":%s,\"skillId\":\"sk\",\"agentId\":"
	    "\"ag\",\"waitTimeMs\":5},\"retryDirective\":{\"maxAttempts\":3,"
	    "\"backoffMs\":500}}", id_json, type, ts, queue_json) < 0)
		fail_msg("asprintf");
	return buf;
}

/* Builds and expects failure; returns the error for further checks. */
static struct event_error
expect_fail(const struct event_config *c, const char *body, size_t len,
    int status, const char *error, const char *pointer, const char *rule)
{
	struct event ev;
	struct event_error err;

	memset(&err, 0x5a, sizeof(err));
	if (event_build(c, body, len, NULL, NOW_MS, &ev, &err) != -1)
		fail_msg("accepted: %.*s", (int)(len > 200 ? 200 : len), body);
	assert_null(ev.entry);
	assert_null(ev.order_key);
	assert_int_equal(err.status, status);
	assert_string_equal(err.error, error);
	assert_string_equal(err.pointer, pointer);
	assert_string_equal(err.rule, rule);
	assert_true(strlen(err.message) > 0);
	return err;
}

static void
expect_ok(const struct event_config *c, const char *body, size_t len,
    struct event *ev)
{
	struct event_error err;

	if (event_build(c, body, len, NULL, NOW_MS, ev, &err) != 0)
		fail_msg("refused (%d %s %s %s): %s", err.status, err.pointer,
		    err.rule, err.message, body);
	assert_non_null(ev->entry);
}

static void
test_valid_maps_entry(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	struct event ev;
	size_t len;
	char *body = slurp("valid.json", &len);
	struct entry *e;

	(void)state;
	assert_int_equal(event_build(&c, body, len, TRACE, NOW_MS, &ev, &err), 0);
	e = ev.entry;
	assert_non_null(e);
	assert_string_equal(e->source, "nice.cxone.routing");
	assert_string_equal(e->detail_type, "routing:agent-assigned");
	assert_string_equal(e->event_type, "routing:agent-assigned");
	assert_string_equal(e->bus, "cxone-bus");
	assert_string_equal(e->trace_header, TRACE);
	/* Detail is the body, byte for byte (whitespace and newlines kept). */
	assert_int_equal(strlen(e->detail), len);
	assert_memory_equal(e->detail, body, len);
	assert_null(e->event_json);
	assert_int_equal(e->time_ms, VALID_TS_MS);
	assert_int_equal(ev.ts_ms, VALID_TS_MS);
	assert_int_equal(e->received_ms, NOW_MS);
	assert_string_equal(e->event_id, VALID_ID);
	assert_non_null(ev.order_key);
	assert_string_equal(ev.order_key, "q-4711");
	assert_int_equal(e->size, 14 + strlen("nice.cxone.routing") +
	    strlen("routing:agent-assigned") + len);
	assert_int_equal(e->size, entry_size(e));
	assert_int_equal(e->reason, DLQ_NONE);
	assert_int_equal(e->dest, DEST_NONE);
	event_fini(&ev);
	assert_null(ev.entry);
	assert_null(ev.order_key);
	free(body);
}

static void
test_no_trace_and_detail_type_override(void **state)
{
	struct event_config c = default_config();
	struct event ev;
	size_t len;
	char *body = slurp("valid.json", &len);

	(void)state;
	c.detail_type = "CXone Routing Event";
	expect_ok(&c, body, len, &ev);
	assert_null(ev.entry->trace_header);
	assert_string_equal(ev.entry->detail_type, "CXone Routing Event");
	/* The event's own type is still known for routes and the DLQ. */
	assert_string_equal(ev.entry->event_type, "routing:agent-assigned");
	assert_int_equal(ev.entry->size, 14 + strlen("nice.cxone.routing") +
	    strlen("CXone Routing Event") + len);
	event_fini(&ev);
	free(body);
}

static void
test_offset_timestamp_and_utf8_size(void **state)
{
	struct event_config c = default_config();
	struct event ev;
	size_t len;
	char *body = slurp("valid-minimal-extra.json", &len);

	(void)state;
	expect_ok(&c, body, len, &ev);
	/* 11:31:07+02:00 is 09:31:07Z. */
	assert_int_equal(ev.ts_ms, 1715679067000LL);
	assert_int_equal(ev.entry->time_ms, 1715679067000LL);
	assert_string_equal(ev.entry->event_id,
	    "3F1C2A9E-7B4D-4E2F-9A61-0C5D8E7F1A23");
	event_fini(&ev);
	free(body);

	/* Multi-byte characters count in bytes in the entry size. */
	body = make_event("\"" VALID_ID "\"", "routing:caf\xc3\xa9\xe2\x82\xac",
	    "2024-05-14T09:31:07Z", "\"q-\xf0\x9f\x98\x80\"");
	len = strlen(body);
	expect_ok(&c, body, len, &ev);
	assert_string_equal(ev.entry->detail_type, "routing:caf\xc3\xa9\xe2\x82\xac");
	assert_int_equal(ev.entry->size, 14 + 18 + (8 + 5 + 3) + len);
	assert_string_equal(ev.order_key, "q-\xf0\x9f\x98\x80");
	event_fini(&ev);
	free(body);
}

static void
test_dedupe_pointer_custom_and_integer(void **state)
{
	struct event_config c = default_config();
	struct event ev;
	size_t len;
	char *body = slurp("valid-minimal-extra.json", &len);

	(void)state;
	c.dedupe_key = "/routingContext/agentId";
	expect_ok(&c, body, len, &ev);
	assert_string_equal(ev.entry->event_id, "ag-20931");
	event_fini(&ev);

	c.dedupe_key = "/contactId";     /* 558812344: an integer */
	expect_ok(&c, body, len, &ev);
	assert_string_equal(ev.entry->event_id, "558812344");
	event_fini(&ev);

	/* An integer ordering key is text too. */
	c.order_key = "/routingContext/priority";
	expect_ok(&c, body, len, &ev);
	assert_string_equal(ev.order_key, "5");
	event_fini(&ev);
	free(body);

	/* RFC 6901 escapes: "~1" is '/', "~0" is '~'. */
	body = strdup("{\"timestamp\":\"2024-05-14T09:31:07Z\",\"a/b\":{\"c~d\":"
	    "\"the-id\"},\"list\":[\"x\",\"y\"]}");
	assert_non_null(body);
	c.schema = NULL;
	c.dedupe_key = "/a~1b/c~0d";
	c.order_key = "/list/1";
	expect_ok(&c, body, strlen(body), &ev);
	assert_string_equal(ev.entry->event_id, "the-id");
	assert_string_equal(ev.order_key, "y");
	event_fini(&ev);
	free(body);
}

static void
test_missing_order_key_is_unordered(void **state)
{
	struct event_config c = default_config();
	struct event ev;
	size_t len;
	char *body = slurp("valid.json", &len);

	(void)state;
	c.order_key = "/routingContext/tenant";
	expect_ok(&c, body, len, &ev);
	assert_null(ev.order_key);
	event_fini(&ev);

	c.order_key = "";
	expect_ok(&c, body, len, &ev);
	assert_null(ev.order_key);
	event_fini(&ev);
	free(body);
}

static int
is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static void
test_enrich(void **state)
{
	struct event_config c = default_config();
	char received[RFC3339_FORMAT_SIZE];
	struct event ev;
	json_error_t jerr;
	json_t *detail, *orig, *cx;
	size_t len;
	char *body = slurp("valid.json", &len);
	char corr[40];

	(void)state;
	c.enrich = true;
	expect_ok(&c, body, len, &ev);
	assert_non_null(ev.entry->event_json);
	assert_memory_equal(ev.entry->event_json, body, len);
	assert_int_equal(strlen(ev.entry->event_json), len);
	assert_int_equal(ev.entry->size, entry_size(ev.entry));

	detail = json_loads(ev.entry->detail, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(detail);
	cx = json_object_get(detail, "cxbridge");
	assert_true(json_is_object(cx));
	rfc3339_format_ms(NOW_MS, received);
	assert_string_equal(json_string_value(json_object_get(cx, "receivedAt")),
	    received);
	assert_string_equal(json_string_value(json_object_get(cx, "instance")),
	    "bridge-a");
	assert_non_null(json_string_value(json_object_get(cx, "correlationId")));
	snprintf(corr, sizeof(corr), "%s",
	    json_string_value(json_object_get(cx, "correlationId")));
	assert_true(is_uuid(corr));
	assert_int_equal(json_object_size(cx), 3);

	/* Everything else is the event unchanged. */
	json_object_del(detail, "cxbridge");
	orig = json_loadb(body, len, 0, &jerr);
	assert_non_null(orig);
	assert_true(json_equal(detail, orig));
	json_decref(detail);
	json_decref(orig);
	event_fini(&ev);

	/* Each event gets its own correlation id. */
	expect_ok(&c, body, len, &ev);
	detail = json_loads(ev.entry->detail, 0, &jerr);
	assert_non_null(detail);
	assert_string_not_equal(json_string_value(json_object_get(
	    json_object_get(detail, "cxbridge"), "correlationId")), corr);
	json_decref(detail);
	event_fini(&ev);
	free(body);
}

static void
test_bad_utf8_and_depth(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	static const char bad[] = "{\"id\":\"\xc3\x28\"}";
	static const char overlong[] = "{\"id\":\"\xc0\xaf\"}";
	static const char deep[] = "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}";

	(void)state;
	err = expect_fail(&c, bad, strlen(bad), 400, "schema", "", "");
	assert_non_null(strstr(err.message, "UTF-8"));
	expect_fail(&c, overlong, strlen(overlong), 400, "schema", "", "");

	c.max_depth = 3;
	err = expect_fail(&c, deep, strlen(deep), 400, "schema", "", "");
	assert_non_null(strstr(err.message, "deep"));
	/* One level fewer gets past the depth check (to the schema). */
	c.max_depth = 4;
	err = expect_fail(&c, deep, strlen(deep), 400, "schema", "/id",
	    "required");
}

static void
test_not_json_dup_keys_array(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	static const char trunc[] = "{\"id\":";
	static const char trailing[] = "{} x";
	static const char arr[] = "[{\"id\":\"x\"}]";
	size_t len;
	char *body = slurp("valid.json", &len);
	char *dup;

	(void)state;
	err = expect_fail(&c, trunc, strlen(trunc), 400, "schema", "", "");
	assert_non_null(strstr(err.message, "not JSON"));
	expect_fail(&c, trailing, strlen(trailing), 400, "schema", "", "");
	expect_fail(&c, "", 0, 400, "schema", "", "");
	err = expect_fail(&c, arr, strlen(arr), 400, "schema", "", "");
	assert_non_null(strstr(err.message, "object"));
	/* Without a schema the top level must still be an object. */
	c.schema = NULL;
	expect_fail(&c, arr, strlen(arr), 400, "schema", "", "");
	expect_fail(&c, "\"s\"", 3, 400, "schema", "", "");
	c.schema = shipped;

	/* The same member twice is ambiguous: refused, not last-wins. */
	assert_true(asprintf(&dup, "{\"id\":\"%s\",%s", VALID_ID, body + 1) > 0);
	err = expect_fail(&c, dup, strlen(dup), 400, "schema", "", "");
	assert_non_null(strstr(err.message, "not JSON"));
	free(dup);
	free(body);
}

static void
test_schema_failures(void **state)
{
	static const struct {
		const char *file, *pointer, *rule;
	} cases[] = {
		{ "invalid-backoff.json", "/retryDirective/backoffMs", "minimum" },
		{ "invalid-bad-uuid.json", "/id", "format" },
		{ "invalid-context-array.json", "/routingContext", "type" },
		{ "invalid-event-type.json", "/eventType", "pattern" },
		{ "invalid-max-attempts.json", "/retryDirective/maxAttempts",
		  "maximum" },
		{ "invalid-missing-agent.json", "/routingContext/agentId",
		  "required" },
		{ "invalid-missing-retry.json", "/retryDirective", "required" },
		{ "invalid-schema-version.json", "/schemaVersion", "pattern" },
		{ "invalid-timestamp.json", "/timestamp", "format" },
		{ "invalid-two-faults.json", "/retryDirective", "required" },
		{ "invalid-wait-fraction.json", "/routingContext/waitTimeMs",
		  "type" },
		{ "invalid-wait-negative.json", "/routingContext/waitTimeMs",
		  "minimum" },
		{ "invalid-wait-string.json", "/routingContext/waitTimeMs",
		  "type" },
	};
	struct event_config c = default_config();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *body = slurp(cases[i].file, &len);

		struct event_error err;
		struct event ev;
		int rc = event_build(&c, body, len, NULL, NOW_MS, &ev, &err);

		free(body);
		if (rc != -1)
			fail_msg("%s accepted", cases[i].file);
		if (err.status != 400 || strcmp(err.error, "schema") != 0 ||
		    strcmp(err.pointer, cases[i].pointer) != 0 ||
		    strcmp(err.rule, cases[i].rule) != 0)
			fail_msg("%s: got %d %s %s %s", cases[i].file, err.status,
			    err.error, err.pointer, err.rule);
		assert_null(ev.entry);
	}
}

static void
test_timestamp_errors(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	struct event ev;
	char *body;

	(void)state;
	/* Without a schema, event_build still needs a good timestamp. */
	c.schema = NULL;
	body = strdup("{\"id\":\"x\"}");
	err = expect_fail(&c, body, strlen(body), 400, "schema", "/timestamp", "");
	assert_non_null(strstr(err.message, "required"));
	free(body);

	body = strdup("{\"id\":\"x\",\"timestamp\":1715679067}");
	expect_fail(&c, body, strlen(body), 400, "schema", "/timestamp", "");
	free(body);

	body = make_event("\"x\"", "routing:a", "2024-02-30T09:31:07Z", "\"q\"");
	err = expect_fail(&c, body, strlen(body), 400, "schema", "/timestamp", "");
	assert_non_null(strstr(err.message, "RFC 3339"));
	free(body);

	body = make_event("\"x\"", "routing:a", "2024-05-14 09:31:07Z", "\"q\"");
	expect_fail(&c, body, strlen(body), 400, "schema", "/timestamp", "");
	free(body);

	/* The future limit is inclusive: exactly max_future_ms ahead is fine. */
	body = make_event("\"" VALID_ID "\"", "routing:a",
	    "2024-05-14T09:31:07.412Z", "\"q\"");
	c.max_future_ms = 1000;
	assert_int_equal(event_build(&c, body, strlen(body), NULL,
	    VALID_TS_MS - 1000, &ev, &err), 0);
	event_fini(&ev);
	assert_int_equal(event_build(&c, body, strlen(body), NULL,
	    VALID_TS_MS - 1001, &ev, &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.pointer, "/timestamp");
	assert_non_null(strstr(err.message, "future"));
	assert_null(ev.entry);
	/* With the shipped schema too. */
	c.schema = shipped;
	assert_int_equal(event_build(&c, body, strlen(body), NULL,
	    VALID_TS_MS - 1001, &ev, &err), -1);
	assert_string_equal(err.pointer, "/timestamp");
	free(body);
}

/* A string member of n bytes: "aaaa...". */
static char *
long_string_json(size_t n)
{
	char *s = malloc(n + 3);

	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, 'a', n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

static void
test_key_errors(void **state)
{
	struct event_config c = default_config();
	struct event ev;
	size_t len;
	char *body = slurp("valid.json", &len);
	char *v, *ev_text;

	(void)state;
	c.dedupe_key = "/tenantId";
	expect_fail(&c, body, len, 400, "schema", "/tenantId", "");
	c.dedupe_key = "/routingContext";    /* an object is no key */
	expect_fail(&c, body, len, 400, "schema", "/routingContext", "");
	c.dedupe_key = "/routingContext/waitTimeMs/x";
	expect_fail(&c, body, len, 400, "schema", "/routingContext/waitTimeMs/x",
	    "");
	free(body);

	/* Keys are table keys: 256 bytes fit, 257 do not. */
	c = default_config();
	c.schema = NULL;
	v = long_string_json(256);
	ev_text = make_event(v, "routing:a", "2024-05-14T09:31:07Z", "\"q\"");
	expect_ok(&c, ev_text, strlen(ev_text), &ev);
	assert_int_equal(strlen(ev.entry->event_id), 256);
	event_fini(&ev);
	free(ev_text);
	ev_text = make_event("\"x\"", "routing:a", "2024-05-14T09:31:07Z", v);
	expect_ok(&c, ev_text, strlen(ev_text), &ev);
	assert_int_equal(strlen(ev.order_key), 256);
	event_fini(&ev);
	free(ev_text);
	free(v);

	v = long_string_json(257);
	ev_text = make_event(v, "routing:a", "2024-05-14T09:31:07Z", "\"q\"");
	expect_fail(&c, ev_text, strlen(ev_text), 400, "schema", "/id", "");
	free(ev_text);
	ev_text = make_event("\"x\"", "routing:a", "2024-05-14T09:31:07Z", v);
	expect_fail(&c, ev_text, strlen(ev_text), 400, "schema",
	    "/routingContext/queueId", "");
	free(ev_text);
	free(v);

	ev_text = make_event("\"\"", "routing:a", "2024-05-14T09:31:07Z", "\"q\"");
	expect_fail(&c, ev_text, strlen(ev_text), 400, "schema", "/id", "");
	free(ev_text);
	ev_text = make_event("1.5", "routing:a", "2024-05-14T09:31:07Z", "\"q\"");
	expect_fail(&c, ev_text, strlen(ev_text), 400, "schema", "/id", "");
	free(ev_text);
}

/*
 * Keys are byte strings: "a\u0000b" and "a\u0000c" are different ids.  If
 * the key were cut at the NUL both would be "a", and the second event would
 * be answered "duplicate" and never published.  Refusing such keys (400) is
 * fine too; merging them is not.
 */
static void
test_key_with_nul(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	struct event e1, e2;
	static const char b1[] = "{\"timestamp\":\"2024-05-14T09:31:07Z\","
	    "\"id\":\"a\\u0000b\"}";
	static const char b2[] = "{\"timestamp\":\"2024-05-14T09:31:07Z\","
	    "\"id\":\"a\\u0000c\"}";
	int rc1, rc2, same = 0;

	(void)state;
	c.schema = NULL;
	rc1 = event_build(&c, b1, strlen(b1), NULL, NOW_MS, &e1, &err);
	if (rc1 != 0)
		assert_int_equal(err.status, 400);
	rc2 = event_build(&c, b2, strlen(b2), NULL, NOW_MS, &e2, &err);
	if (rc2 != 0)
		assert_int_equal(err.status, 400);
	/* Dedupe and ordering take the key as a C string (strlen). */
	if (rc1 == 0 && rc2 == 0)
		same = strcmp(e1.entry->event_id, e2.entry->event_id) == 0;
	if (rc1 == 0)
		event_fini(&e1);
	if (rc2 == 0)
		event_fini(&e2);
	if (same)
		fail_msg("ids \"a\\u0000b\" and \"a\\u0000c\" both became "
		    "the key \"a\"");
}

static void
test_entry_too_large(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	struct event ev;
	size_t len, size;
	char *body = slurp("valid.json", &len);

	(void)state;
	expect_ok(&c, body, len, &ev);
	size = ev.entry->size;
	event_fini(&ev);

	c.max_entry_bytes = size;        /* exactly at the limit fits */
	expect_ok(&c, body, len, &ev);
	event_fini(&ev);
	c.max_entry_bytes = size - 1;
	err = expect_fail(&c, body, len, 413, "too_large", "", "");
	assert_non_null(strstr(err.message, "EventBridge"));

	/* An override DetailType counts instead of eventType. */
	c.detail_type = "routing:agent-assigned+";
	c.max_entry_bytes = size;
	expect_fail(&c, body, len, 413, "too_large", "", "");
	free(body);
}

static void
test_dlq_bound_too_large(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	struct event ev;
	size_t len, bound;
	char *body = slurp("valid.json", &len);

	(void)state;
	expect_ok(&c, body, len, &ev);
	bound = event_dlq_size_bound(ev.entry, len);
	/* The bound covers the original event and the entry's strings. */
	assert_true(bound >= len + strlen(ev.entry->source) +
	    strlen(ev.entry->detail_type) + strlen(ev.entry->bus));
	event_fini(&ev);

	c.max_message_bytes = bound;
	expect_ok(&c, body, len, &ev);
	event_fini(&ev);
	c.max_message_bytes = bound - 1;
	err = expect_fail(&c, body, len, 413, "too_large", "", "");
	assert_non_null(strstr(err.message, "dead-letter"));
	free(body);
}

/* The envelope the DLQ really sends, for e as the batcher would fill it. */
static size_t
real_dlq_size(struct entry *e)
{
	size_t elen = 0, size;
	char *env = dlq_envelope(e, &elen);

	assert_non_null(env);
	size = sqs_message_size(e, elen);
	free(env);
	return size;
}

static void
test_dlq_bound_is_upper_bound(void **state)
{
	struct event_config c = default_config();
	struct event ev;
	size_t len;
	char *body = slurp("valid.json", &len);

	(void)state;
	c.enrich = true;
	expect_ok(&c, body, len, &ev);
	/* The worst the batcher writes into an envelope of its own. */
	ev.entry->reason = DLQ_EVENTBRIDGE_ERROR;
	ev.entry->attempts = 4294967295u;
	memset(ev.entry->error_code, 'E', sizeof(ev.entry->error_code) - 1);
	memset(ev.entry->error_message, 'm',
	    sizeof(ev.entry->error_message) - 1);
	assert_true(real_dlq_size(ev.entry) <=
	    event_dlq_size_bound(ev.entry, len));
	event_fini(&ev);
	free(body);
}

/*
 * An eventType made of control characters is 1 byte each in DetailType but
 * 6 bytes each ("\u0001") once the envelope escapes DetailType, so the DLQ
 * bound must not count DetailType at its raw length.  With 25000 of them the
 * event passes every default limit, yet its DLQ message would be over the
 * 256 KiB SQS limit: an accepted event that the DLQ could not take.
 */
static void
test_dlq_bound_escaped_detail_type(void **state)
{
	struct event_config c = default_config();
	struct event_error err;
	struct event ev;
	size_t n = 25000, real = 0, bound = 0;
	char *type = malloc(8 + 6 * n + 1), *body;
	int rc;

	(void)state;
	assert_non_null(type);
	strcpy(type, "routing:");
	for (size_t i = 0; i < n; i++)
		memcpy(type + 8 + 6 * i, "\\u0001", 6);
	type[8 + 6 * n] = '\0';
	body = make_event("\"" VALID_ID "\"", type, "2024-05-14T09:31:07Z",
	    "\"q\"");
	free(type);
	rc = event_build(&c, body, strlen(body), NULL, NOW_MS, &ev, &err);
	if (rc == 0) {
		real = real_dlq_size(ev.entry);
		bound = event_dlq_size_bound(ev.entry, strlen(body));
		event_fini(&ev);
	}
	free(body);
	/* Either refused up front (413), or the bound really bounds. */
	if (rc != 0) {
		assert_int_equal(err.status, 413);
		return;
	}
	if (real > bound || real > c.max_message_bytes)
		fail_msg("accepted, but the DLQ message is %zu bytes: over the "
		    "bound %zu and the limit %zu", real, bound,
		    c.max_message_bytes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_maps_entry),
		cmocka_unit_test(test_no_trace_and_detail_type_override),
		cmocka_unit_test(test_offset_timestamp_and_utf8_size),
		cmocka_unit_test(test_dedupe_pointer_custom_and_integer),
		cmocka_unit_test(test_missing_order_key_is_unordered),
		cmocka_unit_test(test_enrich),
		cmocka_unit_test(test_bad_utf8_and_depth),
		cmocka_unit_test(test_not_json_dup_keys_array),
		cmocka_unit_test(test_schema_failures),
		cmocka_unit_test(test_timestamp_errors),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_key_with_nul),
		cmocka_unit_test(test_entry_too_large),
		cmocka_unit_test(test_dlq_bound_too_large),
		cmocka_unit_test(test_dlq_bound_is_upper_bound),
		cmocka_unit_test(test_dlq_bound_escaped_detail_type),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
