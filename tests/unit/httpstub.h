/* httpstub.h - a tiny HTTP/1.1 server on 127.0.0.1 for unit tests: one thread, one request per connection, answers from a callback. */
#ifndef CXB_HTTPSTUB_H
#define CXB_HTTPSTUB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTPSTUB_HEAD_MAX 8192
#define HTTPSTUB_BODY_MAX (128 * 1024)
#define HTTPSTUB_KEEP     32          /* requests remembered */

/* One request as received. */
struct httpstub_req {
	char   method[16];
	char   path[1024];
	char   head[HTTPSTUB_HEAD_MAX];   /* the header lines, raw */
	char   body[HTTPSTUB_BODY_MAX + 1];
	size_t body_len;
};

/* The answer the callback fills: status, body (NUL-terminated, or
 * body_len bytes when set) and extra header lines ("Name: v\r\n"...). */
struct httpstub_resp {
	int    status;
	char   body[HTTPSTUB_BODY_MAX + 1];
	size_t body_len;
	char   headers[1024];
	int    delay_ms;                 /* sleep before answering */
};

typedef void httpstub_fn(const struct httpstub_req *req,
    struct httpstub_resp *resp, void *arg);

struct httpstub {
	int                  fd;
	unsigned             port;
	char                 url[64];    /* http://127.0.0.1:PORT */
	pthread_t            thread;
	atomic_int           stop;
	httpstub_fn         *fn;
	void                *arg;
	pthread_mutex_t      mu;
	unsigned             n;          /* requests answered */
	struct httpstub_req *kept;       /* the first HTTPSTUB_KEEP */
};

/* The value of header `name` (any case) in req, into out; NULL if absent. */
static inline const char *
httpstub_header(const struct httpstub_req *req, const char *name, char *out,
    size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = req->head; *p != '\0'; ) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(len - (size_t)(v - p)), v);
			return out;
		}
		p = eol != NULL ? eol + 2 : p + len;
	}
	return NULL;
}

/* Reads one request: the head up to CRLFCRLF, then Content-Length bytes. */
static inline int
httpstub_read(int c, struct httpstub_req *req)
{
	static char buf[HTTPSTUB_HEAD_MAX + HTTPSTUB_BODY_MAX];
	size_t got = 0, need = 0;
	char *end = NULL, cl[32];

	memset(req, 0, sizeof(*req));
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (end == NULL)
			end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		if (need == 0) {
			char *line = strstr(buf, "\r\n");

			if (sscanf(buf, "%15s %1023s", req->method, req->path) != 2)
				return -1;
			snprintf(req->head, sizeof(req->head), "%.*s",
			    (int)(end + 2 - (line + 2)), line + 2);
			need = (size_t)(end + 4 - buf);
			if (httpstub_header(req, "Content-Length", cl, sizeof(cl)))
				need += (size_t)strtoul(cl, NULL, 10);
		}
		if (got >= need)
			break;
	}
	req->body_len = got - (size_t)(end + 4 - buf);
	if (req->body_len > HTTPSTUB_BODY_MAX)
		return -1;
	memcpy(req->body, end + 4, req->body_len);
	return 0;
}

static inline void
httpstub_answer(int c, struct httpstub_resp *resp)
{
	static char head[2048];
	size_t blen = resp->body_len ? resp->body_len : strlen(resp->body);
	int n;

	if (resp->delay_ms > 0) {
		struct timespec ts = { resp->delay_ms / 1000,
		    (long)(resp->delay_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n%s\r\n", resp->status, blen, resp->headers);
	if (write(c, head, (size_t)n) != n || write(c, resp->body, blen) < 0)
		return;
}

static inline void *
httpstub_main(void *arg)
{
	struct httpstub *s = arg;
	static struct httpstub_req req;
	static struct httpstub_resp resp;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { s->fd, POLLIN, 0 };
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (httpstub_read(c, &req) == 0) {
			memset(&resp, 0, sizeof(resp));
			resp.status = 404;
			pthread_mutex_lock(&s->mu);
			if (s->n < HTTPSTUB_KEEP)
				s->kept[s->n] = req;
			s->n++;
			pthread_mutex_unlock(&s->mu);
			s->fn(&req, &resp, s->arg);
			httpstub_answer(c, &resp);
		}
		close(c);
	}
	return NULL;
}

static inline int
httpstub_start(struct httpstub *s, httpstub_fn *fn, void *arg)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->fn = fn;
	s->arg = arg;
	s->kept = calloc(HTTPSTUB_KEEP, sizeof(*s->kept));
	pthread_mutex_init(&s->mu, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s->kept == NULL || s->fd < 0 ||
	    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->fd, 16) != 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
	return pthread_create(&s->thread, NULL, httpstub_main, s) == 0 ? 0 : -1;
}

static inline void
httpstub_stop(struct httpstub *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	free(s->kept);
	pthread_mutex_destroy(&s->mu);
}

/* Requests answered so far. */
static inline unsigned
httpstub_count(struct httpstub *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Request i (0-based, below HTTPSTUB_KEEP), copied into out. */
static inline void
httpstub_request(struct httpstub *s, unsigned i, struct httpstub_req *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->kept[i < HTTPSTUB_KEEP ? i : 0];
	pthread_mutex_unlock(&s->mu);
}

#endif
