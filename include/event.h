/* event.h - one webhook body: checked, validated and mapped to an entry. */
#ifndef CXB_EVENT_H
#define CXB_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct entry;
struct schema;

/* What event_build needs; the strings are borrowed for the call. */
struct event_config {
	const struct schema *schema;     /* NULL: no schema check */
	unsigned    max_depth;           /* nesting limit, checked while parsing */
	int64_t     max_future_ms;       /* how far ahead timestamp may be */
	size_t      max_entry_bytes;     /* PutEvents request limit */
	size_t      max_message_bytes;   /* SQS message limit, for the DLQ copy */
	const char *dedupe_key;          /* JSON pointer, e.g. "/id" */
	const char *order_key;           /* JSON pointer or "" for none */
	const char *bus;
	const char *source;
	const char *detail_type;         /* "" = the event's eventType */
	bool        enrich;              /* add a "cxbridge" member to Detail */
	const char *instance;            /* for enrichment */
};

/* Why an event was refused: the HTTP status and the JSON error body parts. */
struct event_error {
	int  status;                     /* 400 or 413; 503 when memory ran out */
	char error[16];                  /* "schema", "too_large", "internal" */
	char message[256];
	char pointer[256];               /* "" when not about one value */
	char rule[32];                   /* schema keyword that failed, or "" */
};

struct event {
	struct entry *entry;             /* owned by the caller on success */
	char         *order_key;         /* malloc'd value at order_key, or NULL */
	int64_t       ts_ms;             /* the event's timestamp */
};

/*
 * Checks UTF-8 and depth, parses (duplicate keys refused), validates against
 * the schema, reads the id, eventType and timestamp, and builds the entry with
 * Detail = the body unchanged (or enriched).  trace may be NULL.
 * Returns 0 and fills out, or -1 and fills err.
 */
int  event_build(const struct event_config *cfg, const char *body, size_t len,
         const char *trace, int64_t now_ms, struct event *out,
         struct event_error *err);

/* Frees what event_build left in ev (not ev itself). */
void event_fini(struct event *ev);

/* Writes an upper bound of the DLQ message size for entry e whose original
 * event text is event_len bytes. */
size_t event_dlq_size_bound(const struct entry *e, size_t event_len);

#endif
