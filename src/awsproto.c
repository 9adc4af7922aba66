/* awsproto.c - AWS wire formats: PutEvents, SQS SendMessageBatch, errors. */
#include "awsproto.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonmem.h"
#include "jsonparse.h"
#include "jw.h"

char *
awsproto_time_epoch(int64_t ms, char *buf, size_t size)
{
	uint64_t mag = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;

	snprintf(buf, size, "%s%" PRIu64 ".%03u", ms < 0 ? "-" : "",
	    mag / 1000, (unsigned)(mag % 1000));
	return buf;
}

int
awsproto_time_rfc3339(int64_t ms, char *buf, size_t size)
{
	int64_t sec = ms / 1000, rem = ms % 1000;
	time_t t;
	struct tm tm;
	int n;

	if (size > 0)
		buf[0] = '\0';
	if (rem < 0) {
		rem += 1000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return -1;
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)rem);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* An RFC 3339 member; null when the time cannot be written as one. */
static void
putevents_time_member(struct jw *w, int *first, const char *key, int64_t ms)
{
	char ts[64];

	jw_key(w, first, key);
	if (awsproto_time_rfc3339(ms, ts, sizeof(ts)) == 0)
		jw_str(w, ts);
	else
		jw_lit(w, "null");
}

static void
putevents_resources(struct jw *w, int *first, const struct entry *e)
{
	if (e->n_resources == 0 || e->resources == NULL)
		return;
	jw_key(w, first, "Resources");
	jw_raw(w, "[", 1);
	for (size_t i = 0; i < e->n_resources; i++) {
		if (i > 0)
			jw_raw(w, ",", 1);
		jw_str(w, e->resources[i] != NULL ? e->resources[i] : "");
	}
	jw_raw(w, "]", 1);
}

static void
putevents_entry(struct jw *w, const struct entry *e)
{
	char t[32];
	int first = 1;

	jw_raw(w, "{", 1);
	jw_member(w, &first, "Source", e->source);
	jw_member(w, &first, "DetailType", e->detail_type);
	jw_member(w, &first, "Detail", e->detail);
	jw_member(w, &first, "EventBusName", e->bus);
	jw_key(w, &first, "Time");
	jw_lit(w, awsproto_time_epoch(e->time_ms, t, sizeof(t)));
	putevents_resources(w, &first, e);
	jw_member(w, &first, "TraceHeader", e->trace_header);
	jw_raw(w, "}", 1);
}

char *
putevents_body(struct entry *const *entries, size_t n, size_t *len)
{
	struct jw w;

	if (n == 0 || n > AWSPROTO_MAX_ENTRIES)
		return NULL;
	jw_init(&w, AWSPROTO_MAX_BODY);
	jw_lit(&w, "{\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			jw_raw(&w, ",", 1);
		putevents_entry(&w, entries[i]);
	}
	jw_lit(&w, "]}");
	return jw_finish(&w, len);
}

/*
 * 1 if text is a JSON object.  jansson's own allocation failure marks w
 * failed rather than quietly turning the event into eventText.
 */
static int
json_object_text(struct jw *w, const char *text)
{
	json_error_t err;
	json_t *v;
	int ok;

	v = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &err);
	if (v == NULL && json_error_code(&err) == json_error_out_of_memory)
		jw_fail(w);
	ok = json_is_object(v);
	json_decref(v);
	return ok;
}

/* "event": the original event as an object, else "eventText". */
static void
envelope_event(struct jw *w, int *first, const struct entry *e)
{
	const char *text = e->event_json != NULL ? e->event_json : e->detail;

	if (text == NULL)
		return;
	if (e->event_json != NULL && json_object_text(w, e->event_json)) {
		jw_key(w, first, "event");
		jw_compact(w, e->event_json);
	} else if (e->detail != NULL && json_object_text(w, e->detail)) {
		jw_key(w, first, "event");
		jw_compact(w, e->detail);
	} else {
		jw_key(w, first, "eventText");
		jw_str(w, text);
	}
}

static void
envelope_write(struct jw *w, const struct entry *e)
{
	char num[24];
	int first = 1, sub = 1;

	jw_raw(w, "{", 1);
	jw_member(w, &first, "reason", dlq_reason_name(e->reason));
	jw_key(w, &first, "errorCode");
	jw_strn(w, e->error_code, strnlen(e->error_code, sizeof(e->error_code)));
	jw_key(w, &first, "errorMessage");
	jw_strn(w, e->error_message,
	    strnlen(e->error_message, sizeof(e->error_message)));
	jw_key(w, &first, "attempts");
	snprintf(num, sizeof(num), "%u", e->attempts);
	jw_lit(w, num);
	putevents_time_member(w, &first, "receivedAt", e->received_ms);

	jw_key(w, &first, "entry");
	jw_raw(w, "{", 1);
	jw_member(w, &sub, "Source", e->source);
	jw_member(w, &sub, "DetailType", e->detail_type);
	jw_member(w, &sub, "EventBusName", e->bus);
	putevents_time_member(w, &sub, "Time", e->time_ms);
	putevents_resources(w, &sub, e);
	jw_raw(w, "}", 1);

	envelope_event(w, &first, e);
	jw_raw(w, "}", 1);
}

char *
dlq_envelope(const struct entry *e, size_t *len)
{
	struct jw w;

	jw_init(&w, AWSPROTO_MAX_BODY);
	envelope_write(&w, e);
	return jw_finish(&w, len);
}

/* SQS takes #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-. */
static int
sqs_char_ok(uint32_t cp)
{
	return cp == 0x9 || cp == 0xa || cp == 0xd ||
	    (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
	    cp >= 0x10000;
}

/*
 * The eventType attribute value in buf (AWSPROTO_MAX_ATTR + 1 bytes): what
 * SQS would refuse becomes U+FFFD, cut at a character boundary.  The full
 * value is in the envelope; the attribute is only for filtering.
 */
static size_t
sqs_attr_value(const char *s, char *buf)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, out = 0, k;
	uint32_t cp = 0;

	while (i < n) {
		k = jw_utf8_decode(p + i, n - i, &cp);
		if (k == 0 || !sqs_char_ok(cp)) {
			if (out + 3 > AWSPROTO_MAX_ATTR)
				break;
			memcpy(buf + out, "\xef\xbf\xbd", 3);
			out += 3;
			i += k == 0 ? 1 : k;
			continue;
		}
		if (out + k > AWSPROTO_MAX_ATTR)
			break;
		memcpy(buf + out, s + i, k);
		out += k;
		i += k;
	}
	buf[out] = '\0';
	return out;
}

static int
has_event_type(const struct entry *e)
{
	return e->event_type != NULL && e->event_type[0] != '\0';
}

size_t
sqs_message_size(const struct entry *e, size_t envelope_len)
{
	char attr[AWSPROTO_MAX_ATTR + 1];
	size_t size = envelope_len;

	size += strlen("reason") + strlen("String") +
	    strlen(dlq_reason_name(e->reason));
	if (has_event_type(e))
		size += strlen("eventType") + strlen("String") +
		    sqs_attr_value(e->event_type, attr);
	return size;
}

static void
sqs_attr(struct jw *w, const char *value)
{
	jw_lit(w, "{\"DataType\":\"String\",\"StringValue\":");
	jw_str(w, value);
	jw_raw(w, "}", 1);
}

static void
sqs_entry(struct jw *w, size_t i, const struct entry *e)
{
	char id[24], attr[AWSPROTO_MAX_ATTR + 1];
	size_t elen = 0;
	char *env;

	env = dlq_envelope(e, &elen);
	if (env == NULL) {
		jw_fail(w);
		return;
	}
	snprintf(id, sizeof(id), "%zu", i);
	jw_lit(w, "{\"Id\":");
	jw_str(w, id);
	jw_lit(w, ",\"MessageBody\":");
	jw_strn(w, env, elen);
	free(env);
	jw_lit(w, ",\"MessageAttributes\":{\"reason\":");
	sqs_attr(w, dlq_reason_name(e->reason));
	if (has_event_type(e)) {
		sqs_attr_value(e->event_type, attr);
		jw_lit(w, ",\"eventType\":");
		sqs_attr(w, attr);
	}
	jw_lit(w, "}}");
}

char *
sqs_batch_body(const char *queue_url, struct entry *const *entries,
    size_t n, size_t *len)
{
	struct jw w;

	if (queue_url == NULL || n == 0 || n > AWSPROTO_MAX_ENTRIES)
		return NULL;
	jw_init(&w, AWSPROTO_MAX_BODY);
	jw_lit(&w, "{\"QueueUrl\":");
	jw_str(&w, queue_url);
	jw_lit(&w, ",\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			jw_raw(&w, ",", 1);
		sqs_entry(&w, i, entries[i]);
	}
	jw_lit(&w, "]}");
	return jw_finish(&w, len);
}

/* Copies src (NULL = "") into dst, cutting at a UTF-8 character boundary. */
static void
copy_trunc(char *dst, size_t size, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *
jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/*
 * Parses a response body we cap; NULL if too long or not JSON (a duplicate
 * key included: AWS never sends one).  Every caller frees the tree before
 * it returns, on the calling thread, so it may come from jsonmem's arena.
 */
static json_t *
response_load(const char *body, size_t len)
{
	json_t *root;

	if (body == NULL || len > AWSPROTO_MAX_RESPONSE)
		return NULL;
	jsonmem_arena_begin();
	root = jsonparse(body, len, AWSPROTO_MAX_DEPTH, NULL);
	jsonmem_arena_end();
	return root;
}

/* Fills r from one PutEvents result entry. */
static void
putevents_item(const json_t *it, struct putevents_result *r)
{
	const char *code = jstr(it, "ErrorCode");
	const char *id = jstr(it, "EventId");

	if (code != NULL && code[0] != '\0') {
		copy_trunc(r->error_code, sizeof(r->error_code), code);
		copy_trunc(r->error_message, sizeof(r->error_message),
		    jstr(it, "ErrorMessage"));
		return;
	}
	if (id == NULL || id[0] == '\0') {
		copy_trunc(r->error_code, sizeof(r->error_code), "MissingResult");
		return;
	}
	r->ok = 1;
	copy_trunc(r->event_id, sizeof(r->event_id), id);
}

int
putevents_parse(const char *body, size_t len, size_t n,
    struct putevents_result *out)
{
	json_t *root, *arr, *fc;

	if (n == 0 || n > AWSPROTO_MAX_ENTRIES)
		return -1;
	memset(out, 0, n * sizeof(*out));
	root = response_load(body, len);
	arr = json_object_get(root, "Entries");
	fc = json_object_get(root, "FailedEntryCount");
	if (!json_is_object(root) || !json_is_array(arr) ||
	    json_array_size(arr) != n || (fc != NULL && !json_is_integer(fc)))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(arr, i);

		if (!json_is_object(it))
			goto fail;
		putevents_item(it, &out[i]);
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	memset(out, 0, n * sizeof(*out));
	return -1;
}

/* The index an SQS result Id names ("0".."n-1" as we sent), or -1. */
static long
sqs_id(const json_t *it, size_t n)
{
	const char *s = jstr(it, "Id");
	long v = 0;

	if (s == NULL || s[0] == '\0' || strlen(s) > 3 ||
	    (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return (size_t)v < n ? v : -1;
}

/* The array under key, or NULL if absent or null; -1 if something else. */
static int
opt_array(const json_t *root, const char *key, json_t **arr)
{
	json_t *v = json_object_get(root, key);

	*arr = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return -1;
	*arr = v;
	return 0;
}

/*
 * Applies Successful (failed = 0) or Failed (failed = 1) items.  Failed is
 * applied last, so an Id in both lists counts as failed: a message sent
 * twice to the DLQ is better than one lost.
 */
static int
sqs_apply(const json_t *arr, int failed, size_t n, struct sqs_result *out,
    unsigned char *seen)
{
	size_t i;
	json_t *it;
	long id;

	json_array_foreach(arr, i, it) {
		if (!json_is_object(it))
			return -1;
		id = sqs_id(it, n);
		if (id < 0)
			continue;   /* not an Id we sent */
		memset(&out[id], 0, sizeof(out[id]));
		seen[id] = 1;
		if (!failed) {
			out[id].ok = 1;
			copy_trunc(out[id].message_id, sizeof(out[id].message_id),
			    jstr(it, "MessageId"));
			continue;
		}
		/* An empty Code is no code: error_code is never empty. */
		copy_trunc(out[id].error_code, sizeof(out[id].error_code),
		    jstr(it, "Code") != NULL && *jstr(it, "Code") != '\0' ?
		    jstr(it, "Code") : "UnknownError");
		copy_trunc(out[id].error_message, sizeof(out[id].error_message),
		    jstr(it, "Message"));
		out[id].sender_fault = json_is_true(json_object_get(it,
		    "SenderFault"));
	}
	return 0;
}

int
sqs_batch_parse(const char *body, size_t len, size_t n,
    struct sqs_result *out)
{
	unsigned char seen[AWSPROTO_MAX_ENTRIES] = { 0 };
	json_t *root, *succ, *fail;

	if (n == 0 || n > AWSPROTO_MAX_ENTRIES)
		return -1;
	memset(out, 0, n * sizeof(*out));
	root = response_load(body, len);
	if (!json_is_object(root) || opt_array(root, "Successful", &succ) != 0 ||
	    opt_array(root, "Failed", &fail) != 0 ||
	    (succ == NULL && fail == NULL))
		goto bad;
	if ((succ != NULL && sqs_apply(succ, 0, n, out, seen) != 0) ||
	    (fail != NULL && sqs_apply(fail, 1, n, out, seen) != 0))
		goto bad;
	json_decref(root);
	for (size_t i = 0; i < n; i++) {
		if (seen[i] == 0)
			copy_trunc(out[i].error_code, sizeof(out[i].error_code),
			    "MissingResult");
	}
	return 0;
bad:
	json_decref(root);
	memset(out, 0, n * sizeof(*out));
	return -1;
}

/*
 * Sets out->code from s, which ends at stop; a "namespace#" prefix is
 * dropped.  Non-printable bytes become '?' since codes reach logs and
 * metric labels.  -1 if s gives no code.
 */
static int
error_code_from(struct aws_error *out, const char *s, char stop)
{
	const char *end, *hash;

	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	end = strchr(s, stop);
	if (end == NULL)
		end = s + strlen(s);
	hash = memchr(s, '#', (size_t)(end - s));
	if (hash != NULL)
		s = hash + 1;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == s)
		return -1;
	if ((size_t)(end - s) >= sizeof(out->code))
		end = s + sizeof(out->code) - 1;
	for (size_t i = 0; s + i < end; i++) {
		unsigned char c = (unsigned char)s[i];

		out->code[i] = (char)(c > 0x20 && c < 0x7f ? c : '?');
	}
	out->code[end - s] = '\0';
	return 0;
}

int
aws_error_parse(long http_status, const char *body, size_t len,
    const char *query_error_header, const char *error_type_header,
    struct aws_error *out)
{
	json_t *root = NULL;
	const char *type = NULL, *msg = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (body != NULL && len > 0)
		root = response_load(body, len);
	if (json_is_object(root)) {
		type = jstr(root, "__type");
		msg = jstr(root, "message");
		if (msg == NULL)
			msg = jstr(root, "Message");
	}
	copy_trunc(out->message, sizeof(out->message), msg);
	if (error_code_from(out, type, ':') != 0 &&
	    error_code_from(out, query_error_header, ';') != 0 &&
	    error_code_from(out, error_type_header, ':') != 0) {
		snprintf(out->code, sizeof(out->code), "HTTP%ld", http_status);
		rc = 1;
	}
	json_decref(root);
	return rc;
}

/*
 * Throttling and transient codes of the AWS SDKs' standard retry mode
 * (botocore retries/standard.py), then the ones this project adds: the
 * 5xx-class codes that reach us without a 5xx status (PutEvents reports
 * InternalFailure per entry in a 200) and our own "Transport".
 */
static const char *const retry_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded",
	"BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
	"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
	"RequestTimeout", "RequestTimeoutException",
	"InternalFailure", "InternalError", "InternalServerError",
	"InternalException", "ServiceUnavailable", "Transport",
};

int
aws_error_retryable(const char *code, long http_status)
{
	switch (http_status) {
	case 429: case 500: case 502: case 503: case 504:
		return 1;
	default:
		break;
	}
	if (code == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(retry_codes) / sizeof(retry_codes[0]); i++)
		if (strcmp(code, retry_codes[i]) == 0)
			return 1;
	return 0;
}
