/* credsts.h - role credentials from AWS STS over the Query protocol: AssumeRole, AssumeRoleWithWebIdentity. */
#ifndef CXB_CREDSTS_H
#define CXB_CREDSTS_H

#include <stddef.h>

#include "credchain.h"
#include "credfetch.h"
#include "creds.h"

/*
 * Blocking calls (credfetch_http): from credprov's refresh thread or at
 * start-up only.  A request is a form-encoded POST to the STS endpoint;
 * the answer is XML, read with xmlscan (at most CREDFETCH_RESP_MAX bytes).
 * role->session_name "" becomes "cxbridge-<unix time>"; duration_s 0 and
 * an empty external_id are left out.  Each returns 0 with out filled
 * (source "sts-web-identity" / "sts-assume-role", expiration from the
 * answer), or -1 with out cleared and err saying why: the transport, or
 * STS's own error code and message ("STS AssumeRole: HTTP 403
 * AccessDenied: ..."); never a secret or token.
 */
#define CREDSTS_WEB_TOKEN_MAX 20000              /* STS WebIdentityToken limit */
#define CREDSTS_REQUEST_MAX   ((size_t)64 * 1024) /* a request body */

/* AssumeRoleWithWebIdentity, unsigned: the token is read from token_file
 * (at most CREDSTS_WEB_TOKEN_MAX bytes, trailing white space dropped) on
 * every call, since Kubernetes rotates it. */
int credsts_web_identity(const char *sts_url, const struct credchain_role *role,
    const char *token_file, const struct credfetch_limits *lim,
    struct aws_credentials *out, char *err, size_t errlen);

/* AssumeRole, SigV4-signed for (region, "sts") with `source`. */
int credsts_assume_role(const char *sts_url, const char *region,
    const struct credchain_role *role, const struct aws_credentials *source,
    const struct credfetch_limits *lim, struct aws_credentials *out,
    char *err, size_t errlen);

/* The credentials in a 200 answer to `action` ("AssumeRole",
 * "AssumeRoleWithWebIdentity"): ACTIONResponse/ACTIONResult/Credentials/
 * {AccessKeyId, SecretAccessKey, SessionToken, Expiration}, each
 * required.  0 or -1 (out cleared). */
int credsts_parse(const char *body, size_t len, const char *action,
    struct aws_credentials *out, char *err, size_t errlen);

#endif
