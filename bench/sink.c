/* sink.c - benchmark stand-in for EventBridge PutEvents and SQS SendMessageBatch. */
/*
 * Not a test double: it answers every well-formed call with success as fast
 * as it can and counts what it got, so that a benchmark measures cxbridge and
 * not the fake AWS.  It checks only that an Authorization header of the
 * SigV4 shape is present; tests/standin/ is the one that verifies signatures.
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

/* Request bodies over this are refused with 413: cxbridge's PutEvents and
 * SendMessageBatch bodies are at most 10 entries of 256 KiB plus framing. */
#define SINK_BODY_MAX    ((size_t)4 * 1024 * 1024)
#define SINK_THREADS_MAX 64
#define SINK_AUTH_PREFIX "AWS4-HMAC-SHA256 Credential="
#define SINK_PUTEVENTS   "AWSEvents.PutEvents"
#define SINK_SQS_BATCH   "AmazonSQS.SendMessageBatch"

struct sink_stats {
	atomic_uint_fast64_t put_requests;
	atomic_uint_fast64_t put_entries;
	atomic_uint_fast64_t sqs_requests;
	atomic_uint_fast64_t sqs_entries;
	atomic_uint_fast64_t unauthorized;
	atomic_uint_fast64_t bad_requests;
	atomic_uint_fast64_t ids;          /* source of EventIds and MessageIds */
};

/* One request's body as it arrives. */
struct sink_body {
	char   *buf;
	size_t  len, cap;
	int     too_big;
};

static struct sink_stats sink_stats;

static enum MHD_Result
sink_send(struct MHD_Connection *conn, unsigned status, char *text,
    const char *ctype)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
sink_send_json(struct MHD_Connection *conn, unsigned status, json_t *o)
{
	char *text;

	if (o == NULL)
		return MHD_NO;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	return sink_send(conn, status, text, "application/x-amz-json-1.1");
}

/* An AWS JSON-protocol error, the shape cxbridge's aws_error_parse reads. */
static enum MHD_Result
sink_error(struct MHD_Connection *conn, unsigned status, const char *type,
    const char *message)
{
	return sink_send_json(conn, status, json_pack("{s:s,s:s}", "__type",
	    type, "message", message));
}

/* A unique id in the 8-4-4-4-12 shape, like the ones AWS hands out. */
static void
sink_new_id(char *out, size_t size)
{
	uint64_t n = atomic_fetch_add(&sink_stats.ids, 1) + 1;

	snprintf(out, size, "%08" PRIx32 "-5b1c-4d2e-8f3a-%012" PRIx64,
	    (uint32_t)getpid(), (uint64_t)(n & 0xffffffffffffULL));
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

static enum MHD_Result
sink_putevents(struct MHD_Connection *conn, const struct sink_body *b)
{
	json_t *entries, *out, *list;
	size_t n;
	char id[48];

	entries = sink_entries(b, "Entries");
	if (entries == NULL) {
		atomic_fetch_add(&sink_stats.bad_requests, 1);
		return sink_error(conn, 400, "ValidationException",
		    "Entries missing or empty");
	}
	n = json_array_size(entries);
	json_decref(entries);
	out = json_pack("{s:i,s:[]}", "FailedEntryCount", 0, "Entries");
	if (out == NULL)
		return MHD_NO;
	list = json_object_get(out, "Entries");
	for (size_t i = 0; i < n; i++) {
		sink_new_id(id, sizeof(id));
		if (json_array_append_new(list, json_pack("{s:s}", "EventId",
		    id)) != 0) {
			json_decref(out);
			return MHD_NO;
		}
	}
	atomic_fetch_add(&sink_stats.put_requests, 1);
	atomic_fetch_add(&sink_stats.put_entries, n);
	return sink_send_json(conn, 200, out);
}

/* Every message succeeds.  MD5OfMessageBody is left out: cxbridge does not
 * check it, and computing it would cost the sink time for nothing. */
static enum MHD_Result
sink_sqs_batch(struct MHD_Connection *conn, const struct sink_body *b)
{
	json_t *entries, *out, *ok, *it;
	size_t i;
	char id[48];

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

		sink_new_id(id, sizeof(id));
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
	return sink_send_json(conn, 200, out);
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
	char *text;

	if (o == NULL)
		return MHD_NO;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	return sink_send(conn, 200, text, "application/json");
}

/* Appends one upload chunk; past SINK_BODY_MAX the rest is dropped and the
 * request gets 413 once it is complete. */
static int
sink_body_append(struct sink_body *b, const char *data, size_t len)
{
	char *nb;
	size_t ncap;

	if (b->too_big || len > SINK_BODY_MAX - b->len) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		ncap = b->cap == 0 ? 4096 : b->cap;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		nb = realloc(b->buf, ncap);
		if (nb == NULL)
			return -1;
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
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
		b = calloc(1, sizeof(*b));
		if (b == NULL)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (sink_body_append(b, upload_data, *upload_data_size) != 0)
			return MHD_NO;
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
		free(b->buf);
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
