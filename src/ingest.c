/* ingest.c - the webhook pipeline: auth, validation, dedupe, ordering, hand-off. */
#include "ingest.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "clock.h"
#include "digest.h"
#include "entry.h"
#include "jw.h"
#include "log.h"
#include "order.h"
#include "queue.h"
#include "stats.h"

enum { PHASE_RUNNING, PHASE_PARKED, PHASE_ANSWERED };

struct ingest {
	struct ingest_config cfg;
	/* What SIGHUP may swap (auth, cfg.event.schema): read-locked while a
	 * request uses them, write-locked for the swap. */
	pthread_rwlock_t     live_lock;
	struct auth         *auth;
	struct dedupe       *dedupe;
	struct order        *order;
	struct queue        *queue;
	struct stats        *stats;
	atomic_bool          draining;
};

struct ingest *
ingest_new(const struct ingest_config *cfg, struct auth *auth,
    struct dedupe *dedupe, struct order *order, struct queue *queue,
    struct stats *stats)
{
	struct ingest *ing = calloc(1, sizeof(*ing));

	if (ing == NULL)
		return NULL;
	if (pthread_rwlock_init(&ing->live_lock, NULL) != 0) {
		free(ing);
		return NULL;
	}
	ing->cfg = *cfg;
	ing->auth = auth;
	ing->dedupe = dedupe;
	ing->order = order;
	ing->queue = queue;
	ing->stats = stats;
	return ing;
}

void
ingest_free(struct ingest *ing)
{
	if (ing == NULL)
		return;
	pthread_rwlock_destroy(&ing->live_lock);
	free(ing);
}

void
ingest_swap(struct ingest *ing, struct auth **auth, struct schema **schema)
{
	struct auth *old_auth;
	struct schema *old_schema;

	pthread_rwlock_wrlock(&ing->live_lock);
	old_auth = ing->auth;
	old_schema = (struct schema *)ing->cfg.event.schema;
	ing->auth = *auth;
	ing->cfg.event.schema = *schema;
	pthread_rwlock_unlock(&ing->live_lock);
	*auth = old_auth;
	*schema = old_schema;
}

void
ingest_set_draining(struct ingest *ing)
{
	atomic_store(&ing->draining, true);
}

int
ingest_draining(const struct ingest *ing)
{
	return atomic_load(&((struct ingest *)ing)->draining);
}

/* Starts an answer's JSON object in its fixed buffer. */
static void
ingest_answer_begin(struct ingest_answer *a, struct jw *w)
{
	jw_init_fixed(w, a->body, sizeof(a->body));
	jw_raw(w, "{", 1);
}

/* Closes the object; one that did not fit (only an absurd message can
 * overflow the buffer) becomes a 503 "try again". */
static void
ingest_answer_end(struct ingest_answer *a, struct jw *w, int status,
    unsigned retry_after_s)
{
	static const char fallback[] =
	    "{\"error\":\"internal\",\"message\":\"try again\"}";

	jw_raw(w, "}", 1);
	a->status = status;
	a->retry_after_s = retry_after_s;
	if (jw_finish(w, &a->body_len) == NULL) {
		a->status = 503;
		a->retry_after_s = 1;
		memcpy(a->body, fallback, sizeof(fallback));
		a->body_len = sizeof(fallback) - 1;
	}
}

void
ingest_answer_error(struct ingest_answer *a, int status, const char *code,
    const char *message, unsigned retry_after_s)
{
	struct jw w;
	int first = 1;

	ingest_answer_begin(a, &w);
	jw_member(&w, &first, "error", code);
	jw_member(&w, &first, "message", message);
	ingest_answer_end(a, &w, status, retry_after_s);
}

static void
ingest_answer_event_error(const struct ingest *ing, struct ingest_answer *a,
    const struct event_error *err)
{
	struct jw w;
	int first = 1;

	ingest_answer_begin(a, &w);
	jw_member(&w, &first, "error", err->error);
	jw_member(&w, &first, "message", err->message);
	if (err->pointer[0] != '\0')
		jw_member(&w, &first, "pointer", err->pointer);
	if (err->rule[0] != '\0')
		jw_member(&w, &first, "rule", err->rule);
	ingest_answer_end(a, &w, err->status,
	    err->status == 503 ? ing->cfg.retry_after_s : 0);
}

static void
ingest_answer_accepted(struct ingest_answer *a, const struct entry *e)
{
	struct jw w;
	int first = 1;

	ingest_answer_begin(a, &w);
	jw_member(&w, &first, "status", "accepted");
	jw_member(&w, &first, "id", e->event_id);
	jw_member(&w, &first, "destination",
	    e->dest == DEST_EVENTBRIDGE ? "eventbridge" : "dlq");
	ingest_answer_end(a, &w, 200, 0);
}

static void
ingest_answer_duplicate(struct ingest_answer *a, const char *id)
{
	struct jw w;
	int first = 1;

	ingest_answer_begin(a, &w);
	jw_member(&w, &first, "status", "duplicate");
	jw_member(&w, &first, "id", id);
	ingest_answer_end(a, &w, 200, 0);
}

/* Nothing else is said: no hint which part was wrong. */
static void
ingest_answer_unauthorized(struct ingest_answer *a)
{
	struct jw w;
	int first = 1;

	ingest_answer_begin(a, &w);
	jw_member(&w, &first, "error", "unauthorized");
	ingest_answer_end(a, &w, 401, 0);
}

static void
ingest_answer_unavailable(struct ingest *ing, struct ingest_answer *a,
    int status, const char *message)
{
	ingest_answer_error(a, status, status == 429 ? "busy" : "unavailable",
	    message, ing->cfg.retry_after_s);
}

int
ingest_ticket_park(struct ingest_ticket *t)
{
	return atomic_exchange(&t->phase, PHASE_PARKED) == PHASE_ANSWERED;
}

/* The answer is final: wake the request if it is already parked. */
static void
ingest_ticket_answered(struct ingest_ticket *t)
{
	if (atomic_exchange(&t->phase, PHASE_ANSWERED) == PHASE_PARKED)
		t->wake(t);
}

static int
ingest_authenticate(struct ingest *ing, const struct ingest_request *req,
    struct ingest_answer *a)
{
	struct auth_request ar = {
		.authorization = req->authorization,
		.webhook_id = req->webhook_id,
		.webhook_timestamp = req->webhook_timestamp,
		.webhook_signature = req->webhook_signature,
		.body = req->body,
		.body_len = req->body_len,
		.now_s = clock_wall_ms() / 1000,
	};
	enum auth_result r = auth_check(ing->auth, &ar);

	if (r == AUTH_OK)
		return 0;
	stats_rejected(ing->stats, "unauthorized");
	log_json(LOGL_INFO, json_pack("{s:s,s:s,s:s}", "msg", "event",
	    "outcome", "unauthorized", "reason", auth_result_name(r)));
	ingest_answer_unauthorized(a);
	return -1;
}

static void
ingest_log_rejected(const char *outcome, const char *id, const char *type,
    const struct event_error *err)
{
	json_t *o = json_pack("{s:s,s:s}", "msg", "event", "outcome", outcome);

	if (o == NULL)
		return;
	if (id != NULL)
		json_object_set_new(o, "id", json_string(id));
	if (type != NULL)
		json_object_set_new(o, "eventType", json_string(type));
	if (err != NULL) {
		json_object_set_new(o, "message", json_string(err->message));
		if (err->pointer[0] != '\0')
			json_object_set_new(o, "pointer", json_string(err->pointer));
	}
	log_json(LOGL_INFO, o);
}

/* Applies the ordering policy.  Returns 0 to go on, -1 when answered. */
static int
ingest_check_order(struct ingest *ing, struct event *ev, struct ingest_answer *a)
{
	int64_t newest;
	char msg[160];

	if (ing->order == NULL || ev->order_key == NULL ||
	    order_peek(ing->order, ev->order_key, strlen(ev->order_key),
	    ev->ts_ms, &newest) == ORDER_FRESH)
		return 0;
	stats_out_of_order(ing->stats, order_policy_name(ing->cfg.order_policy));
	switch (ing->cfg.order_policy) {
	case ORDER_ACCEPT:
		return 0;
	case ORDER_DLQ:
		ev->entry->reason = DLQ_OUT_OF_ORDER;
		return 0;
	case ORDER_REJECT:
		break;
	}
	snprintf(msg, sizeof(msg), "timestamp is %lld ms older than the newest "
	    "event published for this ordering key",
	    (long long)(newest - ev->ts_ms));
	stats_rejected(ing->stats, "out_of_order");
	ingest_answer_error(a, 409, "out_of_order", msg, 0);
	ingest_log_rejected("out_of_order", ev->entry->event_id,
	    ev->entry->event_type, NULL);
	return -1;
}

/* Our claim ended without delivery: forget it and give waiters our answer. */
static void
ingest_release(struct ingest *ing, const char *key,
    const struct ingest_answer *a)
{
	struct dedupe_waiter *w = dedupe_release(ing->dedupe, key, strlen(key));

	while (w != NULL) {
		struct ingest_ticket *t = (struct ingest_ticket *)w;
		w = w->next;
		t->answer = *a;
		ingest_ticket_answered(t);
	}
}

/* Returns -1 when the answer is final, else the dedupe state (NEW/INFLIGHT). */
static int
ingest_claim(struct ingest *ing, struct ingest_ticket *t, const char *id)
{
	switch (dedupe_claim(ing->dedupe, id, strlen(id), clock_mono_ms(),
	    &t->waiter)) {
	case DEDUPE_NEW:
		return DEDUPE_NEW;
	case DEDUPE_INFLIGHT:
		stats_duplicate(ing->stats);
		return DEDUPE_INFLIGHT;
	case DEDUPE_SEEN:
		stats_duplicate(ing->stats);
		ingest_answer_duplicate(&t->answer, id);
		ingest_log_rejected("duplicate", id, NULL, NULL);
		return -1;
	case DEDUPE_FULL:
		break;
	}
	stats_rejected(ing->stats, "dedupe_full");
	ingest_answer_unavailable(ing, &t->answer, 503,
	    "the duplicate table is full of events in flight");
	return -1;
}

/* Hands the claimed event to delivery; answers here if that is impossible. */
static enum ingest_status
ingest_enqueue(struct ingest *ing, struct ingest_ticket *t, struct event *ev)
{
	struct entry *e = ev->entry;

	e->done = ingest_entry_done;
	e->done_arg = t;
	/* The key's newest advances only when this event is published. */
	e->order_key = ev->order_key;
	ev->order_key = NULL;
	if (queue_push(ing->queue, e) == 0) {
		ev->entry = NULL;
		return INGEST_PENDING;
	}
	if (atomic_load(&ing->draining)) {
		stats_rejected(ing->stats, "draining");
		ingest_answer_unavailable(ing, &t->answer, 503, "draining");
	} else {
		stats_rejected(ing->stats, "queue_full");
		ingest_answer_unavailable(ing, &t->answer, 429,
		    "delivery queue is full");
	}
	ingest_release(ing, e->event_id, &t->answer);
	return INGEST_DONE;
}

/* Authentication and validation, with the live auth and schema held. */
static int
ingest_validate(struct ingest *ing, const struct ingest_request *req,
    struct ingest_ticket *t, struct event *ev)
{
	struct event_error err;
	int rc = -1;

	pthread_rwlock_rdlock(&ing->live_lock);
	if (ingest_authenticate(ing, req, &t->answer) != 0)
		goto out;
	stats_received(ing->stats);
	if (event_build(&ing->cfg.event, req->body, req->body_len, req->trace,
	    clock_wall_ms(), ev, &err) != 0) {
		stats_rejected(ing->stats, err.error);
		ingest_log_rejected("rejected", NULL, NULL, &err);
		ingest_answer_event_error(ing, &t->answer, &err);
		goto out;
	}
	rc = 0;
out:
	pthread_rwlock_unlock(&ing->live_lock);
	return rc;
}

enum ingest_status
ingest_submit(struct ingest *ing, const struct ingest_request *req,
    struct ingest_ticket *t)
{
	struct event ev;
	enum ingest_status st = INGEST_DONE;
	int claim;

	atomic_store(&t->phase, PHASE_RUNNING);
	t->ing = ing;
	t->started_mono_us = clock_mono_us();
	if (atomic_load(&ing->draining)) {
		stats_rejected(ing->stats, "draining");
		ingest_answer_unavailable(ing, &t->answer, 503, "draining");
		return INGEST_DONE;
	}
	if (ingest_validate(ing, req, t, &ev) != 0)
		return INGEST_DONE;
	claim = ingest_claim(ing, t, ev.entry->event_id);
	if (claim == DEDUPE_INFLIGHT)
		st = INGEST_PENDING;
	else if (claim == DEDUPE_NEW && ingest_check_order(ing, &ev, &t->answer) != 0)
		ingest_release(ing, ev.entry->event_id, &t->answer);
	else if (claim == DEDUPE_NEW)
		st = ingest_enqueue(ing, t, &ev);
	event_fini(&ev);
	return st;
}

static void
ingest_audit(const struct entry *e, const char *outcome, double latency_s)
{
	unsigned char md[DIGEST_SHA256_LEN];
	char hex[2 * DIGEST_SHA256_LEN + 1];
	json_t *o;

	if (!log_enabled(LOGL_INFO))
		return;
	hex[0] = '\0';
	if (digest_sha256(e->detail, strlen(e->detail), md) == 0) {
		for (size_t i = 0; i < sizeof(md); i++) {
			hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
			hex[2 * i + 1] = "0123456789abcdef"[md[i] & 0x0f];
		}
		hex[2 * sizeof(md)] = '\0';
	}
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:f,s:s}", "msg", "event",
	    "id", e->event_id, "eventType", e->event_type, "outcome", outcome,
	    "destination", e->dest == DEST_EVENTBRIDGE ? "eventbridge" :
	    e->dest == DEST_DLQ ? "dlq" : "none",
	    "destinationId", e->dest_id, "attempts", (int)e->attempts,
	    "latencySeconds", latency_s, "detailSha256", hex);
	if (o != NULL && e->reason != DLQ_NONE)
		json_object_set_new(o, "reason",
		    json_string(dlq_reason_name(e->reason)));
	if (o != NULL && e->error_code[0] != '\0')
		json_object_set_new(o, "errorCode", json_string(e->error_code));
	log_json(LOGL_INFO, o);
}

void
ingest_entry_done(struct entry *e, void *arg)
{
	struct ingest_ticket *t = arg;
	struct ingest *ing = t->ing;
	size_t keylen = strlen(e->event_id);
	double latency = (double)(clock_mono_us() - t->started_mono_us) / 1e6;
	struct dedupe_waiter *w;
	const char *outcome;

	if (e->dest != DEST_NONE) {
		w = dedupe_commit(ing->dedupe, e->event_id, keylen, clock_mono_ms());
		ingest_answer_accepted(&t->answer, e);
		outcome = e->dest == DEST_EVENTBRIDGE ? "published" : "dead_lettered";
		if (e->dest == DEST_EVENTBRIDGE) {
			if (ing->order != NULL && e->order_key != NULL)
				order_check(ing->order, e->order_key,
				    strlen(e->order_key), e->time_ms, NULL);
			stats_published(ing->stats,
			    (double)(clock_wall_ms() - e->time_ms) / 1e3);
		}
		else
			stats_dead_lettered(ing->stats, dlq_reason_name(e->reason));
	} else {
		w = dedupe_release(ing->dedupe, e->event_id, keylen);
		ingest_answer_unavailable(ing, &t->answer, 503,
		    "neither EventBridge nor the dead-letter queue took the event");
		outcome = "failed";
		stats_failed(ing->stats);
	}
	stats_ack_latency(ing->stats, latency);
	ingest_audit(e, outcome, latency);
	while (w != NULL) {
		struct ingest_ticket *waiter = (struct ingest_ticket *)w;
		w = w->next;
		waiter->answer = t->answer;
		ingest_ticket_answered(waiter);
	}
	entry_free(e);
	ingest_ticket_answered(t);
}
