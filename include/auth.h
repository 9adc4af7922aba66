/* auth.h - webhook authentication: bearer tokens, basic, HMAC-SHA256 signatures. */
#ifndef CXB_AUTH_H
#define CXB_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Secret file caps (docs/internals/auth.md).  Going over any of them is a
 * load error, never a silent truncation. */
#define AUTH_FILE_MAX          (64 * 1024) /* bytes in the secret file */
#define AUTH_MAX_SECRETS       32          /* secrets (lines) per file */
#define AUTH_SECRET_MAX        1024        /* bytes per line, after trimming */

/* Request header caps.  A longer value is AUTH_MALFORMED. */
#define AUTH_AUTHORIZATION_MAX 4096        /* Authorization */
#define AUTH_SIGNATURE_MAX     4096        /* webhook-signature */
#define AUTH_ID_MAX            256         /* webhook-id */
#define AUTH_TIMESTAMP_MAX     18          /* webhook-timestamp digits */
#define AUTH_MAX_SIGNATURES    32          /* entries in webhook-signature */

struct auth;

/*
 * Loads the secrets for mode from secret_file (ignored, and may be NULL, for
 * AUTH_NONE).  Secret file format: one secret per line (bearer: a token;
 * basic: user:password; hmac-sha256: "whsec_" + base64 key, or the raw key
 * bytes); blank lines and lines whose first non-blank byte is '#' are
 * skipped; trailing spaces, tabs and CR are trimmed.  hmac_tolerance_s is
 * the replay window (used by AUTH_HMAC_SHA256 only).
 * Logs a warning (file name and mode only) if the file can be read or
 * written by group or others.
 * Returns a new object (free with auth_free), or NULL with "file:line:
 * reason" or "file: reason" in err (errlen bytes, may be 0).  err never
 * holds secret text.
 */
struct auth *auth_new(enum auth_mode mode, const char *secret_file,
    unsigned hmac_tolerance_s, char *err, size_t errlen);

/* Wipes every secret (OPENSSL_cleanse) and frees a.  NULL ok. */
void auth_free(struct auth *a);

/* One request as received.  Nothing is owned; all of it must outlive the
 * call.  Header pointers are NUL-terminated values or NULL when absent. */
struct auth_request {
	const char *authorization;      /* Authorization header or NULL */
	const char *webhook_id;         /* webhook-id header or NULL */
	const char *webhook_timestamp;  /* webhook-timestamp header or NULL */
	const char *webhook_signature;  /* webhook-signature header or NULL */
	const void *body;               /* may be NULL when body_len is 0 */
	size_t      body_len;
	int64_t     now_s;              /* wall clock, seconds */
};

/*
 * AUTH_MISSING: a header the mode needs is absent or empty.
 * AUTH_MALFORMED: present but not in the mode's syntax, or over its cap.
 * AUTH_BAD_CREDENTIALS: well formed, but no secret matches (also an
 *   internal failure such as no memory: authentication fails closed).
 * AUTH_STALE: the HMAC signature is good but the timestamp is outside the
 *   replay window, so a STALE in the logs means clock skew or a replay,
 *   never a forgery.
 */
enum auth_result {
	AUTH_OK,
	AUTH_MISSING,
	AUTH_MALFORMED,
	AUTH_BAD_CREDENTIALS,
	AUTH_STALE
};

/*
 * Checks r against every secret of a (all are always tried, in constant
 * time per secret, so neither which one matched nor a token's length
 * shows in the timing).  Thread-safe: a is only read.  A NULL a fails
 * closed (AUTH_BAD_CREDENTIALS).  The result is for logs and metrics only:
 * every non-OK result must be answered 401 with nothing else said.
 */
enum auth_result auth_check(const struct auth *a, const struct auth_request *r);

/* "ok", "missing", "malformed", "bad_credentials", "stale" (static). */
const char *auth_result_name(enum auth_result result);

/* Number of secrets loaded (0 for AUTH_NONE or a NULL a). */
size_t auth_secret_count(const struct auth *a);

#endif
