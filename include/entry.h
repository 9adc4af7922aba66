/* entry.h - one accepted event on its way to EventBridge or the DLQ. */
#ifndef CXB_ENTRY_H
#define CXB_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* Why an event went to the DLQ (the envelope's "reason"). */
enum dlq_reason {
	DLQ_NONE = 0,
	DLQ_EVENTBRIDGE_ERROR,  /* retries or budget exhausted on a retryable error */
	DLQ_NON_RETRYABLE,      /* PutEvents said this entry can never succeed */
	DLQ_OUT_OF_ORDER,       /* stale for its ordering key, policy dlq */
	DLQ_DEADLINE,           /* delivery_timeout_ms passed */
	DLQ_CIRCUIT_OPEN,       /* breaker open: EventBridge not tried */
	DLQ_SHUTDOWN,           /* daemon stopping before it could publish */
};

/* "eventbridge_error", "non_retryable", ... as in the contract. */
const char *dlq_reason_name(enum dlq_reason reason);

enum entry_dest { DEST_NONE = 0, DEST_EVENTBRIDGE, DEST_DLQ };

/*
 * An entry is created by the ingest side, handed to the batcher, and given
 * back through done() exactly once with dest set; done() takes ownership.
 * Strings are owned by the entry and freed by entry_free.
 */
struct entry {
	/* The PutEvents entry. */
	char    *source;
	char    *detail_type;
	char    *detail;            /* JSON object text as sent to EventBridge */
	char    *bus;               /* name or ARN */
	char    *trace_header;      /* X-Amzn-Trace-Id, or NULL */
	char   **resources;         /* n_resources strings, or NULL */
	size_t   n_resources;
	int64_t  time_ms;           /* Time: the event's timestamp, ms since epoch */
	size_t   size;              /* entry size by AWS's rules (entry_size) */

	/* About the event. */
	char    *event_id;          /* value of the dedupe key */
	char    *event_type;
	char    *event_json;        /* original event text if detail differs, else NULL */
	char    *order_key;         /* value of the ordering key, or NULL */
	int64_t  received_ms;       /* wall clock when the request arrived */

	/* Delivery state, written by the batcher only. */
	enum dlq_reason reason;     /* set before DLQ; DLQ_OUT_OF_ORDER on entry */
	unsigned attempts;          /* PutEvents attempts made */
	unsigned dlq_attempts;      /* SendMessageBatch attempts made */
	char     error_code[64];    /* last AWS error code for this entry */
	char     error_message[256];
	uint64_t deadline_mono_ms;  /* monotonic: spill to DLQ after this */
	uint64_t next_try_mono_ms;  /* monotonic: backoff until */
	struct entry *next;         /* batcher's lists */

	/* Outcome, valid when done() runs. */
	enum entry_dest dest;
	char     dest_id[128];      /* EventBridge EventId or SQS MessageId */

	void   (*done)(struct entry *e, void *arg);
	void    *done_arg;
};

/* AWS's PutEvents entry size: 14 for Time plus the UTF-8 bytes of Source,
 * DetailType, Detail and each Resources string. */
size_t entry_size(const struct entry *e);

/* Frees the entry and its strings.  NULL ok. */
void entry_free(struct entry *e);

#endif
