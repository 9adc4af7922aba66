/* awsproto.h - AWS wire formats: PutEvents, SQS SendMessageBatch, errors. */
#ifndef CXB_AWSPROTO_H
#define CXB_AWSPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"

/*
 * Pure functions: no network, no globals, safe from any thread.  Bodies are
 * built here and parsed here; the HTTP client sends them with these headers.
 * See docs/internals/awsproto.md for the formats.
 */
#define AWSPROTO_PUTEVENTS_TARGET  "AWSEvents.PutEvents"
#define AWSPROTO_PUTEVENTS_CTYPE   "application/x-amz-json-1.1"
#define AWSPROTO_SQS_BATCH_TARGET  "AmazonSQS.SendMessageBatch"
#define AWSPROTO_SQS_CTYPE         "application/x-amz-json-1.0"

/* At most this many entries per PutEvents or SendMessageBatch call. */
#define AWSPROTO_MAX_ENTRIES  10
/* Bodies and envelopes we build are at most this long (NULL beyond). */
#define AWSPROTO_MAX_BODY     ((size_t)16 * 1024 * 1024)
/* Responses longer than this are refused by the parsers. */
#define AWSPROTO_MAX_RESPONSE ((size_t)1 * 1024 * 1024)
/* AWS's JSON answers nest three or four levels; deeper is not an answer. */
#define AWSPROTO_MAX_DEPTH    32
/* The eventType message attribute is cut to this many bytes. */
#define AWSPROTO_MAX_ATTR     256

/*
 * Writes ms since the epoch as AWS JSON 1.1 writes a timestamp: seconds with
 * a three-digit millisecond fraction ("1700000000.123").  buf must hold 32
 * bytes.  Returns buf.
 */
char *awsproto_time_epoch(int64_t ms, char *buf, size_t size);

/*
 * Writes ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2023-11-14T22:13:20.123Z").  buf should hold 32 bytes.  Returns 0, or -1
 * (buf set to "") when the year is outside 0000..9999 or buf is too small.
 */
int awsproto_time_rfc3339(int64_t ms, char *buf, size_t size);

/*
 * PutEvents request body for entries[0..n-1] (1 <= n <= AWSPROTO_MAX_ENTRIES).
 * Returns a malloc'd NUL-terminated body the caller frees, its length in
 * *len (len may be NULL); NULL on allocation failure, bad n, or a body over
 * AWSPROTO_MAX_BODY.  Entries are only read.
 */
char *putevents_body(struct entry *const *entries, size_t n, size_t *len);

struct putevents_result {
	int  ok;                   /* 1: EventId set; 0: error_code set */
	char event_id[128];
	char error_code[64];
	char error_message[256];
};

/*
 * Parses a 200 PutEvents response for a request of n entries into out[0..n-1]
 * (strings truncated at a UTF-8 boundary).  An entry with neither EventId
 * nor ErrorCode fails with "MissingResult".  Returns 0 (some entries may
 * have failed: check ok), or -1 if n is not 1..AWSPROTO_MAX_ENTRIES (out untouched), or
 * the body is over AWSPROTO_MAX_RESPONSE, is not
 * {"Entries":[...]} or lists other than n entries: then treat the whole call
 * as failed (out is zeroed).
 */
int putevents_parse(const char *body, size_t len, size_t n,
    struct putevents_result *out);

/*
 * The DLQ envelope for e: one compact JSON object (format in the internals
 * doc).  Returns a malloc'd NUL-terminated string the caller frees, length
 * in *len (len may be NULL); NULL on allocation failure or over
 * AWSPROTO_MAX_BODY.  The text holds only characters SQS accepts in a body.
 */
char *dlq_envelope(const struct entry *e, size_t *len);

/*
 * The size SQS counts for e's message when its envelope is envelope_len
 * bytes: the body plus, for each message attribute, the UTF-8 bytes of its
 * name, data type and value.
 */
size_t sqs_message_size(const struct entry *e, size_t envelope_len);

/*
 * SendMessageBatch request body: message i has Id "<i>", the envelope of
 * entries[i] as its body, and attributes "reason" and "eventType" (the
 * latter left out when the entry has no eventType).  1 <= n <=
 * AWSPROTO_MAX_ENTRIES.  Ownership and errors as putevents_body.
 */
char *sqs_batch_body(const char *queue_url, struct entry *const *entries,
    size_t n, size_t *len);

struct sqs_result {
	int  ok;                   /* 1: message_id set; 0: error_code set */
	char message_id[128];
	char error_code[64];
	char error_message[256];
	int  sender_fault;         /* SQS says the message itself is at fault */
};

/*
 * Parses a 200 SendMessageBatch response for n messages into out[0..n-1],
 * matching Successful[] and Failed[] by Id.  An Id in neither fails with
 * "MissingResult"; one in both counts as failed.  Returns 0 (check each
 * ok), or -1 if n is not 1..AWSPROTO_MAX_ENTRIES (out
 * untouched), or -1 (out zeroed) if the body is over
 * AWSPROTO_MAX_RESPONSE or is not an object with Successful or Failed arrays.
 */
int sqs_batch_parse(const char *body, size_t len, size_t n,
    struct sqs_result *out);

struct aws_error {
	char code[64];             /* never empty after aws_error_parse */
	char message[256];         /* may be empty */
};

/*
 * The error code and message of a non-2xx AWS JSON response.  The code is
 * the body's __type (text after '#', before ':'), else the x-amzn-query-error
 * header (before ';'), else x-amzn-ErrorType (before ':'), else
 * "HTTP<status>".  body (at most AWSPROTO_MAX_RESPONSE is looked at) and the
 * headers may be NULL.  Always fills out.  Returns 0 if the response named
 * a code, 1 if the code is the HTTP<status> fallback.
 */
int aws_error_parse(long http_status, const char *body, size_t len,
    const char *query_error_header, const char *error_type_header,
    struct aws_error *out);

/*
 * 1 if a call (or a PutEvents entry) that failed with this code and HTTP
 * status is worth retrying: throttling and transient errors as the AWS SDKs'
 * standard retry mode sees them, plus "Transport" for connection-level
 * failures; 0 otherwise.  code may be NULL; for a PutEvents entry error pass
 * the status of the call (200) or 0.
 */
int aws_error_retryable(const char *code, long http_status);

#endif
