/* event.c - one webhook body: checked, validated and mapped to an entry. */
#include "event.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "entry.h"
#include "jsonmem.h"
#include "jsonparse.h"
#include "rfc3339.h"
#include "schema.h"

/* The routing event's fixed members (the contract's CXone event). */
#define EVENT_TIMESTAMP_PTR "/timestamp"
#define EVENT_TYPE_PTR      "/eventType"

/* Room for the envelope's own members and the AWS error text in a DLQ copy. */
#define DLQ_ENVELOPE_OVERHEAD 1536

/* Longest JSON escape of one byte: \u00XX. */
#define JSON_ESCAPE_MAX 6

/* Dedupe and ordering key values are table keys: bounded. */
#define EVENT_KEY_MAX 256

static int
event_fail(struct event_error *err, int status, const char *kind,
    const char *pointer, const char *message)
{
	err->status = status;
	snprintf(err->error, sizeof(err->error), "%s", kind);
	snprintf(err->pointer, sizeof(err->pointer), "%s", pointer);
	snprintf(err->message, sizeof(err->message), "%s", message);
	err->rule[0] = '\0';
	return -1;
}

/* RFC 6901 lookup; NULL when absent or the pointer is malformed. */
static json_t *
event_pointer_get(json_t *root, const char *ptr)
{
	char token[256];
	json_t *cur = root;

	if (*ptr == '\0')
		return root;
	while (*ptr == '/' && cur != NULL) {
		size_t n = 0;
		ptr++;
		while (*ptr != '\0' && *ptr != '/') {
			char c = *ptr++;
			if (c == '~') {
				if (*ptr != '0' && *ptr != '1')
					return NULL;
				c = *ptr++ == '0' ? '~' : '/';
			}
			if (n + 1 >= sizeof(token))
				return NULL;
			token[n++] = c;
		}
		token[n] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, token);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long i = strtoul(token, &end, 10);
			cur = (*end == '\0' && n > 0) ? json_array_get(cur, i) : NULL;
		} else {
			cur = NULL;
		}
	}
	return *ptr == '\0' ? cur : NULL;
}

/* A key is a string or an integer; anything else cannot identify an event. */
static char *
event_key_text(json_t *v)
{
	char buf[32];

	if (json_is_string(v))
		return strndup(json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return strdup(buf);
	}
	return NULL;
}

static int
event_parse(const struct event_config *cfg, const char *body, size_t len,
    json_t **root, struct event_error *err)
{
	struct jsonparse_error perr;
	struct schema_error serr;
	char msg[256];

	/* event_build frees the tree before it returns, on this thread: the
	 * rule of jsonmem's arena. */
	jsonmem_arena_begin();
	*root = jsonparse(body, len, cfg->max_depth, &perr);
	jsonmem_arena_end();
	if (*root == NULL && perr.kind == JSONPARSE_NOMEM)
		return event_fail(err, 503, "internal", "", "out of memory");
	if (*root == NULL) {
		snprintf(msg, sizeof(msg), "%s: %s at byte %zu",
		    perr.kind == JSONPARSE_TOO_DEEP ? "body is nested too deep" :
		    perr.kind == JSONPARSE_BAD_UTF8 ? "body is not valid UTF-8" :
		    "not JSON", perr.what, perr.offset);
		return event_fail(err, 400, "schema", "", msg);
	}
	if (!json_is_object(*root))
		return event_fail(err, 400, "schema", "",
		    "the event must be a JSON object");
	if (cfg->schema != NULL && schema_validate(cfg->schema, *root, &serr) != 0) {
		event_fail(err, 400, "schema", serr.pointer, serr.message);
		snprintf(err->rule, sizeof(err->rule), "%s", serr.rule);
		return -1;
	}
	return 0;
}

static int
event_timestamp(const struct event_config *cfg, json_t *root, int64_t now_ms,
    int64_t *ts, struct event_error *err)
{
	json_t *v = event_pointer_get(root, EVENT_TIMESTAMP_PTR);

	if (!json_is_string(v))
		return event_fail(err, 400, "schema", EVENT_TIMESTAMP_PTR,
		    "timestamp is required and must be a string");
	if (rfc3339_parse(json_string_value(v), json_string_length(v), ts) != 0)
		return event_fail(err, 400, "schema", EVENT_TIMESTAMP_PTR,
		    "timestamp is not an RFC 3339 date-time");
	if (*ts > now_ms + cfg->max_future_ms)
		return event_fail(err, 400, "schema", EVENT_TIMESTAMP_PTR,
		    "timestamp is too far in the future");
	return 0;
}

/* Detail with a "cxbridge" member added; the original text is kept apart. */
static char *
event_enriched_detail(const struct event_config *cfg, json_t *root,
    int64_t now_ms)
{
	char received[32], corr[37];
	uuid_t u;

	rfc3339_format_ms(now_ms, received);
	uuid_generate_random(u);
	uuid_unparse_lower(u, corr);
	if (json_object_set_new(root, "cxbridge", json_pack("{s:s,s:s,s:s}",
	    "receivedAt", received, "correlationId", corr,
	    "instance", cfg->instance)) != 0)
		return NULL;
	return json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static int
event_fill_entry(const struct event_config *cfg, json_t *root,
    const char *body, size_t len, const char *trace, int64_t now_ms,
    struct entry *e)
{
	json_t *type = event_pointer_get(root, EVENT_TYPE_PTR);
	const char *dt = cfg->detail_type;

	if (json_is_string(type))
		e->event_type = strdup(json_string_value(type));
	else
		e->event_type = strdup("");
	if (dt == NULL || *dt == '\0')
		dt = e->event_type;
	e->source = strdup(cfg->source);
	e->detail_type = dt == NULL ? NULL : strdup(dt);
	e->bus = strdup(cfg->bus);
	e->trace_header = trace == NULL ? NULL : strndup(trace, 512);
	e->received_ms = now_ms;
	if (cfg->enrich) {
		e->event_json = strndup(body, len);
		e->detail = event_enriched_detail(cfg, root, now_ms);
	} else {
		e->detail = strndup(body, len);
	}
	if (e->event_type == NULL || e->source == NULL ||
	    e->detail_type == NULL || e->bus == NULL || e->detail == NULL ||
	    (trace != NULL && e->trace_header == NULL) ||
	    (cfg->enrich && e->event_json == NULL))
		return -1;
	e->size = entry_size(e);
	return 0;
}

/* The envelope writes U+FFFE and U+FFFF (3 bytes each in UTF-8) as 6-byte
 * \u escapes, because SQS refuses them raw. */
static size_t
event_nonchar_growth(const char *text)
{
	size_t grow = 0;

	for (const char *p = strstr(text, "\xef\xbf"); p != NULL;
	    p = strstr(p + 2, "\xef\xbf"))
		if ((unsigned char)p[2] == 0xbe || (unsigned char)p[2] == 0xbf)
			grow += 3;
	return grow;
}

size_t
event_dlq_size_bound(const struct entry *e, size_t event_len)
{
	/* The envelope holds these as JSON strings: an escape such as \u0001
	 * makes one byte six.  The event itself goes in as the object it is. */
	size_t strings = strlen(e->source) + strlen(e->detail_type) +
	    strlen(e->bus) + strlen(e->event_type) * 2;

	return event_len + event_nonchar_growth(e->event_json != NULL ?
	    e->event_json : e->detail) + strings * JSON_ESCAPE_MAX +
	    DLQ_ENVELOPE_OVERHEAD;
}

static int
event_check_size(const struct event_config *cfg, const struct entry *e,
    size_t len, struct event_error *err)
{
	char msg[160];

	if (e->size > cfg->max_entry_bytes) {
		snprintf(msg, sizeof(msg), "the EventBridge entry would be %zu "
		    "bytes, over the limit of %zu", e->size, cfg->max_entry_bytes);
		return event_fail(err, 413, "too_large", "", msg);
	}
	if (event_dlq_size_bound(e, len) > cfg->max_message_bytes) {
		snprintf(msg, sizeof(msg), "the event would not fit a "
		    "dead-letter message of %zu bytes", cfg->max_message_bytes);
		return event_fail(err, 413, "too_large", "", msg);
	}
	return 0;
}

static int
event_keys(const struct event_config *cfg, json_t *root, struct entry *e,
    char **order_key, struct event_error *err)
{
	json_t *v = event_pointer_get(root, cfg->dedupe_key);

	e->event_id = v == NULL ? NULL : event_key_text(v);
	if (e->event_id == NULL && (json_is_string(v) || json_is_integer(v)))
		return event_fail(err, 503, "internal", "", "out of memory");
	if (e->event_id == NULL || *e->event_id == '\0' ||
	    strlen(e->event_id) > EVENT_KEY_MAX)
		return event_fail(err, 400, "schema", cfg->dedupe_key,
		    "the dedupe key must be a string of 1 to 256 bytes or an integer");
	*order_key = NULL;
	if (cfg->order_key != NULL && *cfg->order_key != '\0') {
		v = event_pointer_get(root, cfg->order_key);
		/* An event without the ordering key simply is not ordered. */
		if (v != NULL)
			*order_key = event_key_text(v);
		if (*order_key == NULL && (json_is_string(v) || json_is_integer(v)))
			return event_fail(err, 503, "internal", "", "out of memory");
		if (*order_key != NULL && strlen(*order_key) > EVENT_KEY_MAX)
			return event_fail(err, 400, "schema", cfg->order_key,
			    "the ordering key is longer than 256 bytes");
	}
	return 0;
}

int
event_build(const struct event_config *cfg, const char *body, size_t len,
    const char *trace, int64_t now_ms, struct event *out,
    struct event_error *err)
{
	json_t *root = NULL;
	struct entry *e = NULL;

	memset(out, 0, sizeof(*out));
	if (event_parse(cfg, body, len, &root, err) != 0 ||
	    event_timestamp(cfg, root, now_ms, &out->ts_ms, err) != 0)
		goto fail;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto nomem;
	e->time_ms = out->ts_ms;
	if (event_keys(cfg, root, e, &out->order_key, err) != 0)
		goto fail;
	if (event_fill_entry(cfg, root, body, len, trace, now_ms, e) != 0)
		goto nomem;
	if (event_check_size(cfg, e, len, err) != 0)
		goto fail;
	json_decref(root);
	out->entry = e;
	return 0;
nomem:
	event_fail(err, 503, "internal", "", "out of memory");
fail:
	json_decref(root);
	entry_free(e);
	free(out->order_key);
	out->order_key = NULL;
	return -1;
}

void
event_fini(struct event *ev)
{
	entry_free(ev->entry);
	free(ev->order_key);
	ev->entry = NULL;
	ev->order_key = NULL;
}
