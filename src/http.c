/* http.c - the HTTP listener: routes, limits, suspend/resume of waiting webhooks. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "stats.h"

/* A body over the limit is read and dropped up to this much more, so the
 * client can get its 413; past that the connection is simply closed. */
#define HTTP_DISCARD_MAX ((size_t)1024 * 1024)

/* A connection keeps a body buffer up to this size for its next request. */
#define HTTP_BODY_KEEP ((size_t)8 * 1024)

/* The first buffer follows Content-Length up to this size; more is only
 * allocated as the bytes arrive. */
#define HTTP_BODY_TRUST ((size_t)64 * 1024)

/* A body of unknown length starts with this much room. */
#define HTTP_BODY_FIRST ((size_t)4096)

enum conn_state { CONN_READING, CONN_WAITING, CONN_ANSWERED };

struct http {
	struct http_config  cfg;
	struct http_probes  probes;
	struct ingest      *ingest;
	struct stats       *stats;
	struct MHD_Daemon  *mhd;
	struct sockaddr_storage addr;
	uint16_t            port;
	atomic_uint         active;        /* webhook requests in progress */
};

/* Per-request state: lives from the first handler call to completion. */
struct http_conn {
	struct ingest_ticket    ticket;    /* first: found from the ticket */
	struct MHD_Connection  *conn;
	struct http            *h;
	enum conn_state         state;
	bool                    too_big;
	bool                    no_memory;   /* body buffer could not grow */
	size_t                  discarded;
	size_t                  expected;    /* Content-Length, 0 if none */
	char                   *body;
	size_t                  len, cap;
};

static enum MHD_Result
http_send(struct http *h, struct MHD_Connection *conn, enum stats_path path,
    int status, const char *body, size_t len, const char *ctype,
    unsigned retry_after_s)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char ra[16];

	/* MUST_COPY: MHD copies the bytes, so the const is never written through
	 * (0.9.75 has no const-taking variant yet). */
	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (retry_after_s > 0) {
		snprintf(ra, sizeof(ra), "%u", retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	/* Allow names what this resource takes (RFC 9110 15.5.6). */
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    path == STATS_PATH_WEBHOOK ? "POST" : "GET, HEAD");
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	stats_http_request(h->stats, path, status);
	return ret;
}

static enum MHD_Result
http_send_answer(struct http *h, struct MHD_Connection *conn,
    enum stats_path path, const struct ingest_answer *a)
{
	return http_send(h, conn, path, a->status, a->body, a->body_len,
	    "application/json", a->retry_after_s);
}

static enum MHD_Result
http_send_error(struct http *h, struct MHD_Connection *conn,
    enum stats_path path, int status, const char *code, const char *message)
{
	struct ingest_answer a;

	ingest_answer_error(&a, status, code, message,
	    status == 503 || status == 429 ? h->cfg.retry_after_s : 0);
	return http_send_answer(h, conn, path, &a);
}

/* A webhook refused before the pipeline: counted as a rejected event. */
static enum MHD_Result
http_refuse(struct http *h, struct MHD_Connection *conn, int status,
    const char *code, const char *message)
{
	stats_rejected(h->stats, code);
	return http_send_error(h, conn, STATS_PATH_WEBHOOK, status, code, message);
}

static enum stats_path
http_probe_kind(const char *url)
{
	if (strcmp(url, "/health") == 0)
		return STATS_PATH_HEALTH;
	if (strcmp(url, "/ready") == 0)
		return STATS_PATH_READY;
	if (strcmp(url, "/metrics") == 0)
		return STATS_PATH_METRICS;
	return STATS_PATH_OTHER;
}

static enum MHD_Result
http_probe(struct http *h, struct MHD_Connection *conn, const char *url)
{
	enum stats_path kind = http_probe_kind(url);
	const char *why = "ready";
	enum MHD_Result ret;
	char *text;
	size_t len;

	if (strcmp(url, "/health") == 0) {
		if (h->probes.healthy(h->probes.arg))
			return http_send(h, conn, kind, 200, "{\"status\":\"ok\"}\n", 16,
			    "application/json", 0);
		return http_send_error(h, conn, kind, 503, "unhealthy",
		    "a worker thread is stuck");
	}
	if (strcmp(url, "/ready") == 0) {
		if (h->probes.ready(h->probes.arg, &why))
			return http_send(h, conn, kind, 200, "{\"status\":\"ready\"}\n",
			    19, "application/json", 0);
		return http_send_error(h, conn, kind, 503, "not_ready", why);
	}
	text = h->probes.metrics(h->probes.arg, &len);
	if (text == NULL)
		return http_send_error(h, conn, kind, 503, "internal", "out of memory");
	ret = http_send(h, conn, kind, 200, text, len,
	    "text/plain; version=0.0.4; charset=utf-8", 0);
	free(text);
	return ret;
}

static bool
http_is_probe(const char *url)
{
	return http_probe_kind(url) != STATS_PATH_OTHER;
}

/* application/json, optionally with parameters; also application/x+json. */
static bool
http_json_type(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return false;
	n = strcspn(ct, "; \t");
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	    strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static void
http_wake(struct ingest_ticket *t)
{
	struct http_conn *c = (struct http_conn *)t;

	MHD_resume_connection(c->conn);
}

/* First call for a webhook: method, type and declared length, before any body. */
static enum MHD_Result
http_webhook_begin(struct http *h, struct http_conn *c, const char *method)
{
	const char *ct, *cl;

	c->state = CONN_ANSWERED;   /* until every check has passed */
	if (strcmp(method, "POST") != 0)
		return http_send_error(h, c->conn, STATS_PATH_WEBHOOK, 405, "method",
		    "use POST for webhooks");
	ct = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!http_json_type(ct))
		return http_refuse(h, c->conn, 415, "content_type",
		    "Content-Type must be application/json");
	cl = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	c->expected = cl == NULL ? 0 : strtoull(cl, NULL, 10);
	if (c->expected > h->cfg.max_body_bytes)
		return http_refuse(h, c->conn, 413, "too_large",
		    "body is over the size limit");
	c->ticket.wake = http_wake;
	c->state = CONN_READING;
	return MHD_YES;
}

static int
http_body_append(struct http *h, struct http_conn *c, const char *data,
    size_t n)
{
	if (c->too_big || n > h->cfg.max_body_bytes - c->len) {
		c->too_big = true;
		c->discarded += n;
		return c->discarded > HTTP_DISCARD_MAX ? -1 : 0;
	}
	if (c->len + n > c->cap) {
		/* The declared length first (MHD holds the body to it), so a
		 * small event fits one small block; a large declared length is
		 * not trusted with more than HTTP_BODY_TRUST before it arrives. */
		size_t cap = c->cap > 0 ? c->cap * 2 : c->expected > 0 ?
		    c->expected : HTTP_BODY_FIRST;

		if (c->cap == 0 && cap > HTTP_BODY_TRUST)
			cap = HTTP_BODY_TRUST;
		char *p;
		while (cap < c->len + n)
			cap *= 2;
		if (cap > h->cfg.max_body_bytes)
			cap = h->cfg.max_body_bytes;
		p = realloc(c->body, cap);
		if (p == NULL) {
			/* Drain the rest and answer 503: the sender keeps it. */
			c->no_memory = true;
			c->too_big = true;
			c->discarded += n;
			return 0;
		}
		c->body = p;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, n);
	c->len += n;
	return 0;
}

static const char *
http_header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* X-Amzn-Trace-Id becomes PutEvents' TraceHeader, which AWS limits to 1-500
 * characters: one it would refuse is dropped, not the event with it. */
#define TRACE_HEADER_MAX 500

static const char *
http_trace_header(struct MHD_Connection *conn)
{
	const char *t = http_header(conn, "X-Amzn-Trace-Id");

	if (t == NULL || *t == '\0' || strlen(t) > TRACE_HEADER_MAX)
		return NULL;
	return t;
}

/* The whole body is in: run the pipeline, answer now or park the request. */
static enum MHD_Result
http_webhook_end(struct http *h, struct http_conn *c)
{
	struct ingest_request req = {
		.authorization = http_header(c->conn, MHD_HTTP_HEADER_AUTHORIZATION),
		.webhook_id = http_header(c->conn, "webhook-id"),
		.webhook_timestamp = http_header(c->conn, "webhook-timestamp"),
		.webhook_signature = http_header(c->conn, "webhook-signature"),
		.trace = http_trace_header(c->conn),
		.body = c->body == NULL ? "" : c->body,
		.body_len = c->len,
	};

	if (c->no_memory)
		return http_refuse(h, c->conn, 503, "internal", "out of memory");
	if (c->too_big)
		return http_refuse(h, c->conn, 413, "too_large",
		    "body is over the size limit");
	c->state = CONN_WAITING;
	if (ingest_submit(h->ingest, &req, &c->ticket) == INGEST_DONE) {
		c->state = CONN_ANSWERED;
		return http_send_answer(h, c->conn, STATS_PATH_WEBHOOK, &c->ticket.answer);
	}
	MHD_suspend_connection(c->conn);
	if (ingest_ticket_park(&c->ticket))
		MHD_resume_connection(c->conn);
	return MHD_YES;
}

/* Marks requests answered on their first call: later calls only drain the body. */
static char http_answered_early;

static enum MHD_Result
http_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	size_t *total = cls;

	(void)kind;
	*total += strlen(key) + (value == NULL ? 0 : strlen(value)) + 4;
	return MHD_YES;
}

/* Request line plus headers, as they came: [server] max_header_bytes. */
static size_t
http_head_size(struct MHD_Connection *conn, const char *url, const char *method)
{
	size_t total = strlen(method) + strlen(url) + 12;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, http_header_bytes, &total);
	return total;
}

/* The connection's state, made when MHD accepted it (http_notify). */
static struct http_conn *
http_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci == NULL ? NULL : ci->socket_context;
}

/* Ready for the connection's next request; the body buffer is kept. */
static void
http_conn_reset(struct http_conn *c)
{
	c->ticket.waiter.next = NULL;
	c->too_big = false;
	c->no_memory = false;
	c->discarded = 0;
	c->expected = 0;
	c->len = 0;
}

static enum MHD_Result
http_first_call(struct http *h, struct MHD_Connection *conn, const char *url,
    const char *method, void **con_cls)
{
	struct http_conn *c;
	enum MHD_Result ret;

	*con_cls = &http_answered_early;
	if (http_head_size(conn, url, method) > h->cfg.max_header_bytes)
		return http_send_error(h, conn, STATS_PATH_OTHER, 431,
		    "headers_too_large", "request line and headers are over "
		    "the size limit");
	if (http_is_probe(url)) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return http_send_error(h, conn, http_probe_kind(url), 405, "method",
			    "use GET for probes");
		return http_probe(h, conn, url);
	}
	if (strcmp(url, h->cfg.webhook_path) != 0)
		return http_send_error(h, conn, STATS_PATH_OTHER, 404, "not_found", "no such path");
	c = http_conn_of(conn);
	if (c == NULL)
		return http_send_error(h, conn, STATS_PATH_WEBHOOK, 503, "internal", "out of memory");
	http_conn_reset(c);
	ret = http_webhook_begin(h, c, method);
	if (c->state != CONN_ANSWERED) {
		atomic_fetch_add(&h->active, 1);
		*con_cls = c;
	}
	return ret;
}

static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct http_conn *c = *con_cls;
	int rc;

	(void)version;
	if (c == NULL)
		return http_first_call(h, conn, url, method, con_cls);
	if ((void *)c == &http_answered_early || c->state == CONN_ANSWERED) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (c->state == CONN_WAITING) {
		c->state = CONN_ANSWERED;
		return http_send_answer(h, conn, STATS_PATH_WEBHOOK, &c->ticket.answer);
	}
	if (*upload_data_size == 0)
		return http_webhook_end(h, c);
	rc = http_body_append(h, c, upload_data, *upload_data_size);
	*upload_data_size = 0;
	return rc == 0 ? MHD_YES : MHD_NO;
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_conn *c = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (c == NULL || (void *)c == &http_answered_early)
		return;
	atomic_fetch_sub(&c->h->active, 1);
	if (c->cap > HTTP_BODY_KEEP) {
		free(c->body);
		c->body = NULL;
		c->cap = 0;
	}
	*con_cls = NULL;
}

/*
 * Per-connection state, made when MHD accepts a connection and freed when
 * it closes, so the requests of a keep-alive connection reuse it and its
 * body buffer: a calloc of over 1 KiB per request showed in the profile.
 * A request completes (http_completed) before its connection closes, and
 * MHD never closes a suspended connection.
 */
static void
http_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http_conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		c = calloc(1, sizeof(*c));
		if (c != NULL) {
			c->conn = conn;
			c->h = cls;
		}
		*socket_context = c;   /* NULL: its webhooks get a 503 */
		return;
	}
	c = *socket_context;
	if (c != NULL)
		free(c->body);
	free(c);
	*socket_context = NULL;
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_msg(LOGL_WARN, "http: %s", msg);
}

/* "host:port" or "[v6]:port" into h->addr. */
static int
http_resolve(struct http *h)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE,
	    .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[256];
	const char *port = strrchr(h->cfg.listen, ':');
	size_t hl;
	int rc;

	if (port == NULL || port == h->cfg.listen)
		goto bad;
	hl = (size_t)(port - h->cfg.listen);
	if (h->cfg.listen[0] == '[' && hl > 2 && port[-1] == ']') {
		memcpy(host, h->cfg.listen + 1, hl - 2);
		host[hl - 2] = '\0';
	} else if (hl < sizeof(host)) {
		memcpy(host, h->cfg.listen, hl);
		host[hl] = '\0';
	} else {
		goto bad;
	}
	rc = getaddrinfo(host, port + 1, &hints, &res);
	if (rc != 0) {
		log_errorx("http: listen %s: %s", h->cfg.listen, gai_strerror(rc));
		return -1;
	}
	memcpy(&h->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
bad:
	log_errorx("http: listen %s: expected host:port", h->cfg.listen);
	return -1;
}

struct http *
http_new(const struct http_config *cfg, struct ingest *ingest,
    const struct http_probes *probes, struct stats *stats)
{
	struct http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->cfg = *cfg;
	h->probes = *probes;
	h->ingest = ingest;
	h->stats = stats;
	if (cfg->listen_fd < 0 && http_resolve(h) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

int
http_start(struct http *h)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	/* The pool holds the head and the read buffer; the head's own limit is
	 * checked exactly in http_first_call. */
	size_t mem = h->cfg.max_header_bytes + 8192;
	/* Options shared by both ways of getting the listening socket. */
	struct MHD_OptionItem common[] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)h->cfg.threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->cfg.max_connections, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->cfg.idle_timeout_s, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem, NULL },
		{ MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, h },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_notify, h },
		{ MHD_OPTION_END, 0, NULL },
	};
	const union MHD_DaemonInfo *info;

	if (h->cfg.listen_fd >= 0)
		h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, h,
		    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
		    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->cfg.listen_fd,
		    MHD_OPTION_ARRAY, common, MHD_OPTION_END);
	else
		h->mhd = MHD_start_daemon(flags | (h->addr.ss_family == AF_INET6 ?
		    MHD_USE_IPv6 : 0), 0, NULL, NULL, http_handler, h,
		    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
		    MHD_OPTION_ARRAY, common, MHD_OPTION_END);
	if (h->mhd == NULL) {
		log_errorx("http: cannot listen on %s", h->cfg.listen_fd >= 0 ?
		    "the socket systemd passed" : h->cfg.listen);
		return -1;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info == NULL ? 0 : info->port;
	return 0;
}

uint16_t
http_port(const struct http *h)
{
	return h->port;
}

int
http_health_url(const struct http *h, char *out, size_t outlen)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int n;

	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	if (info == NULL || getsockname(info->listen_fd, (struct sockaddr *)&ss,
	    &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		n = snprintf(out, outlen, "http://%s:%u/health", host,
		    ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		n = snprintf(out, outlen, "http://[%s]:%u/health", host,
		    ntohs(in6->sin6_port));
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

unsigned
http_active(const struct http *h)
{
	return atomic_load(&((struct http *)h)->active);
}

void
http_quiesce(struct http *h)
{
	MHD_socket fd;

	if (h == NULL || h->mhd == NULL)
		return;
	fd = MHD_quiesce_daemon(h->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->mhd != NULL)
		MHD_stop_daemon(h->mhd);
	free(h);
}
