/* sqsproto.c - SQS ReceiveMessage, DeleteMessageBatch, GetQueueAttributes, and DLQ envelopes read back. */
#include "sqsproto.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonscan.h"
#include "rfc3339.h"

/* Copies src into dst (size bytes), cutting at a UTF-8 boundary. */
static void
sqsproto_copy(char *dst, size_t size, const char *src)
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

/* Serializes and frees root; NULL if root is NULL or on no memory. */
static char *
sqsproto_dump(json_t *root, size_t *len)
{
	char *text;

	if (root == NULL)
		return NULL;
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text != NULL && len != NULL)
		*len = strlen(text);
	return text;
}

char *
sqs_receive_body(const char *queue_url, unsigned max_messages,
    unsigned wait_s, unsigned visibility_s, size_t *len)
{
	if (queue_url == NULL || max_messages < 1 ||
	    max_messages > AWSPROTO_MAX_ENTRIES || wait_s > SQSPROTO_MAX_WAIT_S ||
	    visibility_s > SQSPROTO_MAX_VISIBILITY_S)
		return NULL;
	return sqsproto_dump(json_pack("{s:s,s:I,s:I,s:I,s:[s],s:[s]}",
	    "QueueUrl", queue_url,
	    "MaxNumberOfMessages", (json_int_t)max_messages,
	    "WaitTimeSeconds", (json_int_t)wait_s,
	    "VisibilityTimeout", (json_int_t)visibility_s,
	    "MessageAttributeNames", "All",
	    "AttributeNames", "SentTimestamp"), len);
}

char *
sqs_delete_body(const char *queue_url, const char *const *receipt_handles,
    size_t n, size_t *len)
{
	json_t *root, *entries;
	char id[24];

	if (queue_url == NULL || n == 0 || n > AWSPROTO_MAX_ENTRIES)
		return NULL;
	entries = json_array();
	root = json_pack("{s:s,s:o}", "QueueUrl", queue_url, "Entries", entries);
	if (root == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%zu", i);
		if (receipt_handles[i] == NULL ||
		    json_array_append_new(entries, json_pack("{s:s,s:s}", "Id", id,
		    "ReceiptHandle", receipt_handles[i])) != 0) {
			json_decref(root);
			return NULL;
		}
	}
	return sqsproto_dump(root, len);
}

char *
sqs_attributes_body(const char *queue_url, size_t *len)
{
	if (queue_url == NULL)
		return NULL;
	return sqsproto_dump(json_pack("{s:s,s:[s,s]}", "QueueUrl", queue_url,
	    "AttributeNames", "ApproximateNumberOfMessages",
	    "ApproximateNumberOfMessagesNotVisible"), len);
}

/* Decimal digits only, at most 18 of them; -1 otherwise. */
static int64_t
sqsproto_count(const char *s)
{
	int64_t v = 0;
	size_t n;

	if (s == NULL)
		return -1;
	n = strspn(s, "0123456789");
	if (n == 0 || n > 18 || s[n] != '\0')
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static json_t *
sqsproto_load(const char *body, size_t len, size_t cap, size_t flags)
{
	if (body == NULL || len > cap)
		return NULL;
	return json_loadb(body, len, flags, NULL);
}

int
sqs_attributes_parse(const char *body, size_t len, int64_t *visible,
    int64_t *not_visible)
{
	json_t *root = sqsproto_load(body, len, AWSPROTO_MAX_RESPONSE, 0);
	json_t *attrs = json_object_get(root, "Attributes");

	*visible = *not_visible = -1;
	if (!json_is_object(attrs)) {
		json_decref(root);
		return -1;
	}
	*visible = sqsproto_count(json_string_value(json_object_get(attrs,
	    "ApproximateNumberOfMessages")));
	*not_visible = sqsproto_count(json_string_value(json_object_get(attrs,
	    "ApproximateNumberOfMessagesNotVisible")));
	json_decref(root);
	return 0;
}

void
sqs_message_fini(struct sqs_message *m)
{
	if (m == NULL)
		return;
	free(m->receipt_handle);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

/* 1 if hex (32 digits, any case) is the MD5 of data. */
static int
sqsproto_md5_matches(const char *data, size_t len, const char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char want[2 * EVP_MAX_MD_SIZE + 1];

	if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return 0;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(want + 2 * (size_t)i, 3, "%02x", md[i]);
	return strlen(hex) == 2 * (size_t)mdlen &&
	    strncasecmp(want, hex, 2 * (size_t)mdlen) == 0;
}

/* A String message attribute's value, or NULL. */
static const char *
sqsproto_attr(const json_t *msg, const char *name)
{
	json_t *a = json_object_get(json_object_get(msg, "MessageAttributes"),
	    name);

	return json_string_value(json_object_get(a, "StringValue"));
}

static int
sqsproto_message(const json_t *it, struct sqs_message *m)
{
	const char *id = json_string_value(json_object_get(it, "MessageId"));
	const char *rh = json_string_value(json_object_get(it, "ReceiptHandle"));
	json_t *b = json_object_get(it, "Body");
	const char *md5 = json_string_value(json_object_get(it, "MD5OfBody"));
	int64_t sent = sqsproto_count(json_string_value(json_object_get(
	    json_object_get(it, "Attributes"), "SentTimestamp")));

	memset(m, 0, sizeof(*m));
	if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(m->message_id) ||
	    rh == NULL || rh[0] == '\0' || strlen(rh) > SQSPROTO_RECEIPT_MAX ||
	    !json_is_string(b) || json_string_length(b) > SQSPROTO_BODY_MAX)
		return -1;
	snprintf(m->message_id, sizeof(m->message_id), "%s", id);
	m->receipt_handle = strdup(rh);
	m->body_len = json_string_length(b);
	m->body = malloc(m->body_len + 1);
	if (m->receipt_handle == NULL || m->body == NULL) {
		sqs_message_fini(m);
		return -1;
	}
	memcpy(m->body, json_string_value(b), m->body_len);
	m->body[m->body_len] = '\0';
	m->sent_ms = sent;
	m->md5_ok = md5 == NULL ? -1 :
	    sqsproto_md5_matches(m->body, m->body_len, md5);
	sqsproto_copy(m->reason, sizeof(m->reason), sqsproto_attr(it, "reason"));
	sqsproto_copy(m->event_type, sizeof(m->event_type),
	    sqsproto_attr(it, "eventType"));
	return 0;
}

int
sqs_receive_parse(const char *body, size_t len, struct sqs_message *out,
    size_t max, size_t *n)
{
	json_t *root = sqsproto_load(body, len, SQSPROTO_MAX_RESPONSE,
	    JSON_ALLOW_NUL);
	json_t *msgs = json_object_get(root, "Messages");
	size_t i = 0;

	*n = 0;
	if (!json_is_object(root))
		goto fail;
	if (msgs == NULL || json_is_null(msgs)) {
		json_decref(root);
		return 0;
	}
	if (!json_is_array(msgs) || json_array_size(msgs) > max)
		goto fail;
	for (i = 0; i < json_array_size(msgs); i++) {
		if (sqsproto_message(json_array_get(msgs, i), &out[i]) != 0)
			goto fail;
	}
	*n = i;
	json_decref(root);
	return 0;
fail:
	while (i > 0)
		sqs_message_fini(&out[--i]);
	json_decref(root);
	return -1;
}

/* ---- DLQ envelopes read back ---------------------------------------- */

int
dlq_reason_parse(const char *name, enum dlq_reason *out)
{
	for (int r = DLQ_EVENTBRIDGE_ERROR; r <= DLQ_SHUTDOWN; r++) {
		if (strcmp(dlq_reason_name((enum dlq_reason)r), name) == 0) {
			*out = (enum dlq_reason)r;
			return 0;
		}
	}
	return -1;
}

static const char *
sqsproto_skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p is at a '"': returns the byte after the closing quote. */
static const char *
sqsproto_skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

/* Skips one value of text that jansson has accepted. */
static const char *
sqsproto_skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	if (p < end && *p == '"')
		return sqsproto_skip_string(p, end);
	if (p < end && *p != '{' && *p != '[') {
		while (p < end && strchr(",}] \t\n\r", *p) == NULL)
			p++;
		return p;
	}
	while (p < end) {
		if (*p == '"') {
			p = sqsproto_skip_string(p, end);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return end;
}

/* 1 if the JSON string text q (quotes included, qlen bytes) is key. */
static int
sqsproto_key_is(const char *q, size_t qlen, const char *key)
{
	size_t klen = strlen(key);
	json_t *v;
	int same;

	if (memchr(q, '\\', qlen) == NULL)
		return qlen == klen + 2 && memcmp(q + 1, key, klen) == 0;
	/* Written with escapes ("\u0065vent"): compare what it means. */
	v = json_loadb(q, qlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	same = json_is_string(v) && json_string_length(v) == klen &&
	    memcmp(json_string_value(v), key, klen) == 0;
	json_decref(v);
	return same;
}

/*
 * Finds the top-level member key of the JSON object text (already accepted
 * by jansson, duplicate keys refused) and returns its value's exact bytes.
 */
static int
sqsproto_member_raw(const char *text, size_t len, const char *key,
    const char **vstart, size_t *vlen)
{
	const char *p = text, *end = text + len, *k, *v;

	p = sqsproto_skip_ws(p, end);
	if (p == end || *p != '{')
		return -1;
	for (p++; p < end;) {
		p = sqsproto_skip_ws(p, end);
		if (p == end || *p != '"')
			return -1;
		k = p;
		p = sqsproto_skip_ws(sqsproto_skip_string(p, end), end);
		if (p == end || *p != ':')
			return -1;
		v = sqsproto_skip_ws(p + 1, end);
		p = sqsproto_skip_value(v, end);
		if (sqsproto_key_is(k, (size_t)(sqsproto_skip_string(k, end) - k),
		    key)) {
			*vstart = v;
			*vlen = (size_t)(p - v);
			return 0;
		}
		p = sqsproto_skip_ws(p, end);
		if (p == end || *p != ',')
			return -1;
		p++;
	}
	return -1;
}

struct entry *
dlq_message_take(struct dlq_message *m)
{
	struct entry *e = m->entry;

	m->entry = NULL;
	return e;
}

void
dlq_message_fini(struct dlq_message *m)
{
	if (m == NULL)
		return;
	entry_free(m->entry);
	memset(m, 0, sizeof(*m));
}

/* The envelope's own members, for filters and reports. */
static void
dlq_header(const json_t *root, const json_t *ev, struct dlq_message *out)
{
	const char *reason = json_string_value(json_object_get(root, "reason"));
	const char *recv = json_string_value(json_object_get(root, "receivedAt"));
	double attempts = json_number_value(json_object_get(root, "attempts"));
	int64_t ms;

	sqsproto_copy(out->reason_text, sizeof(out->reason_text), reason);
	if (reason == NULL || dlq_reason_parse(reason, &out->reason) != 0)
		out->reason = DLQ_NONE;
	sqsproto_copy(out->error_code, sizeof(out->error_code),
	    json_string_value(json_object_get(root, "errorCode")));
	out->attempts = attempts >= 0 && attempts <= 1e6 ? (unsigned)attempts : 0;
	out->received_ms = -1;
	if (recv != NULL && rfc3339_parse(recv, strlen(recv), &ms) == 0)
		out->received_ms = ms;
	sqsproto_copy(out->event_type, sizeof(out->event_type),
	    json_string_value(json_object_get(ev, "eventType")));
	sqsproto_copy(out->event_id, sizeof(out->event_id),
	    json_string_value(json_object_get(ev, "id")));
}

static int
dlq_entry_strings(const json_t *ent, struct entry *e, const char **why)
{
	const char *src = json_string_value(json_object_get(ent, "Source"));
	const char *dt = json_string_value(json_object_get(ent, "DetailType"));
	json_t *busv = json_object_get(ent, "EventBusName");
	const char *bus = busv == NULL ? "default" : json_string_value(busv);
	const char *t = json_string_value(json_object_get(ent, "Time"));

	if (src == NULL || src[0] == '\0' || dt == NULL || dt[0] == '\0' ||
	    bus == NULL || bus[0] == '\0') {
		*why = "entry lacks Source, DetailType or EventBusName";
		return -1;
	}
	if (t == NULL || rfc3339_parse(t, strlen(t), &e->time_ms) != 0) {
		*why = "entry has no valid Time";
		return -1;
	}
	e->source = strdup(src);
	e->detail_type = strdup(dt);
	e->bus = strdup(bus);
	if (e->source == NULL || e->detail_type == NULL || e->bus == NULL) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

static int
dlq_entry_resources(const json_t *ent, struct entry *e, const char **why)
{
	json_t *res = json_object_get(ent, "Resources"), *it;
	size_t i;

	if (res == NULL || json_is_null(res))
		return 0;
	if (!json_is_array(res) || json_array_size(res) > SQSPROTO_MAX_RESOURCES) {
		*why = "entry Resources is not an array of at most 64 strings";
		return -1;
	}
	if (json_array_size(res) == 0)
		return 0;
	e->resources = calloc(json_array_size(res), sizeof(char *));
	if (e->resources == NULL) {
		*why = "out of memory";
		return -1;
	}
	json_array_foreach(res, i, it) {
		if (!json_is_string(it)) {
			*why = "entry Resources is not an array of strings";
			return -1;
		}
		e->resources[i] = strdup(json_string_value(it));
		if (e->resources[i] == NULL) {
			*why = "out of memory";
			return -1;
		}
		e->n_resources = i + 1;
	}
	return 0;
}

/* The event's JSON text exactly as stored; *found = 0 if it cannot be
 * located (it always can in text jansson accepted). */
static char *
dlq_event_text(const char *body, size_t len, int *found)
{
	const char *v;
	size_t vlen;
	char *s;

	*found = sqsproto_member_raw(body, len, "event", &v, &vlen) == 0 &&
	    vlen > 0 && *v == '{';
	if (!*found)
		return NULL;
	s = malloc(vlen + 1);
	if (s != NULL) {
		memcpy(s, v, vlen);
		s[vlen] = '\0';
	}
	return s;
}

/* Builds out->entry from the parsed envelope; *why on failure. */
static int
dlq_build_entry(const char *body, size_t len, const json_t *ent,
    struct dlq_message *out, const char **why)
{
	struct entry *e = calloc(1, sizeof(*e));
	int found;

	out->entry = e;
	if (e == NULL) {
		*why = "out of memory";
		return -1;
	}
	if (dlq_entry_strings(ent, e, why) != 0 ||
	    dlq_entry_resources(ent, e, why) != 0)
		return -1;
	e->detail = dlq_event_text(body, len, &found);
	if (!found) {
		*why = "the event's text could not be located";
		return -1;
	}
	e->event_type = out->event_type[0] != '\0' ? strdup(out->event_type) :
	    NULL;
	e->event_id = out->event_id[0] != '\0' ? strdup(out->event_id) : NULL;
	if (e->detail == NULL || (out->event_type[0] != '\0' &&
	    e->event_type == NULL) || (out->event_id[0] != '\0' &&
	    e->event_id == NULL)) {
		*why = "out of memory";
		return -1;
	}
	e->received_ms = out->received_ms >= 0 ? out->received_ms : 0;
	e->reason = DLQ_NONE;
	e->size = entry_size(e);
	return 0;
}

int
dlq_envelope_parse(const char *body, size_t len, struct dlq_message *out,
    char *err, size_t errlen)
{
	json_t *root = NULL, *ent, *ev;
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	if (body == NULL || len > SQSPROTO_BODY_MAX ||
	    jsonscan_check(body, len, SQSPROTO_MAX_DEPTH, NULL) != 0) {
		why = "not UTF-8, nested too deep or too long";
		goto fail;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
	    JSON_DECODE_INT_AS_REAL, NULL);
	ent = json_object_get(root, "entry");
	ev = json_object_get(root, "event");
	if (!json_is_object(root))
		why = "not a JSON object (or duplicate keys)";
	else if (!json_is_object(ent))
		why = "no \"entry\" object";
	else if (!json_is_object(ev))
		why = json_object_get(root, "eventText") != NULL ?
		    "the event is not a JSON object (eventText)" :
		    "no \"event\" object";
	if (why != NULL)
		goto fail;
	dlq_header(root, ev, out);
	if (dlq_build_entry(body, len, ent, out, &why) != 0)
		goto fail;
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	dlq_message_fini(out);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", why);
	return -1;
}
