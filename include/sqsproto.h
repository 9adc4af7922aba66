/* sqsproto.h - SQS ReceiveMessage, DeleteMessageBatch, GetQueueAttributes, and DLQ envelopes read back. */
#ifndef CXB_SQSPROTO_H
#define CXB_SQSPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "awsproto.h"
#include "entry.h"

/*
 * Pure functions, like awsproto: bodies for the SQS JSON protocol (content
 * type AWSPROTO_SQS_CTYPE) and parsers for their answers.  The
 * DeleteMessageBatch answer has the SendMessageBatch shape, so it is read
 * with sqs_batch_parse (awsproto.h).  See docs/operations.md for how the
 * redrive command uses them.
 */
#define SQSPROTO_RECEIVE_TARGET  "AmazonSQS.ReceiveMessage"
#define SQSPROTO_DELETE_TARGET   "AmazonSQS.DeleteMessageBatch"
#define SQSPROTO_ATTRS_TARGET    "AmazonSQS.GetQueueAttributes"

#define SQSPROTO_MAX_WAIT_S        20      /* WaitTimeSeconds, SQS's limit */
#define SQSPROTO_MAX_VISIBILITY_S  43200   /* VisibilityTimeout, 12 hours */
#define SQSPROTO_RECEIPT_MAX       4096    /* bytes in a receipt handle */
#define SQSPROTO_BODY_MAX          ((size_t)1024 * 1024) /* message body */
#define SQSPROTO_MAX_RESPONSE      ((size_t)16 * 1024 * 1024)
/* Nesting accepted in an envelope: the event's own limit (256 at most)
 * plus the envelope's levels. */
#define SQSPROTO_MAX_DEPTH         260
#define SQSPROTO_MAX_RESOURCES     64      /* Resources in one envelope */

/* One received message.  Strings are owned; free with sqs_message_fini. */
struct sqs_message {
	char     message_id[128];
	char    *receipt_handle;       /* NUL-terminated; a credential of sorts:
	                                * whoever holds it can delete */
	char    *body;                 /* NUL-terminated; body_len bytes */
	size_t   body_len;
	int64_t  sent_ms;              /* SentTimestamp, -1 when absent */
	int      md5_ok;               /* 1 MD5OfBody matched, 0 it did not,
	                                * -1 no MD5OfBody in the answer */
	char     reason[32];           /* attribute "reason", "" if none */
	char     event_type[AWSPROTO_MAX_ATTR + 1]; /* attribute, "" if none */
};

/*
 * ReceiveMessage request body: MaxNumberOfMessages max_messages (1..10),
 * WaitTimeSeconds (0..20), VisibilityTimeout (0..43200), every message
 * attribute and the SentTimestamp attribute.  Returns a malloc'd
 * NUL-terminated body the caller frees, its length in *len (may be NULL);
 * NULL on a bad argument or no memory.
 */
char *sqs_receive_body(const char *queue_url, unsigned max_messages,
    unsigned wait_s, unsigned visibility_s, size_t *len);

/*
 * Parses a 200 ReceiveMessage answer into out[0..max-1] and sets *n (0 when
 * the queue had nothing: no "Messages", null or []).  Returns 0, or -1 (no
 * message left allocated, *n = 0) when the body is over
 * SQSPROTO_MAX_RESPONSE, not JSON, holds more than max messages, or a
 * message lacks MessageId, ReceiptHandle or Body or has one over its cap.
 */
int sqs_receive_parse(const char *body, size_t len, struct sqs_message *out,
    size_t max, size_t *n);

/* Frees what a message owns and zeroes it.  NULL ok. */
void sqs_message_fini(struct sqs_message *m);

/*
 * DeleteMessageBatch request body: entry i has Id "<i>" and
 * receipt_handles[i] (1 <= n <= AWSPROTO_MAX_ENTRIES), so the answer is read
 * with sqs_batch_parse(body, len, n, results).  Ownership and errors as
 * sqs_receive_body.
 */
char *sqs_delete_body(const char *queue_url,
    const char *const *receipt_handles, size_t n, size_t *len);

/* GetQueueAttributes body asking for ApproximateNumberOfMessages and
 * ApproximateNumberOfMessagesNotVisible.  As sqs_receive_body. */
char *sqs_attributes_body(const char *queue_url, size_t *len);

/* Reads the two counts from a 200 answer (each -1 when absent).  Returns 0,
 * or -1 when the body is not an object with an "Attributes" object. */
int sqs_attributes_parse(const char *body, size_t len, int64_t *visible,
    int64_t *not_visible);

/* A DLQ envelope (dlq_envelope's format) read back. */
struct dlq_message {
	enum dlq_reason reason;        /* DLQ_NONE when reason_text is unknown */
	char     reason_text[32];      /* as written, cut to fit */
	char     error_code[64];
	unsigned attempts;
	int64_t  received_ms;          /* receivedAt, -1 when absent */
	char     event_type[256];      /* the event's eventType, "" if none */
	char     event_id[256];        /* the event's id, "" if none */
	struct entry *entry;           /* owned; NULL after dlq_message_take */
};

/*
 * Parses body (len bytes, at most SQSPROTO_BODY_MAX, strict UTF-8, nesting
 * at most SQSPROTO_MAX_DEPTH, no duplicate keys) and rebuilds the PutEvents
 * entry it records: Source, DetailType, EventBusName ("default" when
 * absent), Time and Resources from "entry", Detail = the "event" member's
 * JSON text exactly as stored (so numbers keep their digits).  The entry's
 * reason is DLQ_NONE, so a batcher publishes it whatever the envelope says.
 * An envelope whose event is not a JSON object ("eventText") cannot be
 * republished and is refused.  Returns 0 with out filled, or -1 with out
 * zeroed and a short reason (never message content) in err.
 */
int dlq_envelope_parse(const char *body, size_t len, struct dlq_message *out,
    char *err, size_t errlen);

/* Hands the entry to the caller (who then owns it) and clears out->entry. */
struct entry *dlq_message_take(struct dlq_message *m);

/* Frees the entry if still held.  NULL ok. */
void dlq_message_fini(struct dlq_message *m);

/* The reason whose dlq_reason_name is name.  0, or -1 if none is. */
int dlq_reason_parse(const char *name, enum dlq_reason *out);

#endif
