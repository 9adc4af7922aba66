/* credfetch.c - one blocking credentials fetch over HTTP: IMDSv2 and the container endpoint. */
#include "credfetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awsenv.h"
#include "clock.h"
#include "rfc3339.h"

#define CREDFETCH_IMDS_V4 "http://169.254.169.254"
#define CREDFETCH_IMDS_V6 "http://[fd00:ec2::254]"
#define CREDFETCH_ECS_HOST "http://169.254.170.2"
#define CREDFETCH_USER_AGENT "cxbridge"

static void credfetch_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
credfetch_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
credfetch_clean(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src != NULL && src[i] != '\0' && i + 1 < size; i++) {
		if (src[i] >= 0x20 && src[i] < 0x7f)
			dst[i] = src[i];
		else
			dst[i] = '?';
	}
	dst[i] = '\0';
}

void
credfetch_wipe_free(void *p, size_t len)
{
	if (p != NULL)
		explicit_bzero(p, len);
	free(p);
}

void
credfetch_slist_free(struct curl_slist *l)
{
	for (struct curl_slist *n = l; n != NULL; n = n->next)
		explicit_bzero(n->data, strlen(n->data));
	curl_slist_free_all(l);
}

int
credfetch_header(struct curl_slist **l, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 3;
	char *line = malloc(len);
	struct curl_slist *n = NULL;

	if (line != NULL) {
		snprintf(line, len, "%s: %s", name, value);
		n = curl_slist_append(*l, line);
		credfetch_wipe_free(line, len);
	}
	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

void
credfetch_resp_free(struct credfetch_resp *r)
{
	credfetch_wipe_free(r->body, r->body != NULL ? CREDFETCH_RESP_MAX + 1 : 0);
	memset(r, 0, sizeof(*r));
}

static size_t
credfetch_write(char *data, size_t size, size_t n, void *arg)
{
	struct credfetch_resp *r = arg;
	size_t len = size * n;

	if (len > CREDFETCH_RESP_MAX - r->len) {
		r->over = 1;
		return 0;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static int
credfetch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_int *cancel = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancel != NULL && atomic_load(cancel) != 0;
}

static void
credfetch_easy_setup(CURL *e, const struct credfetch_req *rq,
    const struct credfetch_limits *lim, struct credfetch_resp *r)
{
	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body != NULL ?
		    rq->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->body_len);
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, CREDFETCH_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, credfetch_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, credfetch_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)lim->cancel);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, lim->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, lim->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)CREDFETCH_RESP_MAX);
	if (rq->no_proxy)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
}

int
credfetch_http(const struct credfetch_req *rq,
    const struct credfetch_limits *lim, struct credfetch_resp *r, char *err,
    size_t errlen)
{
	CURL *e = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	r->body = malloc(CREDFETCH_RESP_MAX + 1);
	if (e == NULL || r->body == NULL) {
		curl_easy_cleanup(e);
		credfetch_resp_free(r);
		credfetch_err(err, errlen, "%s: out of memory", rq->what);
		return -1;
	}
	r->body[0] = '\0';
	credfetch_easy_setup(e, rq, lim, r);
	rc = curl_easy_perform(e);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(e);
	if (rc == CURLE_OK)
		return 0;
	if (r->over || rc == CURLE_FILESIZE_EXCEEDED)
		credfetch_err(err, errlen, "%s: the answer is over %zu bytes",
		    rq->what, CREDFETCH_RESP_MAX);
	else if (rc == CURLE_ABORTED_BY_CALLBACK)
		credfetch_err(err, errlen, "%s: cancelled", rq->what);
	else
		credfetch_err(err, errlen, "%s: %s", rq->what,
		    curl_easy_strerror(rc));
	credfetch_resp_free(r);
	return -1;
}

/*
 * Whether a Code other than "Success" may go into a log line: only the
 * shape of an AWS error code ("AssumeRoleUnauthorizedAccess"), and never
 * one holding the answer's own secret or token.  A broken or hostile
 * endpoint could put the credentials there (found by fuzz_creds).
 */
static bool
credfetch_code_shown(const char *code, const json_t *root,
    const char *token_key)
{
	static const char ident[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *secret[2] = {
		json_string_value(json_object_get(root, "SecretAccessKey")),
		json_string_value(json_object_get(root, token_key)),
	};
	size_t n = strspn(code, ident);

	if (n == 0 || n > 64 || code[n] != '\0')
		return false;
	for (size_t i = 0; i < 2; i++)
		if (secret[i] != NULL && secret[i][0] != '\0' &&
		    strstr(code, secret[i]) != NULL)
			return false;
	return true;
}

int
credfetch_parse_json(const char *body, size_t len, const char *token_key,
    int need_expiration, const char *what, struct aws_credentials *out,
    char *err, size_t errlen)
{
	json_t *root = NULL;
	const char *code, *exp;
	char clean[72];
	int64_t ms = 0;
	int rc = -1;

	creds_clear(out);
	if (body != NULL && len <= CREDFETCH_RESP_MAX)
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		credfetch_err(err, errlen, "%s: the answer is not a JSON object",
		    what);
		goto done;
	}
	code = json_string_value(json_object_get(root, "Code"));
	if (code != NULL && strcmp(code, "Success") != 0) {
		if (credfetch_code_shown(code, root, token_key)) {
			credfetch_clean(clean, sizeof(clean), code);
			credfetch_err(err, errlen, "%s: Code is \"%s\"", what,
			    clean);
		} else {
			credfetch_err(err, errlen, "%s: Code is not \"Success\" "
			    "(not shown: not an AWS error code)", what);
		}
		goto done;
	}
	if (creds_fill(out, json_string_value(json_object_get(root,
	    "AccessKeyId")), json_string_value(json_object_get(root,
	    "SecretAccessKey")), json_string_value(json_object_get(root,
	    token_key)), what, err, errlen) == -1)
		goto done;
	exp = json_string_value(json_object_get(root, "Expiration"));
	if ((exp == NULL && need_expiration) || (exp != NULL &&
	    (rfc3339_parse(exp, strlen(exp), &ms) == -1 || ms < 1000))) {
		credfetch_err(err, errlen, "%s: Expiration is missing or not an "
		    "RFC 3339 time", what);
		goto done;
	}
	out->expiration = ms / 1000;
	rc = 0;
done:
	json_decref(root);
	if (rc != 0)
		creds_clear(out);
	return rc;
}

int
credfetch_read_token(const char *path, char *buf, size_t max, const char *what,
    char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t got = 0;
	ssize_t n = 0;

	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		credfetch_err(err, errlen, "%s %s: %s", what, path, fd == -1 ?
		    strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return -1;
	}
	do {
		n = read(fd, buf + got, max + 1 - got);
		if (n > 0)
			got += (size_t)n;
	} while ((n > 0 && got <= max) || (n == -1 && errno == EINTR));
	close(fd);
	while (got > 0 && strchr(" \t\r\n", buf[got - 1]) != NULL)
		got--;
	buf[got > max ? max : got] = '\0';
	if (n == -1 || got == 0 || got > max) {
		credfetch_err(err, errlen, "%s %s: unreadable, empty or over %zu "
		    "bytes", what, path, max);
		return -1;
	}
	for (size_t i = 0; i < got; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			credfetch_err(err, errlen, "%s %s: holds a control byte", what,
			    path);
			return -1;
		}
	}
	return 0;
}

/* ----------------------------------------------------------------- IMDS */

int
credfetch_imds_init(struct credfetch_imds *m, char *err, size_t errlen)
{
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	const char *v1off = getenv("AWS_EC2_METADATA_V1_DISABLED");
	struct awsenv_url u;
	size_t len;

	memset(m, 0, sizeof(*m));
	m->v1_allowed = v1off == NULL || strcasecmp(v1off, "true") != 0;
	if (ep != NULL && *ep != '\0') {
		if (awsenv_url_parse(ep, &u, err, errlen) == -1)
			return -1;
		snprintf(m->endpoint, sizeof(m->endpoint), "%s", ep);
	} else if (mode == NULL || *mode == '\0' || strcasecmp(mode, "IPv4") == 0) {
		snprintf(m->endpoint, sizeof(m->endpoint), CREDFETCH_IMDS_V4);
	} else if (strcasecmp(mode, "IPv6") == 0) {
		snprintf(m->endpoint, sizeof(m->endpoint), CREDFETCH_IMDS_V6);
	} else {
		credfetch_err(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE "
		    "must be IPv4 or IPv6");
		return -1;
	}
	len = strlen(m->endpoint);
	while (len > 0 && m->endpoint[len - 1] == '/')
		m->endpoint[--len] = '\0';
	return 0;
}

void
credfetch_imds_fini(struct credfetch_imds *m)
{
	if (m != NULL)
		explicit_bzero(m, sizeof(*m));
}

/* A token good for another minute at least; "" when falling back to
 * IMDSv1. */
static int
credfetch_imds_token(struct credfetch_imds *m,
    const struct credfetch_limits *lim, char *err, size_t errlen)
{
	char url[CREDFETCH_URL_MAX + 32], ttl[16];
	struct credfetch_req rq = { "instance metadata token", "PUT", url, NULL,
	    NULL, 0, 1 };
	struct credfetch_resp r;
	int rc = -1;

	if (m->token[0] != '\0' && clock_mono_ms() + 60000 < m->token_expires_ms)
		return 0;
	explicit_bzero(m->token, sizeof(m->token));
	snprintf(url, sizeof(url), "%s/latest/api/token", m->endpoint);
	snprintf(ttl, sizeof(ttl), "%d", CREDFETCH_IMDS_TTL_S);
	if (credfetch_header(&rq.headers, "X-aws-ec2-metadata-token-ttl-seconds",
	    ttl) == -1) {
		credfetch_err(err, errlen, "instance metadata: out of memory");
		return -1;
	}
	if (credfetch_http(&rq, lim, &r, err, errlen) == -1)
		goto done;
	if (r.status == 200 && r.len > 0 && r.len <= CREDFETCH_IMDS_TOKEN_MAX &&
	    strspn(r.body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=_-.") == r.len) {
		memcpy(m->token, r.body, r.len + 1);
		m->token_expires_ms = clock_mono_ms() +
		    (uint64_t)CREDFETCH_IMDS_TTL_S * 1000u;
		rc = 0;
	} else if ((r.status == 403 || r.status == 404 || r.status == 405) &&
	    m->v1_allowed) {
		rc = 0;    /* IMDSv1 only: carry on without a token */
	} else {
		credfetch_err(err, errlen, "instance metadata: the token request "
		    "was answered HTTP %ld%s", r.status, r.status == 200 ?
		    " with a malformed token" : "");
	}
	credfetch_resp_free(&r);
done:
	curl_slist_free_all(rq.headers);
	return rc;
}

/* GET path with the session token; one retry with a new token on 401. */
static int
credfetch_imds_get(struct credfetch_imds *m, const struct credfetch_limits *lim,
    const char *path, struct credfetch_resp *r, char *err, size_t errlen)
{
	char url[CREDFETCH_URL_MAX + 256];
	struct credfetch_req rq = { "instance metadata", "GET", url, NULL, NULL,
	    0, 1 };

	snprintf(url, sizeof(url), "%s%s", m->endpoint, path);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (credfetch_imds_token(m, lim, err, errlen) == -1)
			return -1;
		rq.headers = NULL;
		if (m->token[0] != '\0' && credfetch_header(&rq.headers,
		    "X-aws-ec2-metadata-token", m->token) == -1) {
			credfetch_err(err, errlen, "instance metadata: out of memory");
			return -1;
		}
		if (credfetch_http(&rq, lim, r, err, errlen) == -1) {
			credfetch_slist_free(rq.headers);
			return -1;
		}
		credfetch_slist_free(rq.headers);
		if (r->status != 401 || m->token[0] == '\0' || attempt > 0)
			break;
		credfetch_resp_free(r);
		explicit_bzero(m->token, sizeof(m->token));
	}
	if (r->status == 200)
		return 0;
	credfetch_err(err, errlen, "instance metadata: %s answered HTTP %ld%s",
	    path, r->status, r->status == 404 ? " (no IAM role attached to "
	    "the instance?)" : "");
	credfetch_resp_free(r);
	return -1;
}

int
credfetch_imds(struct credfetch_imds *m, const struct credfetch_limits *lim,
    struct aws_credentials *out, char *err, size_t errlen)
{
	static const char base[] = "/latest/meta-data/iam/security-credentials/";
	char path[sizeof(base) + CREDFETCH_ROLE_NAME_MAX + 1], role[72];
	struct credfetch_resp r;
	size_t n;
	int rc;

	creds_clear(out);
	if (credfetch_imds_get(m, lim, base, &r, err, errlen) == -1)
		return -1;
	n = strcspn(r.body, "\r\n");
	if (n == 0 || n > CREDFETCH_ROLE_NAME_MAX || strspn(r.body,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "+=,.@_-") != n) {
		credfetch_clean(role, sizeof(role), r.body);
		credfetch_err(err, errlen, "instance metadata: \"%s\" is not a role "
		    "name", role);
		credfetch_resp_free(&r);
		return -1;
	}
	snprintf(path, sizeof(path), "%s%.*s", base, (int)n, r.body);
	credfetch_resp_free(&r);
	if (credfetch_imds_get(m, lim, path, &r, err, errlen) == -1)
		return -1;
	rc = credfetch_parse_json(r.body, r.len, "Token", 1, "instance metadata",
	    out, err, errlen);
	credfetch_resp_free(&r);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "imds");
	return rc;
}

/* ------------------------------------------------------------ container */

/* The SDKs' rule for a plain-http full URI: loopback, or the ECS and EKS
 * agents' link-local addresses. */
static int
credfetch_container_host_ok(const char *host)
{
	static const unsigned char eks6[16] = { 0xfd, 0x00, 0x0e, 0xc2,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23 };
	unsigned char a4[4], a6[16];
	char inner[64];
	size_t len = strlen(host);

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127 || (a4[0] == 169 && a4[1] == 254 &&
		    a4[2] == 170 && (a4[3] == 2 || a4[3] == 23));
	if (len < 3 || len - 2 >= sizeof(inner) || host[0] != '[')
		return 0;
	memcpy(inner, host + 1, len - 2);
	inner[len - 2] = '\0';
	if (inet_pton(AF_INET6, inner, a6) != 1)
		return 0;
	return memcmp(a6, in6addr_loopback.s6_addr, 16) == 0 ||
	    memcmp(a6, eks6, 16) == 0;
}

static int
credfetch_container_url(struct credfetch_container *c, char *err,
    size_t errlen)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	struct awsenv_url u;
	char url[CREDFETCH_URL_MAX];

	if (rel != NULL && *rel != '\0') {
		if (rel[0] != '/' || snprintf(url, sizeof(url), "%s%s",
		    CREDFETCH_ECS_HOST, rel) >= (int)sizeof(url) ||
		    awsenv_url_parse(url, &u, NULL, 0) == -1) {
			credfetch_err(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_"
			    "URI must be a path starting with /");
			return -1;
		}
	} else if (full != NULL && *full != '\0') {
		if (awsenv_url_parse(full, &u, err, errlen) == -1 ||
		    snprintf(url, sizeof(url), "%s", full) >= (int)sizeof(url))
			return -1;
		if (strcmp(u.scheme, "http") == 0 &&
		    !credfetch_container_host_ok(u.host)) {
			credfetch_err(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI:"
			    " plain http is allowed only to a loopback address, "
			    "localhost, 169.254.170.2, 169.254.170.23 or "
			    "fd00:ec2::23; use https for %s", u.host);
			return -1;
		}
	} else {
		credfetch_err(err, errlen, "neither AWS_CONTAINER_CREDENTIALS_"
		    "RELATIVE_URI nor _FULL_URI is set");
		return -1;
	}
	memcpy(c->url, url, sizeof(c->url));
	return 0;
}

int
credfetch_container_init(struct credfetch_container *c, char *err,
    size_t errlen)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");

	memset(c, 0, sizeof(*c));
	if (credfetch_container_url(c, err, errlen) == -1)
		return -1;
	if (file != NULL && *file != '\0')
		return creds_text_copy(c->token_file, sizeof(c->token_file), file,
		    strlen(file), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", err,
		    errlen);
	if (token != NULL && *token != '\0')
		return creds_text_copy(c->token, sizeof(c->token), token,
		    strlen(token), "AWS_CONTAINER_AUTHORIZATION_TOKEN", err, errlen);
	return 0;
}

void
credfetch_container_fini(struct credfetch_container *c)
{
	if (c != NULL)
		explicit_bzero(c, sizeof(*c));
}

int
credfetch_container(const struct credfetch_container *c,
    const struct credfetch_limits *lim, struct aws_credentials *out,
    char *err, size_t errlen)
{
	struct credfetch_req rq = { "container endpoint", "GET", c->url, NULL,
	    NULL, 0, 1 };
	char *token = malloc(CREDFETCH_AUTH_TOKEN_MAX + 1);
	struct credfetch_resp r;
	int rc = -1;

	creds_clear(out);
	if (token == NULL) {
		credfetch_err(err, errlen, "container endpoint: out of memory");
		return -1;
	}
	token[0] = '\0';
	if (c->token_file[0] != '\0' && credfetch_read_token(c->token_file, token,
	    CREDFETCH_AUTH_TOKEN_MAX, "container authorization token file", err,
	    errlen) == -1)
		goto done;
	if (c->token_file[0] == '\0')
		snprintf(token, CREDFETCH_AUTH_TOKEN_MAX + 1, "%s", c->token);
	if (token[0] != '\0' && credfetch_header(&rq.headers, "Authorization",
	    token) == -1) {
		credfetch_err(err, errlen, "container endpoint: out of memory");
		goto done;
	}
	if (credfetch_http(&rq, lim, &r, err, errlen) == -1)
		goto done;
	if (r.status == 200)
		rc = credfetch_parse_json(r.body, r.len, "Token", 1,
		    "container endpoint", out, err, errlen);
	else
		credfetch_err(err, errlen, "container endpoint: answered HTTP %ld%s",
		    r.status, r.status == 401 || r.status == 403 ?
		    " (authorization token refused)" : "");
	credfetch_resp_free(&r);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "container");
done:
	credfetch_wipe_free(token, CREDFETCH_AUTH_TOKEN_MAX + 1);
	credfetch_slist_free(rq.headers);
	return rc;
}
