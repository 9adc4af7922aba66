/* test_config.c - unit tests for the configuration file parser and key table. */
#include "testutil.h"

#include "config.h"
#include "log.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIPPED "conf/cxbridge.conf"
#define DOCS    "docs/configuration.md"

/* Lines 1-3 satisfy [auth]; the key under test is always on line 5. */
#define AUTH_NONE_TEXT "[auth]\nmode = none\nallow_unauthenticated = true\n"
#define AUTH_BEARER_TEXT "[auth]\nmode = bearer\nsecret_file = /s\n"

static char errbuf[2048];

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	assert_non_null(f);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static struct config *
parse(const char *text)
{
	errbuf[0] = '\0';
	return config_parse("t.conf", text, errbuf, sizeof(errbuf));
}

static struct config *
parse_key(const char *section, const char *key, const char *value)
{
	char text[8192];

	snprintf(text, sizeof(text), "%s[%s]\n%s = %s\n",
	    strcmp(section, "auth") == 0 ? AUTH_BEARER_TEXT : AUTH_NONE_TEXT,
	    section, key, value);
	return parse(text);
}

static void
expect_err(const char *text, const char *want)
{
	struct config *cfg = parse(text);

	if (cfg != NULL)
		fail_msg("parsed, expected error: %s", want);
	assert_string_equal(errbuf, want);
}

static void
expect_key_err(const char *section, const char *key, const char *value,
    const char *why)
{
	char want[2048];
	struct config *cfg = parse_key(section, key, value);

	snprintf(want, sizeof(want), "t.conf:5: %s: %s", key, why);
	if (cfg != NULL)
		fail_msg("[%s] %s = %s parsed, expected: %s", section, key, value,
		    why);
	assert_string_equal(errbuf, want);
}

static void
expect_key_ok(const char *section, const char *key, const char *value)
{
	struct config *cfg = parse_key(section, key, value);

	if (cfg == NULL)
		fail_msg("[%s] %s = %s: %s", section, key, value, errbuf);
	config_free(cfg);
}

/* The defaults documented in include/config.h. */
static void
check_defaults(const struct config *c)
{
	assert_string_equal(c->listen, "0.0.0.0:8080");
	assert_string_equal(c->webhook_path, "/webhook/routing-events");
	assert_int_equal(c->max_body_bytes, 262144);
	assert_int_equal(c->max_header_bytes, 16384);
	assert_int_equal(c->max_connections, 4096);
	assert_int_equal(c->idle_timeout_s, 30);
	assert_int_equal(c->threads, 2);
	assert_int_equal(c->max_json_depth, 32);
	assert_int_equal(c->retry_after_s, 1);
	assert_false(c->allow_unauthenticated);
	assert_int_equal(c->hmac_tolerance_s, 300);
	assert_string_equal(c->schema_file,
	    "/etc/cxbridge/schemas/cxone-routing-event.json");
	assert_int_equal(c->max_future_s, 300);
	assert_int_equal(c->max_entry_bytes, 262144);
	assert_string_equal(c->bus, "default");
	assert_string_equal(c->source, "nice.cxone.routing");
	assert_string_equal(c->detail_type, "");
	assert_string_equal(c->eb_endpoint, "");
	assert_false(c->enrich);
	assert_int_equal(c->batch_linger_ms, 5);
	assert_int_equal(c->delivery_timeout_ms, 10000);
	assert_int_equal(c->max_inflight_batches, 16);
	assert_int_equal(c->request_timeout_ms, 5000);
	assert_int_equal(c->connect_timeout_ms, 2000);
	assert_int_equal(c->retry_base_ms, 50);
	assert_int_equal(c->retry_max_backoff_ms, 5000);
	assert_int_equal(c->max_attempts, 8);
	assert_int_equal(c->breaker_failures, 5);
	assert_int_equal(c->breaker_cooldown_ms, 10000);
	assert_string_equal(c->queue_url, "");
	assert_string_equal(c->dlq_endpoint, "");
	assert_int_equal(c->max_message_bytes, 262144);
	assert_string_equal(c->region, "");
	assert_string_equal(c->profile, "");
	assert_int_equal(c->queue_capacity, 10000);
	assert_string_equal(c->dedupe_key, "/id");
	assert_int_equal(c->dedupe_ttl_s, 3600);
	assert_int_equal(c->dedupe_capacity, 1000000);
	assert_string_equal(c->order_key, "/routingContext/queueId");
	assert_int_equal(c->order_tolerance_ms, 0);
	assert_int_equal(c->order_policy, ORDER_DLQ);
	assert_int_equal(c->order_capacity, 100000);
	assert_int_equal(c->log_level, LOGL_INFO);
}

static void
check_shipped_auth(const struct config *c)
{
	assert_int_equal(c->mode, AUTH_BEARER);
	/* The shipped file reads the copy systemd's LoadCredential= makes. */
	assert_string_equal(c->secret_file, "/run/credentials/cxbridge.service/"
	    "webhook-secrets");
}

static void
test_shipped_file_loads_with_defaults(void **state)
{
	struct config *c;

	(void)state;
	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cxbridge.service", 1);
	c = config_load(SHIPPED, errbuf, sizeof(errbuf));
	if (c == NULL)
		fail_msg("%s", errbuf);
	assert_string_equal(c->path, SHIPPED);
	check_shipped_auth(c);
	check_defaults(c);
	config_free(c);
}

/* Uncommenting every "# key = value" line must give the same config. */
static void
test_shipped_file_uncommented(void **state)
{
	char *text = slurp(SHIPPED);
	char *out = malloc(strlen(text) + 1);
	char *o = out;
	struct config *c;
	int uncommented = 0;

	(void)state;
	assert_non_null(out);
	for (char *line = text; *line != '\0';) {
		char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line + 1) : strlen(line);
		int hash = strncmp(line, "# ", 2) == 0;
		size_t k = hash ? strspn(line + 2, "abcdefghijklmnopqrstuvwxyz_") : 0;

		if (k > 0 && strncmp(line + 2 + k, " =", 2) == 0) {
			line += 2;
			len -= 2;
			uncommented++;
		}
		memcpy(o, line, len);
		o += len;
		line += len;
	}
	*o = '\0';
	assert_true(uncommented >= 40);
	c = config_parse("uncommented", out, errbuf, sizeof(errbuf));
	if (c == NULL)
		fail_msg("%s", errbuf);
	check_shipped_auth(c);
	check_defaults(c);
	config_free(c);
	free(out);
	free(text);
}

static void
test_defaults_minimal(void **state)
{
	struct config *c;

	(void)state;
	c = parse(AUTH_NONE_TEXT);
	assert_non_null(c);
	assert_int_equal(c->mode, AUTH_NONE);
	assert_true(c->allow_unauthenticated);
	assert_string_equal(c->secret_file, "");
	assert_string_equal(c->path, "t.conf");
	c->allow_unauthenticated = false;  /* what check_defaults expects */
	check_defaults(c);
	config_free(c);
}

/* Finds the value of key in [section] of the shipped file; 1 if commented. */
static int
conf_find(const char *text, const char *section, const char *key,
    char *value, size_t vlen)
{
	size_t klen = strlen(key);
	char header[64];
	const char *p;

	snprintf(header, sizeof(header), "\n[%s]\n", section);
	p = strstr(text, header);
	if (p == NULL)
		fail_msg("%s has no section [%s]", SHIPPED, section);
	for (p += strlen(header); *p != '\0' && *p != '['; p = strchr(p, '\n') + 1) {
		int commented = strncmp(p, "# ", 2) == 0;
		const char *k = p + (commented ? 2 : 0);
		const char *end = strchr(p, '\n');

		if (end == NULL)
			fail_msg("%s does not end in a newline", SHIPPED);
		if (strncmp(k, key, klen) != 0 || strncmp(k + klen, " =", 2) != 0)
			continue;
		k += klen + 2;
		if (*k == ' ')
			k++;
		snprintf(value, vlen, "%.*s", (int)(end - k), k);
		return commented;
	}
	fail_msg("[%s] %s is not in %s", section, key, SHIPPED);
	return -1;
}

static void
test_every_key_in_shipped_file(void **state)
{
	char *text = slurp(SHIPPED);
	struct config_key_info ki;
	char value[256];
	size_t i;

	(void)state;
	for (i = 0; config_key_at(i, &ki) == 0; i++) {
		int commented = conf_find(text, ki.section, ki.key, value,
		    sizeof(value));

		if (commented && ki.default_text != NULL &&
		    strcmp(value, ki.default_text) != 0)
			fail_msg("[%s] %s: file shows %s, default is %s",
			    ki.section, ki.key, value, ki.default_text);
		if (ki.default_text == NULL)
			assert_false(commented);  /* required: shipped set */
	}
	assert_true(i >= 45);
	free(text);
}

static int
is_numeric(const struct config_key_info *ki)
{
	return strcmp(ki->type, "uint") == 0 ||
	    strncmp(ki->type, "duration_", 9) == 0;
}

/* docs: "### `[section]`" then "| `key` | type | default | bounds |". */
static void
test_every_key_in_docs(void **state)
{
	char *text = slurp(DOCS);
	struct config_key_info ki;
	char want[512], head[64], def[128], bounds[128];

	(void)state;
	for (size_t i = 0; config_key_at(i, &ki) == 0; i++) {
		const char *sec, *end, *row;

		snprintf(head, sizeof(head), "\n### `[%s]`\n", ki.section);
		sec = strstr(text, head);
		if (sec == NULL)
			fail_msg("%s has no heading %s", DOCS, head + 1);
		end = strstr(sec + 1, "\n#");
		if (ki.default_text == NULL)
			snprintf(def, sizeof(def), "(required)");
		else if (ki.default_text[0] == '\0')
			snprintf(def, sizeof(def), "(empty)");
		else
			snprintf(def, sizeof(def), "`%s`", ki.default_text);
		bounds[0] = '\0';
		if (ki.choices != NULL)
			snprintf(bounds, sizeof(bounds), " %s |", ki.choices);
		else if (strcmp(ki.type, "bool") == 0)
			snprintf(bounds, sizeof(bounds), " true, false |");
		else if (is_numeric(&ki))
			snprintf(bounds, sizeof(bounds), " %" PRIu64 "..%" PRIu64
			    " |", ki.min, ki.max);
		snprintf(want, sizeof(want), "| `%s` | %s | %s |%s", ki.key,
		    ki.type, def, bounds);
		row = strstr(sec, want);
		if (row == NULL || (end != NULL && row > end))
			fail_msg("%s: [%s] lacks the row \"%s\"", DOCS, ki.section,
			    want);
	}
	free(text);
}

static void
test_table_sanity(void **state)
{
	struct config_key_info ki;

	(void)state;
	assert_int_equal(config_key_at(100000, &ki), -1);
	for (size_t i = 0; config_key_at(i, &ki) == 0; i++) {
		size_t n = strlen(ki.key);
		int ms = n > 3 && strcmp(ki.key + n - 3, "_ms") == 0;
		int s = n > 2 && strcmp(ki.key + n - 2, "_s") == 0;

		/* The key name says the unit. */
		assert_int_equal(ms, strcmp(ki.type, "duration_ms") == 0);
		assert_int_equal(s, strcmp(ki.type, "duration_s") == 0);
		if (ki.min != 0 || ki.max != 0)
			assert_true(ki.min < ki.max);
	}
}

static void
test_syntax(void **state)
{
	struct config *c;

	(void)state;
	c = parse("# comment\n; another\n   # indented\n\n \t \n"
	    "[ server ]  # section comment\n"
	    "  listen\t=   127.0.0.1:9000   \n"
	    "webhook_path = /hooks/cx\n"
	    "max_body_bytes = 2048 # inline comment\n"
	    "max_header_bytes = 4096\t# tab comment\n"
	    "[auth]\nmode=none\nallow_unauthenticated=yes\n"
	    "[eventbridge]\ndetail_type = two words here\nsource =x.y ;z\n"
	    "endpoint = # only a comment\n"
	    "[aws]\nprofile = dev#1\n"
	    "[log]\nlevel = debug");   /* no final newline */
	if (c == NULL)
		fail_msg("%s", errbuf);
	assert_string_equal(c->listen, "127.0.0.1:9000");
	assert_string_equal(c->webhook_path, "/hooks/cx");
	assert_string_equal(c->profile, "dev#1");
	assert_int_equal(c->max_body_bytes, 2048);
	assert_int_equal(c->max_header_bytes, 4096);
	assert_string_equal(c->detail_type, "two words here");
	assert_string_equal(c->source, "x.y ;z");
	assert_string_equal(c->eb_endpoint, "");
	assert_int_equal(c->log_level, LOGL_DEBUG);
	config_free(c);
}

static void
test_crlf_and_bom(void **state)
{
	struct config *c;

	(void)state;
	c = parse("\xef\xbb\xbf# windows\r\n[auth]\r\nmode = none\r\n"
	    "allow_unauthenticated = true\r\n\r\n[dedupe]\r\nkey = /x\r\n");
	if (c == NULL)
		fail_msg("%s", errbuf);
	assert_string_equal(c->dedupe_key, "/x");
	config_free(c);
	/* Line numbers still count CRLF lines. */
	expect_err("[auth]\r\nmode = none\r\n\r\nbogus = 1\r\n",
	    "t.conf:4: unknown key \"bogus\" in [auth]");
	expect_err("[auth]\nmode = no\rne\n",
	    "t.conf:2: control character 0x0d in line");
}

static void
test_line_errors(void **state)
{
	(void)state;
	expect_err("[server]\nlistne = 1.2.3.4:80\n",
	    "t.conf:2: unknown key \"listne\" in [server]");
	expect_err("# c\n[foo]\n", "t.conf:2: unknown section [foo]");
	expect_err("[auth]\nmode = none\nmode = bearer\n",
	    "t.conf:3: duplicate key \"mode\" in [auth] (first set on line 2)");
	expect_err("[auth]\nmode = none\n[server]\n[auth]\nmode = none\n",
	    "t.conf:5: duplicate key \"mode\" in [auth] (first set on line 2)");
	expect_err("\nlisten = 1.2.3.4:80\n",
	    "t.conf:2: key \"listen\" outside a section");
	expect_err("[server]\nlisten 1.2.3.4:80\n",
	    "t.conf:2: missing '=' in \"listen 1.2.3.4:80\"");
	expect_err("[server]\n = 5\n", "t.conf:2: missing key before '='");
	expect_err("[server\n", "t.conf:1: malformed section header \"[server\"");
	expect_err("[server] x\n",
	    "t.conf:1: malformed section header \"[server] x\"");
	expect_err("[ ]\n", "t.conf:1: malformed section header \"[]\"");
	expect_err("[Server]\n", "t.conf:1: unknown section [Server]");
	expect_err("[server]\nListen = 1.2.3.4:80\n",
	    "t.conf:2: unknown key \"Listen\" in [server]");
	expect_err("[server]\nkey = /id\n",
	    "t.conf:2: unknown key \"key\" in [server]");
	expect_err("[auth]\nmode = \x01\n",
	    "t.conf:2: control character 0x01 in line");
	expect_err("[auth]\nmode = \xc3\x28\n", "t.conf:2: invalid UTF-8");
	expect_err("[auth]\nmode = \xed\xa0\x80\n", "t.conf:2: invalid UTF-8");
	expect_err("[auth]\nmode = caf\xc3\xa9\n", "t.conf:2: mode: \"caf\xc3\xa9\" "
	    "is not one of hmac-sha256, bearer, basic, none");
}

static void
test_line_and_file_caps(void **state)
{
	char *big = malloc(CONFIG_FILE_MAX + 2);
	char line[CONFIG_LINE_MAX + 256];
	struct config *c;
	int n;

	(void)state;
	assert_non_null(big);
	/* A line of exactly CONFIG_LINE_MAX bytes is fine, one more is not. */
	n = snprintf(line, sizeof(line), "%s[eventbridge]\ndetail_type = ",
	    AUTH_NONE_TEXT);
	memset(line + n, 'a', CONFIG_LINE_MAX - strlen("detail_type = "));
	line[n + CONFIG_LINE_MAX - strlen("detail_type = ")] = '\0';
	strcat(line, "\r\n");   /* CR does not count */
	c = parse(line);
	if (c == NULL)
		fail_msg("%s", errbuf);
	assert_int_equal(strlen(c->detail_type),
	    CONFIG_LINE_MAX - strlen("detail_type = "));
	config_free(c);
	line[strlen(line) - 2] = 'a';
	expect_err(line, "t.conf:5: line longer than 4096 bytes");

	/* The file cap: comments up to exactly 1 MiB load; one more byte not. */
	n = snprintf(big, CONFIG_FILE_MAX, "%s", AUTH_NONE_TEXT);
	memset(big + n, '\n', CONFIG_FILE_MAX - (size_t)n);
	big[CONFIG_FILE_MAX] = '\0';
	c = parse(big);
	assert_non_null(c);
	config_free(c);
	big[CONFIG_FILE_MAX] = '\n';
	big[CONFIG_FILE_MAX + 1] = '\0';
	expect_err(big, "t.conf: larger than 1048576 bytes");
	free(big);
}

static void
test_cross_key_errors(void **state)
{
	(void)state;
	expect_err("[server]\n",
	    "t.conf: [auth] mode is required (one of hmac-sha256, bearer, "
	    "basic, none)");
	expect_err("[auth]\nmode = none\n",
	    "t.conf: [auth] mode = none needs allow_unauthenticated = true");
	expect_err("[auth]\nmode = none\nallow_unauthenticated = false\n",
	    "t.conf: [auth] mode = none needs allow_unauthenticated = true");
	expect_err("[auth]\nmode = bearer\n",
	    "t.conf: [auth] mode = bearer needs secret_file");
	expect_err("[auth]\nmode = hmac-sha256\nallow_unauthenticated = 1\n",
	    "t.conf: [auth] mode = hmac-sha256 needs secret_file");
	expect_err("[auth]\nmode = basic\nsecret_file =\n",
	    "t.conf: [auth] mode = basic needs secret_file");
	expect_err(AUTH_NONE_TEXT "[eventbridge]\nretry_base_ms = 6000\n",
	    "t.conf: [eventbridge] retry_base_ms is above retry_max_backoff_ms");
	expect_err(AUTH_NONE_TEXT "[eventbridge]\nconnect_timeout_ms = 6000\n",
	    "t.conf: [eventbridge] connect_timeout_ms is above "
	    "request_timeout_ms");
	expect_err(AUTH_NONE_TEXT "[eventbridge]\nbatch_linger_ms = 100\n"
	    "delivery_timeout_ms = 100\n",
	    "t.conf: [eventbridge] batch_linger_ms must be below "
	    "delivery_timeout_ms");
}

static void
test_uint(void **state)
{
	struct config *c;

	(void)state;
	expect_key_err("server", "max_body_bytes", "0",
	    "0 is below the minimum 1024");
	expect_key_err("server", "max_body_bytes", "1023",
	    "1023 is below the minimum 1024");
	expect_key_err("server", "max_body_bytes", "10485761",
	    "10485761 is above the maximum 10485760");
	expect_key_err("server", "max_body_bytes", "99999999999999999999999",
	    "99999999999999999999999 is above the maximum 10485760");
	expect_key_err("server", "threads", "12k", "\"12k\" is not a whole number");
	expect_key_err("server", "threads", "-1", "\"-1\" is not a whole number");
	expect_key_err("server", "threads", "+1", "\"+1\" is not a whole number");
	expect_key_err("server", "threads", "0x10",
	    "\"0x10\" is not a whole number");
	expect_key_err("server", "threads", "1 2", "\"1 2\" is not a whole number");
	expect_key_err("server", "threads", "", "\"\" is not a whole number");
	c = parse_key("server", "threads", "064");
	assert_non_null(c);
	assert_int_equal(c->threads, 64);
	config_free(c);
	c = parse_key("eventbridge", "batch_linger_ms", "0");
	assert_non_null(c);
	assert_int_equal(c->batch_linger_ms, 0);
	config_free(c);
}

/*
 * Each numeric key takes min and max and refuses one past either end.
 * config_set runs the same per-key code as the file without the cross-key
 * rules, so e.g. retry_base_ms can reach its maximum here.
 */
static void
test_every_numeric_bound(void **state)
{
	struct config_key_info ki;
	struct config *c = parse(AUTH_NONE_TEXT);
	char v[32], want[256], err[256];
	int numeric = 0;

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; config_key_at(i, &ki) == 0; i++) {
		if (!is_numeric(&ki))
			continue;
		numeric++;
		snprintf(v, sizeof(v), "%" PRIu64, ki.min);
		assert_int_equal(config_set(c, ki.section, ki.key, v, err,
		    sizeof(err)), 0);
		snprintf(v, sizeof(v), "%" PRIu64, ki.max);
		assert_int_equal(config_set(c, ki.section, ki.key, v, err,
		    sizeof(err)), 0);
		snprintf(v, sizeof(v), "%" PRIu64, ki.max + 1);
		snprintf(want, sizeof(want), "[%s] %s: %s is above the maximum %"
		    PRIu64, ki.section, ki.key, v, ki.max);
		assert_int_equal(config_set(c, ki.section, ki.key, v, err,
		    sizeof(err)), -1);
		assert_string_equal(err, want);
		if (ki.min == 0)
			continue;
		snprintf(v, sizeof(v), "%" PRIu64, ki.min - 1);
		snprintf(want, sizeof(want), "[%s] %s: %s is below the minimum %"
		    PRIu64, ki.section, ki.key, v, ki.min);
		assert_int_equal(config_set(c, ki.section, ki.key, v, err,
		    sizeof(err)), -1);
		assert_string_equal(err, want);
	}
	assert_int_equal(numeric, 28);   /* 26 + [cxone] timeout_ms, max_retry_after_s */
	/* The value really lands in the struct. */
	assert_int_equal(c->max_body_bytes, 10485760);
	assert_int_equal(c->order_capacity, 10000000);
	config_free(c);
}

/* The bounds this project promised, independent of the table. */
static void
test_promised_bounds(void **state)
{
	static const struct { const char *s, *k; uint64_t min, max; } b[] = {
		{ "server", "max_body_bytes", 1024, 10485760 },
		{ "server", "threads", 1, 64 },
		{ "server", "max_json_depth", 2, 256 },
		{ "queue", "capacity", 1, 1000000 },
		{ "dedupe", "capacity", 1000, 100000000 },
		{ "eventbridge", "batch_linger_ms", 0, 1000 },
		{ "eventbridge", "delivery_timeout_ms", 100, 3600000 },
		{ "validation", "max_entry_bytes", 1024, 1048576 },
		{ "dlq", "max_message_bytes", 1024, 1048576 },
	};
	struct config_key_info ki;

	(void)state;
	for (size_t j = 0; j < sizeof(b) / sizeof(b[0]); j++) {
		size_t i;

		for (i = 0; config_key_at(i, &ki) == 0; i++) {
			if (strcmp(ki.section, b[j].s) == 0 &&
			    strcmp(ki.key, b[j].k) == 0)
				break;
		}
		assert_int_equal(config_key_at(i, &ki), 0);
		assert_int_equal(ki.min, b[j].min);
		assert_int_equal(ki.max, b[j].max);
	}
}

static void
test_bool(void **state)
{
	static const struct { const char *v; bool want; } ok[] = {
		{ "true", true }, { "false", false }, { "yes", true },
		{ "no", false }, { "on", true }, { "off", false }, { "1", true },
		{ "0", false }, { "TRUE", true }, { "Off", false },
	};
	const char *why = "is not a boolean (true/false, yes/no, on/off, 1/0)";
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct config *c = parse_key("eventbridge", "enrich", ok[i].v);

		assert_non_null(c);
		assert_int_equal(c->enrich, ok[i].want);
		config_free(c);
	}
	snprintf(want, sizeof(want), "\"maybe\" %s", why);
	expect_key_err("eventbridge", "enrich", "maybe", want);
	snprintf(want, sizeof(want), "\"\" %s", why);
	expect_key_err("eventbridge", "enrich", "", want);
	snprintf(want, sizeof(want), "\"2\" %s", why);
	expect_key_err("auth", "allow_unauthenticated", "2", want);
}

static void
test_enums(void **state)
{
	static const char *const modes[] = {
		"none", "bearer", "basic", "hmac-sha256"
	};
	static const char *const policies[] = { "dlq", "reject", "accept" };
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	char text[256];
	struct config *c;

	(void)state;
	for (int m = AUTH_NONE; m <= AUTH_HMAC_SHA256; m++) {
		snprintf(text, sizeof(text), "[auth]\nmode = %s\nsecret_file = /s\n"
		    "allow_unauthenticated = on\n", modes[m]);
		c = parse(text);
		assert_non_null(c);
		assert_int_equal(c->mode, m);
		assert_string_equal(auth_mode_name(c->mode), modes[m]);
		config_free(c);
	}
	for (int p = ORDER_DLQ; p <= ORDER_ACCEPT; p++) {
		c = parse_key("ordering", "policy", policies[p]);
		assert_non_null(c);
		assert_int_equal(c->order_policy, p);
		assert_string_equal(order_policy_name(c->order_policy),
		    policies[p]);
		config_free(c);
	}
	for (int l = LOGL_DEBUG; l <= LOGL_ERROR; l++) {
		c = parse_key("log", "level", levels[l]);
		assert_non_null(c);
		assert_int_equal(c->log_level, l);
		config_free(c);
	}
	assert_string_equal(auth_mode_name((enum auth_mode)99), "unknown");
	assert_string_equal(order_policy_name((enum order_policy)99), "unknown");
	expect_err("[auth]\nmode = Bearer\n", "t.conf:2: mode: \"Bearer\" is not "
	    "one of hmac-sha256, bearer, basic, none");
	expect_err("[auth]\nmode =\n", "t.conf:2: mode: \"\" is not "
	    "one of hmac-sha256, bearer, basic, none");
	expect_key_err("ordering", "policy", "drop",
	    "\"drop\" is not one of dlq, reject, accept");
	expect_key_err("log", "level", "warning",
	    "\"warning\" is not one of debug, info, warn, error");
}

static void
test_listen(void **state)
{
	static const char *const good[] = {
		"0.0.0.0:8080", "127.0.0.1:1", "10.1.2.3:65535", "localhost:80",
		"[::1]:8443", "[::]:8080", "[2001:db8::7]:1",
	};
	static const char *const bad[] = {
		"8080", ":8080", "host:80", "1.2.3:80", "1.2.3.4", "1.2.3.4:",
		"::1:80", "[::1]80", "[::1]", "[1.2.3.4]:80", "1.2.3.4:8a",
		"1.2.3.4:123456", "[localhost]:80", "LOCALHOST:80",
	};
	const char *tail = "is not host:port with an IPv4 address, "
	    "[IPv6 address] or localhost";
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect_key_ok("server", "listen", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config *c = parse_key("server", "listen", bad[i]);

		if (c != NULL)
			fail_msg("listen = %s parsed", bad[i]);
		assert_non_null(strstr(errbuf, "t.conf:5: listen: "));
	}
	snprintf(why, sizeof(why), "\"host:80\" %s", tail);
	expect_key_err("server", "listen", "host:80", why);
	expect_key_ok("server", "listen", "127.0.0.1:0");   /* 0: the kernel picks */
	expect_key_err("server", "listen", "1.2.3.4:123456",
	    "port 123456 is not in 0-65535");
	expect_key_err("server", "listen", "[::1]:65536",
	    "port 65536 is not in 0-65535");
	expect_key_err("server", "listen", "1.2.3.4:x",
	    "\"1.2.3.4:x\" has no numeric port");
	expect_key_err("server", "listen", "", "must not be empty");
}

static void
test_strings(void **state)
{
	struct config *c;

	(void)state;
	expect_key_ok("server", "webhook_path", "/");
	expect_key_err("server", "webhook_path", "webhook", "\"webhook\" is not "
	    "a path starting with '/' (at most 1024 bytes, no '?' or '#')");
	expect_key_err("server", "webhook_path", "/a?b=1", "\"/a?b=1\" is not "
	    "a path starting with '/' (at most 1024 bytes, no '?' or '#')");
	expect_key_err("server", "webhook_path", "/health",
	    "/health is the daemon's own probe path");
	expect_key_err("server", "webhook_path", "/metrics",
	    "/metrics is the daemon's own probe path");

	expect_key_ok("dedupe", "key", "/a~0b/~1c/0");
	expect_key_err("dedupe", "key", "id",
	    "\"id\" is not a JSON pointer (it must start with '/')");
	expect_key_err("dedupe", "key", "/a~2",
	    "\"/a~2\": '~' in a JSON pointer must be ~0 or ~1");
	expect_key_err("dedupe", "key", "", "must not be empty");
	c = parse_key("ordering", "key", "");
	assert_non_null(c);
	assert_string_equal(c->order_key, "");
	config_free(c);
	expect_key_err("ordering", "key", "queueId",
	    "\"queueId\" is not a JSON pointer (it must start with '/')");

	expect_key_ok("aws", "region", "us-east-1");
	expect_key_ok("aws", "region", "us-gov-west-1");
	expect_key_ok("aws", "region", "ap-southeast-2");
	expect_key_err("aws", "region", "useast1", "\"useast1\" does not look "
	    "like a region (xx-xxxx-N, e.g. us-east-1)");
	expect_key_err("aws", "region", "US-EAST-1", "\"US-EAST-1\" does not "
	    "look like a region (xx-xxxx-N, e.g. us-east-1)");
	expect_key_err("aws", "region", "us-east", "\"us-east\" does not look "
	    "like a region (xx-xxxx-N, e.g. us-east-1)");
	expect_key_err("aws", "region", "use-east-1", "\"use-east-1\" does not "
	    "look like a region (xx-xxxx-N, e.g. us-east-1)");
	expect_key_ok("aws", "profile", "prod");
}

static void
test_urls_bus_source(void **state)
{
	const char *tail = "is not an http:// or https:// URL with a host "
	    "(no spaces, user@, query or fragment)";
	char why[256];

	(void)state;
	expect_key_ok("dlq", "queue_url",
	    "https://sqs.eu-west-1.amazonaws.com/123456789012/cxbridge-dlq");
	expect_key_ok("dlq", "endpoint", "http://127.0.0.1:4566");
	expect_key_ok("eventbridge", "endpoint", "https://events.example");
	snprintf(why, sizeof(why), "\"ftp://x\" %s", tail);
	expect_key_err("dlq", "queue_url", "ftp://x", why);
	snprintf(why, sizeof(why), "\"https://\" %s", tail);
	expect_key_err("dlq", "endpoint", "https://", why);
	snprintf(why, sizeof(why), "\"sqs.amazonaws.com\" %s", tail);
	expect_key_err("eventbridge", "endpoint", "sqs.amazonaws.com", why);
	snprintf(why, sizeof(why), "\"http://u:p@host\" %s", tail);
	expect_key_err("eventbridge", "endpoint", "http://u:p@host", why);
	snprintf(why, sizeof(why), "\"http://h/?a=1\" %s", tail);
	expect_key_err("eventbridge", "endpoint", "http://h/?a=1", why);

	expect_key_ok("eventbridge", "bus",
	    "arn:aws:events:us-east-1:123456789012:event-bus/cx");
	expect_key_err("eventbridge", "bus", "my bus", "\"my bus\" is not a bus "
	    "name or ARN (A-Z a-z 0-9 / . _ - :, at most 1600 bytes)");
	expect_key_err("eventbridge", "bus", "", "must not be empty");
	expect_key_err("eventbridge", "source", "aws.events", "\"aws.events\": "
	    "sources starting with \"aws.\" are reserved for AWS");
	expect_key_ok("eventbridge", "source", "awsome.events");
}

static void
test_paths_and_credentials_directory(void **state)
{
	const char *cred = "$CREDENTIALS_DIRECTORY/cxbridge-secrets";
	struct config *c;

	(void)state;
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "/run/credentials/x/",
	    1), 0);
	c = parse("[auth]\nmode = hmac-sha256\n"
	    "secret_file = $CREDENTIALS_DIRECTORY/cxbridge-secrets\n");
	if (c == NULL)
		fail_msg("%s", errbuf);
	assert_string_equal(c->secret_file,
	    "/run/credentials/x/cxbridge-secrets");
	config_free(c);
	expect_key_err("validation", "schema_file", "$CREDENTIALS_DIRECTORY/",
	    "\"$CREDENTIALS_DIRECTORY/\": only a path starting with "
	    "$CREDENTIALS_DIRECTORY/ is expanded");
	expect_key_err("validation", "schema_file", "$HOME/s.json",
	    "\"$HOME/s.json\": only a path starting with "
	    "$CREDENTIALS_DIRECTORY/ is expanded");

	assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
	expect_key_err("validation", "schema_file", cred,
	    "$CREDENTIALS_DIRECTORY is not set to an absolute path (systemd "
	    "sets it for LoadCredential=)");
	expect_key_err("validation", "schema_file", "schemas/x.json",
	    "\"schemas/x.json\" is not an absolute path or one starting with "
	    "$CREDENTIALS_DIRECTORY/");
	expect_key_err("validation", "schema_file", "", "must not be empty");
	c = parse_key("validation", "schema_file", "/srv/s.json");
	assert_non_null(c);
	assert_string_equal(c->schema_file, "/srv/s.json");
	config_free(c);
}

static void
test_load_errors(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	int fd;
	struct config *c;

	(void)state;
	c = config_load("/nonexistent/cx.conf", errbuf, sizeof(errbuf));
	assert_null(c);
	assert_string_equal(errbuf,
	    "/nonexistent/cx.conf: cannot open: No such file or directory");
	c = config_load("tests", errbuf, sizeof(errbuf));
	assert_null(c);
	assert_string_equal(errbuf, "tests: not a regular file");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[auth]\nmode = none\0\n", 20), 20);
	close(fd);
	c = config_load(path, errbuf, sizeof(errbuf));
	assert_null(c);
	assert_non_null(strstr(errbuf, ":2: NUL byte in line"));
	assert_int_equal(strncmp(errbuf, path, strlen(path)), 0);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CONFIG_FILE_MAX + 1), 0);
	close(fd);
	c = config_load(path, errbuf, sizeof(errbuf));
	assert_null(c);
	assert_non_null(strstr(errbuf, ": larger than 1048576 bytes"));
	unlink(path);
	/* A NULL or empty error buffer is tolerated. */
	assert_null(config_parse("x", "[nope]\n", NULL, 0));
}

static void
test_config_set(void **state)
{
	struct config *c;
	char err[256];

	(void)state;
	c = parse(AUTH_NONE_TEXT);
	assert_non_null(c);
	assert_int_equal(config_set(c, "server", "listen", "[::1]:9443", err,
	    sizeof(err)), 0);
	assert_string_equal(c->listen, "[::1]:9443");
	assert_int_equal(config_set(c, "server", "listen", "nowhere", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "[server] listen: \"nowhere\" is not host:port "
	    "with an IPv4 address, [IPv6 address] or localhost");
	assert_string_equal(c->listen, "[::1]:9443");
	assert_int_equal(config_set(c, "server", "port", "1", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "unknown key \"port\" in [server]");
	assert_int_equal(config_set(c, "log", "level", "error", err,
	    sizeof(err)), 0);
	assert_int_equal(c->log_level, LOGL_ERROR);
	config_free(c);
	config_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_file_loads_with_defaults),
		cmocka_unit_test(test_shipped_file_uncommented),
		cmocka_unit_test(test_defaults_minimal),
		cmocka_unit_test(test_every_key_in_shipped_file),
		cmocka_unit_test(test_every_key_in_docs),
		cmocka_unit_test(test_table_sanity),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_line_and_file_caps),
		cmocka_unit_test(test_cross_key_errors),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_every_numeric_bound),
		cmocka_unit_test(test_promised_bounds),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_urls_bus_source),
		cmocka_unit_test(test_paths_and_credentials_directory),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_config_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
