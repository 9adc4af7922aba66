/* creds.h - AWS credentials from the environment and the shared credentials/config files. */
#ifndef CXB_CREDS_H
#define CXB_CREDS_H

#include <stddef.h>
#include <stdint.h>

/* Caps.  AWS does not fix the session token size; STS tokens are 400-2000
 * bytes today, so 8 KiB leaves room.  Longer values are refused, not cut. */
#define AWS_ACCESS_KEY_ID_MAX     128
#define AWS_SECRET_ACCESS_KEY_MAX 128
#define AWS_SESSION_TOKEN_MAX     8192
#define CREDS_PROFILE_MAX         128     /* bytes in a profile name */
#define CREDS_FILE_MAX            (256 * 1024) /* larger files are refused */
#define CREDS_VALUE_MAX           AWS_SESSION_TOKEN_MAX /* any value read */

/* One set of credentials, embedded by value; strings are NUL-terminated.
 * Holds secrets: wipe with creds_clear() when done. */
struct aws_credentials {
	char     access_key_id[AWS_ACCESS_KEY_ID_MAX + 1];
	char     secret_access_key[AWS_SECRET_ACCESS_KEY_MAX + 1];
	char     session_token[AWS_SESSION_TOKEN_MAX + 1]; /* "" = none */
	int64_t  expiration;  /* Unix seconds; 0 = does not expire */
	char     source[64];  /* "environment", "credentials-file", "config-file"; never secret */
};

/* Where a lookup ended: found, nothing anywhere, or a hard error. */
#define CREDS_FOUND     0
#define CREDS_NOT_FOUND 1

/* The profile in force: `given` when non-empty, else $AWS_PROFILE when
 * non-empty, else "default".  Returns a pointer to `given`, the environment
 * or a static string; valid until the environment changes. */
const char *creds_profile_name(const char *given);

/* Loads static credentials the way the AWS SDKs' default chain starts
 * (credchain_resolve walks the whole chain):
 *  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN,
 *     AWS_CREDENTIAL_EXPIRATION as RFC 3339 UTC) from the environment;
 *  2. the profile's section in the shared credentials file
 *     ($AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials): [NAME];
 *  3. the profile's section in the config file ($AWS_CONFIG_FILE, default
 *     ~/.aws/config): [profile NAME], or [default] for "default".
 * The profile is creds_profile_name(profile).  Files that do not exist are
 * skipped; files over CREDS_FILE_MAX, unreadable or malformed are errors.
 * Returns CREDS_FOUND (out filled), CREDS_NOT_FOUND (no credentials anywhere;
 * the caller may try other providers such as IMDS), or -1 on an error (only
 * one of the two keys set, a named profile that exists nowhere, a profile
 * whose credentials need a fetch (role_arn, credential_process: use
 * credchain_resolve and credprov), a malformed file, a value over its
 * cap); a profile with neither keys nor such a source is CREDS_NOT_FOUND.
 * Except on CREDS_FOUND, err (errlen bytes, may be NULL) gets one line saying what was
 * looked at; it never holds a secret.  out is cleared on every failure. */
int creds_load(const char *profile, struct aws_credentials *out,
    char *err, size_t errlen);

/* Reads `key` (e.g. "region") from the profile's section of the config file
 * (rules as above).  Returns 0 with the value in out, CREDS_NOT_FOUND if the
 * file, section or key is absent, -1 on an error (message in err). */
int creds_config_value(const char *profile, const char *key, char *out,
    size_t outlen, char *err, size_t errlen);

/* Overwrites the whole struct with zeros in a way the compiler keeps. */
void creds_clear(struct aws_credentials *c);

/* Fills out (cleared first) with fetched keys, checked as creds_load
 * checks them: the id letters and digits, the secret and token printable
 * ASCII without spaces, each within its cap.  token may be NULL or "".
 * `what` names the source in err; err never holds a value.  0, or -1
 * with out cleared. */
int creds_fill(struct aws_credentials *out, const char *id,
    const char *secret, const char *token, const char *what, char *err,
    size_t errlen);

/* Only AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN or
 * AWS_SECURITY_TOKEN, AWS_CREDENTIAL_EXPIRATION): step 1 of creds_load.
 * Returns CREDS_FOUND, CREDS_NOT_FOUND (neither key set) or -1 (err says
 * why; only one key set, a bad value).  out is not cleared first. */
int creds_from_env(struct aws_credentials *out, char *err, size_t errlen);

#define CREDS_PATH_MAX 4096  /* bytes in a file name */

/*
 * One profile as the two shared files give it, for the chain resolver
 * (credchain).  Keys it knows: the static keys, role_arn, source_profile,
 * credential_source, credential_process, web_identity_token_file,
 * role_session_name, external_id, duration_seconds, mfa_serial,
 * sso_start_url, sso_session.  A key set in both files takes the
 * credentials file's value, as in the SDKs.
 */
struct creds_profile;

/* Reads both files for profile `name` (at most CREDS_PROFILE_MAX bytes).
 * Returns the profile (free with creds_profile_free; its section may be
 * absent from both files), or NULL with *rc CREDS_NOT_FOUND (no home
 * directory for ~/.aws) or -1 (a file unreadable, malformed or too big;
 * err says which line). */
struct creds_profile *creds_profile_load(const char *name, int *rc,
    char *err, size_t errlen);
void creds_profile_free(struct creds_profile *p);      /* NULL ok */

/* 1 if the profile's section exists in either file, else 0. */
int creds_profile_found(const struct creds_profile *p);
/* The credentials file's name (config 0) or the config file's (config 1);
 * owned by p. */
const char *creds_profile_file(const struct creds_profile *p, int config);
/* 1 if either file sets key for the profile, else 0 (also for a key the
 * module does not know). */
int creds_profile_has(const struct creds_profile *p, const char *key);
/* Copies key's value into dst (size bytes): 0 with "" when unset, 0 with
 * the value, or -1 (err says why) when it is empty, does not fit or holds
 * a control character. */
int creds_profile_text(const struct creds_profile *p, const char *key,
    char *dst, size_t size, char *err, size_t errlen);
/* The profile's static keys: CREDS_FOUND, CREDS_NOT_FOUND (no
 * aws_access_key_id) or -1 (half a pair, a bad value).  out is cleared
 * unless found. */
int creds_profile_keys(const struct creds_profile *p,
    struct aws_credentials *out, char *err, size_t errlen);
/* -1 (err says why) if the profile uses what cxbridge does not support:
 * SSO (sso_start_url, sso_session) or mfa_serial; else 0. */
int creds_profile_unsupported(const struct creds_profile *p, char *err,
    size_t errlen);

/* Copies len bytes of src into dst (size bytes) if they are 1..size-1
 * bytes without control characters; `what` names it in err.  0 or -1. */
int creds_text_copy(char *dst, size_t size, const char *src, size_t len,
    const char *what, char *err, size_t errlen);

#endif
