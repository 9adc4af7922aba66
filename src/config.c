/* config.c - the INI configuration file: key table, parsing, validation. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CONFIG_PATH_MAX    4096
#define CONFIG_URL_MAX     2048
#define CONFIG_POINTER_MAX 256   /* event.c copies pointer tokens into 256 */
#define CONFIG_CRED_PREFIX "$CREDENTIALS_DIRECTORY/"

enum config_type {
	CT_STRING, CT_PATH, CT_UINT, CT_MS, CT_S, CT_BOOL, CT_ENUM
};

static const char *const config_type_names[] = {
	[CT_STRING] = "string", [CT_PATH] = "path", [CT_UINT] = "uint",
	[CT_MS] = "duration_ms", [CT_S] = "duration_s", [CT_BOOL] = "bool",
	[CT_ENUM] = "enum",
};

#define CF_REQUIRED 0x1   /* no default: the operator must choose */
#define CF_NONEMPTY 0x2   /* "" is refused */

struct config_enum {
	const char *choices;                   /* for messages and the docs */
	int       (*parse)(const char *text, int *out);
};

/* Checks a non-empty string value; writes the reason into why on failure. */
typedef int config_check_fn(const char *v, char *why, size_t whylen);

/* type and flags sit together so the row has no padding. */
struct config_row {
	const char             *section;
	const char             *key;
	enum config_type        type;
	unsigned                flags;
	size_t                  off;
	const char             *def;   /* parsed like a file value; NULL: none */
	uint64_t                min, max;
	const struct config_enum *en;
	config_check_fn        *check;
};

/* Enum fields are written through an int. */
_Static_assert(sizeof(enum auth_mode) == sizeof(int), "enum auth_mode size");
_Static_assert(sizeof(enum order_policy) == sizeof(int), "enum order_policy");
_Static_assert(sizeof(enum cxone_token_auth) == sizeof(int),
    "enum cxone_token_auth");

static const char *const auth_names[] = {
	[AUTH_NONE] = "none", [AUTH_BEARER] = "bearer", [AUTH_BASIC] = "basic",
	[AUTH_HMAC_SHA256] = "hmac-sha256",
};
static const char *const policy_names[] = {
	[ORDER_DLQ] = "dlq", [ORDER_REJECT] = "reject", [ORDER_ACCEPT] = "accept",
};
static const char *const token_auth_names[] = {
	[CXONE_AUTH_BASIC] = "basic", [CXONE_AUTH_POST] = "post",
};

static int
config_name_index(const char *const *names, size_t n, const char *text,
    int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], text) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -1;
}

static int
config_parse_auth(const char *text, int *out)
{
	return config_name_index(auth_names,
	    sizeof(auth_names) / sizeof(auth_names[0]), text, out);
}

static int
config_parse_policy(const char *text, int *out)
{
	return config_name_index(policy_names,
	    sizeof(policy_names) / sizeof(policy_names[0]), text, out);
}

static int
config_parse_token_auth(const char *text, int *out)
{
	return config_name_index(token_auth_names,
	    sizeof(token_auth_names) / sizeof(token_auth_names[0]), text, out);
}

static int
config_parse_log(const char *text, int *out)
{
	enum log_level level;

	if (log_level_parse(text, &level) != 0)
		return -1;
	*out = (int)level;
	return 0;
}

static const struct config_enum config_enum_auth = {
	"hmac-sha256, bearer, basic, none", config_parse_auth
};
static const struct config_enum config_enum_policy = {
	"dlq, reject, accept", config_parse_policy
};
static const struct config_enum config_enum_log = {
	"debug, info, warn, error", config_parse_log
};
static const struct config_enum config_enum_token_auth = {
	"basic, post", config_parse_token_auth
};

static config_check_fn config_check_listen, config_check_route,
    config_check_url, config_check_bus, config_check_source,
    config_check_region, config_check_pointer;
static config_check_fn config_check_api_path, config_check_scopes,
    config_check_name, config_check_event_types;

/*
 * The offset of field f, which must have type T: comparing &f with a T *
 * inside sizeof fails to compile when a row names a field of another type.
 */
#define CFG_FIELD(f, T) (offsetof(struct config, f) + \
	0 * sizeof(&((struct config *)0)->f == (T *)0))

/* Designated initializers: a row does not depend on the field order. */
#define K_STR(s, k, f, d, chk, fl) \
	{ .section = (s), .key = (k), .type = CT_STRING, .flags = (fl), \
	  .off = CFG_FIELD(f, char *), .def = (d), .check = (chk) }
#define K_PATH(s, k, f, d, fl) \
	{ .section = (s), .key = (k), .type = CT_PATH, .flags = (fl), \
	  .off = CFG_FIELD(f, char *), .def = (d) }
#define K_NUM(t, s, k, f, d, lo, hi) \
	{ .section = (s), .key = (k), .type = (t), \
	  .off = CFG_FIELD(f, uint64_t), .def = (d), .min = (lo), .max = (hi) }
#define K_UINT(...) K_NUM(CT_UINT, __VA_ARGS__)
#define K_MS(...)   K_NUM(CT_MS, __VA_ARGS__)
#define K_S(...)    K_NUM(CT_S, __VA_ARGS__)
#define K_BOOL(s, k, f, d) \
	{ .section = (s), .key = (k), .type = CT_BOOL, \
	  .off = CFG_FIELD(f, bool), .def = (d) }
#define K_ENUM(s, k, f, T, d, e, fl) \
	{ .section = (s), .key = (k), .type = CT_ENUM, .flags = (fl), \
	  .off = CFG_FIELD(f, T), .def = (d), .en = (e) }

/* Every key; docs/configuration.md and conf/cxbridge.conf follow this order. */
static const struct config_row config_rows[] = {
	K_STR("server", "listen", listen, "0.0.0.0:8080",
	    config_check_listen, CF_NONEMPTY),
	K_STR("server", "webhook_path", webhook_path, "/webhook/routing-events",
	    config_check_route, CF_NONEMPTY),
	K_UINT("server", "max_body_bytes", max_body_bytes, "262144",
	    1024, 10485760),
	K_UINT("server", "max_header_bytes", max_header_bytes, "16384",
	    1024, 1048576),
	K_UINT("server", "max_connections", max_connections, "4096", 1, 100000),
	K_S("server", "idle_timeout_s", idle_timeout_s, "30", 1, 3600),
	K_UINT("server", "threads", threads, "2", 1, 64),
	K_UINT("server", "max_json_depth", max_json_depth, "32", 2, 256),
	K_S("server", "retry_after_s", retry_after_s, "1", 1, 3600),

	K_ENUM("auth", "mode", mode, enum auth_mode, NULL, &config_enum_auth,
	    CF_REQUIRED),
	K_PATH("auth", "secret_file", secret_file, "", 0),
	K_BOOL("auth", "allow_unauthenticated", allow_unauthenticated, "false"),
	K_S("auth", "hmac_tolerance_s", hmac_tolerance_s, "300", 1, 86400),

	K_PATH("validation", "schema_file", schema_file,
	    "/etc/cxbridge/schemas/cxone-routing-event.json", CF_NONEMPTY),
	K_S("validation", "max_future_s", max_future_s, "300", 0, 86400),
	K_UINT("validation", "max_entry_bytes", max_entry_bytes, "262144",
	    1024, 1048576),

	K_STR("eventbridge", "bus", bus, "default", config_check_bus,
	    CF_NONEMPTY),
	K_STR("eventbridge", "source", source, "nice.cxone.routing",
	    config_check_source, CF_NONEMPTY),
	K_STR("eventbridge", "detail_type", detail_type, "", NULL, 0),
	K_STR("eventbridge", "endpoint", eb_endpoint, "", config_check_url, 0),
	K_BOOL("eventbridge", "enrich", enrich, "false"),
	K_MS("eventbridge", "batch_linger_ms", batch_linger_ms, "5", 0, 1000),
	K_MS("eventbridge", "delivery_timeout_ms", delivery_timeout_ms, "10000",
	    100, 3600000),
	K_UINT("eventbridge", "max_inflight_batches", max_inflight_batches,
	    "16", 1, 1024),
	K_MS("eventbridge", "request_timeout_ms", request_timeout_ms, "5000",
	    100, 600000),
	K_MS("eventbridge", "connect_timeout_ms", connect_timeout_ms, "2000",
	    100, 60000),
	K_MS("eventbridge", "retry_base_ms", retry_base_ms, "50", 1, 60000),
	K_MS("eventbridge", "retry_max_backoff_ms", retry_max_backoff_ms,
	    "5000", 1, 600000),
	K_UINT("eventbridge", "max_attempts", max_attempts, "8", 1, 100),
	K_UINT("eventbridge", "breaker_failures", breaker_failures, "5",
	    1, 1000),
	K_MS("eventbridge", "breaker_cooldown_ms", breaker_cooldown_ms, "10000",
	    100, 3600000),

	K_STR("dlq", "queue_url", queue_url, "", config_check_url, 0),
	K_STR("dlq", "endpoint", dlq_endpoint, "", config_check_url, 0),
	K_UINT("dlq", "max_message_bytes", max_message_bytes, "262144",
	    1024, 1048576),

	K_STR("aws", "region", region, "", config_check_region, 0),
	K_STR("aws", "profile", profile, "", NULL, 0),
	K_BOOL("aws", "use_fips_endpoint", use_fips_endpoint, "false"),
	K_BOOL("aws", "use_dualstack_endpoint", use_dualstack_endpoint, "false"),

	K_UINT("queue", "capacity", queue_capacity, "10000", 1, 1000000),

	K_STR("dedupe", "key", dedupe_key, "/id", config_check_pointer,
	    CF_NONEMPTY),
	K_S("dedupe", "ttl_s", dedupe_ttl_s, "3600", 1, 604800),
	K_UINT("dedupe", "capacity", dedupe_capacity, "1000000",
	    1000, 100000000),

	K_STR("ordering", "key", order_key, "/routingContext/queueId",
	    config_check_pointer, 0),
	K_MS("ordering", "tolerance_ms", order_tolerance_ms, "0", 0, 86400000),
	K_ENUM("ordering", "policy", order_policy, enum order_policy, "dlq",
	    &config_enum_policy, 0),
	K_UINT("ordering", "capacity", order_capacity, "100000", 1, 10000000),

	K_ENUM("log", "level", log_level, int, "info", &config_enum_log, 0),

	K_STR("cxone", "token_url", cx_token_url, "", config_check_url, 0),
	K_ENUM("cxone", "token_auth", cx_token_auth, enum cxone_token_auth,
	    "basic", &config_enum_token_auth, 0),
	K_STR("cxone", "client_id", cx_client_id, "", config_check_name, 0),
	K_PATH("cxone", "client_secret_file", cx_client_secret_file, "", 0),
	K_STR("cxone", "scopes", cx_scopes, "", config_check_scopes, 0),
	K_STR("cxone", "api_url", cx_api_url, "", config_check_url, 0),
	K_STR("cxone", "webhooks_path", cx_webhooks_path, "/webhooks",
	    config_check_api_path, CF_NONEMPTY),
	K_STR("cxone", "webhook_name", cx_webhook_name, "cxbridge",
	    config_check_name, CF_NONEMPTY),
	K_STR("cxone", "public_url", cx_public_url, "", config_check_url, 0),
	K_STR("cxone", "event_types", cx_event_types, "",
	    config_check_event_types, 0),
	K_MS("cxone", "timeout_ms", cx_timeout_ms, "10000", 100, 120000),
	K_S("cxone", "max_retry_after_s", cx_max_retry_after_s, "60", 1, 3600),
};

#define CONFIG_NROWS (sizeof(config_rows) / sizeof(config_rows[0]))

struct config_parser {
	const char *name;
	unsigned    line;                  /* 0: not about one line */
	const char *section;               /* points into the table */
	unsigned    seen[CONFIG_NROWS];    /* line a key was set on; 0: unset */
	char       *err;
	size_t      errlen;
};

static void
config_vfail(char *err, size_t errlen, const char *name, unsigned line,
    const char *fmt, va_list ap)
{
	char msg[1024];

	if (err == NULL || errlen == 0)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(err, errlen, "%s:%u: %s", name, line, msg);
	else
		snprintf(err, errlen, "%s: %s", name, msg);
}

__attribute__((format(printf, 2, 3)))
static int
config_fail(struct config_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vfail(p->err, p->errlen, p->name, p->line, fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 3, 4)))
static int
config_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- value checks: each sees a non-empty value ---- */

static int
config_check_port(const char *p, const char *v, char *why, size_t whylen)
{
	size_t n = strspn(p, "0123456789");

	if (n == 0 || p[n] != '\0')
		return config_why(why, whylen, "\"%s\" has no numeric port", v);
	if (n > 5 || strtoul(p, NULL, 10) > 65535)
		return config_why(why, whylen, "port %s is not in 0-65535", p);
	return 0;
}

static int
config_check_listen(const char *v, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	const char *orig = v, *end, *port;
	int family = AF_INET;

	if (v[0] == '[') {
		family = AF_INET6;
		v++;
		end = strchr(v, ']');
		port = end != NULL && end[1] == ':' ? end + 2 : NULL;
	} else {
		end = strchr(v, ':');
		port = end != NULL && strchr(end + 1, ':') == NULL ? end + 1 : NULL;
	}
	if (port == NULL || (size_t)(end - v) >= sizeof(host))
		goto bad;
	memcpy(host, v, (size_t)(end - v));
	host[end - v] = '\0';
	if (!(family == AF_INET && strcmp(host, "localhost") == 0) &&
	    inet_pton(family, host, addr) != 1)
		goto bad;
	return config_check_port(port, orig, why, whylen);
bad:
	return config_why(why, whylen, "\"%s\" is not host:port with an IPv4 "
	    "address, [IPv6 address] or localhost", orig);
}

static int
config_check_route(const char *v, char *why, size_t whylen)
{
	static const char *const taken[] = { "/health", "/ready", "/metrics" };

	if (v[0] != '/' || strlen(v) > 1024 || strpbrk(v, "?# \t") != NULL)
		return config_why(why, whylen, "\"%s\" is not a path starting "
		    "with '/' (at most 1024 bytes, no '?' or '#')", v);
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		if (strcmp(v, taken[i]) == 0)
			return config_why(why, whylen, "%s is the daemon's own "
			    "probe path", v);
	}
	return 0;
}

static int
config_check_url(const char *v, char *why, size_t whylen)
{
	size_t skip = 0;

	if (strncmp(v, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(v, "http://", 7) == 0)
		skip = 7;
	if (skip == 0 || v[skip] == '\0' || v[skip] == '/' ||
	    strlen(v) > CONFIG_URL_MAX || strpbrk(v, " \t@?#") != NULL)
		return config_why(why, whylen, "\"%s\" is not an http:// or "
		    "https:// URL with a host (no spaces, user@, query or "
		    "fragment)", v);
	return 0;
}

static int
config_check_bus(const char *v, char *why, size_t whylen)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:";

	if (strlen(v) > 1600 || v[strspn(v, ok)] != '\0')
		return config_why(why, whylen, "\"%s\" is not a bus name or ARN "
		    "(A-Z a-z 0-9 / . _ - :, at most 1600 bytes)", v);
	return 0;
}

static int
config_check_source(const char *v, char *why, size_t whylen)
{
	if (strlen(v) > 256)
		return config_why(why, whylen, "longer than 256 bytes");
	if (strncasecmp(v, "aws.", 4) == 0)
		return config_why(why, whylen, "\"%s\": sources starting with "
		    "\"aws.\" are reserved for AWS", v);
	return 0;
}

/* Lower-case letters in dash-separated words ending in a number: us-east-1. */
static int
config_check_region(const char *v, char *why, size_t whylen)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
	const char *p = v;
	int words = 0;
	size_t n = strspn(p, lower);

	for (; n > 0; n = strspn(p, lower)) {
		if ((words == 0 && n != 2) || p[n] != '-')
			goto bad;
		p += n + 1;
		words++;
	}
	n = strspn(p, "0123456789");
	if (words < 2 || n == 0 || n > 3 || p[n] != '\0' || strlen(v) > 32)
		goto bad;
	return 0;
bad:
	return config_why(why, whylen, "\"%s\" does not look like a region "
	    "(xx-xxxx-N, e.g. us-east-1)", v);
}

/* RFC 6901: "/"-separated tokens where '~' is only "~0" or "~1". */
static int
config_check_pointer(const char *v, char *why, size_t whylen)
{
	const char *t;

	if (v[0] != '/')
		return config_why(why, whylen, "\"%s\" is not a JSON pointer "
		    "(it must start with '/')", v);
	if (strlen(v) > CONFIG_POINTER_MAX)
		return config_why(why, whylen, "JSON pointer longer than %d bytes",
		    CONFIG_POINTER_MAX);
	for (t = strchr(v, '~'); t != NULL; t = strchr(t + 1, '~')) {
		if (t[1] != '0' && t[1] != '1')
			return config_why(why, whylen, "\"%s\": '~' in a JSON "
			    "pointer must be ~0 or ~1", v);
	}
	return 0;
}

/* A path below a base URL: "/" first, no query, fragment or blanks. */
static int
config_check_api_path(const char *v, char *why, size_t whylen)
{
	if (v[0] != '/' || strlen(v) > 1024 || strpbrk(v, "?# \t") != NULL)
		return config_why(why, whylen, "\"%s\" is not a path starting "
		    "with '/' (at most 1024 bytes, no '?', '#' or blanks)", v);
	return 0;
}

/* RFC 6749 3.3: scope tokens of %x21 / %x23-5B / %x5D-7E, one space apart. */
static int
config_check_scopes(const char *v, char *why, size_t whylen)
{
	size_t len = strlen(v);

	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == ' ' && p != v && p[1] != '\0' && p[1] != ' ')
			continue;
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || len > 1024)
			return config_why(why, whylen, "\"%s\" is not a list of "
			    "OAuth scopes (printable ASCII without '\"' or '\\', "
			    "one space apart, at most 1024 bytes)", v);
	}
	return 0;
}

static int
config_check_name(const char *v, char *why, size_t whylen)
{
	if (strlen(v) > 256)
		return config_why(why, whylen, "longer than 256 bytes");
	return 0;
}

/* Names separated by commas and/or blanks: at most 100 of 256 bytes. */
static int
config_check_event_types(const char *v, char *why, size_t whylen)
{
	size_t n = 0, len;

	for (const char *p = v + strspn(v, ", \t"); *p != '\0';
	    p += len, p += strspn(p, ", \t")) {
		len = strcspn(p, ", \t");
		if (len > 256 || ++n > 100)
			return config_why(why, whylen, "at most 100 event types "
			    "of at most 256 bytes each");
	}
	return 0;
}

/* ---- setters: one per type, all used for defaults and file values ---- */

static int
config_set_string(struct config *cfg, const struct config_row *row,
    const char *v, char *why, size_t whylen)
{
	char **field = (char **)(void *)((char *)cfg + row->off);
	char *copy;

	if (*v == '\0' && (row->flags & CF_NONEMPTY))
		return config_why(why, whylen, "must not be empty");
	if (*v != '\0' && row->check != NULL && row->check(v, why, whylen) != 0)
		return -1;
	copy = strdup(v);
	if (copy == NULL)
		return config_why(why, whylen, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* For systemd's LoadCredential=: the directory is only known at start. */
static int
config_expand_cred(const char *v, char *out, size_t outlen, char *why,
    size_t whylen)
{
	size_t plen = strlen(CONFIG_CRED_PREFIX);
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	size_t dlen;
	int n;

	/* out is a string on every path: the analyzer does not follow
	 * config_why, a variadic function, so it cannot see that it
	 * returns -1 and the caller never reads out then. */
	out[0] = '\0';
	if (strncmp(v, CONFIG_CRED_PREFIX, plen) != 0 || v[plen] == '\0')
		return config_why(why, whylen, "\"%s\": only a path starting "
		    "with %s is expanded", v, CONFIG_CRED_PREFIX);
	if (dir == NULL || dir[0] != '/')
		return config_why(why, whylen, "$CREDENTIALS_DIRECTORY is not "
		    "set to an absolute path (systemd sets it for "
		    "LoadCredential=)");
	dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	n = snprintf(out, outlen, "%.*s/%s", (int)dlen, dir, v + plen);
	if (n < 0 || (size_t)n >= outlen)
		return config_why(why, whylen, "expanded path too long");
	return 0;
}

static int
config_set_path(struct config *cfg, const struct config_row *row,
    const char *v, char *why, size_t whylen)
{
	char buf[CONFIG_PATH_MAX];

	if (v[0] == '$') {
		if (config_expand_cred(v, buf, sizeof(buf), why, whylen) != 0)
			return -1;
		v = buf;
	} else if (v[0] != '\0' && v[0] != '/') {
		return config_why(why, whylen, "\"%s\" is not an absolute path "
		    "or one starting with %s", v, CONFIG_CRED_PREFIX);
	}
	if (strlen(v) >= CONFIG_PATH_MAX)
		return config_why(why, whylen, "path longer than %d bytes",
		    CONFIG_PATH_MAX - 1);
	return config_set_string(cfg, row, v, why, whylen);
}

static int
config_set_uint(struct config *cfg, const struct config_row *row,
    const char *v, char *why, size_t whylen)
{
	uint64_t *field = (uint64_t *)(void *)((char *)cfg + row->off);
	size_t n = strspn(v, "0123456789");
	uint64_t x;

	if (n == 0 || v[n] != '\0')
		return config_why(why, whylen, "\"%s\" is not a whole number", v);
	errno = 0;
	x = strtoull(v, NULL, 10);
	if (errno == ERANGE || x > row->max)
		return config_why(why, whylen, "%s is above the maximum %" PRIu64,
		    v, row->max);
	if (x < row->min)
		return config_why(why, whylen, "%s is below the minimum %" PRIu64,
		    v, row->min);
	*field = x;
	return 0;
}

static int
config_set_bool(struct config *cfg, const struct config_row *row,
    const char *v, char *why, size_t whylen)
{
	static const char *const words[] = {
		"false", "true", "no", "yes", "off", "on", "0", "1"
	};
	bool *field = (bool *)((char *)cfg + row->off);

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(v, words[i]) == 0) {
			*field = (i % 2) == 1;
			return 0;
		}
	}
	return config_why(why, whylen, "\"%s\" is not a boolean (true/false, "
	    "yes/no, on/off, 1/0)", v);
}

static int
config_set_enum(struct config *cfg, const struct config_row *row,
    const char *v, char *why, size_t whylen)
{
	int *field = (int *)(void *)((char *)cfg + row->off);
	int x;

	if (row->en->parse(v, &x) != 0)
		return config_why(why, whylen, "\"%s\" is not one of %s", v,
		    row->en->choices);
	*field = x;
	return 0;
}

static int
config_set_row(struct config *cfg, const struct config_row *row,
    const char *v, char *why, size_t whylen)
{
	switch (row->type) {
	case CT_STRING:
		return config_set_string(cfg, row, v, why, whylen);
	case CT_PATH:
		return config_set_path(cfg, row, v, why, whylen);
	case CT_UINT:
	case CT_MS:
	case CT_S:
		return config_set_uint(cfg, row, v, why, whylen);
	case CT_BOOL:
		return config_set_bool(cfg, row, v, why, whylen);
	case CT_ENUM:
		return config_set_enum(cfg, row, v, why, whylen);
	}
	return config_why(why, whylen, "internal error: bad key type");
}

static const struct config_row *
config_find(const char *section, const char *key, size_t *index)
{
	for (size_t i = 0; i < CONFIG_NROWS; i++) {
		if (strcmp(config_rows[i].section, section) == 0 &&
		    strcmp(config_rows[i].key, key) == 0) {
			if (index != NULL)
				*index = i;
			return &config_rows[i];
		}
	}
	return NULL;
}

/* Returns the table's copy of the section name, or NULL if unknown. */
static const char *
config_find_section(const char *name)
{
	for (size_t i = 0; i < CONFIG_NROWS; i++) {
		if (strcmp(config_rows[i].section, name) == 0)
			return config_rows[i].section;
	}
	return NULL;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < CONFIG_NROWS; i++) {
		const struct config_row *row = &config_rows[i];

		if (row->type == CT_STRING || row->type == CT_PATH)
			free(*(char **)(void *)((char *)cfg + row->off));
	}
	free(cfg->path);
	free(cfg);
}

/* Defaults go through the setters, so a bad default cannot load. */
static struct config *
config_defaults(struct config_parser *p)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char why[512];

	if (cfg == NULL) {
		config_fail(p, "out of memory");
		return NULL;
	}
	cfg->path = strdup(p->name);
	if (cfg->path == NULL) {
		free(cfg);
		config_fail(p, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < CONFIG_NROWS; i++) {
		const struct config_row *row = &config_rows[i];
		const char *def = row->def;

		if (def == NULL && row->type != CT_STRING && row->type != CT_PATH)
			continue;
		if (config_set_row(cfg, row, def != NULL ? def : "", why,
		    sizeof(why)) != 0) {
			config_fail(p, "built-in default of [%s] %s: %s",
			    row->section, row->key, why);
			config_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

/* ---- the line parser ---- */

static char *
config_trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* A '#' after a space or tab starts a comment; "a#b" keeps its '#'. */
static void
config_strip_comment(char *s)
{
	for (char *h = strchr(s, '#'); h != NULL; h = strchr(h + 1, '#')) {
		if (h > s && (h[-1] == ' ' || h[-1] == '\t')) {
			*h = '\0';
			return;
		}
	}
}

/* Length of the UTF-8 sequence at s, or 0 if it is not well formed. */
static size_t
config_utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

static int
config_check_bytes(struct config_parser *p, const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t i = 0;

	while (i < len) {
		size_t n;

		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return config_fail(p, "control character 0x%02x in line",
			    s[i]);
		n = config_utf8_len(s + i);
		if (n == 0)
			return config_fail(p, "invalid UTF-8");
		i += n;
	}
	return 0;
}

static int
config_section(struct config_parser *p, char *s)
{
	char *close = strchr(s, ']');
	const char *known;

	if (close == NULL || *config_trim(close + 1) != '\0')
		return config_fail(p, "malformed section header \"%s\"", s);
	*close = '\0';
	s = config_trim(s + 1);
	if (*s == '\0')
		return config_fail(p, "malformed section header \"[]\"");
	known = config_find_section(s);
	if (known == NULL)
		return config_fail(p, "unknown section [%s]", s);
	p->section = known;
	return 0;
}

static int
config_keyvalue(struct config_parser *p, struct config *cfg, char *s)
{
	char *eq = strchr(s, '=');
	const struct config_row *row;
	const char *key, *value;
	char why[512];
	size_t i;

	if (eq == NULL)
		return config_fail(p, "missing '=' in \"%s\"", s);
	*eq = '\0';
	key = config_trim(s);
	value = config_trim(eq + 1);
	if (*key == '\0')
		return config_fail(p, "missing key before '='");
	if (p->section == NULL)
		return config_fail(p, "key \"%s\" outside a section", key);
	row = config_find(p->section, key, &i);
	if (row == NULL)
		return config_fail(p, "unknown key \"%s\" in [%s]", key,
		    p->section);
	if (p->seen[i] != 0)
		return config_fail(p, "duplicate key \"%s\" in [%s] (first set "
		    "on line %u)", key, p->section, p->seen[i]);
	p->seen[i] = p->line;
	if (config_set_row(cfg, row, value, why, sizeof(why)) != 0)
		return config_fail(p, "%s: %s", key, why);
	return 0;
}

static int
config_line(struct config_parser *p, struct config *cfg, char *line,
    size_t len)
{
	char *s;

	if (memchr(line, '\0', len) != NULL)
		return config_fail(p, "NUL byte in line");
	if (config_check_bytes(p, line, len) != 0)
		return -1;
	s = config_trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	config_strip_comment(s);
	s = config_trim(s);
	if (*s == '[')
		return config_section(p, s);
	return config_keyvalue(p, cfg, s);
}

static int
config_parse_lines(struct config_parser *p, struct config *cfg,
    const char *text, size_t len)
{
	char line[CONFIG_LINE_MAX + 1];
	size_t pos = 0;

	/* Editors on other systems may leave a byte-order mark. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - pos;

		p->line++;
		if (n > 0 && text[pos + n - 1] == '\r')
			n--;
		if (n > CONFIG_LINE_MAX)
			return config_fail(p, "line longer than %d bytes",
			    CONFIG_LINE_MAX);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (config_line(p, cfg, line, n) != 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

/* Rules that involve more than one key; reported without a line number. */
static int
config_cross_check(struct config_parser *p, const struct config *cfg)
{
	p->line = 0;
	for (size_t i = 0; i < CONFIG_NROWS; i++) {
		const struct config_row *row = &config_rows[i];

		if ((row->flags & CF_REQUIRED) && p->seen[i] == 0)
			return config_fail(p, "[%s] %s is required (one of %s)",
			    row->section, row->key,
			    row->en != NULL ? row->en->choices : "any value");
	}
	if (cfg->mode == AUTH_NONE && !cfg->allow_unauthenticated)
		return config_fail(p, "[auth] mode = none needs "
		    "allow_unauthenticated = true");
	if (cfg->mode != AUTH_NONE && cfg->secret_file[0] == '\0')
		return config_fail(p, "[auth] mode = %s needs secret_file",
		    auth_mode_name(cfg->mode));
	if (cfg->retry_base_ms > cfg->retry_max_backoff_ms)
		return config_fail(p, "[eventbridge] retry_base_ms is above "
		    "retry_max_backoff_ms");
	if (cfg->connect_timeout_ms > cfg->request_timeout_ms)
		return config_fail(p, "[eventbridge] connect_timeout_ms is above "
		    "request_timeout_ms");
	if (cfg->batch_linger_ms >= cfg->delivery_timeout_ms)
		return config_fail(p, "[eventbridge] batch_linger_ms must be "
		    "below delivery_timeout_ms");
	return 0;
}

static struct config *
config_parse_buf(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct config_parser p;
	struct config *cfg;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.err = err;
	p.errlen = errlen;
	if (len > (size_t)CONFIG_FILE_MAX) {
		config_fail(&p, "larger than %d bytes", CONFIG_FILE_MAX);
		return NULL;
	}
	cfg = config_defaults(&p);
	if (cfg == NULL)
		return NULL;
	if (config_parse_lines(&p, cfg, text, len) != 0 ||
	    config_cross_check(&p, cfg) != 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_parse(const char *name, const char *text, char *err, size_t errlen)
{
	return config_parse_buf(name, text, strnlen(text, CONFIG_FILE_MAX + 1),
	    err, errlen);
}

/* Reads at most CONFIG_FILE_MAX + 1 bytes, so an oversized file is seen. */
static char *
config_read(struct config_parser *p, const char *file, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		config_fail(p, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		config_fail(p, "not a regular file");
		goto fail;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		config_fail(p, "out of memory");
		goto fail;
	}
	while (n < CONFIG_FILE_MAX + 1) {
		ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			config_fail(p, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

struct config *
config_load(const char *file, char *err, size_t errlen)
{
	struct config_parser p;
	struct config *cfg;
	char *buf;
	size_t len;

	memset(&p, 0, sizeof(p));
	p.name = file;
	p.err = err;
	p.errlen = errlen;
	buf = config_read(&p, file, &len);
	if (buf == NULL)
		return NULL;
	cfg = config_parse_buf(file, buf, len, err, errlen);
	free(buf);
	return cfg;
}

int
config_set(struct config *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	const struct config_row *row = config_find(section, key, NULL);
	char why[512];

	if (row == NULL) {
		snprintf(err, errlen, "unknown key \"%s\" in [%s]", key, section);
		return -1;
	}
	if (config_set_row(cfg, row, value, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "[%s] %s: %s", section, key, why);
		return -1;
	}
	return 0;
}

int
config_key_at(size_t i, struct config_key_info *out)
{
	const struct config_row *row;

	if (i >= CONFIG_NROWS)
		return -1;
	row = &config_rows[i];
	out->section = row->section;
	out->key = row->key;
	out->type = config_type_names[row->type];
	out->default_text = row->def;
	out->min = row->min;
	out->max = row->max;
	out->choices = row->en != NULL ? row->en->choices : NULL;
	return 0;
}

const char *
auth_mode_name(enum auth_mode mode)
{
	if ((unsigned)mode >= sizeof(auth_names) / sizeof(auth_names[0]))
		return "unknown";
	return auth_names[mode];
}

const char *
cxone_token_auth_name(enum cxone_token_auth a)
{
	if ((unsigned)a >= sizeof(token_auth_names) / sizeof(token_auth_names[0]))
		return "unknown";
	return token_auth_names[a];
}

const char *
order_policy_name(enum order_policy policy)
{
	if ((unsigned)policy >= sizeof(policy_names) / sizeof(policy_names[0]))
		return "unknown";
	return policy_names[policy];
}
