/* aws.c - signed AWS JSON-protocol calls, many in flight, over libcurl multi. */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "creds.h"
#include "log.h"
#include "sigv4.h"

/*
 * Easy handles of finished calls kept for the next ones: making one per
 * request cost more than the rest of curl's work on a PutEvents call.
 */
#define AWS_IDLE_EASY 16

struct aws_client {
	CURLM           *multi;
	long             connect_timeout_ms;
	long             request_timeout_ms;
	struct aws_call *calls;      /* in flight */
	int              n_calls;
	CURL            *idle[AWS_IDLE_EASY];
	int              n_idle;
};

int
aws_service_init(struct aws_service *svc, const char *url, const char *region,
    const char *signing_name, const char *content_type, char *err,
    size_t errlen)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL;
	int rc = -1;

	memset(svc, 0, sizeof(*svc));
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "endpoint %s is not a URL", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);   /* absent: default port */
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	if (snprintf(svc->url, sizeof(svc->url), "%s", url) >= (int)sizeof(svc->url) ||
	    snprintf(svc->host, sizeof(svc->host), "%s%s%s", host,
	    port != NULL ? ":" : "", port != NULL ? port : "") >= (int)sizeof(svc->host) ||
	    snprintf(svc->path, sizeof(svc->path), "%s",
	    path != NULL && *path != '\0' ? path : "/") >= (int)sizeof(svc->path)) {
		snprintf(err, errlen, "endpoint %s is too long", url);
		goto out;
	}
	svc->content_type = content_type;
	svc->signer = sigv4_signer_new(region, signing_name);
	if (svc->signer == NULL) {
		snprintf(err, errlen, "cannot make a signer for %s in %s",
		    signing_name, region);
		goto out;
	}
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

void
aws_service_fini(struct aws_service *svc)
{
	sigv4_signer_free(svc->signer);
	svc->signer = NULL;
}

struct aws_client *
aws_client_new(long connect_timeout_ms, long request_timeout_ms)
{
	struct aws_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->multi = curl_multi_init();
	if (c->multi == NULL) {
		free(c);
		return NULL;
	}
	/* Keep-alive connections to both endpoints, and room for the burst. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
	c->connect_timeout_ms = connect_timeout_ms;
	c->request_timeout_ms = request_timeout_ms;
	return c;
}

void
aws_call_fini(struct aws_call *call)
{
	free(call->body);
	free(call->resp);
	curl_slist_free_all(call->headers);
	call->body = call->resp = NULL;
	call->headers = NULL;
	call->resp_len = call->resp_cap = 0;
}

static void
aws_client_unlink(struct aws_client *c, struct aws_call *call)
{
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
	curl_multi_remove_handle(c->multi, call->easy);
	if (c->n_idle < AWS_IDLE_EASY)
		c->idle[c->n_idle++] = call->easy;
	else
		curl_easy_cleanup(call->easy);
	call->easy = NULL;
	c->n_calls--;
}

void
aws_client_free(struct aws_client *c)
{
	if (c == NULL)
		return;
	while (c->calls != NULL)
		aws_client_unlink(c, c->calls);
	while (c->n_idle > 0)
		curl_easy_cleanup(c->idle[--c->n_idle]);
	curl_multi_cleanup(c->multi);
	free(c);
}

static size_t
aws_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct aws_call *call = arg;
	size_t len = size * n;

	if (len > AWS_RESP_MAX - call->resp_len)
		return 0;              /* over the cap: curl fails the transfer */
	if (call->resp_len + len + 1 > call->resp_cap) {
		size_t cap = call->resp_cap == 0 ? 4096 : call->resp_cap;
		char *p;
		while (cap < call->resp_len + len + 1)
			cap *= 2;
		p = realloc(call->resp, cap);
		if (p == NULL)
			return 0;
		call->resp = p;
		call->resp_cap = cap;
	}
	memcpy(call->resp + call->resp_len, data, len);
	call->resp_len += len;
	call->resp[call->resp_len] = '\0';
	return len;
}

/* Keeps the two AWS error headers; everything else is ignored. */
static size_t
aws_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct aws_call *call = arg;
	size_t len = size * n;
	struct { const char *name; char *out; size_t outlen; } want[] = {
		{ "x-amzn-query-error:", call->query_error, sizeof(call->query_error) },
		{ "x-amzn-errortype:", call->error_type, sizeof(call->error_type) },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t nl = strlen(want[i].name), vl;
		const char *v;
		if (len <= nl || strncasecmp(data, want[i].name, nl) != 0)
			continue;
		v = data + nl;
		vl = len - nl;
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
		    v[vl - 1] == ' '))
			vl--;
		snprintf(want[i].out, want[i].outlen, "%.*s", (int)vl, v);
	}
	return len;
}

static int
aws_add_header(struct curl_slist **list, const char *name, const char *value)
{
	char line[SIGV4_AUTHORIZATION_SIZE + AWS_SESSION_TOKEN_MAX + 64];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	l = curl_slist_append(*list, line);
	if (l == NULL)
		return -1;
	*list = l;
	return 0;
}

/* The headers that are signed, and the signature's own. */
static int
aws_sign_headers(struct aws_call *call, const struct aws_credentials *creds,
    time_t now)
{
	const struct aws_service *svc = call->svc;
	struct sigv4_header h[4];
	struct sigv4_result *res;
	struct sigv4_request req;
	int rc = -1;

	res = malloc(sizeof(*res));
	if (res == NULL)
		return -1;
	h[0] = (struct sigv4_header){ "Host", svc->host };
	h[1] = (struct sigv4_header){ "Content-Type", svc->content_type };
	h[2] = (struct sigv4_header){ "X-Amz-Target", call->target };
	req = (struct sigv4_request){ .method = "POST", .path = svc->path,
	    .query = "", .headers = h, .n_headers = 3, .payload = call->body,
	    .payload_len = call->body_len };
	if (sigv4_sign(svc->signer, &req, creds, now, res) != 0)
		goto out;
	for (size_t i = 0; i < 3; i++)
		if (aws_add_header(&call->headers, h[i].name, h[i].value) != 0)
			goto out;
	if (aws_add_header(&call->headers, "X-Amz-Date", res->amz_date) != 0 ||
	    aws_add_header(&call->headers, "Authorization", res->authorization) != 0 ||
	    (res->security_token[0] != '\0' && aws_add_header(&call->headers,
	    "X-Amz-Security-Token", res->security_token) != 0) ||
	    aws_add_header(&call->headers, "Expect", "") != 0)
		goto out;
	rc = 0;
out:
	free(res);
	return rc;
}

/* Options that are the same for every request. */
static void
aws_easy_defaults(CURL *e)
{
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, aws_write_cb);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, aws_header_cb);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
}

/* An idle easy handle, or a new one, set up for this call. */
static int
aws_easy_setup(struct aws_client *c, struct aws_call *call)
{
	CURL *e;

	if (c->n_idle > 0) {
		e = c->idle[--c->n_idle];
	} else {
		e = curl_easy_init();
		if (e == NULL)
			return -1;
		aws_easy_defaults(e);
	}
	call->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, call->svc->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->request_timeout_ms);
	return 0;
}

/* Room for any ordinary answer, taken before the request goes out: once AWS
 * may have acted on a call, failing to store its answer would leave the
 * outcome unknown. */
#define AWS_RESP_INITIAL 16384

int
aws_client_submit(struct aws_client *c, struct aws_call *call,
    const struct aws_credentials *creds, time_t now)
{
	call->status = 0;
	call->curl_code = CURLE_OK;
	call->query_error[0] = call->error_type[0] = '\0';
	call->resp_len = 0;
	if (call->resp_cap < AWS_RESP_INITIAL) {
		char *p = realloc(call->resp, AWS_RESP_INITIAL);
		if (p == NULL)
			return -1;
		call->resp = p;
		call->resp_cap = AWS_RESP_INITIAL;
	}
	call->resp[0] = '\0';
	if (aws_sign_headers(call, creds, now) != 0 ||
	    aws_easy_setup(c, call) != 0)
		goto fail;
	if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK)
		goto fail;
	call->started_us = clock_mono_us();
	call->prev = NULL;
	call->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = call;
	c->calls = call;
	c->n_calls++;
	return 0;
fail:
	curl_easy_cleanup(call->easy);
	call->easy = NULL;
	curl_slist_free_all(call->headers);
	call->headers = NULL;
	return -1;
}

static void
aws_client_finish(struct aws_client *c, CURLMsg *msg)
{
	struct aws_call *call = NULL;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
	if (call == NULL)
		return;
	call->curl_code = msg->data.result;
	if (call->curl_code == CURLE_OK)
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &call->status);
	else
		call->status = 0;
	call->seconds = (double)(clock_mono_us() - call->started_us) / 1e6;
	aws_client_unlink(c, call);
	curl_slist_free_all(call->headers);
	call->headers = NULL;
	call->done(call, call->arg);
}

static void
aws_client_reap(struct aws_client *c)
{
	int running = 0, queued = 0;
	CURLMsg *msg;

	curl_multi_perform(c->multi, &running);
	for (msg = curl_multi_info_read(c->multi, &queued); msg != NULL;
	    msg = curl_multi_info_read(c->multi, &queued))
		if (msg->msg == CURLMSG_DONE)
			aws_client_finish(c, msg);
}

int
aws_client_run(struct aws_client *c, int timeout_ms)
{
	aws_client_reap(c);
	if (timeout_ms > 0)
		curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
	aws_client_reap(c);
	return c->n_calls;
}

void
aws_client_abort(struct aws_client *c, const struct aws_service *svc)
{
	struct aws_call *call = c->calls, *next;

	for (; call != NULL; call = next) {
		next = call->next;
		if (call->svc != svc)
			continue;
		aws_client_unlink(c, call);
		curl_slist_free_all(call->headers);
		call->headers = NULL;
		call->status = 0;
		call->curl_code = CURLE_ABORTED_BY_CALLBACK;
		call->seconds = (double)(clock_mono_us() - call->started_us) / 1e6;
		call->done(call, call->arg);
	}
}

void
aws_client_wakeup(struct aws_client *c)
{
	curl_multi_wakeup(c->multi);
}
