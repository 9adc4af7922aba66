/* http.h - the HTTP listener: routes, limits, suspend/resume of waiting webhooks. */
#ifndef CXB_HTTP_H
#define CXB_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct ingest;
struct stats;

struct http_config {
	const char *listen;            /* "host:port"; port 0 picks one */
	const char *webhook_path;
	size_t      max_body_bytes;
	size_t      max_header_bytes;
	unsigned    max_connections;
	unsigned    idle_timeout_s;
	unsigned    threads;
	unsigned    retry_after_s;
	int         listen_fd;         /* a bound, listening socket (systemd
	                                * socket activation), or -1 to bind */
};

/* What the probes ask of the rest of the daemon.  Called from HTTP threads. */
struct http_probes {
	int   (*healthy)(void *arg);             /* 1 = alive */
	int   (*ready)(void *arg, const char **why); /* 1 = can take traffic */
	char *(*metrics)(void *arg, size_t *len);    /* malloc'd exposition */
	void   *arg;
};

/* Borrows everything given.  NULL on error (logged). */
struct http *http_new(const struct http_config *cfg, struct ingest *ingest,
    const struct http_probes *probes, struct stats *stats);

/* Binds and starts the worker threads.  0 or -1 (logged). */
int      http_start(struct http *h);
uint16_t http_port(const struct http *h);

/* Writes the URL of this listener's /health as a local client reaches it
 * (a wildcard address becomes loopback).  0, or -1. */
int      http_health_url(const struct http *h, char *out, size_t outlen);

/* Webhook requests between their first byte and their answer's completion. */
unsigned http_active(const struct http *h);

/* Stops accepting connections; requests in progress go on. */
void     http_quiesce(struct http *h);

/* Stops the threads and closes every connection.  NULL ok. */
void     http_free(struct http *h);

#endif
