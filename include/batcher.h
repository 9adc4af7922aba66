/* batcher.h - the delivery thread: group commit to PutEvents, retries, DLQ. */
#ifndef CXB_BATCHER_H
#define CXB_BATCHER_H

#include <stddef.h>
#include <stdint.h>

struct aws_credentials;
struct config;
struct queue;
struct stats;

struct batcher_config {
	const char *region;
	const char *eventbridge_url;     /* endpoint, resolved */
	const char *sqs_url;             /* endpoint, resolved */
	const char *queue_url;           /* the DLQ */
	int         no_dlq;              /* 1: what EventBridge refuses finishes
	                                  * as DEST_NONE instead (redrive) */
	size_t      max_request_bytes;   /* PutEvents entries' total size */
	size_t      max_message_bytes;   /* SendMessageBatch total size */
	uint64_t    linger_ms;
	uint64_t    delivery_timeout_ms;
	uint64_t    request_timeout_ms;
	uint64_t    connect_timeout_ms;
	uint64_t    retry_base_ms;
	uint64_t    retry_max_backoff_ms;
	unsigned    max_attempts;
	unsigned    max_inflight;        /* PutEvents calls at once */
	unsigned    breaker_failures;
	uint64_t    breaker_cooldown_ms;
	/* Where each call's credentials come from: called on the delivery
	 * thread before signing, it must not block.  0, or -1 when none are
	 * valid (the call then fails as retryable "NoCredentials"). */
	int       (*get_credentials)(void *arg, struct aws_credentials *out);
	void       *credentials_arg;
};

/* Fills cfg's tuning values from the [eventbridge] and [dlq] keys; the
 * caller sets region, the URLs and the credentials callback.  The strings
 * are borrowed from c. */
void batcher_config_from(struct batcher_config *cfg, const struct config *c);

/*
 * Takes entries from q (borrowed) and finishes each exactly once through its
 * done() callback, from the delivery thread: dest EVENTBRIDGE or DLQ when it
 * is durably there, DEST_NONE when neither took it.
 * NULL on error with a reason in err.
 */
struct batcher *batcher_new(const struct batcher_config *cfg, struct queue *q,
    struct stats *stats, char *err, size_t errlen);

/* Starts the delivery thread.  0 or -1. */
int  batcher_start(struct batcher *b);

/* Wakes the delivery thread (the queue's notify callback).  Any thread. */
void batcher_wakeup(void *b);

/*
 * Drains: no new entries are expected (close the queue first).  What is
 * queued is still sent until stop_ms from now; then what is left goes to
 * the DLQ with reason "shutdown"; the thread ends once every entry is
 * finished.  batcher_drain blocks until then; batcher_drain_begin returns
 * at once, batcher_drained says whether the thread has ended, and
 * batcher_drain_now moves the stop to now (a second signal).
 */
void batcher_drain(struct batcher *b, uint64_t stop_ms);
void batcher_drain_begin(struct batcher *b, uint64_t stop_ms);
int  batcher_drained(const struct batcher *b);
void batcher_drain_now(struct batcher *b);

/* 1 if the delivery thread went round its loop within the last max_ms. */
int  batcher_alive(const struct batcher *b, uint64_t max_ms);

/* 0 when EventBridge and the DLQ are both failing (why says so), else 1. */
int  batcher_ready(const struct batcher *b, const char **why);

void batcher_free(struct batcher *b);   /* NULL ok; after batcher_drain */

#endif
