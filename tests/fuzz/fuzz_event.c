/* fuzz_event.c - libFuzzer target: jsonscan_check, event_build and schema_validate on a webhook body. */
#include "fuzzutil.h"

#include <jansson.h>

#include "awsproto.h"
#include "entry.h"
#include "event.h"
#include "jsonscan.h"
#include "schema.h"

/* The Makefile passes the shipped schema's absolute path. */
#ifndef CXB_FUZZ_SCHEMA
#define CXB_FUZZ_SCHEMA "conf/schemas/cxone-routing-event.json"
#endif

/* 2023-11-14T22:13:20Z: the seed corpus has timestamps on both sides. */
#define FUZZ_NOW_MS INT64_C(1700000000000)

/* An X-Amzn-Trace-Id as the load balancer adds it. */
#define FUZZ_TRACE "Root=1-5759e988-bd862e3fe1be46a994272793"

static struct schema *fuzz_schema;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	fuzz_schema = schema_load(CXB_FUZZ_SCHEMA, err, sizeof(err));
	if (fuzz_schema == NULL) {
		fprintf(stderr, "fuzz_event: %s\n", err);
		exit(1);
	}
	return 0;
}

/* The daemon's defaults, and a second set that takes the other branches:
 * no schema, enrichment, a trace header, other keys, tight limits. */
static struct event_config
fuzz_event_config(int variant)
{
	struct event_config c = {
		.schema = fuzz_schema,
		.max_depth = 32,
		.max_future_ms = 300000,
		.max_entry_bytes = 262144,
		.max_message_bytes = 262144,
		.dedupe_key = "/id",
		.order_key = "/routingContext/queueId",
		.bus = "default",
		.source = "nice.cxone.routing",
		.detail_type = "",
		.enrich = false,
		.instance = "fuzz-a",
	};

	if (variant == 1) {
		c.schema = NULL;
		c.max_depth = 4;
		c.max_future_ms = 0;
		c.max_entry_bytes = 2048;
		c.max_message_bytes = 4096;
		c.dedupe_key = "/routingContext/agentId";
		c.order_key = "/a~1b/0/~0c";
		c.bus = "arn:aws:events:eu-west-1:123456789012:event-bus/cx";
		c.detail_type = "CXone Routing";
		c.enrich = true;
	}
	return c;
}

/*
 * Promises about an accepted event: nothing of the body is lost, its entry
 * fits both limits it was checked against, its DLQ copy is no larger than event_dlq_size_bound says
 * (which event_build relies on to refuse what could never be dead-lettered),
 * and the PutEvents body built from it is JSON.
 */
static void
fuzz_event_accepted(const struct event_config *c, struct event *ev, size_t len)
{
	struct entry *e = ev->entry;
	size_t elen = 0, blen = 0;
	char *env, *body;
	json_t *doc;

	FUZZ_CHECK(e != NULL && e->event_id != NULL && e->detail != NULL);
	FUZZ_CHECK(e->size == entry_size(e) && e->size <= c->max_entry_bytes);
	FUZZ_CHECK(e->time_ms == ev->ts_ms);
	/* The whole body is kept: as Detail, or (enriched) beside a Detail
	 * that is the body's object with a "cxbridge" member added. */
	if (c->enrich)
		FUZZ_CHECK(e->event_json != NULL && strlen(e->event_json) == len);
	else
		FUZZ_CHECK(strlen(e->detail) == len);
	doc = json_loads(e->detail, 0, NULL);
	FUZZ_CHECK(json_is_object(doc));
	FUZZ_CHECK(!c->enrich || json_object_get(doc, "cxbridge") != NULL);
	json_decref(doc);
	FUZZ_CHECK(ev->ts_ms <= FUZZ_NOW_MS + c->max_future_ms);

	/* The worst a delivery can leave in the envelope: the longest reason,
	 * a long error code and message (plain text, as AWS sends). */
	e->reason = DLQ_EVENTBRIDGE_ERROR;
	e->attempts = 4000000000u;
	memset(e->error_code, 'E', sizeof(e->error_code) - 1);
	memset(e->error_message, 'm', sizeof(e->error_message) - 1);
	env = dlq_envelope(e, &elen);
	FUZZ_CHECK(env != NULL);
	FUZZ_CHECK(sqs_message_size(e, elen) <= event_dlq_size_bound(e, len));
	free(env);

	body = putevents_body(&e, 1, &blen);
	FUZZ_CHECK(body != NULL);
	doc = json_loadb(body, blen, 0, NULL);
	FUZZ_CHECK(doc != NULL);
	json_decref(doc);
	free(body);
}

static void
fuzz_event_one(int variant, const char *body, size_t len, const char *trace)
{
	struct event_config c = fuzz_event_config(variant);
	struct event_error err;
	struct event ev;

	memset(&err, 0x5a, sizeof(err));
	if (event_build(&c, body, len, trace, FUZZ_NOW_MS, &ev, &err) == 0) {
		fuzz_event_accepted(&c, &ev, len);
		event_fini(&ev);
		return;
	}
	FUZZ_CHECK(ev.entry == NULL && ev.order_key == NULL);
	FUZZ_CHECK(err.status == 400 || err.status == 413 || err.status == 500);
	FUZZ_CHECK_TERMINATED(err.message);
	FUZZ_CHECK_TERMINATED(err.pointer);
	FUZZ_CHECK_TERMINATED(err.rule);
}

/* The validator on its own, on any JSON value (event_build stops at
 * non-objects before the schema is consulted). */
static void
fuzz_event_validate(const char *body, size_t len)
{
	struct schema_error serr;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, NULL);

	if (doc == NULL)
		return;
	memset(&serr, 0x5a, sizeof(serr));
	if (schema_validate(fuzz_schema, doc, &serr) != 0) {
		FUZZ_CHECK_TERMINATED(serr.pointer);
		FUZZ_CHECK_TERMINATED(serr.rule);
		FUZZ_CHECK_TERMINATED(serr.message);
		FUZZ_CHECK(serr.rule[0] != '\0');
	}
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct jsonscan_error scan;
	const char *body;
	size_t len;

	/* The body exactly as received: not NUL-terminated. */
	fuzz_input_init(&in, data, size);
	body = fuzz_input_rest(&in, &len);
	if (body == NULL)
		return 0;
	for (unsigned depth = 0; depth <= 33; depth += 11) {
		if (jsonscan_check(body, len, depth, &scan) != 0)
			FUZZ_CHECK(scan.offset < len);
	}
	fuzz_event_one(0, body, len, NULL);
	fuzz_event_one(1, body, len, FUZZ_TRACE);
	fuzz_event_validate(body, len);
	fuzz_input_fini(&in);
	return 0;
}
