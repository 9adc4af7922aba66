/* credsts.c - role credentials from AWS STS over the Query protocol: AssumeRole, AssumeRoleWithWebIdentity. */
#include "credsts.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "awsenv.h"
#include "rfc3339.h"
#include "sigv4.h"
#include "xmlscan.h"

#define CREDSTS_FORM_CTYPE "application/x-www-form-urlencoded; charset=utf-8"
#define CREDSTS_VERSION    "2011-06-15"

static void credsts_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
credsts_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The values STS puts under Credentials. */
struct credsts_creds {
	char id[AWS_ACCESS_KEY_ID_MAX + 1];
	char secret[AWS_SECRET_ACCESS_KEY_MAX + 1];
	char token[AWS_SESSION_TOKEN_MAX + 1];
	char expiration[RFC3339_MAX_LEN + 1];
};

struct credsts_field {
	const char *name;
	char       *dst;
	size_t      size;
};

int
credsts_parse(const char *body, size_t len, const char *action,
    struct aws_credentials *out, char *err, size_t errlen)
{
	struct credsts_creds *c = calloc(1, sizeof(*c));
	struct credsts_field f[4];
	char path[160];
	int64_t ms;
	int rc = -1;

	creds_clear(out);
	if (c == NULL) {
		credsts_err(err, errlen, "STS %s: out of memory", action);
		return -1;
	}
	f[0] = (struct credsts_field){ "AccessKeyId", c->id, sizeof(c->id) };
	f[1] = (struct credsts_field){ "SecretAccessKey", c->secret,
	    sizeof(c->secret) };
	f[2] = (struct credsts_field){ "SessionToken", c->token,
	    sizeof(c->token) };
	f[3] = (struct credsts_field){ "Expiration", c->expiration,
	    sizeof(c->expiration) };
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%sResponse/%sResult/Credentials/%s",
		    action, action, f[i].name);
		if (xmlscan_text(body, len, path, f[i].dst, f[i].size) != 0) {
			credsts_err(err, errlen, "STS %s: the answer is malformed "
			    "or lacks %s", action, f[i].name);
			goto done;
		}
	}
	if (creds_fill(out, c->id, c->secret, c->token, "STS", err, errlen) == -1)
		goto done;
	if (rfc3339_parse(c->expiration, strlen(c->expiration), &ms) == -1 ||
	    ms < 1000) {
		credsts_err(err, errlen, "STS %s: Expiration is not an RFC 3339 "
		    "time", action);
		goto done;
	}
	out->expiration = ms / 1000;
	rc = 0;
done:
	explicit_bzero(c, sizeof(*c));
	free(c);
	if (rc != 0)
		creds_clear(out);
	return rc;
}

struct credsts_form {
	char  *buf;
	size_t len, cap;
	int    bad;
};

static void
credsts_form_add(struct credsts_form *f, const char *name,
    const char *value)
{
	int n;

	if (f->bad)
		return;
	n = snprintf(f->buf + f->len, f->cap - f->len, "%s%s=",
	    f->len > 0 ? "&" : "", name);
	if (n < 0 || (size_t)n >= f->cap - f->len) {
		f->bad = 1;
		return;
	}
	f->len += (size_t)n;
	n = sigv4_uri_encode(value, strlen(value), 0, f->buf + f->len,
	    f->cap - f->len);
	if (n < 0)
		f->bad = 1;
	else
		f->len += (size_t)n;
}

/* The request body common to both actions. */
static int
credsts_form_init(struct credsts_form *f, const char *action,
    const struct credchain_role *role)
{
	char session[CREDCHAIN_SESSION_NAME_MAX + 1], dur[16];

	memset(f, 0, sizeof(*f));
	f->cap = CREDSTS_REQUEST_MAX;
	f->buf = malloc(f->cap);
	if (f->buf == NULL)
		return -1;
	if (role->session_name[0] != '\0')
		snprintf(session, sizeof(session), "%s", role->session_name);
	else
		snprintf(session, sizeof(session), "cxbridge-%lld",
		    (long long)time(NULL));
	credsts_form_add(f, "Action", action);
	credsts_form_add(f, "Version", CREDSTS_VERSION);
	credsts_form_add(f, "RoleArn", role->arn);
	credsts_form_add(f, "RoleSessionName", session);
	if (role->duration_s != 0) {
		snprintf(dur, sizeof(dur), "%u", role->duration_s);
		credsts_form_add(f, "DurationSeconds", dur);
	}
	if (role->external_id[0] != '\0')
		credsts_form_add(f, "ExternalId", role->external_id);
	return 0;
}

static void
credsts_error(const struct credfetch_resp *r, const char *action,
    char *err, size_t errlen)
{
	char code[64], msg[256], c1[64], c2[256];

	if (xmlscan_text(r->body, r->len, "ErrorResponse/Error/Code", code,
	    sizeof(code)) != 0)
		snprintf(code, sizeof(code), "HTTP%ld", r->status);
	if (xmlscan_text(r->body, r->len, "ErrorResponse/Error/Message", msg,
	    sizeof(msg)) != 0)
		msg[0] = '\0';
	credfetch_clean(c1, sizeof(c1), code);
	credfetch_clean(c2, sizeof(c2), msg);
	credsts_err(err, errlen, "STS %s: HTTP %ld %s: %s", action, r->status,
	    c1, c2);
}

static int
credsts_call(const char *url, const char *action,
    const struct credsts_form *f, struct curl_slist *h,
    const struct credfetch_limits *lim, struct aws_credentials *out,
    char *err, size_t errlen)
{
	char what[64];
	struct credfetch_req rq = { what, "POST", url, h, f->buf, f->len, 0 };
	struct credfetch_resp r;
	int rc;

	snprintf(what, sizeof(what), "STS %s", action);
	if (f->bad) {
		credsts_err(err, errlen, "%s: the request is over %zu bytes", what,
		    f->cap);
		return -1;
	}
	if (credfetch_http(&rq, lim, &r, err, errlen) == -1)
		return -1;
	if (r.status != 200) {
		credsts_error(&r, action, err, errlen);
		rc = -1;
	} else {
		rc = credsts_parse(r.body, r.len, action, out, err, errlen);
	}
	credfetch_resp_free(&r);
	return rc;
}

int
credsts_web_identity(const char *sts_url, const struct credchain_role *role,
    const char *token_file, const struct credfetch_limits *lim,
    struct aws_credentials *out, char *err, size_t errlen)
{
	char *token = malloc(CREDSTS_WEB_TOKEN_MAX + 1);
	struct credsts_form f = { 0 };
	struct curl_slist *h = NULL;
	int rc = -1;

	creds_clear(out);
	if (token == NULL || credsts_form_init(&f, "AssumeRoleWithWebIdentity",
	    role) == -1 || credfetch_header(&h, "Content-Type",
	    CREDSTS_FORM_CTYPE) == -1) {
		credsts_err(err, errlen, "%s: out of memory", __func__);
		goto done;
	}
	if (credfetch_read_token(token_file, token, CREDSTS_WEB_TOKEN_MAX,
	    "web identity token file", err, errlen) == -1)
		goto done;
	credsts_form_add(&f, "WebIdentityToken", token);
	rc = credsts_call(sts_url, "AssumeRoleWithWebIdentity", &f, h, lim,
	    out, err, errlen);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "sts-web-identity");
done:
	credfetch_wipe_free(token, token != NULL ? CREDSTS_WEB_TOKEN_MAX + 1 : 0);
	credfetch_wipe_free(f.buf, f.cap);
	credfetch_slist_free(h);
	return rc;
}

/* The signed headers of an AssumeRole call. */
static int
credsts_sign(const char *sts_url, const char *region,
    const struct credsts_form *f, const struct aws_credentials *source,
    struct curl_slist **h, char *err, size_t errlen)
{
	struct sigv4_signer *signer = sigv4_signer_new(region, "sts");
	struct sigv4_result *res = malloc(sizeof(*res));
	struct awsenv_url u;
	struct sigv4_header hd[2];
	struct sigv4_request req;
	int rc = -1;

	if (signer == NULL || res == NULL || awsenv_url_parse(sts_url, &u, err,
	    errlen) == -1) {
		if (signer == NULL || res == NULL)
			credsts_err(err, errlen, "STS AssumeRole: cannot sign for "
			    "region %s", region);
		goto done;
	}
	hd[0] = (struct sigv4_header){ "Host", u.host_header };
	hd[1] = (struct sigv4_header){ "Content-Type", CREDSTS_FORM_CTYPE };
	req = (struct sigv4_request){ .method = "POST", .path = u.path,
	    .query = "", .headers = hd, .n_headers = 2, .payload = f->buf,
	    .payload_len = f->len };
	if (sigv4_sign(signer, &req, source, time(NULL), res) == -1) {
		credsts_err(err, errlen, "STS AssumeRole: signing failed (the "
		    "source credentials or the request are invalid)");
		goto done;
	}
	if (credfetch_header(h, "Host", u.host_header) == -1 ||
	    credfetch_header(h, "Content-Type", CREDSTS_FORM_CTYPE) == -1 ||
	    credfetch_header(h, "X-Amz-Date", res->amz_date) == -1 ||
	    credfetch_header(h, "Authorization", res->authorization) == -1 ||
	    (res->security_token[0] != '\0' && credfetch_header(h,
	    "X-Amz-Security-Token", res->security_token) == -1)) {
		credsts_err(err, errlen, "STS AssumeRole: out of memory");
		goto done;
	}
	rc = 0;
done:
	if (res != NULL)
		explicit_bzero(res, sizeof(*res));
	free(res);
	sigv4_signer_free(signer);
	return rc;
}

int
credsts_assume_role(const char *sts_url, const char *region,
    const struct credchain_role *role, const struct aws_credentials *source,
    const struct credfetch_limits *lim, struct aws_credentials *out,
    char *err, size_t errlen)
{
	struct credsts_form f = { 0 };
	struct curl_slist *h = NULL;
	int rc = -1;

	creds_clear(out);
	if (credsts_form_init(&f, "AssumeRole", role) == -1) {
		credsts_err(err, errlen, "%s: out of memory", __func__);
		goto done;
	}
	if (f.bad) {
		credsts_err(err, errlen, "STS AssumeRole: the request is over "
		    "%zu bytes", f.cap);
		goto done;
	}
	if (credsts_sign(sts_url, region, &f, source, &h, err,
	    errlen) == -1)
		goto done;
	rc = credsts_call(sts_url, "AssumeRole", &f, h, lim, out, err,
	    errlen);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "sts-assume-role");
done:
	credfetch_wipe_free(f.buf, f.cap);
	credfetch_slist_free(h);
	return rc;
}

