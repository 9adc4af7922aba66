/* sigv4.h - AWS Signature Version 4 request signing (Authorization header form). */
#ifndef CXB_SIGV4_H
#define CXB_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "creds.h"

/* Caps on what one request may carry; beyond them the functions return
 * -1 (or NULL) rather than truncate.  They are far above what the JSON
 * protocol calls to EventBridge and SQS need. */
#define SIGV4_MAX_HEADERS      64          /* incl. the ones sigv4_sign adds */
#define SIGV4_MAX_NAME         128         /* bytes in a header name */
#define SIGV4_MAX_VALUE        AWS_SESSION_TOKEN_MAX /* bytes in a header value */
#define SIGV4_MAX_METHOD       32
#define SIGV4_MAX_PATH         8192        /* bytes in the path as given */
#define SIGV4_MAX_QUERY        8192        /* bytes in the query as given */
#define SIGV4_MAX_PARAMS       256         /* query parameters */
#define SIGV4_MAX_SCOPE        64          /* bytes in a region or service */
#define SIGV4_MAX_CANONICAL    ((size_t)256 * 1024) /* canonical request bytes */

#define SIGV4_AMZ_DATE_SIZE    17          /* "YYYYMMDDTHHMMSSZ" + NUL */
#define SIGV4_STS_SIZE         320         /* fits any string to sign */
#define SIGV4_AUTHORIZATION_SIZE \
	(96 + AWS_ACCESS_KEY_ID_MAX + 2 * SIGV4_MAX_SCOPE + \
	 SIGV4_MAX_HEADERS * (SIGV4_MAX_NAME + 1) + 64)

struct sigv4_signer;

/* A header as it will be sent.  Values may hold obs-fold line breaks
 * (CRLF or LF followed by space/tab); other control bytes are refused. */
struct sigv4_header {
	const char *name;
	const char *value;
};

/* The request to sign.  Nothing is owned; all of it must outlive the call.
 * path: as sent on the wire (already percent-encoded), starting with "/",
 *   without the query.  query: the part after "?" as sent, NULL or "" for
 *   none.  headers: every header that will be sent; "host" is required.
 *   "user-agent", "expect" and "x-amzn-trace-id" are never signed, as in the
 *   AWS SDKs, since proxies and tracers rewrite them.  An
 *   "x-amz-content-sha256" header, if present, is used as the payload hash.
 * payload: the body (may be NULL when payload_len is 0). */
struct sigv4_request {
	const char                *method;
	const char                *path;
	const char                *query;
	const struct sigv4_header *headers;
	size_t                     n_headers;
	const void                *payload;
	size_t                     payload_len;
};

/* The header values sigv4_sign produces; the caller adds them to the
 * request as X-Amz-Date, X-Amz-Security-Token (only when non-empty) and
 * Authorization.  security_token and authorization are credentials: never
 * log them. */
struct sigv4_result {
	char amz_date[SIGV4_AMZ_DATE_SIZE];
	char security_token[AWS_SESSION_TOKEN_MAX + 1];
	char authorization[SIGV4_AUTHORIZATION_SIZE];
};

/* A signer for one region and service (e.g. "us-east-1", "events").  Both
 * are copied; each is 1..SIGV4_MAX_SCOPE bytes of [a-z0-9-].  For service
 * "s3" the path is neither normalized nor encoded a second time.
 * Returns NULL on a bad argument or no memory.
 * Thread safety: one signer may be shared by any number of threads; the
 * signing-key cache inside is guarded by a mutex. */
struct sigv4_signer *sigv4_signer_new(const char *region, const char *service);
void sigv4_signer_free(struct sigv4_signer *s);           /* NULL ok */

/* Signs req with creds at time `now` (the clock is never read inside, so the
 * result depends on the arguments only).  X-Amz-Date and, when
 * creds->session_token is non-empty, X-Amz-Security-Token are added to the
 * signed headers; req must therefore not carry X-Amz-Date,
 * X-Amz-Security-Token or Authorization itself.  The signing key is derived
 * once per (UTC day, secret key) and cached in the signer.
 * Returns 0 with out filled, -1 on a bad request, a cap exceeded or no memory
 * (out is then zeroed). */
int sigv4_sign(struct sigv4_signer *s, const struct sigv4_request *req,
    const struct aws_credentials *creds, time_t now, struct sigv4_result *out);

/* The canonical request for req exactly as given (nothing added), for tests
 * and debugging.  Returns a NUL-terminated string the caller frees, or NULL
 * on a bad request, a cap exceeded or no memory. */
char *sigv4_canonical_request(const struct sigv4_signer *s,
    const struct sigv4_request *req);

/* The string to sign for a canonical request at `now` into out (size bytes,
 * SIGV4_STS_SIZE is always enough).  Returns its length, or -1. */
int sigv4_string_to_sign(const struct sigv4_signer *s, const char *creq,
    time_t now, char *out, size_t size);

/* Percent-encodes len bytes of src the SigV4 way: every byte except
 * A-Z a-z 0-9 - . _ ~ (and "/" when keep_slash) becomes %XX, hex upper case.
 * Writes a NUL-terminated string to dst.  Returns its length, or -1 if it
 * does not fit in dstsize bytes. */
int sigv4_uri_encode(const char *src, size_t len, int keep_slash, char *dst,
    size_t dstsize);

/* How many times the signer derived a signing key (for tests and metrics). */
unsigned long sigv4_signer_derivations(struct sigv4_signer *s);

#endif
