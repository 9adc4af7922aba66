/* ingest.h - the webhook pipeline: auth, validation, dedupe, ordering, hand-off. */
#ifndef CXB_INGEST_H
#define CXB_INGEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dedupe.h"
#include "event.h"

struct auth;
struct schema;
struct order;
struct queue;
struct stats;

struct ingest_config {
	struct event_config event;
	enum order_policy   order_policy;
	unsigned            retry_after_s;
};

/* An HTTP answer: status, JSON body, and Retry-After when non-zero. */
struct ingest_answer {
	int      status;
	unsigned retry_after_s;
	size_t   body_len;
	char     body[1024];
};

/*
 * One waiting request, embedded in the HTTP layer's connection state.  The
 * HTTP layer parks it (ingest_ticket_park) after ingest_submit returned
 * INGEST_PENDING; wake() is then called exactly once, from the delivery
 * thread, when answer is final.
 */
struct ingest_ticket {
	struct dedupe_waiter waiter;   /* first: waiters are found by address */
	struct ingest_answer answer;
	void               (*wake)(struct ingest_ticket *t);
	atomic_int           phase;    /* private */
	struct ingest       *ing;      /* private */
	uint64_t             started_mono_us; /* private */
};

/* The request as the HTTP layer saw it.  All borrowed for the call. */
struct ingest_request {
	const char *authorization;
	const char *webhook_id;
	const char *webhook_timestamp;
	const char *webhook_signature;
	const char *trace;            /* X-Amzn-Trace-Id or NULL */
	const char *body;
	size_t      body_len;
};

enum ingest_status { INGEST_DONE, INGEST_PENDING };

/* Borrows every object given; they must outlive the ingest. */
struct ingest *ingest_new(const struct ingest_config *cfg, struct auth *auth,
    struct dedupe *dedupe, struct order *order, struct queue *queue,
    struct stats *stats);
void ingest_free(struct ingest *ing);             /* NULL ok */

/*
 * Runs the pipeline.  INGEST_DONE: t->answer is final now.  INGEST_PENDING:
 * the event (or the first copy it duplicates) is being delivered; the caller
 * must park the ticket and wait for wake().
 */
enum ingest_status ingest_submit(struct ingest *ing,
    const struct ingest_request *req, struct ingest_ticket *t);

/*
 * Called by the HTTP layer once it has suspended the request.  Returns 1 if
 * the answer arrived in the meantime (wake() will not be called: resume now),
 * 0 if wake() will be called later.
 */
int  ingest_ticket_park(struct ingest_ticket *t);

/* Swaps in a new auth and schema (SIGHUP): requests in progress finish with
 * the old ones.  On return *auth and *schema hold the old objects, which no
 * request uses any more: the caller frees them. */
void ingest_swap(struct ingest *ing, struct auth **auth, struct schema **schema);

/* New webhooks get 503 from now on (draining). */
void ingest_set_draining(struct ingest *ing);
int  ingest_draining(const struct ingest *ing);

/* Fills answer with a JSON error {"error":code,"message":message}. */
void ingest_answer_error(struct ingest_answer *a, int status,
    const char *code, const char *message, unsigned retry_after_s);

/* Delivery's completion callback for entries made by ingest_submit; it
 * takes ownership of e. */
void ingest_entry_done(struct entry *e, void *arg);

#endif
