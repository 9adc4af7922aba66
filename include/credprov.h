/* credprov.h - the daemon's AWS credentials: the SDKs' chain, refreshed ahead of expiry by a thread. */
#ifndef CXB_CREDPROV_H
#define CXB_CREDPROV_H

#include <stddef.h>
#include <stdint.h>

struct aws_credentials;
struct credprov;

/*
 * Where the numbers come from: the SDKs refresh between 5 and 15 minutes
 * before expiry; for short-lived credentials that would mean "always", so
 * the lead is a fifth of the lifetime (refresh at 80%), at least
 * min(5 minutes, half the lifetime).  Credentials are not handed out in
 * the last min(10 s, a tenth of the lifetime) before they expire, so a
 * request signed with them still reaches AWS in time.
 */
#define CREDPROV_LEAD_MAX_MS      INT64_C(300000)  /* 5 minutes */
#define CREDPROV_MARGIN_MAX_MS    INT64_C(10000)
#define CREDPROV_MIN_REFRESH_MS   INT64_C(1000)    /* never refetch sooner */
#define CREDPROV_RETRY_BASE_MS    UINT64_C(1000)   /* failed refresh: first retry */
#define CREDPROV_RETRY_MAX_MS     UINT64_C(60000)
#define CREDPROV_RETRY_NONE_MAX_MS INT64_C(10000)  /* ... while none are valid */
#define CREDPROV_START_ATTEMPTS   3          /* network sources at start-up */

struct credprov_config {
	const char *profile;            /* NULL or "": AWS_PROFILE, then default */
	const char *region;             /* signs AssumeRole */
	const char *sts_url;            /* resolved STS endpoint (awsenv) */
	long        connect_timeout_ms; /* per HTTP fetch; 0: 1000 */
	long        timeout_ms;         /* per HTTP fetch; 0: 5000 */
	long        process_timeout_ms; /* credential_process; 0: 60000 */
	long        retry_max_ms;       /* cap on a retry's delay; 0: the
	                                 * CREDPROV_RETRY_* defaults (tests) */
};

/* Resolves the chain (credchain_resolve) and reads the endpoint
 * variables; no network I/O.  Strings are copied.  Returns the provider,
 * or NULL with err (errlen bytes) saying why; never a secret. */
struct credprov *credprov_new(const struct credprov_config *cfg, char *err,
    size_t errlen);

/* The first fetch, in the caller's thread (blocking: network sources are
 * tried CREDPROV_START_ATTEMPTS times with a short backoff), then, if the
 * credentials expire, the refresh thread (all signals blocked in it).
 * Returns 0, or -1 with err saying what was tried and why it failed. */
int credprov_start(struct credprov *p, char *err, size_t errlen);

/* Stops the refresh thread (an HTTP fetch or helper in flight is
 * cancelled) and wipes everything.  NULL ok. */
void credprov_free(struct credprov *p);

/* Never blocks on I/O: copies the current credentials into out under a
 * mutex.  Returns 0, or -1 (out untouched) when none are held or they are
 * within the margin of their expiry: never expired ones.  Any thread. */
int credprov_get(struct credprov *p, struct aws_credentials *out);

/* Seconds until the held credentials expire: +Inf when they do not,
 * negative once they have, 0 when none were ever fetched.  Any thread. */
double credprov_expiry_s(struct credprov *p);

/* 1 when credprov_get would succeed; else 0 with *why (static text) set. */
int credprov_ready(struct credprov *p, const char **why);

/* The plan's one-line description ("profile \"x\": static keys, then 1
 * role (STS AssumeRole)"), owned by p; never secret. */
const char *credprov_describe(const struct credprov *p);

/* Successful fetches and failed ones so far (for tests and logs). */
uint64_t credprov_fetches(struct credprov *p);
uint64_t credprov_failures(struct credprov *p);

/* The policy, pure, for tests: when to refresh credentials fetched at
 * fetched_ms that expire at expires_ms (wall ms), and until when they may
 * be handed out. */
int64_t credprov_refresh_at(int64_t fetched_ms, int64_t expires_ms);
int64_t credprov_usable_until(int64_t fetched_ms, int64_t expires_ms);
/* Delay before retry number n (1, 2, ...) after a failure: exponential
 * from CREDPROV_RETRY_BASE_MS to CREDPROV_RETRY_MAX_MS, jittered down to
 * half by `jitter` (0..1).  The provider then shortens it to half the
 * time the held credentials have left, or to CREDPROV_RETRY_NONE_MAX_MS
 * when none are valid. */
uint64_t credprov_retry_ms(unsigned n, double jitter);

#endif
