/* cxone.h - CXone REST client: OAuth 2.0 client credentials with a token cache, and the webhooks API. */
#ifndef CXB_CXONE_H
#define CXB_CXONE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

/* Caps (docs/cxone.md).  Going over one is an error, never a silent cut. */
#define CXONE_TOKEN_MAX        8192     /* bytes in an access token */
#define CXONE_SECRET_MAX       1024     /* bytes in a secret file's line */
#define CXONE_SECRET_FILE_MAX  (64 * 1024) /* bytes in a secret file */
#define CXONE_RESP_MAX         ((size_t)1024 * 1024) /* any response body */
#define CXONE_URL_MAX          2048
#define CXONE_ID_MAX           256      /* bytes in a webhook id */
#define CXONE_MAX_WEBHOOKS     10000    /* webhooks in one list answer */
#define CXONE_MAX_TRIES        5        /* sends of one request (429/503) */
/* A token answer without expires_in is trusted this long; a longer
 * lifetime than the maximum is cut to it. */
#define CXONE_DEFAULT_EXPIRES_S 300
#define CXONE_MAX_EXPIRES_S    86400
/* A token is replaced once 90 % of its life has passed, at most this long
 * before it expires. */
#define CXONE_REFRESH_AHEAD_MAX_MS 60000

/* One HTTP exchange as the transport sees it.  Nothing is owned. */
struct cxone_http_request {
	const char        *method;       /* "GET", "POST", "PUT", "DELETE" */
	const char        *url;
	const char *const *headers;      /* "Name: value" lines; may hold secrets */
	size_t             n_headers;
	const char        *body;         /* NULL when there is none */
	size_t             body_len;
	long               timeout_ms;   /* the whole exchange */
};

struct cxone_http_response {
	long    status;                  /* HTTP status */
	char   *body;                    /* malloc'd, NUL-terminated, at most
	                                  * CXONE_RESP_MAX bytes; NULL if empty */
	size_t  len;
	char    retry_after[64];         /* Retry-After value, "" if absent */
};

/*
 * Sends req and fills resp.  Returns 0 when an HTTP answer arrived (any
 * status), or -1 with a reason in err (connection, timeout, answer over
 * CXONE_RESP_MAX); resp->body is then NULL.  The default is libcurl.
 */
typedef int cxone_transport_fn(void *arg, const struct cxone_http_request *req,
    struct cxone_http_response *resp, char *err, size_t errlen);

struct cxone_config {
	const char *token_url;           /* OAuth token endpoint */
	enum cxone_token_auth token_auth;/* client_secret_basic or _post */
	const char *client_id;
	const char *client_secret;       /* copied; the copy is wiped at free */
	const char *scopes;              /* space-separated; "" sends none */
	const char *webhooks_url;        /* the webhooks collection */
	long        timeout_ms;          /* each exchange */
	unsigned    max_retry_after_s;   /* longer Retry-After: give up */
	/* For tests; NULL means libcurl, the monotonic clock, nanosleep. */
	cxone_transport_fn *transport;
	void               *transport_arg;
	uint64_t          (*clock_ms)(void *arg);
	void              (*sleep_ms)(void *arg, uint64_t ms);
	void               *clock_arg;
};

struct cxone;

/*
 * A client for one CXone tenant.  Strings are copied.  token_url and
 * webhooks_url must be https://, or http:// to a loopback host (tests);
 * client_id and client_secret must be non-empty.  Makes no request.
 * Returns NULL with a reason in err (never a secret).  Not thread-safe.
 */
struct cxone *cxone_new(const struct cxone_config *cfg, char *err,
    size_t errlen);
void cxone_free(struct cxone *c);        /* NULL ok; wipes the secrets */

/*
 * The webhooks API (docs/cxone.md has the shapes).  Each call gets a token
 * first if none is held or the held one is due for refresh; a 401 answer is
 * followed by one new token and one retry; 429 and 503 are retried after
 * their Retry-After (at most max_retry_after_s each, CXONE_MAX_TRIES sends).
 * All return 0, or -1 with a one-line reason in err (no secret in it).
 *
 * list: *out is a new reference to an array of webhook objects (the answer
 *   may be an array, or an object holding one under "webhooks", "items",
 *   "data" or "results").
 * create / update: spec is the webhook object to send (read only); *out is
 *   the answer's object, or NULL when it had none (out may be NULL).
 * delete: a 404 answer counts as done.
 */
int cxone_webhooks_list(struct cxone *c, json_t **out, char *err,
    size_t errlen);
int cxone_webhook_create(struct cxone *c, const json_t *spec, json_t **out,
    char *err, size_t errlen);
int cxone_webhook_update(struct cxone *c, const char *id, const json_t *spec,
    json_t **out, char *err, size_t errlen);
int cxone_webhook_delete(struct cxone *c, const char *id, char *err,
    size_t errlen);

/* Requests sent to the token endpoint so far, and API requests sent. */
unsigned cxone_token_fetches(const struct cxone *c);
unsigned cxone_api_requests(const struct cxone *c);

/* ---- pieces exposed for the unit tests ---- */

struct cxone_token {
	char     access_token[CXONE_TOKEN_MAX + 1];
	uint64_t refresh_ms;             /* fetch a new one from then on */
	uint64_t expires_ms;             /* unusable from then on */
};

/*
 * Reads a 200 token answer at time now_ms: access_token (1..CXONE_TOKEN_MAX
 * bytes of printable ASCII), token_type (absent or "Bearer", any case),
 * expires_in (seconds; absent: CXONE_DEFAULT_EXPIRES_S; above
 * CXONE_MAX_EXPIRES_S: cut to it; 0 or less: refused).  Returns 0 with out
 * filled, or -1 with out wiped and the reason in err.
 */
int cxone_token_parse(const char *body, size_t len, uint64_t now_ms,
    struct cxone_token *out, char *err, size_t errlen);

/* How long before expiry a token of this lifetime is replaced. */
uint64_t cxone_refresh_ahead_ms(uint64_t lifetime_ms);

/*
 * A Retry-After value (delta-seconds, or an HTTP-date compared with now) in
 * *seconds (a date in the past gives 0).  Returns 0, or -1 when value is
 * empty or neither form.
 */
int cxone_retry_after(const char *value, time_t now, uint64_t *seconds);

/*
 * application/x-www-form-urlencoded encoding of s (space as '+', A-Z a-z
 * 0-9 - . _ * kept, every other byte %XX) into out.  Returns the length,
 * or -1 if it does not fit in outlen bytes.
 */
int cxone_form_encode(const char *s, char *out, size_t outlen);

/*
 * The first secret of a secret file, with the rules of [auth] secret_file:
 * blank lines and lines starting with '#' skipped, trailing spaces, tabs
 * and CR trimmed, a line with leading whitespace refused.  At most
 * CXONE_SECRET_FILE_MAX bytes in the file and CXONE_SECRET_MAX in the
 * line.  Returns 0 with the secret in out (the caller wipes it), or -1 with
 * a reason (file name, never content) in err.
 */
int cxone_read_secret(const char *file, char *out, size_t outlen, char *err,
    size_t errlen);

/* 0 if url is https://, or http:// to 127.0.0.1, ::1 or localhost; else -1
 * with the reason in err. */
int cxone_url_allowed(const char *url, char *err, size_t errlen);

/* A webhook object's "id" (string or integer) as text in out.  0 or -1. */
int cxone_webhook_id(const json_t *webhook, char *out, size_t outlen);

#endif
