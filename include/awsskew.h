/* awsskew.h - recognising AWS answers that say this host's clock is off, and saying so plainly. */
#ifndef CXB_AWSSKEW_H
#define CXB_AWSSKEW_H

struct aws_error;
struct stats;

/* At most one log line per this many seconds; the rest are counted. */
#define AWSSKEW_LOG_INTERVAL_S 60

/*
 * 1 if err (from aws_error_parse) says the request's signing time was
 * outside the window AWS accepts (5 minutes), i.e. this host's clock is
 * off; else 0 (also for NULL).  Recognised:
 *  - the codes RequestTimeTooSkewed, RequestExpired, RequestInTheFuture;
 *  - InvalidSignatureException, SignatureDoesNotMatch, AuthFailure or
 *    IncompleteSignature(Exception) whose message says "Signature expired",
 *    "Signature not yet current" or speaks of clock skew (EventBridge, and
 *    SQS with either protocol, answer this way).
 * When the message carries both the request's time and AWS's ("...:
 * 20240101T000000Z is now earlier than ... (20240101T001000Z - 5 min.)"),
 * *skew_s (may be NULL) gets the request's time minus AWS's in seconds
 * (positive: this clock is ahead) and the return value is 2.
 */
int awsskew_detect(const struct aws_error *err, long *skew_s);

/*
 * What the delivery thread calls with each failed call's error: when
 * awsskew_detect says it is a clock problem, counts it in
 * cxbridge_clock_skew_errors_total (stats may be NULL) and logs a warning
 * that names the operation, AWS's code and message, the skew when known,
 * and says to check NTP; at most one line per AWSSKEW_LOG_INTERVAL_S (the
 * next one says how many were not logged).  Returns 1 if it was a clock
 * error, else 0.  Any thread.
 */
int awsskew_check(struct stats *stats, const char *operation,
    const struct aws_error *err);

#endif
