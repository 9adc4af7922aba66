/* batcher.c - the delivery thread: group commit to PutEvents, retries, DLQ. */
#include "batcher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "aws.h"
#include "awsproto.h"
#include "awsskew.h"
#include "clock.h"
#include "config.h"
#include "creds.h"
#include "entry.h"
#include "log.h"
#include "queue.h"
#include "stats.h"

#define BATCH_MAX          AWSPROTO_MAX_ENTRIES
#define DLQ_MAX_ATTEMPTS   3
/* The AWS SDKs' retry quota: a retry costs tokens, a success refunds one. */
#define RETRY_TOKENS_MAX   500
#define RETRY_COST         5
#define RETRY_COST_TIMEOUT 10
#define POLL_MAX_MS        100

enum breaker { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };
enum batch_kind { BATCH_PUTEVENTS, BATCH_SQS };

/* A FIFO of entries linked through entry->next. */
struct elist {
	struct entry *head, *tail;
	size_t        n;
};

/* One call in flight with the entries it carries. */
struct batch {
	struct aws_call  call;
	struct batcher  *b;
	enum batch_kind  kind;
	bool             probe;        /* the half-open breaker's trial call */
	size_t           n;
	struct entry    *e[BATCH_MAX];
};

struct batcher {
	struct batcher_config cfg;
	char                 *queue_url;
	struct queue         *q;
	struct stats         *stats;
	struct aws_credentials creds;        /* scratch: this call's credentials */
	struct aws_client    *client;
	struct aws_service    eb, sqs;

	pthread_t             thread;
	bool                  started;
	atomic_bool           stopping;
	atomic_uint_fast64_t  stop_at_ms;    /* monotonic; valid once stopping */
	atomic_uint_fast64_t  heartbeat_ms;
	atomic_bool           finished;      /* the thread has left its loop */
	atomic_bool           hurry;         /* second signal: abort PutEvents */
	bool                  aborted;
	atomic_bool           eb_failing, dlq_failing;

	/* Owned by the delivery thread alone from here on. */
	struct elist          pending;       /* ready for PutEvents */
	struct elist          backoff;       /* waiting to retry PutEvents */
	struct elist          dlq_pending;   /* ready for SendMessageBatch */
	struct elist          dlq_backoff;   /* waiting to retry SQS */
	uint64_t              pending_since; /* when pending became non-empty */
	unsigned              pe_inflight, sqs_inflight;
	enum breaker          breaker;
	unsigned              failures;      /* consecutive failed PutEvents calls */
	uint64_t              open_until;
	bool                  probe_inflight;
	int                   retry_tokens;
	bool                  warned_no_creds;
	uint64_t              rng;
};

static void
elist_push(struct elist *l, struct entry *e)
{
	e->next = NULL;
	if (l->tail != NULL)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->n++;
}

static struct entry *
elist_pop(struct elist *l)
{
	struct entry *e = l->head;

	if (e == NULL)
		return NULL;
	l->head = e->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->n--;
	e->next = NULL;
	return e;
}

static uint64_t
batcher_random(struct batcher *b)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 2685821657736338717ULL;
}

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
static uint64_t
batcher_backoff_ms(struct batcher *b, unsigned attempt)
{
	uint64_t ceiling = b->cfg.retry_base_ms;

	for (unsigned i = 0; i < attempt && ceiling < b->cfg.retry_max_backoff_ms; i++)
		ceiling *= 2;
	if (ceiling > b->cfg.retry_max_backoff_ms)
		ceiling = b->cfg.retry_max_backoff_ms;
	return batcher_random(b) % (ceiling + 1);
}

/* The entry's fate is sealed: report it. */
static void
batcher_finish(struct batcher *b, struct entry *e, enum entry_dest dest)
{
	e->dest = dest;
	queue_finish(b->q, 1);
	e->done(e, e->done_arg);
}

static void
batcher_to_dlq(struct batcher *b, struct entry *e, enum dlq_reason reason)
{
	e->reason = reason;
	if (b->cfg.no_dlq)
		batcher_finish(b, e, DEST_NONE);
	else
		elist_push(&b->dlq_pending, e);
}

static void
batcher_set_error(struct entry *e, const char *code, const char *message)
{
	snprintf(e->error_code, sizeof(e->error_code), "%s", code);
	snprintf(e->error_message, sizeof(e->error_message), "%s", message);
}

static void
batcher_intake(struct batcher *b, uint64_t now)
{
	struct entry *e = queue_take_all(b->q), *next;

	for (; e != NULL; e = next) {
		next = e->next;
		e->deadline_mono_ms = now + b->cfg.delivery_timeout_ms;
		if (e->reason == DLQ_OUT_OF_ORDER) {
			batcher_to_dlq(b, e, DLQ_OUT_OF_ORDER);
			continue;
		}
		if (b->pending.n == 0)
			b->pending_since = now;
		elist_push(&b->pending, e);
	}
}

/* Moves entries whose time has come: retries due, deadlines passed. */
static void
batcher_timers(struct batcher *b, uint64_t now)
{
	struct elist keep = { 0 };
	struct entry *e;

	for (e = elist_pop(&b->backoff); e != NULL; e = elist_pop(&b->backoff)) {
		if (now >= e->deadline_mono_ms)
			batcher_to_dlq(b, e, DLQ_DEADLINE);
		else if (now >= e->next_try_mono_ms)
			elist_push(&b->pending, e);
		else
			elist_push(&keep, e);
	}
	b->backoff = keep;
	memset(&keep, 0, sizeof(keep));
	for (e = elist_pop(&b->pending); e != NULL; e = elist_pop(&b->pending)) {
		if (now >= e->deadline_mono_ms)
			batcher_to_dlq(b, e, DLQ_DEADLINE);
		else
			elist_push(&keep, e);
	}
	b->pending = keep;
	memset(&keep, 0, sizeof(keep));
	for (e = elist_pop(&b->dlq_backoff); e != NULL; e = elist_pop(&b->dlq_backoff)) {
		if (now >= e->next_try_mono_ms)
			elist_push(&b->dlq_pending, e);
		else
			elist_push(&keep, e);
	}
	b->dlq_backoff = keep;
}

/* Past the stop deadline, everything not yet in flight goes to the DLQ. */
static void
batcher_spill_for_shutdown(struct batcher *b)
{
	struct entry *e;

	for (e = elist_pop(&b->pending); e != NULL; e = elist_pop(&b->pending))
		batcher_to_dlq(b, e, DLQ_SHUTDOWN);
	for (e = elist_pop(&b->backoff); e != NULL; e = elist_pop(&b->backoff))
		batcher_to_dlq(b, e, DLQ_SHUTDOWN);
}

static bool
batcher_past_stop(struct batcher *b, uint64_t now)
{
	return atomic_load(&b->stopping) && now >= atomic_load(&b->stop_at_ms);
}

static void
batcher_breaker_set(struct batcher *b, enum breaker state, uint64_t now)
{
	if (b->breaker == state)
		return;
	b->breaker = state;
	if (state == BREAKER_OPEN)
		b->open_until = now + b->cfg.breaker_cooldown_ms;
	atomic_store(&b->eb_failing, state != BREAKER_CLOSED);
	stats_circuit(b->stats, state == BREAKER_OPEN ? STATS_CIRCUIT_OPEN :
	    state == BREAKER_HALF_OPEN ? STATS_CIRCUIT_HALF_OPEN :
	    STATS_CIRCUIT_CLOSED);
	log_json(LOGL_WARN, json_pack("{s:s,s:s,s:i}", "msg", "circuit breaker",
	    "state", state == BREAKER_OPEN ? "open" :
	    state == BREAKER_HALF_OPEN ? "half-open" : "closed",
	    "consecutiveFailures", (int)b->failures));
}

static struct batch *
batcher_batch_new(struct batcher *b, enum batch_kind kind)
{
	struct batch *bt = calloc(1, sizeof(*bt));

	if (bt == NULL)
		return NULL;
	bt->b = b;
	bt->kind = kind;
	return bt;
}

static void
batcher_batch_free(struct batch *bt)
{
	aws_call_fini(&bt->call);
	free(bt);
}

static void batcher_pe_done(struct aws_call *call, void *arg);
static void batcher_sqs_done(struct aws_call *call, void *arg);
static void batcher_pe_failed(struct batcher *b, struct batch *bt,
    const char *code, const char *message, bool retryable, uint64_t now);
static void batcher_sqs_failed(struct batcher *b, struct batch *bt,
    const char *code, const char *message, bool retryable, uint64_t now);

/* Fills a PutEvents batch from pending: at most 10 entries and the size cap. */
static void
batcher_fill_putevents(struct batcher *b, struct batch *bt)
{
	size_t total = 0;

	while (bt->n < BATCH_MAX && b->pending.head != NULL &&
	    total + b->pending.head->size <= b->cfg.max_request_bytes) {
		struct entry *e = elist_pop(&b->pending);
		total += e->size;
		e->attempts++;
		bt->e[bt->n++] = e;
	}
}

static int
batcher_submit(struct batcher *b, struct batch *bt, const struct aws_service *svc,
    const char *target)
{
	bt->call.svc = svc;
	bt->call.target = target;
	bt->call.done = bt->kind == BATCH_PUTEVENTS ? batcher_pe_done :
	    batcher_sqs_done;
	bt->call.arg = bt;
	if (b->cfg.get_credentials(b->cfg.credentials_arg, &b->creds) != 0) {
		/* The provider logs its own state changes; once here is enough. */
		if (!b->warned_no_creds)
			log_warnx("%s: no valid AWS credentials to sign with", __func__);
		b->warned_no_creds = true;
		return -1;
	}
	b->warned_no_creds = false;
	return aws_client_submit(b->client, &bt->call, &b->creds, time(NULL));
}

/* Sends one PutEvents batch.  Returns -1 when nothing could be sent. */
static int
batcher_send_one_putevents(struct batcher *b, uint64_t now)
{
	struct batch *bt = batcher_batch_new(b, BATCH_PUTEVENTS);

	if (bt == NULL)
		return -1;
	batcher_fill_putevents(b, bt);
	if (bt->n == 0) {
		/* An entry over the request cap: ingest refuses those. */
		struct entry *e = elist_pop(&b->pending);
		if (e != NULL) {
			batcher_set_error(e, "EntryTooLarge",
			    "over the PutEvents request size limit");
			batcher_to_dlq(b, e, DLQ_NON_RETRYABLE);
		}
		free(bt);
		return 0;
	}
	bt->probe = b->breaker == BREAKER_HALF_OPEN;
	bt->call.body = putevents_body(bt->e, bt->n, &bt->call.body_len);
	if (bt->call.body == NULL || batcher_submit(b, bt, &b->eb,
	    AWSPROTO_PUTEVENTS_TARGET) != 0) {
		batcher_pe_failed(b, bt, "ClientError",
		    "could not build or sign the request", true, now);
		batcher_batch_free(bt);
		return -1;
	}
	b->pe_inflight++;
	b->probe_inflight = bt->probe;
	log_debug("PutEvents: %zu entries, %zu bytes, %u calls in flight",
	    bt->n, bt->call.body_len, b->pe_inflight);
	return 0;
}

static void
batcher_send_putevents(struct batcher *b, uint64_t now)
{
	bool draining = atomic_load(&b->stopping);
	struct entry *e;

	if (b->breaker == BREAKER_OPEN && now >= b->open_until)
		batcher_breaker_set(b, BREAKER_HALF_OPEN, now);
	if (b->breaker == BREAKER_OPEN) {
		for (e = elist_pop(&b->pending); e != NULL; e = elist_pop(&b->pending))
			batcher_to_dlq(b, e, DLQ_CIRCUIT_OPEN);
		return;
	}
	while (b->pending.n > 0 && b->pe_inflight < b->cfg.max_inflight) {
		if (b->breaker == BREAKER_HALF_OPEN && b->probe_inflight)
			return;
		/* Group commit: a short linger lets concurrent requests share a
		 * call.  (Sending at once when no call is out cut light-load
		 * latency but, against a fast endpoint, batches fell from 9.75
		 * to 6.66 entries: docs/benchmarks.md.) */
		if (!draining && b->pending.n < BATCH_MAX &&
		    now < b->pending_since + b->cfg.linger_ms)
			return;
		if (batcher_send_one_putevents(b, now) != 0)
			return;
	}
}

static bool
batcher_take_retry_token(struct batcher *b, int cost)
{
	if (b->retry_tokens < cost)
		return false;
	b->retry_tokens -= cost;
	return true;
}

/* One entry EventBridge did not take: retry it later, or spill it. */
static void
batcher_entry_failed(struct batcher *b, struct entry *e, const char *code,
    const char *message, bool retryable, bool may_retry, uint64_t now)
{
	uint64_t delay;

	batcher_set_error(e, code, message);
	if (!retryable) {
		batcher_to_dlq(b, e, DLQ_NON_RETRYABLE);
		return;
	}
	if (!may_retry || e->attempts >= b->cfg.max_attempts ||
	    batcher_past_stop(b, now)) {
		batcher_to_dlq(b, e, batcher_past_stop(b, now) ? DLQ_SHUTDOWN :
		    DLQ_EVENTBRIDGE_ERROR);
		return;
	}
	delay = batcher_backoff_ms(b, e->attempts);
	if (now + delay >= e->deadline_mono_ms) {
		batcher_to_dlq(b, e, DLQ_DEADLINE);
		return;
	}
	e->next_try_mono_ms = now + delay;
	elist_push(&b->backoff, e);
	stats_putevents_retry(b->stats, 1);
}

static void
batcher_breaker_result(struct batcher *b, bool ok, uint64_t now)
{
	if (ok) {
		b->failures = 0;
		if (b->retry_tokens < RETRY_TOKENS_MAX)
			b->retry_tokens++;
		batcher_breaker_set(b, BREAKER_CLOSED, now);
		return;
	}
	b->failures++;
	if (b->breaker == BREAKER_HALF_OPEN ||
	    b->failures >= b->cfg.breaker_failures)
		batcher_breaker_set(b, BREAKER_OPEN, now);
}

/* The whole call failed: every entry shares the error. */
static void
batcher_pe_failed(struct batcher *b, struct batch *bt, const char *code,
    const char *message, bool retryable, uint64_t now)
{
	int cost = strcmp(code, "Transport") == 0 ? RETRY_COST_TIMEOUT : RETRY_COST;
	bool may_retry = retryable && batcher_take_retry_token(b, cost);

	for (size_t i = 0; i < bt->n; i++)
		batcher_entry_failed(b, bt->e[i], code, message, retryable,
		    may_retry, now);
	bt->n = 0;
}

/*
 * A 200 answer that cannot be read leaves the outcome unknown, and a retry
 * may publish twice; parsing allocates, so a failure may be a passing lack
 * of memory rather than a bad answer: try it again before giving up.
 */
#define PARSE_TRIES 3

static int
batcher_parse_putevents(const struct aws_call *call, size_t n,
    struct putevents_result *res)
{
	for (int i = 0; i < PARSE_TRIES; i++)
		if (putevents_parse(call->resp, call->resp_len, n, res) == 0)
			return 0;
	return -1;
}

static int
batcher_parse_sqs(const struct aws_call *call, size_t n, struct sqs_result *res)
{
	for (int i = 0; i < PARSE_TRIES; i++)
		if (sqs_batch_parse(call->resp, call->resp_len, n, res) == 0)
			return 0;
	return -1;
}

/* A 200 answer: each entry has its own result. */
static bool
batcher_pe_results(struct batcher *b, struct batch *bt, uint64_t now)
{
	struct putevents_result res[BATCH_MAX];
	size_t failed_retryable = 0;
	bool may_retry = true, charged = false;

	if (batcher_parse_putevents(&bt->call, bt->n, res) != 0) {
		batcher_pe_failed(b, bt, "MalformedResponse",
		    "PutEvents answer could not be read", true, now);
		return false;
	}
	for (size_t i = 0; i < bt->n; i++) {
		struct entry *e = bt->e[i];
		bool retryable;
		if (res[i].ok) {
			snprintf(e->dest_id, sizeof(e->dest_id), "%s", res[i].event_id);
			batcher_finish(b, e, DEST_EVENTBRIDGE);
			continue;
		}
		retryable = aws_error_retryable(res[i].error_code, 200);
		if (retryable && !charged) {
			may_retry = batcher_take_retry_token(b, RETRY_COST);
			charged = true;
		}
		failed_retryable += retryable;
		batcher_entry_failed(b, e, res[i].error_code,
		    res[i].error_message, retryable, may_retry, now);
	}
	stats_putevents(b->stats, failed_retryable > 0 ? "partial" : "success",
	    bt->call.seconds, bt->n);
	/* Throttled to the last entry is as good as down. */
	return failed_retryable < bt->n;
}

/* What went wrong with a call that got no 200. */
static void
batcher_call_error(const struct aws_call *call, struct aws_error *err)
{
	if (call->status == 0) {
		snprintf(err->code, sizeof(err->code), "Transport");
		snprintf(err->message, sizeof(err->message), "%s",
		    curl_easy_strerror(call->curl_code));
		return;
	}
	aws_error_parse(call->status, call->resp == NULL ? "" : call->resp,
	    call->resp_len, call->query_error, call->error_type, err);
}

static void
batcher_pe_done(struct aws_call *call, void *arg)
{
	struct batch *bt = arg;
	struct batcher *b = bt->b;
	uint64_t now = clock_mono_ms();
	struct aws_error err;
	bool ok;

	b->pe_inflight--;
	if (bt->probe)
		b->probe_inflight = false;
	if (call->status == 200) {
		ok = batcher_pe_results(b, bt, now);
	} else {
		batcher_call_error(call, &err);
		awsskew_check(b->stats, "PutEvents", &err);
		stats_putevents(b->stats, call->status == 0 ? "transport" :
		    "error", call->seconds, bt->n);
		log_json(LOGL_WARN, json_pack("{s:s,s:i,s:s,s:s,s:i}", "msg",
		    "PutEvents failed", "status", (int)call->status, "code",
		    err.code, "message", err.message, "entries", (int)bt->n));
		batcher_pe_failed(b, bt, err.code, err.message,
		    aws_error_retryable(err.code, call->status), now);
		ok = false;
	}
	batcher_breaker_result(b, ok, now);
	batcher_batch_free(bt);
}

/* An SQS message that could not be sent: try again, or give up on it. */
static void
batcher_dlq_retry(struct batcher *b, struct entry *e, bool retryable,
    uint64_t now)
{
	if (!retryable || e->dlq_attempts >= DLQ_MAX_ATTEMPTS ||
	    batcher_past_stop(b, now)) {
		log_json(LOGL_ERROR, json_pack("{s:s,s:s,s:s,s:s}", "msg",
		    "event not delivered: EventBridge and the DLQ refused it",
		    "id", e->event_id, "reason", dlq_reason_name(e->reason),
		    "errorCode", e->error_code));
		batcher_finish(b, e, DEST_NONE);
		return;
	}
	e->next_try_mono_ms = now + batcher_backoff_ms(b, e->dlq_attempts);
	elist_push(&b->dlq_backoff, e);
}

static void
batcher_sqs_failed(struct batcher *b, struct batch *bt, const char *code,
    const char *message, bool retryable, uint64_t now)
{
	(void)code;
	(void)message;
	for (size_t i = 0; i < bt->n; i++)
		batcher_dlq_retry(b, bt->e[i], retryable, now);
	bt->n = 0;
}

static void
batcher_sqs_results(struct batcher *b, struct batch *bt, uint64_t now)
{
	struct sqs_result res[BATCH_MAX];
	size_t failed = 0;

	if (batcher_parse_sqs(&bt->call, bt->n, res) != 0) {
		stats_sqs(b->stats, "error", bt->call.seconds);
		batcher_sqs_failed(b, bt, "MalformedResponse", "", true, now);
		return;
	}
	for (size_t i = 0; i < bt->n; i++) {
		struct entry *e = bt->e[i];
		if (res[i].ok) {
			snprintf(e->dest_id, sizeof(e->dest_id), "%s",
			    res[i].message_id);
			batcher_finish(b, e, DEST_DLQ);
			continue;
		}
		failed++;
		batcher_dlq_retry(b, e, !res[i].sender_fault, now);
	}
	stats_sqs(b->stats, failed > 0 ? "partial" : "success", bt->call.seconds);
	atomic_store(&b->dlq_failing, failed == bt->n);
}

static void
batcher_sqs_done(struct aws_call *call, void *arg)
{
	struct batch *bt = arg;
	struct batcher *b = bt->b;
	uint64_t now = clock_mono_ms();
	struct aws_error err;

	b->sqs_inflight--;
	if (call->status == 200) {
		batcher_sqs_results(b, bt, now);
	} else {
		batcher_call_error(call, &err);
		awsskew_check(b->stats, "SendMessageBatch", &err);
		stats_sqs(b->stats, call->status == 0 ? "transport" : "error",
		    call->seconds);
		log_json(LOGL_ERROR, json_pack("{s:s,s:i,s:s,s:s,s:i}", "msg",
		    "SQS SendMessageBatch failed", "status", (int)call->status,
		    "code", err.code, "message", err.message, "entries",
		    (int)bt->n));
		atomic_store(&b->dlq_failing, true);
		batcher_sqs_failed(b, bt, err.code, err.message,
		    aws_error_retryable(err.code, call->status), now);
	}
	batcher_batch_free(bt);
}

/* Fills an SQS batch: at most 10 messages and the queue's size limit. */
static void
batcher_fill_sqs(struct batcher *b, struct batch *bt)
{
	size_t total = 0;

	while (bt->n < BATCH_MAX && b->dlq_pending.head != NULL) {
		struct entry *e = b->dlq_pending.head;
		size_t len = 0, size;
		char *env = dlq_envelope(e, &len);
		bool built = env != NULL;
		free(env);
		size = sqs_message_size(e, len);
		if (!built || total + size > b->cfg.max_message_bytes)
			break;
		total += size;
		e->dlq_attempts++;
		bt->e[bt->n++] = elist_pop(&b->dlq_pending);
	}
}

static void
batcher_send_dlq(struct batcher *b, uint64_t now)
{
	while (b->dlq_pending.n > 0 && b->sqs_inflight < b->cfg.max_inflight) {
		struct batch *bt = batcher_batch_new(b, BATCH_SQS);
		if (bt == NULL)
			return;
		batcher_fill_sqs(b, bt);
		if (bt->n == 0) {
			/* Too big for any message: ingest's bound should stop these. */
			struct entry *e = elist_pop(&b->dlq_pending);
			free(bt);
			if (e == NULL)
				return;
			batcher_set_error(e, "MessageTooLong", "over the SQS limit");
			batcher_dlq_retry(b, e, false, now);
			continue;
		}
		bt->call.body = sqs_batch_body(b->queue_url, bt->e, bt->n,
		    &bt->call.body_len);
		if (bt->call.body == NULL || batcher_submit(b, bt, &b->sqs,
		    AWSPROTO_SQS_BATCH_TARGET) != 0) {
			batcher_sqs_failed(b, bt, "ClientError", "", true, now);
			batcher_batch_free(bt);
			return;
		}
		b->sqs_inflight++;
		log_debug("SendMessageBatch: %zu messages, %zu bytes", bt->n,
		    bt->call.body_len);
	}
}

/* How long the loop may sleep: until the next linger, retry or deadline. */
static int
batcher_wait_ms(struct batcher *b, uint64_t now)
{
	uint64_t next = now + POLL_MAX_MS;

	if (b->pending.n > 0 && b->pe_inflight < b->cfg.max_inflight) {
		uint64_t t = b->pending_since + b->cfg.linger_ms;
		if (t < next)
			next = t;
	}
	for (struct entry *e = b->backoff.head; e != NULL; e = e->next)
		if (e->next_try_mono_ms < next)
			next = e->next_try_mono_ms;
	for (struct entry *e = b->dlq_backoff.head; e != NULL; e = e->next)
		if (e->next_try_mono_ms < next)
			next = e->next_try_mono_ms;
	if (b->breaker == BREAKER_OPEN && b->open_until < next)
		next = b->open_until;
	return next <= now ? 0 : (int)(next - now);
}

static bool
batcher_idle(struct batcher *b)
{
	return queue_outstanding(b->q) == 0 && b->pe_inflight == 0 &&
	    b->sqs_inflight == 0;
}

static void *
batcher_main(void *arg)
{
	struct batcher *b = arg;

	for (;;) {
		uint64_t now = clock_mono_ms();
		atomic_store(&b->heartbeat_ms, now);
		batcher_intake(b, now);
		batcher_timers(b, now);
		if (batcher_past_stop(b, now))
			batcher_spill_for_shutdown(b);
		if (atomic_load(&b->hurry) && !b->aborted) {
			/* What AWS took before the abort may land in both places:
			 * a copy too many beats an event lost. */
			b->aborted = true;
			aws_client_abort(b->client, &b->eb);
		}
		batcher_send_putevents(b, now);
		batcher_send_dlq(b, now);
		if (atomic_load(&b->stopping) && batcher_idle(b))
			break;
		aws_client_run(b->client, batcher_wait_ms(b, now));
	}
	atomic_store(&b->finished, true);
	return NULL;
}

void
batcher_wakeup(void *arg)
{
	struct batcher *b = arg;

	aws_client_wakeup(b->client);
}

int
batcher_start(struct batcher *b)
{
	atomic_store(&b->heartbeat_ms, clock_mono_ms());
	if (pthread_create(&b->thread, NULL, batcher_main, b) != 0) {
		log_error("%s: pthread_create", __func__);
		return -1;
	}
	b->started = true;
	return 0;
}

void
batcher_drain_begin(struct batcher *b, uint64_t stop_ms)
{
	if (!b->started)
		return;
	atomic_store(&b->stop_at_ms, clock_mono_ms() + stop_ms);
	atomic_store(&b->stopping, true);
	aws_client_wakeup(b->client);
}

void
batcher_drain_now(struct batcher *b)
{
	if (!b->started)
		return;
	atomic_store(&b->stop_at_ms, clock_mono_ms());
	atomic_store(&b->hurry, true);
	aws_client_wakeup(b->client);
}

int
batcher_drained(const struct batcher *b)
{
	return !b->started || atomic_load(&((struct batcher *)b)->finished);
}

void
batcher_drain(struct batcher *b, uint64_t stop_ms)
{
	if (!b->started)
		return;
	batcher_drain_begin(b, stop_ms);
	pthread_join(b->thread, NULL);
	b->started = false;
}

int
batcher_alive(const struct batcher *b, uint64_t max_ms)
{
	struct batcher *mb = (struct batcher *)b;

	return clock_mono_ms() - atomic_load(&mb->heartbeat_ms) <= max_ms;
}

int
batcher_ready(const struct batcher *b, const char **why)
{
	struct batcher *mb = (struct batcher *)b;

	if (atomic_load(&mb->eb_failing) && atomic_load(&mb->dlq_failing)) {
		*why = "EventBridge and the dead-letter queue are both failing";
		return 0;
	}
	return 1;
}

void
batcher_config_from(struct batcher_config *cfg, const struct config *c)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->queue_url = c->queue_url;
	cfg->max_request_bytes = c->max_entry_bytes;
	cfg->max_message_bytes = c->max_message_bytes;
	cfg->linger_ms = c->batch_linger_ms;
	cfg->delivery_timeout_ms = c->delivery_timeout_ms;
	cfg->request_timeout_ms = c->request_timeout_ms;
	cfg->connect_timeout_ms = c->connect_timeout_ms;
	cfg->retry_base_ms = c->retry_base_ms;
	cfg->retry_max_backoff_ms = c->retry_max_backoff_ms;
	cfg->max_attempts = (unsigned)c->max_attempts;
	cfg->max_inflight = (unsigned)c->max_inflight_batches;
	cfg->breaker_failures = (unsigned)c->breaker_failures;
	cfg->breaker_cooldown_ms = c->breaker_cooldown_ms;
}

struct batcher *
batcher_new(const struct batcher_config *cfg, struct queue *q,
    struct stats *stats, char *err, size_t errlen)
{
	struct batcher *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->cfg = *cfg;
	b->q = q;
	b->stats = stats;
	b->retry_tokens = RETRY_TOKENS_MAX;
	if (getrandom(&b->rng, sizeof(b->rng), 0) != sizeof(b->rng) || b->rng == 0)
		b->rng = clock_mono_us() | 1;
	b->queue_url = strdup(cfg->queue_url);
	b->client = aws_client_new((long)cfg->connect_timeout_ms,
	    (long)cfg->request_timeout_ms);
	if (b->queue_url == NULL || b->client == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (aws_service_init(&b->eb, cfg->eventbridge_url, cfg->region, "events",
	    AWSPROTO_PUTEVENTS_CTYPE, err, errlen) != 0 ||
	    aws_service_init(&b->sqs, cfg->sqs_url, cfg->region, "sqs",
	    AWSPROTO_SQS_CTYPE, err, errlen) != 0)
		goto fail;
	queue_set_notify(q, batcher_wakeup, b);
	return b;
fail:
	batcher_free(b);
	return NULL;
}

void
batcher_free(struct batcher *b)
{
	if (b == NULL)
		return;
	aws_client_free(b->client);
	aws_service_fini(&b->eb);
	aws_service_fini(&b->sqs);
	creds_clear(&b->creds);
	free(b->queue_url);
	free(b);
}
