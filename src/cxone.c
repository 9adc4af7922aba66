/* cxone.c - CXone REST client: OAuth 2.0 client credentials with a token cache, and the webhooks API. */
#include "cxone.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* An Authorization line: "Authorization: Bearer " + the token. */
#define CXONE_AUTH_LINE_MAX (CXONE_TOKEN_MAX + 64)
/* Form-encoding may triple a byte. */
#define CXONE_ENC_MAX       (3 * CXONE_SECRET_MAX + 1)
/* Text of a CXone error answer kept for a message. */
#define CXONE_ERRTEXT_MAX   200

struct cxone {
	char               *token_url;
	char               *webhooks_url;
	char               *client_id;
	char               *client_secret;      /* wiped at free */
	char               *scopes;
	enum cxone_token_auth token_auth;
	long                timeout_ms;
	unsigned            max_retry_after_s;
	cxone_transport_fn *transport;
	void               *transport_arg;
	uint64_t          (*clock_ms)(void *arg);
	void              (*sleep_ms)(void *arg, uint64_t ms);
	void               *clock_arg;

	struct cxone_token  token;              /* wiped at free */
	bool                have_token;
	unsigned            token_fetches;
	unsigned            api_requests;
};

static int cxone_curl(void *arg, const struct cxone_http_request *req,
    struct cxone_http_response *resp, char *err, size_t errlen);

static void
cxone_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cxone_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t
cxone_default_clock(void *arg)
{
	(void)arg;
	return clock_mono_ms();
}

static void
cxone_default_sleep(void *arg, uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	(void)arg;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
cxone_free_string(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void
cxone_response_fini(struct cxone_http_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- small pure pieces ------------------------------------------------ */

int
cxone_form_encode(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '*';

		if (n + 4 > outlen)
			return -1;
		if (keep) {
			out[n++] = (char)c;
		} else if (c == ' ') {
			out[n++] = '+';
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= outlen)
		return -1;
	out[n] = '\0';
	return (int)n;
}

uint64_t
cxone_refresh_ahead_ms(uint64_t lifetime_ms)
{
	uint64_t ahead = lifetime_ms / 10;

	return ahead > CXONE_REFRESH_AHEAD_MAX_MS ? CXONE_REFRESH_AHEAD_MAX_MS :
	    ahead;
}

static bool
cxone_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

int
cxone_token_parse(const char *body, size_t len, uint64_t now_ms,
    struct cxone_token *out, char *err, size_t errlen)
{
	json_t *root = NULL, *exp;
	const char *tok, *type;
	json_int_t secs = CXONE_DEFAULT_EXPIRES_S;
	uint64_t life;

	OPENSSL_cleanse(out, sizeof(*out));
	if (body != NULL && len <= CXONE_RESP_MAX)
		root = json_loadb(body, len, 0, NULL);
	tok = json_string_value(json_object_get(root, "access_token"));
	type = json_string_value(json_object_get(root, "token_type"));
	exp = json_object_get(root, "expires_in");
	if (!json_is_object(root) || tok == NULL || tok[0] == '\0' ||
	    strlen(tok) > CXONE_TOKEN_MAX || !cxone_printable(tok)) {
		cxone_err(err, errlen, "the token answer has no usable "
		    "access_token (1..%d printable bytes)", CXONE_TOKEN_MAX);
		goto fail;
	}
	if (json_object_get(root, "token_type") != NULL &&
	    (type == NULL || strcasecmp(type, "Bearer") != 0)) {
		cxone_err(err, errlen, "the token answer's token_type is not "
		    "Bearer");
		goto fail;
	}
	if (exp != NULL && !json_is_null(exp)) {
		/* Some servers send the number as a string. */
		if (json_is_integer(exp))
			secs = json_integer_value(exp);
		else if (json_is_string(exp))
			secs = strtoll(json_string_value(exp), NULL, 10);
		else
			secs = 0;
		if (secs <= 0) {
			cxone_err(err, errlen, "the token answer's expires_in "
			    "is not a positive number of seconds");
			goto fail;
		}
	}
	if (secs > CXONE_MAX_EXPIRES_S)
		secs = CXONE_MAX_EXPIRES_S;
	life = (uint64_t)secs * 1000;
	snprintf(out->access_token, sizeof(out->access_token), "%s", tok);
	out->expires_ms = now_ms + life;
	out->refresh_ms = out->expires_ms - cxone_refresh_ahead_ms(life);
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	OPENSSL_cleanse(out, sizeof(*out));
	return -1;
}

int
cxone_retry_after(const char *value, time_t now, uint64_t *seconds)
{
	size_t n;
	struct tm tm;
	const char *end;
	time_t when;

	if (value == NULL)
		return -1;
	value += strspn(value, " \t");
	n = strspn(value, "0123456789");
	if (n > 0 && value[n + strspn(value + n, " \t")] == '\0') {
		/* More than 9 digits is years: clamp rather than overflow. */
		*seconds = n > 9 ? UINT32_MAX : strtoull(value, NULL, 10);
		return 0;
	}
	/* IMF-fixdate, the form RFC 9110 says senders use. */
	memset(&tm, 0, sizeof(tm));
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (n > 0 || end == NULL || end[strspn(end, " \t")] != '\0')
		return -1;
	when = timegm(&tm);
	if (when == (time_t)-1)
		return -1;
	*seconds = when <= now ? 0 : (uint64_t)(when - now);
	return 0;
}

int
cxone_url_allowed(const char *url, char *err, size_t errlen)
{
	static const char *const loopback[] = { "127.0.0.1", "[::1]",
	    "localhost" };
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (u == NULL || strlen(url) > CXONE_URL_MAX ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		cxone_err(err, errlen, "\"%s\" is not a URL", url);
		goto out;
	}
	if (strcmp(scheme, "https") == 0) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; strcmp(scheme, "http") == 0 &&
	    i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (strcasecmp(host, loopback[i]) == 0)
			rc = 0;
	if (rc != 0)
		cxone_err(err, errlen, "\"%s\": credentials go only over "
		    "https:// (http:// is allowed to a loopback host, for tests)",
		    url);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int
cxone_webhook_id(const json_t *webhook, char *out, size_t outlen)
{
	json_t *id = json_object_get(webhook, "id");
	int n;

	if (json_is_string(id))
		n = snprintf(out, outlen, "%s", json_string_value(id));
	else if (json_is_integer(id))
		n = snprintf(out, outlen, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(id));
	else
		return -1;
	return n > 0 && (size_t)n < outlen && cxone_printable(out) ? 0 : -1;
}

/* Reads the whole file (at most CXONE_SECRET_FILE_MAX bytes) into buf. */
static int
cxone_slurp(const char *file, char *buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	size_t n = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd == -1) {
		cxone_err(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cxone_err(err, errlen, "%s: not a regular file", file);
		close(fd);
		return -1;
	}
	while (n <= (size_t)CXONE_SECRET_FILE_MAX) {
		ssize_t r = read(fd, buf + n, CXONE_SECRET_FILE_MAX + 1 - n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			cxone_err(err, errlen, "%s: %s", file, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > (size_t)CXONE_SECRET_FILE_MAX) {
		cxone_err(err, errlen, "%s: larger than %d bytes", file,
		    CXONE_SECRET_FILE_MAX);
		return -1;
	}
	*len = n;
	return 0;
}

/* The first secret line of buf; 1 if found, 0 if none, -1 if refused. */
static int
cxone_first_line(const char *file, const char *buf, size_t len, char *out,
    size_t outlen, char *err, size_t errlen)
{
	unsigned line = 0;

	for (size_t off = 0; off < len;) {
		const char *p = buf + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl == NULL ? len - off : (size_t)(nl - p);

		off += n + 1;
		line++;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
		    p[n - 1] == '\r'))
			n--;
		if (n == 0 || p[0] == '#')
			continue;
		if (p[0] == ' ' || p[0] == '\t' || memchr(p, '\0', n) != NULL ||
		    n > CXONE_SECRET_MAX || n >= outlen) {
			cxone_err(err, errlen, "%s:%u: leading whitespace, a NUL "
			    "byte, or longer than %d bytes", file, line,
			    CXONE_SECRET_MAX);
			return -1;
		}
		memcpy(out, p, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

int
cxone_read_secret(const char *file, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char *buf = malloc(CXONE_SECRET_FILE_MAX + 1);
	size_t len = 0;
	int rc = -1;

	if (outlen > 0)
		out[0] = '\0';
	if (buf == NULL) {
		cxone_err(err, errlen, "%s: out of memory", file);
		return -1;
	}
	if (cxone_slurp(file, buf, &len, err, errlen) == 0) {
		rc = cxone_first_line(file, buf, len, out, outlen, err, errlen);
		if (rc == 0)
			cxone_err(err, errlen, "%s: no secret in the file", file);
		rc = rc == 1 ? 0 : -1;
	}
	OPENSSL_cleanse(buf, CXONE_SECRET_FILE_MAX + 1);
	free(buf);
	return rc;
}

/* ---- the client ------------------------------------------------------- */

struct cxone *
cxone_new(const struct cxone_config *cfg, char *err, size_t errlen)
{
	struct cxone *c;

	if (cfg->client_id == NULL || cfg->client_id[0] == '\0' ||
	    cfg->client_secret == NULL || cfg->client_secret[0] == '\0' ||
	    strlen(cfg->client_id) > CXONE_SECRET_MAX ||
	    strlen(cfg->client_secret) > CXONE_SECRET_MAX) {
		cxone_err(err, errlen, "the client id and secret must be 1..%d "
		    "bytes", CXONE_SECRET_MAX);
		return NULL;
	}
	if (cxone_url_allowed(cfg->token_url, err, errlen) != 0 ||
	    cxone_url_allowed(cfg->webhooks_url, err, errlen) != 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto nomem;
	c->token_url = strdup(cfg->token_url);
	c->webhooks_url = strdup(cfg->webhooks_url);
	c->client_id = strdup(cfg->client_id);
	c->client_secret = strdup(cfg->client_secret);
	c->scopes = strdup(cfg->scopes != NULL ? cfg->scopes : "");
	if (c->token_url == NULL || c->webhooks_url == NULL ||
	    c->client_id == NULL || c->client_secret == NULL || c->scopes == NULL)
		goto nomem;
	c->token_auth = cfg->token_auth;
	c->timeout_ms = cfg->timeout_ms;
	c->max_retry_after_s = cfg->max_retry_after_s;
	c->transport = cfg->transport != NULL ? cfg->transport : cxone_curl;
	c->transport_arg = cfg->transport_arg;
	c->clock_ms = cfg->clock_ms != NULL ? cfg->clock_ms : cxone_default_clock;
	c->sleep_ms = cfg->sleep_ms != NULL ? cfg->sleep_ms : cxone_default_sleep;
	c->clock_arg = cfg->clock_arg;
	return c;
nomem:
	cxone_free(c);
	cxone_err(err, errlen, "out of memory");
	return NULL;
}

void
cxone_free(struct cxone *c)
{
	if (c == NULL)
		return;
	free(c->token_url);
	free(c->webhooks_url);
	cxone_free_string(c->client_id);
	cxone_free_string(c->client_secret);
	free(c->scopes);
	OPENSSL_cleanse(&c->token, sizeof(c->token));
	free(c);
}

unsigned
cxone_token_fetches(const struct cxone *c)
{
	return c->token_fetches;
}

unsigned
cxone_api_requests(const struct cxone *c)
{
	return c->api_requests;
}

/* ---- libcurl transport ------------------------------------------------ */

struct cxone_curl_ctx {
	struct cxone_http_response *resp;
	size_t                      cap;
	bool                        over;
};

static size_t
cxone_curl_write(char *data, size_t size, size_t n, void *arg)
{
	struct cxone_curl_ctx *x = arg;
	struct cxone_http_response *r = x->resp;
	size_t len = size * n;
	char *p;

	if (len > CXONE_RESP_MAX - r->len) {
		x->over = true;
		return 0;               /* curl fails the transfer */
	}
	if (r->len + len + 1 > x->cap) {
		size_t cap = x->cap == 0 ? 4096 : x->cap;
		while (cap < r->len + len + 1)
			cap *= 2;
		p = realloc(r->body, cap);
		if (p == NULL)
			return 0;
		r->body = p;
		x->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Keeps Retry-After; a new status line (after a 100) starts afresh. */
static size_t
cxone_curl_header(char *data, size_t size, size_t n, void *arg)
{
	static const char name[] = "retry-after:";
	struct cxone_curl_ctx *x = arg;
	size_t len = size * n, nl = sizeof(name) - 1, vl;
	const char *v;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		x->resp->retry_after[0] = '\0';
	if (len <= nl || strncasecmp(data, name, nl) != 0)
		return len;
	v = data + nl;
	vl = len - nl;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' '))
		vl--;
	snprintf(x->resp->retry_after, sizeof(x->resp->retry_after), "%.*s",
	    (int)vl, v);
	return len;
}

/* Header lines may hold secrets: wipe curl's copies before freeing. */
static void
cxone_slist_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static void
cxone_curl_options(CURL *e, const struct cxone_http_request *req,
    struct curl_slist *h, struct cxone_curl_ctx *x)
{
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cxone_curl_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cxone_curl_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* A redirect would carry the credentials somewhere unconfigured. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cxbridge");
}

static int
cxone_curl(void *arg, const struct cxone_http_request *req,
    struct cxone_http_response *resp, char *err, size_t errlen)
{
	struct cxone_curl_ctx x = { .resp = resp };
	struct curl_slist *h = NULL, *l;
	CURL *e = curl_easy_init();
	CURLcode rc;
	int ret = -1;

	(void)arg;
	memset(resp, 0, sizeof(*resp));
	if (e == NULL) {
		cxone_err(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i <= req->n_headers; i++) {
		/* "Expect:" keeps curl from waiting for a 100 Continue. */
		l = curl_slist_append(h, i < req->n_headers ? req->headers[i] :
		    "Expect:");
		if (l == NULL) {
			cxone_err(err, errlen, "out of memory");
			goto out;
		}
		h = l;
	}
	cxone_curl_options(e, req, h, &x);
	rc = curl_easy_perform(e);
	if (rc != CURLE_OK) {
		cxone_err(err, errlen, "%s %s: %s", req->method, req->url,
		    x.over ? "answer larger than 1 MiB" : curl_easy_strerror(rc));
		cxone_response_fini(resp);
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
	ret = 0;
out:
	cxone_slist_free(h);
	curl_easy_cleanup(e);
	return ret;
}

/* ---- requests --------------------------------------------------------- */

/* A short printable account of an error answer, never the whole body. */
static void
cxone_error_text(const struct cxone_http_response *r, char *out,
    size_t outlen)
{
	static const char *const keys[] = { "error_description", "message",
	    "errorMessage", "title", "detail" };
	json_t *root = r->body != NULL ? json_loadb(r->body, r->len, 0, NULL) :
	    NULL;
	const char *code = json_string_value(json_object_get(root, "error"));
	const char *msg = NULL;

	for (size_t i = 0; msg == NULL && i < sizeof(keys) / sizeof(keys[0]); i++)
		msg = json_string_value(json_object_get(root, keys[i]));
	if (code != NULL && msg != NULL)
		snprintf(out, outlen, "%s: %s", code, msg);
	else if (code != NULL || msg != NULL)
		snprintf(out, outlen, "%s", code != NULL ? code : msg);
	else
		snprintf(out, outlen, "(no error text)");
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	json_decref(root);
}

/*
 * After an answer: 0 when it is not a 429 or 503; 1 when it is and the
 * request should go again (the Retry-After wait is done here); -1 when it
 * should not (tries used up, or a longer wait than allowed: err set, resp
 * freed).
 */
static int
cxone_retry_later(struct cxone *c, const struct cxone_http_request *req,
    struct cxone_http_response *resp, unsigned attempt, char *err,
    size_t errlen)
{
	uint64_t wait;

	if (resp->status != 429 && resp->status != 503)
		return 0;
	if (cxone_retry_after(resp->retry_after, time(NULL), &wait) != 0)
		wait = (uint64_t)1 << (attempt - 1);
	if (attempt >= CXONE_MAX_TRIES || wait > c->max_retry_after_s) {
		cxone_err(err, errlen, "%s %s answered %ld %s", req->method,
		    req->url, resp->status, attempt >= CXONE_MAX_TRIES ?
		    "on every try" : "with a Retry-After longer than "
		    "[cxone] max_retry_after_s");
		cxone_response_fini(resp);
		return -1;
	}
	log_json(LOGL_INFO, json_pack("{s:s,s:s,s:s,s:i,s:I}", "msg",
	    "CXone asks to retry later", "method", req->method, "url",
	    req->url, "status", (int)resp->status, "retryAfterS",
	    (json_int_t)wait));
	cxone_response_fini(resp);
	c->sleep_ms(c->clock_arg, wait * 1000);
	return 1;
}

/* Sends req; a 429 or 503 is sent again after its Retry-After. */
static int
cxone_send(struct cxone *c, const struct cxone_http_request *req,
    struct cxone_http_response *resp, char *err, size_t errlen)
{
	for (unsigned attempt = 1;; attempt++) {
		int again;

		if (c->transport(c->transport_arg, req, resp, err, errlen) != 0)
			return -1;
		again = cxone_retry_later(c, req, resp, attempt, err, errlen);
		if (again <= 0)
			return again;
	}
}

/* ---- the token -------------------------------------------------------- */

/* Form body of the token request: scope, and the credentials for "post". */
static int
cxone_token_body(const struct cxone *c, char *body, size_t size)
{
	char enc[3][CXONE_ENC_MAX];
	int n, rc = -1;

	if (cxone_form_encode(c->scopes, enc[0], sizeof(enc[0])) < 0 ||
	    cxone_form_encode(c->client_id, enc[1], sizeof(enc[1])) < 0 ||
	    cxone_form_encode(c->client_secret, enc[2], sizeof(enc[2])) < 0)
		goto out;
	n = snprintf(body, size, "grant_type=client_credentials%s%s%s%s%s%s",
	    enc[0][0] != '\0' ? "&scope=" : "", enc[0],
	    c->token_auth == CXONE_AUTH_POST ? "&client_id=" : "",
	    c->token_auth == CXONE_AUTH_POST ? enc[1] : "",
	    c->token_auth == CXONE_AUTH_POST ? "&client_secret=" : "",
	    c->token_auth == CXONE_AUTH_POST ? enc[2] : "");
	rc = n > 0 && (size_t)n < size ? 0 : -1;
out:
	OPENSSL_cleanse(enc, sizeof(enc));
	return rc;
}

/* RFC 6749 2.3.1: Basic over the form-encoded id and secret. */
static int
cxone_basic_line(const struct cxone *c, char *line, size_t size)
{
	static const char prefix[] = "Authorization: Basic ";
	char pair[2 * CXONE_ENC_MAX + 1];
	int a, b, rc = -1;
	size_t in;

	a = cxone_form_encode(c->client_id, pair, CXONE_ENC_MAX);
	if (a < 0)
		goto out;
	pair[a] = ':';
	b = cxone_form_encode(c->client_secret, pair + a + 1, CXONE_ENC_MAX);
	if (b < 0)
		goto out;
	in = (size_t)a + 1 + (size_t)b;
	if (sizeof(prefix) + 4 * ((in + 2) / 3) > size)
		goto out;
	memcpy(line, prefix, sizeof(prefix) - 1);
	EVP_EncodeBlock((unsigned char *)line + sizeof(prefix) - 1,
	    (const unsigned char *)pair, (int)in);
	rc = 0;
out:
	OPENSSL_cleanse(pair, sizeof(pair));
	return rc;
}

#define CXONE_FORM_MAX  (64 + 3 * CXONE_ENC_MAX)
#define CXONE_BASIC_MAX (64 + 4 * CXONE_ENC_MAX)

static int
cxone_token_exchange(struct cxone *c, char *body, char *basic,
    struct cxone_http_response *resp, char *err, size_t errlen)
{
	const char *headers[3] = { "Content-Type: application/x-www-form-"
	    "urlencoded", "Accept: application/json", basic };
	struct cxone_http_request req;
	char text[CXONE_ERRTEXT_MAX + 1];

	if (cxone_token_body(c, body, CXONE_FORM_MAX) != 0 ||
	    (c->token_auth == CXONE_AUTH_BASIC &&
	    cxone_basic_line(c, basic, CXONE_BASIC_MAX) != 0)) {
		cxone_err(err, errlen, "the client id, secret or scopes do not "
		    "fit a token request");
		return -1;
	}
	req = (struct cxone_http_request){ .method = "POST",
	    .url = c->token_url, .headers = headers,
	    .n_headers = c->token_auth == CXONE_AUTH_BASIC ? 3 : 2,
	    .body = body, .body_len = strlen(body), .timeout_ms = c->timeout_ms };
	c->token_fetches++;
	if (cxone_send(c, &req, resp, err, errlen) != 0)
		return -1;
	if (resp->status != 200) {
		cxone_error_text(resp, text, sizeof(text));
		cxone_err(err, errlen, "token endpoint %s answered %ld: %s",
		    c->token_url, resp->status, text);
		return -1;
	}
	return 0;
}

static int
cxone_token_fetch(struct cxone *c, char *err, size_t errlen)
{
	struct cxone_http_response resp = { 0 };
	struct cxone_token tok;
	char *body = calloc(1, CXONE_FORM_MAX), *basic = calloc(1, CXONE_BASIC_MAX);
	uint64_t now;
	int rc = -1;

	memset(&tok, 0, sizeof(tok));
	if (body == NULL || basic == NULL) {
		cxone_err(err, errlen, "out of memory");
		goto out;
	}
	if (cxone_token_exchange(c, body, basic, &resp, err, errlen) != 0)
		goto out;
	now = c->clock_ms(c->clock_arg);
	if (cxone_token_parse(resp.body, resp.len, now, &tok, err, errlen) != 0)
		goto out;
	c->token = tok;
	c->have_token = true;
	log_json(LOGL_INFO, json_pack("{s:s,s:s,s:I}", "msg", "CXone token",
	    "tokenUrl", c->token_url, "expiresInS",
	    (json_int_t)((tok.expires_ms - now) / 1000)));
	rc = 0;
out:
	if (body != NULL)
		OPENSSL_cleanse(body, CXONE_FORM_MAX);
	if (basic != NULL)
		OPENSSL_cleanse(basic, CXONE_BASIC_MAX);
	free(body);
	free(basic);
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.len);
	cxone_response_fini(&resp);
	OPENSSL_cleanse(&tok, sizeof(tok));
	return rc;
}

/* A token that is not yet due for refresh; fetched when needed. */
static int
cxone_token_ensure(struct cxone *c, char *err, size_t errlen)
{
	uint64_t now = c->clock_ms(c->clock_arg);

	if (c->have_token && now < c->token.refresh_ms)
		return 0;
	if (cxone_token_fetch(c, err, errlen) == 0)
		return 0;
	/* Refreshing early leaves room for this: keep the old one a while. */
	now = c->clock_ms(c->clock_arg);
	if (c->have_token && now < c->token.expires_ms) {
		log_warnx("CXone token refresh failed, the current token is "
		    "valid for %llu ms more: %s",
		    (unsigned long long)(c->token.expires_ms - now), err);
		return 0;
	}
	OPENSSL_cleanse(&c->token, sizeof(c->token));
	c->have_token = false;
	return -1;
}

/*
 * One API request with the token.  A 401 gets one new token and one retry;
 * a 429 or 503 is retried after its Retry-After, with the token checked
 * again first, since a long wait may have taken it past its refresh time.
 */
static int
cxone_api(struct cxone *c, const char *method, const char *url,
    const char *body, struct cxone_http_response *resp, char *err,
    size_t errlen)
{
	char *auth = malloc(CXONE_AUTH_LINE_MAX);
	const char *headers[3] = { NULL, "Accept: application/json",
	    "Content-Type: application/json" };
	struct cxone_http_request req = { .method = method, .url = url,
	    .headers = headers, .n_headers = body != NULL ? 3 : 2, .body = body,
	    .body_len = body != NULL ? strlen(body) : 0,
	    .timeout_ms = c->timeout_ms };
	bool refreshed = false;
	int rc = -1, again;

	headers[0] = auth;
	if (auth == NULL) {
		cxone_err(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned attempt = 1;; attempt++) {
		if (cxone_token_ensure(c, err, errlen) != 0)
			break;
		snprintf(auth, CXONE_AUTH_LINE_MAX, "Authorization: Bearer %s",
		    c->token.access_token);
		c->api_requests++;
		if (c->transport(c->transport_arg, &req, resp, err, errlen) != 0)
			break;
		again = cxone_retry_later(c, &req, resp, attempt, err, errlen);
		if (again < 0)
			break;
		if (again > 0)
			continue;
		if (resp->status != 401 || refreshed) {
			rc = 0;
			break;
		}
		log_json(LOGL_INFO, json_pack("{s:s,s:s,s:s}", "msg", "CXone "
		    "refused the token (401): fetching a new one, retrying once",
		    "method", method, "url", url));
		cxone_response_fini(resp);
		OPENSSL_cleanse(&c->token, sizeof(c->token));
		c->have_token = false;
		refreshed = true;
	}
	OPENSSL_cleanse(auth, CXONE_AUTH_LINE_MAX);
	free(auth);
	return rc;
}

/* 0 for a 2xx answer; else -1 with what CXone said. */
static int
cxone_expect(const struct cxone_http_response *r, const char *method,
    const char *url, char *err, size_t errlen)
{
	char text[CXONE_ERRTEXT_MAX + 1];

	if (r->status >= 200 && r->status < 300)
		return 0;
	cxone_error_text(r, text, sizeof(text));
	if (r->status == 401 || r->status == 403)
		cxone_err(err, errlen, "%s %s answered %ld even with a new token: "
		    "does the client have the scopes and role? (%s)", method, url,
		    r->status, text);
	else
		cxone_err(err, errlen, "%s %s answered %ld: %s", method, url,
		    r->status, text);
	return -1;
}

/* ---- webhooks --------------------------------------------------------- */

static json_t *
cxone_list_array(json_t *root)
{
	static const char *const keys[] = { "webhooks", "items", "data",
	    "results" };

	if (json_is_array(root))
		return root;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_is_array(json_object_get(root, keys[i])))
			return json_object_get(root, keys[i]);
	return NULL;
}

int
cxone_webhooks_list(struct cxone *c, json_t **out, char *err, size_t errlen)
{
	struct cxone_http_response r = { 0 };
	json_t *root = NULL, *arr, *it;
	size_t i;
	int rc = -1;

	*out = NULL;
	if (cxone_api(c, "GET", c->webhooks_url, NULL, &r, err, errlen) != 0 ||
	    cxone_expect(&r, "GET", c->webhooks_url, err, errlen) != 0)
		goto out;
	if (r.len > 0)
		root = json_loadb(r.body, r.len, 0, NULL);
	arr = r.len == 0 ? NULL : cxone_list_array(root);
	if (r.len > 0 && (arr == NULL ||
	    json_array_size(arr) > CXONE_MAX_WEBHOOKS)) {
		cxone_err(err, errlen, "GET %s: the answer is not a list of at "
		    "most %d webhooks (docs/cxone.md)", c->webhooks_url,
		    CXONE_MAX_WEBHOOKS);
		goto out;
	}
	json_array_foreach(arr, i, it) {
		if (!json_is_object(it)) {
			cxone_err(err, errlen, "GET %s: item %zu of the list is "
			    "not an object", c->webhooks_url, i);
			goto out;
		}
	}
	*out = arr != NULL ? json_incref(arr) : json_array();
	rc = *out != NULL ? 0 : -1;
out:
	json_decref(root);
	cxone_response_fini(&r);
	return rc;
}

static int
cxone_send_webhook(struct cxone *c, const char *method, const char *url,
    const json_t *spec, json_t **out, char *err, size_t errlen)
{
	char *body = json_dumps(spec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct cxone_http_response r = { 0 };
	json_t *root;
	int rc = -1;

	if (out != NULL)
		*out = NULL;
	if (body == NULL) {
		cxone_err(err, errlen, "out of memory");
		return -1;
	}
	if (cxone_api(c, method, url, body, &r, err, errlen) == 0 &&
	    cxone_expect(&r, method, url, err, errlen) == 0) {
		rc = 0;
		root = r.len > 0 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
		if (out != NULL && json_is_object(root))
			*out = root;
		else
			json_decref(root);
	}
	/* The spec carries the bridge's own secret. */
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	cxone_response_fini(&r);
	return rc;
}

/* The collection's URL, "/", and the id percent-encoded.  NULL: no memory. */
static char *
cxone_item_url(const struct cxone *c, const char *id)
{
	size_t blen = strlen(c->webhooks_url), n;
	char *enc = curl_easy_escape(NULL, id, 0);
	char *url = NULL;

	if (enc == NULL)
		return NULL;
	n = blen + strlen(enc) + 2;
	url = malloc(n);
	if (url != NULL)
		snprintf(url, n, "%s%s%s", c->webhooks_url,
		    blen > 0 && c->webhooks_url[blen - 1] == '/' ? "" : "/", enc);
	curl_free(enc);
	return url;
}

int
cxone_webhook_create(struct cxone *c, const json_t *spec, json_t **out,
    char *err, size_t errlen)
{
	return cxone_send_webhook(c, "POST", c->webhooks_url, spec, out, err,
	    errlen);
}

int
cxone_webhook_update(struct cxone *c, const char *id, const json_t *spec,
    json_t **out, char *err, size_t errlen)
{
	char *url = cxone_item_url(c, id);
	int rc;

	if (url == NULL) {
		cxone_err(err, errlen, "out of memory");
		return -1;
	}
	rc = cxone_send_webhook(c, "PUT", url, spec, out, err, errlen);
	free(url);
	return rc;
}

int
cxone_webhook_delete(struct cxone *c, const char *id, char *err,
    size_t errlen)
{
	struct cxone_http_response r = { 0 };
	char *url = cxone_item_url(c, id);
	int rc = -1;

	if (url == NULL) {
		cxone_err(err, errlen, "out of memory");
		return -1;
	}
	if (cxone_api(c, "DELETE", url, NULL, &r, err, errlen) == 0 &&
	    (r.status == 404 || cxone_expect(&r, "DELETE", url, err,
	    errlen) == 0))
		rc = 0;
	free(url);
	cxone_response_fini(&r);
	return rc;
}
