/* test_ingest.c - unit tests for the webhook pipeline, driven without HTTP. */
#include "testutil.h"

#include "auth.h"
#include "dedupe.h"
#include "entry.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "order.h"
#include "queue.h"
#include "schema.h"
#include "stats.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHIPPED     "conf/schemas/cxone-routing-event.json"
#define TOKEN       "t0ken-for.tests~1"
#define RETRY_AFTER 7
#define TS_NEW      "2024-05-14T09:31:07Z"
#define TS_OLD      "2024-05-14T09:30:00Z"    /* 67 s older */

/* A whole pipeline as main would wire it, minus HTTP and delivery. */
struct fx {
	char              secret[64];
	struct schema    *schema;
	struct auth      *auth;
	struct dedupe    *dedupe;
	struct order     *order;
	struct queue     *queue;
	struct metrics   *metrics;
	struct stats     *stats;
	struct ingest    *ing;
};

/* The HTTP layer's connection state, with the ticket first. */
struct req {
	struct ingest_ticket t;
	atomic_int           woken;   /* wake() runs on the delivery thread */
};

static void
req_wake(struct ingest_ticket *t)
{
	atomic_fetch_add(&((struct req *)(void *)t)->woken, 1);
}

static void
req_init(struct req *r)
{
	memset(r, 0, sizeof(*r));
	r->t.wake = req_wake;
}

static struct fx *
fx_new(enum order_policy policy, size_t capacity, int with_stats)
{
	struct ingest_config cfg = {
		.event = {
			.max_depth = 32,
			.max_future_ms = 300000,
			.max_entry_bytes = 262144,
			.max_message_bytes = 262144,
			.dedupe_key = "/id",
			.order_key = "/routingContext/queueId",
			.bus = "default",
			.source = "nice.cxone.routing",
			.detail_type = "",
			.instance = "test",
		},
		.order_policy = policy,
		.retry_after_s = RETRY_AFTER,
	};
	struct fx *f = calloc(1, sizeof(*f));
	char err[256] = "";
	int fd;

	assert_non_null(f);
	snprintf(f->secret, sizeof(f->secret), "/tmp/cxb-ingest-XXXXXX");
	fd = mkstemp(f->secret);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(write(fd, "# tokens\n" TOKEN "\n", 9 + strlen(TOKEN) + 1),
	    (ssize_t)(9 + strlen(TOKEN) + 1));
	close(fd);
	f->auth = auth_new(AUTH_BEARER, f->secret, 300, err, sizeof(err));
	/* Read once at auth_new: gone at once, even if a test fails. */
	unlink(f->secret);
	if (f->auth == NULL)
		fail_msg("auth_new: %s", err);
	f->schema = schema_load(SHIPPED, err, sizeof(err));
	if (f->schema == NULL)
		fail_msg("schema_load: %s", err);
	cfg.event.schema = f->schema;
	f->dedupe = dedupe_new(1000, 3600);
	f->order = order_new(1000, 1000);
	f->queue = queue_new(capacity);
	assert_non_null(f->dedupe);
	assert_non_null(f->order);
	assert_non_null(f->queue);
	if (with_stats) {
		f->metrics = metrics_new();
		assert_non_null(f->metrics);
		f->stats = stats_new(f->metrics, "0.0.0-test");
		assert_non_null(f->stats);
	}
	f->ing = ingest_new(&cfg, f->auth, f->dedupe, f->order, f->queue,
	    f->stats);
	assert_non_null(f->ing);
	return f;
}

static void
fx_free(struct fx *f)
{
	ingest_free(f->ing);
	stats_free(f->stats);
	metrics_free(f->metrics);
	queue_free(f->queue);
	order_free(f->order);
	dedupe_free(f->dedupe);
	auth_free(f->auth);
	schema_free(f->schema);
	free(f);
}

static char *
event_text(unsigned id, const char *ts, const char *queue_id)
{
	char *s = NULL;

	if (asprintf(&s, "{\"id\":\"00000000-0000-4000-8000-%012u\","
	    "\"eventType\":\"routing:agent-assigned\",\"timestamp\":\"%s\","
	    "\"routingContext\":{\"queueId\":\"%s\",\"skillId\":\"sk\","
	    "\"agentId\":\"ag\",\"waitTimeMs\":5},\"retryDirective\":"
	    "{\"maxAttempts\":3,\"backoffMs\":500}}", id, ts, queue_id) < 0)
		fail_msg("asprintf");
	return s;
}

static const char *
id_text(unsigned id)
{
	static char buf[40];

	snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012u", id);
	return buf;
}

static enum ingest_status
submit_as(struct fx *f, const char *authorization, const char *body,
    struct req *r)
{
	struct ingest_request rq = {
		.authorization = authorization,
		.trace = "Root=1-abc",
		.body = body,
		.body_len = strlen(body),
	};

	return ingest_submit(f->ing, &rq, &r->t);
}

/* Submits event (id, ts, queue) with the good token. */
static enum ingest_status
submit(struct fx *f, unsigned id, const char *ts, const char *queue_id,
    struct req *r)
{
	char *body = event_text(id, ts, queue_id);
	enum ingest_status st = submit_as(f, "Bearer " TOKEN, body, r);

	free(body);
	return st;
}

/* Delivery's part: take one entry, finish it, report dest through done(). */
static void
complete(struct fx *f, struct entry *e, enum entry_dest dest)
{
	queue_finish(f->queue, 1);
	e->dest = dest;
	if (dest != DEST_NONE)
		snprintf(e->dest_id, sizeof(e->dest_id), "dest-1");
	e->done(e, e->done_arg);
}

static struct entry *
take_one(struct fx *f)
{
	struct entry *e = queue_take_all(f->queue);

	assert_non_null(e);
	assert_null(e->next);
	return e;
}

static void
assert_answer(const struct ingest_answer *a, int status, const char *body)
{
	assert_int_equal(a->status, status);
	assert_int_equal(a->body_len, strlen(body));
	assert_memory_equal(a->body, body, a->body_len);
}

/* The JSON body's member as a string, "" if absent. */
static void
assert_member(const struct ingest_answer *a, const char *key, const char *val)
{
	json_error_t jerr;
	json_t *o = json_loadb(a->body, a->body_len, 0, &jerr);
	const char *v;

	assert_non_null(o);
	v = json_string_value(json_object_get(o, key));
	if (v == NULL || strcmp(v, val) != 0)
		fail_msg("%s: expected \"%s\" in %.*s", key, val,
		    (int)a->body_len, a->body);
	json_decref(o);
}

static char *
accepted(unsigned id, const char *dest)
{
	char *s = NULL;

	if (asprintf(&s, "{\"status\":\"accepted\",\"id\":\"%s\","
	    "\"destination\":\"%s\"}", id_text(id), dest) < 0)
		fail_msg("asprintf");
	return s;
}

static void
test_parked_then_answered(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 0);
	struct req r;
	struct entry *e;
	char *want = accepted(1, "eventbridge");

	(void)state;
	req_init(&r);
	assert_int_equal(submit(f, 1, TS_NEW, "q1", &r), INGEST_PENDING);
	assert_int_equal(queue_outstanding(f->queue), 1);
	e = take_one(f);
	assert_ptr_equal(e->done, ingest_entry_done);
	assert_ptr_equal(e->done_arg, &r.t);
	assert_string_equal(e->event_id, id_text(1));
	assert_string_equal(e->trace_header, "Root=1-abc");
	assert_int_equal(e->reason, DLQ_NONE);

	assert_int_equal(ingest_ticket_park(&r.t), 0);
	assert_int_equal(r.woken, 0);
	complete(f, e, DEST_EVENTBRIDGE);
	assert_int_equal(r.woken, 1);
	assert_answer(&r.t.answer, 200, want);
	assert_int_equal(r.t.answer.retry_after_s, 0);
	assert_int_equal(queue_outstanding(f->queue), 0);
	free(want);
	fx_free(f);
}

static void
test_answered_before_park(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 0);
	struct req r;
	char *want = accepted(2, "dlq");

	(void)state;
	req_init(&r);
	assert_int_equal(submit(f, 2, TS_NEW, "q1", &r), INGEST_PENDING);
	complete(f, take_one(f), DEST_DLQ);
	/* Not parked yet: the answer waits for the park, no wake(). */
	assert_int_equal(r.woken, 0);
	assert_int_equal(ingest_ticket_park(&r.t), 1);
	assert_int_equal(r.woken, 0);
	assert_answer(&r.t.answer, 200, want);
	free(want);
	fx_free(f);
}

static void
test_inflight_copy_shares_outcome(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 0);
	struct req r1, r2, r3;
	struct entry *e;
	char *want = accepted(3, "eventbridge");
	char dup[128];

	(void)state;
	req_init(&r1);
	req_init(&r2);
	req_init(&r3);
	assert_int_equal(submit(f, 3, TS_NEW, "q1", &r1), INGEST_PENDING);
	assert_int_equal(submit(f, 3, TS_NEW, "q1", &r2), INGEST_PENDING);
	/* One event is delivered, not two. */
	assert_int_equal(queue_outstanding(f->queue), 1);
	e = take_one(f);
	assert_int_equal(ingest_ticket_park(&r1.t), 0);
	assert_int_equal(ingest_ticket_park(&r2.t), 0);
	complete(f, e, DEST_EVENTBRIDGE);
	assert_int_equal(r1.woken, 1);
	assert_int_equal(r2.woken, 1);
	assert_answer(&r1.t.answer, 200, want);
	assert_answer(&r2.t.answer, 200, want);

	/* Delivered: a later copy is a duplicate, answered at once. */
	assert_int_equal(submit(f, 3, TS_NEW, "q1", &r3), INGEST_DONE);
	snprintf(dup, sizeof(dup), "{\"status\":\"duplicate\",\"id\":\"%s\"}",
	    id_text(3));
	assert_answer(&r3.t.answer, 200, dup);
	assert_null(queue_take_all(f->queue));
	assert_int_equal(r3.woken, 0);
	free(want);
	fx_free(f);
}

static void
test_copy_waiting_unparked_gets_answer(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 0);
	struct req r1, r2;
	char *want = accepted(4, "dlq");

	(void)state;
	req_init(&r1);
	req_init(&r2);
	assert_int_equal(submit(f, 4, TS_NEW, "q1", &r1), INGEST_PENDING);
	assert_int_equal(submit(f, 4, TS_NEW, "q1", &r2), INGEST_PENDING);
	assert_int_equal(ingest_ticket_park(&r1.t), 0);
	complete(f, take_one(f), DEST_DLQ);
	assert_int_equal(r1.woken, 1);
	/* The copy was not parked yet: it learns at park time. */
	assert_int_equal(r2.woken, 0);
	assert_int_equal(ingest_ticket_park(&r2.t), 1);
	assert_answer(&r2.t.answer, 200, want);
	free(want);
	fx_free(f);
}

static void
test_failed_delivery_releases_claim(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 0);
	struct req r1, r2, r3;
	char *want = accepted(5, "eventbridge");

	(void)state;
	req_init(&r1);
	req_init(&r2);
	req_init(&r3);
	assert_int_equal(submit(f, 5, TS_NEW, "q1", &r1), INGEST_PENDING);
	assert_int_equal(submit(f, 5, TS_NEW, "q1", &r2), INGEST_PENDING);
	assert_int_equal(ingest_ticket_park(&r1.t), 0);
	assert_int_equal(ingest_ticket_park(&r2.t), 0);
	complete(f, take_one(f), DEST_NONE);
	assert_int_equal(r1.woken, 1);
	assert_int_equal(r2.woken, 1);
	assert_int_equal(r1.t.answer.status, 503);
	assert_int_equal(r1.t.answer.retry_after_s, RETRY_AFTER);
	assert_member(&r1.t.answer, "error", "unavailable");
	assert_int_equal(r2.t.answer.status, 503);
	assert_int_equal(r2.t.answer.retry_after_s, RETRY_AFTER);

	/* No dedupe record is left: the sender's retry is delivered. */
	assert_int_equal(submit(f, 5, TS_NEW, "q1", &r3), INGEST_PENDING);
	assert_int_equal(ingest_ticket_park(&r3.t), 0);
	complete(f, take_one(f), DEST_EVENTBRIDGE);
	assert_int_equal(r3.woken, 1);
	assert_answer(&r3.t.answer, 200, want);
	free(want);
	fx_free(f);
}

static void
test_unauthorized(void **state)
{
	static const char *const bad[] = {
		NULL, "", "Bearer wrong-token", "Bearer " TOKEN "x",
		"Basic dXNlcjpwYXNz", "bearer",
	};
	struct fx *f = fx_new(ORDER_DLQ, 10, 1);
	char *body = event_text(6, TS_NEW, "q1");
	char *text;
	struct req r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_init(&r);
		assert_int_equal(submit_as(f, bad[i], body, &r), INGEST_DONE);
		assert_answer(&r.t.answer, 401, "{\"error\":\"unauthorized\"}");
		assert_int_equal(r.t.answer.retry_after_s, 0);
	}
	assert_null(queue_take_all(f->queue));
	assert_int_equal(queue_outstanding(f->queue), 0);
	/* Counted as rejected, and not as received. */
	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_rejected_total{reason=\"unauthorized\"} 6\n"));
	assert_non_null(strstr(text, "\ncxbridge_events_received_total 0\n"));
	free(text);
	free(body);
	fx_free(f);
}

static void
test_schema_error(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 1);
	char *body = event_text(7, TS_NEW, "q1");
	char *bad = strdup(body), *p, *text;
	struct req r;

	(void)state;
	assert_non_null(bad);
	p = strstr(bad, "\"backoffMs\":500");
	assert_non_null(p);
	memcpy(p, "\"backoffMs\":-50", 15);
	req_init(&r);
	assert_int_equal(submit_as(f, "Bearer " TOKEN, bad, &r), INGEST_DONE);
	assert_int_equal(r.t.answer.status, 400);
	assert_member(&r.t.answer, "error", "schema");
	assert_member(&r.t.answer, "pointer", "/retryDirective/backoffMs");
	assert_member(&r.t.answer, "rule", "minimum");
	assert_null(queue_take_all(f->queue));

	/* Not JSON at all. */
	req_init(&r);
	assert_int_equal(submit_as(f, "Bearer " TOKEN, "{\"id\":", &r),
	    INGEST_DONE);
	assert_int_equal(r.t.answer.status, 400);
	assert_member(&r.t.answer, "error", "schema");

	/* A refused event holds no claim: the good one with its id passes. */
	req_init(&r);
	assert_int_equal(submit_as(f, "Bearer " TOKEN, body, &r),
	    INGEST_PENDING);
	complete(f, take_one(f), DEST_EVENTBRIDGE);
	assert_int_equal(ingest_ticket_park(&r.t), 1);
	assert_int_equal(r.t.answer.status, 200);

	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_rejected_total{reason=\"schema\"} 2\n"));
	assert_non_null(strstr(text, "\ncxbridge_events_received_total 3\n"));
	assert_non_null(strstr(text, "\ncxbridge_events_published_total 1\n"));
	free(text);
	free(bad);
	free(body);
	fx_free(f);
}

/* Publishes a fresh event for queue "qo" so that TS_OLD is stale. */
static void
publish_newest(struct fx *f)
{
	struct req r;

	req_init(&r);
	assert_int_equal(submit(f, 100, TS_NEW, "qo", &r), INGEST_PENDING);
	complete(f, take_one(f), DEST_EVENTBRIDGE);
	assert_int_equal(ingest_ticket_park(&r.t), 1);
	assert_int_equal(r.t.answer.status, 200);
}

static void
test_order_dlq(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 1);
	struct req r;
	struct entry *e;
	char *text;

	(void)state;
	publish_newest(f);
	req_init(&r);
	assert_int_equal(submit(f, 101, TS_OLD, "qo", &r), INGEST_PENDING);
	e = take_one(f);
	assert_int_equal(e->reason, DLQ_OUT_OF_ORDER);
	complete(f, e, DEST_DLQ);
	assert_int_equal(ingest_ticket_park(&r.t), 1);
	assert_member(&r.t.answer, "destination", "dlq");

	/* Another key has its own newest: not stale. */
	req_init(&r);
	assert_int_equal(submit(f, 102, TS_OLD, "other", &r), INGEST_PENDING);
	e = take_one(f);
	assert_int_equal(e->reason, DLQ_NONE);
	complete(f, e, DEST_EVENTBRIDGE);

	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_out_of_order_total{policy=\"dlq\"} 1\n"));
	assert_non_null(strstr(text,
	    "\ncxbridge_events_dead_lettered_total{reason=\"out_of_order\"} 1\n"));
	free(text);
	fx_free(f);
}

static void
test_order_reject(void **state)
{
	struct fx *f = fx_new(ORDER_REJECT, 10, 1);
	struct req r;
	char *text;

	(void)state;
	publish_newest(f);
	req_init(&r);
	assert_int_equal(submit(f, 103, TS_OLD, "qo", &r), INGEST_DONE);
	assert_int_equal(r.t.answer.status, 409);
	assert_member(&r.t.answer, "error", "out_of_order");
	assert_null(queue_take_all(f->queue));

	/* The claim was released: resending the id is judged afresh (409
	 * again, not a wait on a claim nobody will finish) ... */
	req_init(&r);
	assert_int_equal(submit(f, 103, TS_OLD, "qo", &r), INGEST_DONE);
	assert_int_equal(r.t.answer.status, 409);
	/* ... and with a current timestamp it goes through. */
	req_init(&r);
	assert_int_equal(submit(f, 103, TS_NEW, "qo", &r), INGEST_PENDING);
	complete(f, take_one(f), DEST_EVENTBRIDGE);
	assert_int_equal(ingest_ticket_park(&r.t), 1);
	assert_int_equal(r.t.answer.status, 200);

	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_out_of_order_total{policy=\"reject\"} 2\n"));
	free(text);
	fx_free(f);
}

static void
test_order_accept(void **state)
{
	struct fx *f = fx_new(ORDER_ACCEPT, 10, 1);
	struct req r;
	struct entry *e;
	char *text;

	(void)state;
	publish_newest(f);
	req_init(&r);
	assert_int_equal(submit(f, 104, TS_OLD, "qo", &r), INGEST_PENDING);
	e = take_one(f);
	assert_int_equal(e->reason, DLQ_NONE);
	complete(f, e, DEST_EVENTBRIDGE);
	assert_int_equal(ingest_ticket_park(&r.t), 1);
	assert_member(&r.t.answer, "destination", "eventbridge");

	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_out_of_order_total{policy=\"accept\"} 1\n"));
	free(text);
	fx_free(f);
}

/*
 * The contract orders against "the newest one already published".  An event
 * refused with 429 (queue full) was never published, so it must not make an
 * older event for the same key stale: with policy reject that older event
 * would get a final 409 because of an event that may never be delivered.
 */
static void
test_order_not_advanced_by_refused_event(void **state)
{
	struct fx *f = fx_new(ORDER_REJECT, 1, 0);
	struct req r1, r2, r3;
	enum ingest_status st;
	struct entry *e;

	(void)state;
	req_init(&r1);
	req_init(&r2);
	req_init(&r3);
	/* Fill the queue with an event for another key. */
	assert_int_equal(submit(f, 200, TS_OLD, "other", &r1), INGEST_PENDING);
	/* The newer event for "qr" is refused: not published. */
	assert_int_equal(submit(f, 201, TS_NEW, "qr", &r2), INGEST_DONE);
	assert_int_equal(r2.t.answer.status, 429);
	e = take_one(f);
	complete(f, e, DEST_EVENTBRIDGE);
	/* Nothing newer than TS_OLD was published for "qr". */
	st = submit(f, 202, TS_OLD, "qr", &r3);
	if (st == INGEST_PENDING) {
		complete(f, take_one(f), DEST_EVENTBRIDGE);
		assert_int_equal(ingest_ticket_park(&r3.t), 1);
	}
	fx_free(f);
	if (r3.t.answer.status != 200)
		fail_msg("older event refused with %d: %.*s",
		    r3.t.answer.status, (int)r3.t.answer.body_len,
		    r3.t.answer.body);
}

static void
test_queue_full(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 1, 1);
	struct req r1, r2, r3;
	struct entry *e;
	char *text;

	(void)state;
	req_init(&r1);
	req_init(&r2);
	req_init(&r3);
	assert_int_equal(submit(f, 8, TS_NEW, "q1", &r1), INGEST_PENDING);
	assert_int_equal(submit(f, 9, TS_NEW, "q1", &r2), INGEST_DONE);
	assert_int_equal(r2.t.answer.status, 429);
	assert_int_equal(r2.t.answer.retry_after_s, RETRY_AFTER);
	assert_member(&r2.t.answer, "error", "busy");

	/* Taken but not finished: still no room. */
	e = take_one(f);
	req_init(&r2);
	assert_int_equal(submit(f, 9, TS_NEW, "q1", &r2), INGEST_DONE);
	/* 429 again, not PENDING on a claim left behind by the first try. */
	assert_int_equal(r2.t.answer.status, 429);

	complete(f, e, DEST_EVENTBRIDGE);
	assert_int_equal(submit(f, 9, TS_NEW, "q1", &r3), INGEST_PENDING);
	complete(f, take_one(f), DEST_EVENTBRIDGE);
	assert_int_equal(ingest_ticket_park(&r3.t), 1);
	assert_int_equal(r3.t.answer.status, 200);

	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_rejected_total{reason=\"queue_full\"} 2\n"));
	free(text);
	fx_free(f);
}

static void
test_draining(void **state)
{
	struct fx *f = fx_new(ORDER_DLQ, 10, 1);
	struct req r;
	char *text;

	(void)state;
	assert_int_equal(ingest_draining(f->ing), 0);
	ingest_set_draining(f->ing);
	assert_int_equal(ingest_draining(f->ing), 1);
	req_init(&r);
	assert_int_equal(submit(f, 10, TS_NEW, "q1", &r), INGEST_DONE);
	assert_int_equal(r.t.answer.status, 503);
	assert_int_equal(r.t.answer.retry_after_s, RETRY_AFTER);
	assert_member(&r.t.answer, "error", "unavailable");
	assert_null(queue_take_all(f->queue));
	text = metrics_render(f->metrics, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text,
	    "\ncxbridge_events_rejected_total{reason=\"draining\"} 1\n"));
	free(text);
	fx_free(f);
}

static void
test_answer_error(void **state)
{
	struct ingest_answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	ingest_answer_error(&a, 415, "unsupported_media_type",
	    "Content-Type must be application/json", 0);
	assert_answer(&a, 415, "{\"error\":\"unsupported_media_type\","
	    "\"message\":\"Content-Type must be application/json\"}");
	ingest_answer_error(&a, 429, "busy", "say \"later\"", 3);
	assert_answer(&a, 429, "{\"error\":\"busy\",\"message\":"
	    "\"say \\\"later\\\"\"}");
	assert_int_equal(a.retry_after_s, 3);
	ingest_free(NULL);
}

/* Delivery on its own thread, as the batcher runs it. */
struct deliverer {
	struct fx   *f;
	atomic_bool  stop;
	size_t       delivered;
};

static void *
deliver_loop(void *arg)
{
	struct deliverer *d = arg;

	while (!atomic_load(&d->stop) || queue_outstanding(d->f->queue) > 0) {
		struct entry *e = queue_take_all(d->f->queue), *next;

		if (e == NULL)
			sched_yield();
		for (; e != NULL; e = next) {
			next = e->next;
			complete(d->f, e, DEST_EVENTBRIDGE);
			d->delivered++;
		}
	}
	return NULL;
}

#define MT_REQS 4000

/*
 * Requests in pairs sharing an id, answered by a delivery thread while the
 * submitting thread parks them: each learns its answer exactly once, either
 * from park() or from wake(), never both and never neither.
 */
static void
test_concurrent_park_and_answer(void **state)
{
	struct fx *f = fx_new(ORDER_ACCEPT, 64, 0);
	struct deliverer d = { .f = f };
	struct req *r = calloc(MT_REQS, sizeof(*r));
	int *parked = calloc(MT_REQS, sizeof(int));
	size_t settled = 0, dups = 0;
	enum ingest_status st;
	pthread_t th;

	(void)state;
	assert_non_null(r);
	assert_non_null(parked);
	assert_int_equal(pthread_create(&th, NULL, deliver_loop, &d), 0);
	for (unsigned i = 0; i < MT_REQS; i++) {
		req_init(&r[i]);
		parked[i] = -1;
		/* A full queue answers 429 at once: retry as a sender would. */
		while ((st = submit(f, 1000 + i / 2, TS_NEW, "q", &r[i])) ==
		    INGEST_DONE && r[i].t.answer.status == 429) {
			req_init(&r[i]);
			sched_yield();
		}
		if (st == INGEST_DONE) {
			/* Only the second copy, after the first was delivered. */
			assert_int_equal(i % 2, 1);
			assert_non_null(strstr(r[i].t.answer.body, "duplicate"));
			dups++;
			continue;
		}
		parked[i] = ingest_ticket_park(&r[i].t);
	}
	atomic_store(&d.stop, true);
	pthread_join(th, NULL);

	for (unsigned i = 0; i < MT_REQS; i++) {
		if (parked[i] == -1) {
			assert_int_equal(r[i].woken, 0);
		} else if (parked[i] == 1) {
			if (r[i].woken != 0)
				fail_msg("request %u: park said answered, and "
				    "wake() ran too", i);
		} else if (r[i].woken != 1) {
			fail_msg("request %u: parked, woken %d times", i,
			    (int)r[i].woken);
		}
		assert_int_equal(r[i].t.answer.status, 200);
		settled++;
	}
	assert_int_equal(settled, MT_REQS);
	/* One publication per id; each copy either shared it or was a dup. */
	assert_int_equal(d.delivered, MT_REQS / 2);
	assert_true(dups <= MT_REQS / 2);
	free(parked);
	free(r);
	fx_free(f);
}

static int
group_setup(void **state)
{
	(void)state;
	/* The pipeline logs one line per outcome: keep test output readable,
	 * but at info level so the audit path runs. */
	log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	log_set_level(LOGL_INFO);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parked_then_answered),
		cmocka_unit_test(test_answered_before_park),
		cmocka_unit_test(test_inflight_copy_shares_outcome),
		cmocka_unit_test(test_copy_waiting_unparked_gets_answer),
		cmocka_unit_test(test_failed_delivery_releases_claim),
		cmocka_unit_test(test_unauthorized),
		cmocka_unit_test(test_schema_error),
		cmocka_unit_test(test_order_dlq),
		cmocka_unit_test(test_order_reject),
		cmocka_unit_test(test_order_accept),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_order_not_advanced_by_refused_event),
		cmocka_unit_test(test_draining),
		cmocka_unit_test(test_answer_error),
		cmocka_unit_test(test_concurrent_park_and_answer),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
