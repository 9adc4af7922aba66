/* sink.c - benchmark stand-in for EventBridge PutEvents and SQS SendMessageBatch. */
/*
 * Not a test double: it answers every well-formed call with success as fast
 * as it can and counts what it got, so that a benchmark measures cxbridge and
 * not the fake AWS.  It checks only that an Authorization header of the
 * SigV4 shape is present; tests/standin/ is the one that verifies signatures.
 * A PutEvents body is still checked and counted honestly, by a one-pass
 * scanner instead of a JSON parser: one EventId per entry, 400 for a body
 * that is not well-formed JSON with an "Entries" array of 1..10 objects.
 *
 *   sink [-p PORT] [-t THREADS] [-f PORT_FILE]
 *
 * Listens on 127.0.0.1 only.  POST with X-Amz-Target AWSEvents.PutEvents or
 * AmazonSQS.SendMessageBatch; GET /stats answers the counters as JSON.
 * Runs until SIGTERM or SIGINT, then exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonscan.h"

/* Request bodies over this are refused with 413: cxbridge's PutEvents and
 * SendMessageBatch bodies are at most 10 entries of 256 KiB plus framing. */
#define SINK_BODY_MAX    ((size_t)4 * 1024 * 1024)
/* First buffer for an upload without Content-Length (chunked); it doubles
 * up to SINK_BODY_MAX. */
#define SINK_BODY_GUESS  ((size_t)16 * 1024)
#define SINK_THREADS_MAX 64
/* EventBridge refuses more entries than this in one call; so does the sink,
 * which also bounds its answer. */
#define SINK_PUT_MAX     10
/* Deeper nesting is refused.  cxbridge's bodies nest 4 deep (Resources;
 * the Detail is a string), so this only stops a runaway recursion. */
#define SINK_DEPTH_MAX   64
#define SINK_AUTH_PREFIX "AWS4-HMAC-SHA256 Credential="
#define SINK_PUTEVENTS   "AWSEvents.PutEvents"
#define SINK_SQS_BATCH   "AmazonSQS.SendMessageBatch"
#define SINK_CTYPE       "application/x-amz-json-1.1"

/* EventIds and MessageIds: 8-4-4-4-12 like AWS's, the first group the pid,
 * the last 48 bits of a counter. */
#define SINK_ID_LEN      36
#define SINK_ID_PREFIX   24
#define SINK_PUT_HEAD    "{\"FailedEntryCount\":0,\"Entries\":["
#define SINK_PUT_OPEN    "{\"EventId\":\""
#define SINK_PUT_CLOSE   "\"}"
#define SINK_PUT_TAIL    "]}"
/* Each sizeof counts a NUL that is never written: room for the commas. */
#define SINK_PUT_ANSWER_MAX (sizeof(SINK_PUT_HEAD) + SINK_PUT_MAX * \
	(sizeof(SINK_PUT_OPEN) + SINK_ID_LEN + sizeof(SINK_PUT_CLOSE)) + \
	sizeof(SINK_PUT_TAIL))

struct sink_stats {
	atomic_uint_fast64_t put_requests;
	atomic_uint_fast64_t put_entries;
	atomic_uint_fast64_t sqs_requests;
	atomic_uint_fast64_t sqs_entries;
	atomic_uint_fast64_t unauthorized;
	atomic_uint_fast64_t bad_requests;
	atomic_uint_fast64_t ids;          /* source of EventIds and MessageIds */
};

/* One request's body as it arrives: one allocation, sized from the
 * Content-Length, grown only for an upload without one. */
struct sink_body {
	size_t  len, cap;
	int     too_big;
	char    buf[];
};

/* The scanner's place in one body. */
struct sink_scan {
	const unsigned char *p, *end;
	unsigned depth;
};

static struct sink_stats sink_stats;
static char sink_id_prefix[SINK_ID_PREFIX + 1];
/* 1 for the bytes a string's tight loop passes over without a look:
 * printable ASCII other than '"' and '\\'.  Filled by sink_scan_init. */
static unsigned char sink_plain[256];

static void
sink_scan_init(void)
{
	for (unsigned c = 0x20; c < 0x80; c++)
		sink_plain[c] = c != '"' && c != '\\';
}

static void
sink_scan_ws(struct sink_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' ||
	    *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* 1, and s->p past it, if the next byte after blanks is c; else 0. */
static int
sink_scan_char(struct sink_scan *s, int c)
{
	sink_scan_ws(s);
	if (s->p == s->end || *s->p != c)
		return 0;
	s->p++;
	return 1;
}

/* The 4 hex digits of a \u escape into *v. */
static int
sink_scan_hex4(struct sink_scan *s, unsigned *v)
{
	unsigned c;

	if (s->end - s->p < 4)
		return 0;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		c = s->p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return 0;
		*v = (*v << 4) | c;
	}
	s->p += 4;
	return 1;
}

/* One escape, s->p just past its backslash.  A \u high surrogate must be
 * followed by an escaped low one (jansson's rule too). */
static int
sink_scan_escape(struct sink_scan *s)
{
	unsigned u, lo;

	if (s->p == s->end)
		return 0;
	switch (*s->p++) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		return 1;
	case 'u':
		break;
	default:
		return 0;
	}
	if (!sink_scan_hex4(s, &u) || (u >= 0xdc00 && u <= 0xdfff))
		return 0;
	if (u < 0xd800 || u > 0xdbff)
		return 1;
	if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
		return 0;
	s->p += 2;
	return sink_scan_hex4(s, &lo) && lo >= 0xdc00 && lo <= 0xdfff;
}

/*
 * Past the plain bytes at p, 8 at a time: nearly all of a body's bytes are
 * inside strings, and this was the scanner's one hot loop.  A word is
 * skipped when none of its bytes is '"', '\\', below 0x20 or above 0x7f
 * (the has-a-zero-byte and has-a-byte-less-than tests, which are exact
 * for "any byte"); the rest is left to the byte loop.
 */
static const unsigned char *
sink_skip_plain(const unsigned char *p, const unsigned char *end)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t v, q, b, t;

	while (end - p >= 8) {
		memcpy(&v, p, sizeof(v));
		q = v ^ (ones * '"');
		b = v ^ (ones * '\\');
		t = ((q - ones) & ~q) | ((b - ones) & ~b) |
		    ((v - ones * 0x20) & ~v) | v;
		if ((t & high) != 0)
			break;
		p += 8;
	}
	while (p < end && sink_plain[*p])
		p++;
	return p;
}

/* A string, s->p at its opening quote; s->p ends past the closing one. */
static int
sink_scan_string(struct sink_scan *s)
{
	const unsigned char *p = s->p + 1;
	size_t n;

	for (;;) {
		p = sink_skip_plain(p, s->end);
		if (p == s->end || *p < 0x20)
			return 0;
		if (*p == '"') {
			s->p = p + 1;
			return 1;
		}
		if (*p == '\\') {
			s->p = p + 1;
			if (!sink_scan_escape(s))
				return 0;
			p = s->p;
			continue;
		}
		n = jsonscan_utf8_len(p, (size_t)(s->end - p));
		if (n == 0)
			return 0;
		p += n;
	}
}

static int
sink_scan_digits(struct sink_scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

/* A number in JSON's grammar, s->p at its first byte.  "01" stops after
 * the 0, and the caller then fails on the 1. */
static int
sink_scan_number(struct sink_scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!sink_scan_digits(s))
		return 0;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!sink_scan_digits(s))
			return 0;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!sink_scan_digits(s))
			return 0;
	}
	return 1;
}

static int
sink_scan_word(struct sink_scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

/* A member name and its colon.  *name and *len give the name's raw bytes,
 * escapes not decoded. */
static int
sink_scan_name(struct sink_scan *s, const unsigned char **name, size_t *len)
{
	sink_scan_ws(s);
	if (s->p == s->end || *s->p != '"')
		return 0;
	*name = s->p + 1;
	if (!sink_scan_string(s))
		return 0;
	*len = (size_t)(s->p - 1 - *name);
	return sink_scan_char(s, ':');
}

static int sink_scan_value(struct sink_scan *);

/* An object or an array, s->p at its opening bracket. */
static int
sink_scan_container(struct sink_scan *s)
{
	int close = *s->p == '{' ? '}' : ']';
	const unsigned char *name;
	size_t len;

	if (s->depth >= SINK_DEPTH_MAX)
		return 0;
	s->depth++;
	s->p++;
	if (!sink_scan_char(s, close)) {
		do {
			if (close == '}' && !sink_scan_name(s, &name, &len))
				return 0;
			if (!sink_scan_value(s))
				return 0;
		} while (sink_scan_char(s, ','));
		if (!sink_scan_char(s, close))
			return 0;
	}
	s->depth--;
	return 1;
}

static int
sink_scan_value(struct sink_scan *s)
{
	sink_scan_ws(s);
	if (s->p == s->end)
		return 0;
	switch (*s->p) {
	case '{': case '[':
		return sink_scan_container(s);
	case '"':
		return sink_scan_string(s);
	case 't':
		return sink_scan_word(s, "true");
	case 'f':
		return sink_scan_word(s, "false");
	case 'n':
		return sink_scan_word(s, "null");
	default:
		return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) &&
		    sink_scan_number(s);
	}
}

/* The value of "Entries": an array of objects.  Its length, or -1. */
static long
sink_scan_entries(struct sink_scan *s)
{
	long n = 0;

	if (!sink_scan_char(s, '['))
		return -1;
	s->depth++;
	if (!sink_scan_char(s, ']')) {
		do {
			sink_scan_ws(s);
			if (s->p == s->end || *s->p != '{' ||
			    !sink_scan_container(s))
				return -1;
			n++;
		} while (sink_scan_char(s, ','));
		if (!sink_scan_char(s, ']'))
			return -1;
	}
	s->depth--;
	return n;
}

/*
 * The number of entries in a PutEvents body, in one pass and without
 * building anything: the body must be exactly one JSON object, well formed
 * throughout (strings, escapes, UTF-8, numbers, nesting), with a member
 * "Entries" exactly once whose value is an array of objects.  -1 for any
 * other body.  Member names are compared as raw bytes, so an escaped
 * spelling of "Entries" is some other member.
 */
static long
sink_count_entries(const char *buf, size_t len)
{
	struct sink_scan s = { (const unsigned char *)buf,
	    (const unsigned char *)buf + len, 1 };
	const unsigned char *name;
	size_t nlen;
	long n = -1;

	if (!sink_scan_char(&s, '{'))
		return -1;
	do {
		if (!sink_scan_name(&s, &name, &nlen))
			return -1;
		if (nlen == 7 && memcmp(name, "Entries", 7) == 0) {
			if (n >= 0)
				return -1;    /* twice: which one counts? */
			n = sink_scan_entries(&s);
			if (n < 0)
				return -1;
		} else if (!sink_scan_value(&s)) {
			return -1;
		}
	} while (sink_scan_char(&s, ','));
	if (!sink_scan_char(&s, '}'))
		return -1;
	sink_scan_ws(&s);
	return s.p == s.end ? n : -1;
}

/* Answers a copy of text[0..len-1]. */
static enum MHD_Result
sink_send(struct MHD_Connection *conn, unsigned status, const char *text,
    size_t len, const char *ctype)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Answers o as compact JSON and drops the reference to it. */
static enum MHD_Result
sink_send_json(struct MHD_Connection *conn, unsigned status, json_t *o,
    const char *ctype)
{
	enum MHD_Result ret;
	char *text;

	if (o == NULL)
		return MHD_NO;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	ret = sink_send(conn, status, text, strlen(text), ctype);
	free(text);
	return ret;
}

/* An AWS JSON-protocol error, the shape cxbridge's aws_error_parse reads.
 * type and message are the literals below, none with a character JSON
 * would need escaped. */
static enum MHD_Result
sink_error(struct MHD_Connection *conn, unsigned status, const char *type,
    const char *message)
{
	char text[256];
	int n;

	n = snprintf(text, sizeof(text), "{\"__type\":\"%s\",\"message\":\"%s\"}",
	    type, message);
	if (n < 0 || (size_t)n >= sizeof(text))
		return MHD_NO;
	return sink_send(conn, status, text, (size_t)n, SINK_CTYPE);
}

/* Writes id number n, SINK_ID_LEN bytes and no NUL, to out. */
static void
sink_format_id(char *out, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, sink_id_prefix, SINK_ID_PREFIX);
	for (size_t i = SINK_ID_LEN; i > SINK_ID_PREFIX; i--) {
		out[i - 1] = hex[n & 0xf];
		n >>= 4;
	}
}

/* A fresh id as a string; out has room for SINK_ID_LEN + 1. */
static void
sink_new_id(char *out)
{
	sink_format_id(out, atomic_fetch_add(&sink_stats.ids, 1) + 1);
	out[SINK_ID_LEN] = '\0';
}

/* The PutEvents answer for n entries (1..SINK_PUT_MAX), with the ids
 * first..first+n-1, into out (SINK_PUT_ANSWER_MAX bytes).  Its length. */
static size_t
sink_put_answer(char *out, size_t n, uint64_t first)
{
	size_t len = sizeof(SINK_PUT_HEAD) - 1;

	memcpy(out, SINK_PUT_HEAD, len);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out[len++] = ',';
		memcpy(out + len, SINK_PUT_OPEN, sizeof(SINK_PUT_OPEN) - 1);
		len += sizeof(SINK_PUT_OPEN) - 1;
		sink_format_id(out + len, first + i);
		len += SINK_ID_LEN;
		memcpy(out + len, SINK_PUT_CLOSE, sizeof(SINK_PUT_CLOSE) - 1);
		len += sizeof(SINK_PUT_CLOSE) - 1;
	}
	memcpy(out + len, SINK_PUT_TAIL, sizeof(SINK_PUT_TAIL) - 1);
	return len + sizeof(SINK_PUT_TAIL) - 1;
}

/* No jansson here: this is the sink's hot path, and a scan that counts
 * costs a fraction of building the whole tree. */
static enum MHD_Result
sink_putevents(struct MHD_Connection *conn, const struct sink_body *b)
{
	char out[SINK_PUT_ANSWER_MAX];
	uint64_t first;
	size_t len;
	long n;

	n = sink_count_entries(b->buf, b->len);
	if (n <= 0 || n > SINK_PUT_MAX) {
		atomic_fetch_add(&sink_stats.bad_requests, 1);
		return sink_error(conn, 400, "ValidationException",
		    n < 0 ? "body is not an object with an Entries array of objects" :
		    n == 0 ? "Entries is empty" : "more than 10 entries");
	}
	first = atomic_fetch_add(&sink_stats.ids, (uint64_t)n) + 1;
	len = sink_put_answer(out, (size_t)n, first);
	atomic_fetch_add(&sink_stats.put_requests, 1);
	atomic_fetch_add(&sink_stats.put_entries, (uint64_t)n);
	return sink_send(conn, 200, out, len, SINK_CTYPE);
}

static json_t *
sink_entries(const struct sink_body *b, const char *member)
{
	json_t *root, *entries;

	root = json_loadb(b->buf, b->len, 0, NULL);
	if (root == NULL)
		return NULL;
	entries = json_object_get(root, member);
	if (!json_is_array(entries) || json_array_size(entries) == 0) {
		json_decref(root);
		return NULL;
	}
	json_incref(entries);
	json_decref(root);
	return entries;
}

/* Every message succeeds.  MD5OfMessageBody is left out: cxbridge does not
 * check it, and computing it would cost the sink time for nothing.  Only
 * the DLQ path calls this, rarely, so jansson is fine here. */
static enum MHD_Result
sink_sqs_batch(struct MHD_Connection *conn, const struct sink_body *b)
{
	json_t *entries, *out, *ok, *it;
	size_t i;
	char id[SINK_ID_LEN + 1];

	entries = sink_entries(b, "Entries");
	if (entries == NULL) {
		atomic_fetch_add(&sink_stats.bad_requests, 1);
		return sink_error(conn, 400, "EmptyBatchRequest",
		    "Entries missing or empty");
	}
	out = json_pack("{s:[],s:[]}", "Successful", "Failed");
	if (out == NULL) {
		json_decref(entries);
		return MHD_NO;
	}
	ok = json_object_get(out, "Successful");
	json_array_foreach(entries, i, it) {
		const char *eid = json_string_value(json_object_get(it, "Id"));

		sink_new_id(id);
		if (json_array_append_new(ok, json_pack("{s:s,s:s}", "Id",
		    eid != NULL ? eid : "", "MessageId", id)) != 0) {
			json_decref(entries);
			json_decref(out);
			return MHD_NO;
		}
	}
	atomic_fetch_add(&sink_stats.sqs_requests, 1);
	atomic_fetch_add(&sink_stats.sqs_entries, json_array_size(entries));
	json_decref(entries);
	return sink_send_json(conn, 200, out, SINK_CTYPE);
}

static enum MHD_Result
sink_stats_answer(struct MHD_Connection *conn)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
	    "putevents_requests", (json_int_t)atomic_load(&sink_stats.put_requests),
	    "putevents_entries", (json_int_t)atomic_load(&sink_stats.put_entries),
	    "sqs_requests", (json_int_t)atomic_load(&sink_stats.sqs_requests),
	    "sqs_entries", (json_int_t)atomic_load(&sink_stats.sqs_entries),
	    "unauthorized", (json_int_t)atomic_load(&sink_stats.unauthorized),
	    "bad_requests", (json_int_t)atomic_load(&sink_stats.bad_requests));

	return sink_send_json(conn, 200, o, "application/json");
}

/* A body buffer for the request on conn: as large as its Content-Length,
 * so that a normal upload is copied once and never reallocated.  A
 * Content-Length over SINK_BODY_MAX marks it too big at once. */
static struct sink_body *
sink_body_new(struct MHD_Connection *conn)
{
	const char *cl;
	unsigned long long want = SINK_BODY_GUESS, v;
	struct sink_body *b;
	char *end;
	int too_big = 0;

	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		v = strtoull(cl, &end, 10);
		if (end != cl && *end == '\0')
			want = v;
	}
	if (want > SINK_BODY_MAX) {
		too_big = 1;
		want = 0;
	}
	b = malloc(sizeof(*b) + (size_t)want);
	if (b == NULL)
		return NULL;
	b->len = 0;
	b->cap = (size_t)want;
	b->too_big = too_big;
	return b;
}

/* Appends one upload chunk to *bp, which may move; past SINK_BODY_MAX the
 * rest is dropped and the request gets 413 once it is complete. */
static int
sink_body_append(struct sink_body **bp, const char *data, size_t len)
{
	struct sink_body *b = *bp, *nb;
	size_t ncap;

	if (b->too_big || len > SINK_BODY_MAX - b->len) {
		b->too_big = 1;
		return 0;
	}
	if (len > b->cap - b->len) {
		/* Only an upload without Content-Length, or one longer than
		 * it said, gets here. */
		ncap = b->cap < SINK_BODY_GUESS ? SINK_BODY_GUESS : b->cap;
		while (ncap - b->len < len)
			ncap *= 2;
		if (ncap > SINK_BODY_MAX)
			ncap = SINK_BODY_MAX;
		nb = realloc(b, sizeof(*b) + ncap);
		if (nb == NULL)
			return -1;
		nb->cap = ncap;
		b = nb;
		*bp = nb;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return 0;
}

static enum MHD_Result
sink_dispatch(struct MHD_Connection *conn, const struct sink_body *b)
{
	const char *auth, *target;

	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncmp(auth, SINK_AUTH_PREFIX,
	    strlen(SINK_AUTH_PREFIX)) != 0) {
		atomic_fetch_add(&sink_stats.unauthorized, 1);
		return sink_error(conn, 403, "MissingAuthenticationTokenException",
		    "no SigV4 Authorization header");
	}
	if (b->too_big)
		return sink_error(conn, 413, "RequestEntityTooLarge",
		    "body over the sink's limit");
	target = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "X-Amz-Target");
	if (target != NULL && strcmp(target, SINK_PUTEVENTS) == 0)
		return sink_putevents(conn, b);
	if (target != NULL && strcmp(target, SINK_SQS_BATCH) == 0)
		return sink_sqs_batch(conn, b);
	atomic_fetch_add(&sink_stats.bad_requests, 1);
	return sink_error(conn, 400, "UnknownOperationException",
	    "unknown X-Amz-Target");
}

static enum MHD_Result
sink_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct sink_body *b = *con_cls;

	(void)cls;
	(void)version;
	if (strcmp(method, "GET") == 0)
		return strcmp(url, "/stats") == 0 ? sink_stats_answer(conn) :
		    sink_error(conn, 404, "NotFound", "GET /stats only");
	if (strcmp(method, "POST") != 0)
		return sink_error(conn, 405, "MethodNotAllowed", "POST only");
	if (b == NULL) {
		b = sink_body_new(conn);
		if (b == NULL)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (sink_body_append(&b, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*con_cls = b;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return sink_dispatch(conn, b);
}

static void
sink_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct sink_body *b = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (b != NULL) {
		free(b);
		*con_cls = NULL;
	}
}

static int
sink_write_port(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;

	/* Written under another name and renamed, so a reader polling for the
	 * file never sees it empty. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

static struct MHD_Daemon *
sink_start(unsigned port, unsigned threads)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
	    0, NULL, NULL, sink_handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, 4096u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_NOTIFY_COMPLETED, sink_completed, NULL,
	    MHD_OPTION_END);
}

static int
sink_usage(void)
{
	fprintf(stderr, "usage: sink [-p PORT] [-t THREADS] [-f PORT_FILE]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	const char *port_file = NULL;
	unsigned long port = 0, threads = 2;
	sigset_t set;
	int opt, sig;

	while ((opt = getopt(argc, argv, "p:t:f:")) != -1) {
		if (opt == 'p')
			port = strtoul(optarg, NULL, 10);
		else if (opt == 't')
			threads = strtoul(optarg, NULL, 10);
		else if (opt == 'f')
			port_file = optarg;
		else
			return sink_usage();
	}
	if (port > 65535 || threads < 1 || threads > SINK_THREADS_MAX)
		return sink_usage();
	sink_scan_init();
	snprintf(sink_id_prefix, sizeof(sink_id_prefix),
	    "%08" PRIx32 "-5b1c-4d2e-8f3a-", (uint32_t)getpid());
	/* Blocked before the pool starts, so every thread inherits the mask
	 * and only sigwait below sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = sink_start((unsigned)port, (unsigned)threads);
	if (d == NULL) {
		fprintf(stderr, "sink: cannot listen on 127.0.0.1:%lu\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || (port_file != NULL &&
	    sink_write_port(port_file, info->port) != 0)) {
		fprintf(stderr, "sink: cannot publish the port: %s\n",
		    strerror(errno));
		MHD_stop_daemon(d);
		return 1;
	}
	fprintf(stderr, "sink: listening on 127.0.0.1:%u, %lu threads\n",
	    (unsigned)info->port, threads);
	if (sigwait(&set, &sig) != 0)
		sig = 0;
	MHD_stop_daemon(d);
	return 0;
}
