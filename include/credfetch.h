/* credfetch.h - one blocking credentials fetch over HTTP: IMDSv2 and the container endpoint. */
#ifndef CXB_CREDFETCH_H
#define CXB_CREDFETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "creds.h"

/*
 * Every function here blocks (libcurl easy handles): call them from
 * credprov's refresh thread or at start-up, never from the delivery thread.  Each input has a cap; a longer one fails the fetch.
 * Errors (err, errlen bytes, may be NULL) never hold a secret or a token.
 * Every fetch returns 0 with out filled (expiration from the answer), or
 * -1 with out cleared.
 */
#define CREDFETCH_URL_MAX         2048
#define CREDFETCH_RESP_MAX        ((size_t)64 * 1024) /* any HTTP answer */
#define CREDFETCH_IMDS_TOKEN_MAX  4096     /* IMDSv2 session token */
#define CREDFETCH_IMDS_TTL_S      21600    /* token TTL asked for, as the SDKs */
#define CREDFETCH_ROLE_NAME_MAX   128      /* instance profile role name */
#define CREDFETCH_AUTH_TOKEN_MAX  16384    /* container authorization token */

/* How long one fetch may take, and how to stop it early. */
struct credfetch_limits {
	long              connect_timeout_ms;
	long              timeout_ms;     /* a transfer, or the process's run */
	const atomic_int *cancel;         /* non-zero: give up now; may be NULL */
};

/* EC2 instance metadata: its endpoint and the IMDSv2 session token kept
 * between fetches.  Holds a token: wipe with credfetch_imds_fini. */
struct credfetch_imds {
	char     endpoint[CREDFETCH_URL_MAX];  /* without a trailing "/" */
	char     token[CREDFETCH_IMDS_TOKEN_MAX + 1];
	uint64_t token_expires_ms;             /* monotonic */
	int      v1_allowed;                   /* AWS_EC2_METADATA_V1_DISABLED */
};

/* The endpoint: $AWS_EC2_METADATA_SERVICE_ENDPOINT, else by
 * $AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: IPv4 (http://169.254.169.254,
 * the default) or IPv6 (http://[fd00:ec2::254]).  0, or -1 with a reason. */
int  credfetch_imds_init(struct credfetch_imds *m, char *err, size_t errlen);
void credfetch_imds_fini(struct credfetch_imds *m);

/* PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds: 21600),
 * reused until a minute before its TTL; then the role name from
 * /latest/meta-data/iam/security-credentials/ and its credentials.  A 401
 * drops the token and tries once more with a new one.  A token PUT
 * answered 403, 404 or 405 falls back to IMDSv1 unless
 * AWS_EC2_METADATA_V1_DISABLED=true, as in the SDKs.  No proxy is used. */
int credfetch_imds(struct credfetch_imds *m, const struct credfetch_limits *lim,
    struct aws_credentials *out, char *err, size_t errlen);

/* The ECS / EKS Pod Identity endpoint. */
struct credfetch_container {
	char url[CREDFETCH_URL_MAX];
	char token_file[CREDS_PATH_MAX + 1];        /* read on every fetch */
	char token[CREDFETCH_AUTH_TOKEN_MAX + 1];   /* when there is no file */
};

/* From the environment: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (appended
 * to http://169.254.170.2), else AWS_CONTAINER_CREDENTIALS_FULL_URI, which
 * must be https, or http to a loopback address, localhost, 169.254.170.2,
 * 169.254.170.23 or fd00:ec2::23 (the SDKs' rule); the authorization token
 * from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else
 * AWS_CONTAINER_AUTHORIZATION_TOKEN.  0, or -1 with a reason. */
int credfetch_container_init(struct credfetch_container *c, char *err,
    size_t errlen);
void credfetch_container_fini(struct credfetch_container *c);

/* GET the URL with "Authorization: TOKEN" when there is one (a token with
 * a CR or LF is refused).  No proxy is used. */
int credfetch_container(const struct credfetch_container *c,
    const struct credfetch_limits *lim, struct aws_credentials *out,
    char *err, size_t errlen);

/* An IMDS, container or credential_process answer: AccessKeyId,
 * SecretAccessKey, the token under token_key ("Token" or "SessionToken"),
 * Expiration (RFC 3339; need_expiration 1 refuses an answer without one;
 * none means the keys do not expire).  An IMDS "Code" other than "Success"
 * is refused.  `what` names the source in err.  0 or -1 (out cleared). */
int credfetch_parse_json(const char *body, size_t len, const char *token_key,
    int need_expiration, const char *what, struct aws_credentials *out,
    char *err, size_t errlen);

/*
 * The plain HTTP request the fetchers (and credsts) share: a libcurl easy
 * handle with the limits' timeouts and cancel flag, no redirects, http and
 * https only, certificates verified, the answer capped at
 * CREDFETCH_RESP_MAX bytes.
 */
struct curl_slist;

struct credfetch_req {
	const char        *what;    /* names the peer in errors, never secret */
	const char        *method;  /* "GET", "PUT" or "POST" */
	const char        *url;
	struct curl_slist *headers; /* borrowed; may be NULL */
	const char        *body;    /* PUT / POST; NULL is empty */
	size_t             body_len;
	int                no_proxy; /* 1: never through a proxy (link-local) */
};

struct credfetch_resp {
	long   status;
	char  *body;      /* NUL-terminated, may hold secrets */
	size_t len;
	int    over;      /* the answer was over CREDFETCH_RESP_MAX */
};

/* 0 when an answer came (any status; free r with credfetch_resp_free), or
 * -1 on a transport error, the cap or cancel (err says which, r empty). */
int credfetch_http(const struct credfetch_req *rq,
    const struct credfetch_limits *lim, struct credfetch_resp *r, char *err,
    size_t errlen);
/* Wipes and frees the body.  Safe on an emptied r. */
void credfetch_resp_free(struct credfetch_resp *r);

/* Appends "name: value" to *l.  0, or -1 (no memory; *l unchanged). */
int credfetch_header(struct curl_slist **l, const char *name,
    const char *value);
/* Wipes every line (they may hold tokens), then frees the list.  NULL ok. */
void credfetch_slist_free(struct curl_slist *l);

/* A small secret file (a token) into buf (max + 1 bytes): at most max
 * bytes, trailing white space dropped, no control byte left.  `what`
 * names it in err.  0 or -1. */
int credfetch_read_token(const char *path, char *buf, size_t max,
    const char *what, char *err, size_t errlen);

/* Copies peer text for a log line: printable ASCII, other bytes as "?",
 * at most size-1 bytes. */
void credfetch_clean(char *dst, size_t size, const char *src);

/* explicit_bzero(p, len), then free(p).  NULL ok. */
void credfetch_wipe_free(void *p, size_t len);

#endif
