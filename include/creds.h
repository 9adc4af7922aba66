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

/* Loads static credentials the way the AWS SDKs' default chain starts:
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
 * without keys, a malformed file, a value over its cap).  Except on
 * CREDS_FOUND, err (errlen bytes, may be NULL) gets one line saying what was
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

#endif
