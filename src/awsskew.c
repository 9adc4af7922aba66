/* awsskew.c - recognising AWS answers that say this host's clock is off, and saying so plainly. */
#include "awsskew.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "awsproto.h"
#include "clock.h"
#include "log.h"
#include "stats.h"

static pthread_mutex_t awsskew_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t        awsskew_last_ms;     /* monotonic; 0: never logged */
static unsigned long   awsskew_unlogged;

/* Whether the code is one whose message must be read to tell. */
static int
awsskew_signature_code(const char *code)
{
	static const char *const codes[] = {
		"InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure",
		"IncompleteSignature", "IncompleteSignatureException",
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* "YYYYMMDDTHHMMSSZ" at p as Unix seconds; -1 if it is not one. */
static int64_t
awsskew_amz_time(const char *p)
{
	struct tm tm;
	const char *end;

	if (strlen(p) < 16 || p[8] != 'T' || p[15] != 'Z')
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(p, "%Y%m%dT%H%M%SZ", &tm);
	if (end != p + 16)
		return -1;
	return (int64_t)timegm(&tm);
}

/* The request's time is the first stamp after the colon, AWS's the one
 * inside the parentheses. */
static int
awsskew_offset(const char *msg, long *skew_s)
{
	const char *colon = strchr(msg, ':'), *paren = strchr(msg, '(');
	int64_t req, aws;

	if (colon == NULL || paren == NULL || paren < colon)
		return 0;
	colon++;
	while (*colon == ' ')
		colon++;
	req = awsskew_amz_time(colon);
	aws = awsskew_amz_time(paren + 1);
	if (req == -1 || aws == -1)
		return 0;
	if (skew_s != NULL)
		*skew_s = (long)(req - aws);
	return 1;
}

int
awsskew_detect(const struct aws_error *err, long *skew_s)
{
	static const char *const phrases[] = {
		"Signature expired", "Signature not yet current", "clock skew",
		"too skewed",
	};
	int hit = 0;

	if (err == NULL)
		return 0;
	if (strcmp(err->code, "RequestTimeTooSkewed") == 0 ||
	    strcmp(err->code, "RequestExpired") == 0 ||
	    strcmp(err->code, "RequestInTheFuture") == 0)
		hit = 1;
	for (size_t i = 0; !hit && awsskew_signature_code(err->code) &&
	    i < sizeof(phrases) / sizeof(phrases[0]); i++)
		hit = strcasestr(err->message, phrases[i]) != NULL;
	if (!hit)
		return 0;
	return awsskew_offset(err->message, skew_s) ? 2 : 1;
}

int
awsskew_check(struct stats *stats, const char *operation,
    const struct aws_error *err)
{
	uint64_t now = clock_mono_ms();
	unsigned long unlogged;
	long skew = 0;
	int kind = awsskew_detect(err, &skew), tell;
	json_t *rec;

	if (kind == 0)
		return 0;
	stats_clock_skew(stats);
	pthread_mutex_lock(&awsskew_mu);
	tell = awsskew_last_ms == 0 ||
	    now - awsskew_last_ms >= (uint64_t)AWSSKEW_LOG_INTERVAL_S * 1000u;
	unlogged = awsskew_unlogged;
	if (tell) {
		awsskew_last_ms = now;
		awsskew_unlogged = 0;
	} else {
		awsskew_unlogged++;
	}
	pthread_mutex_unlock(&awsskew_mu);
	if (!tell)
		return 1;
	rec = json_pack("{s:s,s:s,s:s,s:s,s:i}", "msg", "AWS refused a call "
	    "because this host's clock is off by more than 5 minutes: fix the "
	    "time (check NTP: chronyd or systemd-timesyncd)", "operation",
	    operation != NULL ? operation : "", "code", err->code, "message",
	    err->message, "not_logged_since_last", (int)unlogged);
	if (rec != NULL && kind == 2)
		json_object_set_new(rec, "clock_ahead_s", json_integer(skew));
	log_json(LOGL_WARN, rec);
	return 1;
}
