/* stats.c - the daemon's metric families, and the calls that update them. */
#include "stats.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define STATS_STATUS_MIN 100
#define STATS_STATUS_MAX 599

/* A label value and its child, for small closed sets of values. */
struct stats_named {
	const char             *name;
	struct metrics_counter *c;
};

static const char *const stats_path_names[STATS_PATH_N] = {
	"webhook", "health", "ready", "metrics", "other",
};
static const char *const stats_reject_reasons[] = {
	"unauthorized", "content_type", "schema", "too_large", "out_of_order",
	"queue_full", "dedupe_full", "draining", "internal",
};
static const char *const stats_dlq_reasons[] = {
	"eventbridge_error", "non_retryable", "out_of_order", "deadline",
	"circuit_open", "shutdown",
};
static const char *const stats_policies[] = { "dlq", "reject", "accept" };
static const char *const stats_call_outcomes[] = {
	"success", "partial", "error", "transport",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct stats {
	struct metrics_family   *http;
	/* Children for path x status, made on first use. */
	_Atomic(struct metrics_counter *) http_child[STATS_PATH_N]
	    [STATS_STATUS_MAX - STATS_STATUS_MIN + 1];
	struct metrics_counter  *received, *duplicate, *published, *failed;
	struct stats_named       rejected[NELEM(stats_reject_reasons)];
	struct stats_named       dead[NELEM(stats_dlq_reasons)];
	struct stats_named       ooo[NELEM(stats_policies)];
	struct stats_named       pe_calls[NELEM(stats_call_outcomes)];
	struct stats_named       sqs_calls[NELEM(stats_call_outcomes)];
	struct metrics_counter  *pe_retried;
	struct metrics_histogram *ack, *lag, *pe_latency, *pe_entries,
	    *sqs_latency;
	struct metrics_gauge    *circuit;
	struct metrics_counter  *clock_skew;
};

static int
stats_named_family(struct metrics *m, struct stats_named *out,
    const char *const *values, size_t n, const char *name, const char *help,
    const char *label)
{
	const char *const labels[] = { label, NULL };
	struct metrics_family *f = metrics_counter_family(m, name, help, labels);

	if (f == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[i].name = values[i];
		out[i].c = metrics_counter_with(f, values[i]);
		if (out[i].c == NULL)
			return -1;
	}
	return 0;
}

static struct metrics_counter *
stats_named_find(struct stats_named *set, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(set[i].name, name) == 0)
			return set[i].c;
	return NULL;
}

static struct metrics_counter *
stats_plain_counter(struct metrics *m, const char *name, const char *help)
{
	return metrics_counter_child(metrics_counter_family(m, name, help, NULL),
	    NULL);
}

static struct metrics_histogram *
stats_histogram(struct metrics *m, const char *name, const char *help,
    const double *bounds, size_t n)
{
	return metrics_histogram_child(metrics_histogram_family(m, name, help,
	    NULL, bounds, n), NULL);
}

static int
stats_declare_events(struct stats *s, struct metrics *m)
{
	s->received = stats_plain_counter(m, "cxbridge_events_received_total",
	    "Webhook events that passed authentication.");
	s->duplicate = stats_plain_counter(m, "cxbridge_events_duplicate_total",
	    "Events answered as duplicates or sharing an in-flight copy's outcome.");
	s->published = stats_plain_counter(m, "cxbridge_events_published_total",
	    "Events accepted by EventBridge.");
	s->failed = stats_plain_counter(m, "cxbridge_events_failed_total",
	    "Events neither EventBridge nor the DLQ took (answered 503).");
	if (s->received == NULL || s->duplicate == NULL ||
	    s->published == NULL || s->failed == NULL)
		return -1;
	if (stats_named_family(m, s->rejected, stats_reject_reasons,
	    NELEM(stats_reject_reasons), "cxbridge_events_rejected_total",
	    "Events refused, by reason.", "reason") != 0 ||
	    stats_named_family(m, s->dead, stats_dlq_reasons,
	    NELEM(stats_dlq_reasons), "cxbridge_events_dead_lettered_total",
	    "Events written to the SQS dead-letter queue, by reason.",
	    "reason") != 0 ||
	    stats_named_family(m, s->ooo, stats_policies, NELEM(stats_policies),
	    "cxbridge_events_out_of_order_total",
	    "Events older than their ordering key's newest, by policy applied.",
	    "policy") != 0)
		return -1;
	s->ack = stats_histogram(m, "cxbridge_ack_latency_seconds",
	    "Time from a webhook's arrival to its answer, for events delivered.",
	    NULL, 0);
	s->lag = stats_histogram(m, "cxbridge_event_lag_seconds",
	    "Time from an event's own timestamp to its publication.", NULL, 0);
	return s->ack == NULL || s->lag == NULL ? -1 : 0;
}

static int
stats_declare_delivery(struct stats *s, struct metrics *m)
{
	static const double entries[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

	if (stats_named_family(m, s->pe_calls, stats_call_outcomes,
	    NELEM(stats_call_outcomes), "cxbridge_putevents_calls_total",
	    "PutEvents calls by outcome.", "outcome") != 0 ||
	    stats_named_family(m, s->sqs_calls, stats_call_outcomes,
	    NELEM(stats_call_outcomes), "cxbridge_sqs_calls_total",
	    "SQS SendMessageBatch calls by outcome.", "outcome") != 0)
		return -1;
	s->pe_retried = stats_plain_counter(m,
	    "cxbridge_putevents_entries_retried_total",
	    "PutEvents entries scheduled for another attempt.");
	s->pe_latency = stats_histogram(m, "cxbridge_putevents_latency_seconds",
	    "PutEvents call latency.", NULL, 0);
	s->pe_entries = stats_histogram(m, "cxbridge_putevents_entries",
	    "Entries per PutEvents call.", entries, NELEM(entries));
	s->sqs_latency = stats_histogram(m, "cxbridge_sqs_latency_seconds",
	    "SQS SendMessageBatch call latency.", NULL, 0);
	s->circuit = metrics_gauge_child(metrics_gauge_family(m,
	    "cxbridge_circuit_state",
	    "EventBridge circuit breaker: 0 closed, 1 open, 2 half-open.", NULL),
	    NULL);
	return s->pe_retried == NULL || s->pe_latency == NULL ||
	    s->pe_entries == NULL || s->sqs_latency == NULL ||
	    s->circuit == NULL ? -1 : 0;
}

struct stats *
stats_new(struct metrics *m, const char *version)
{
	const char *const build_labels[] = { "version", NULL };
	struct stats *s = calloc(1, sizeof(*s));
	struct metrics_family *build;

	if (s == NULL)
		return NULL;
	build = metrics_gauge_family(m, "cxbridge_build_info",
	    "Always 1; the version is in the label.", build_labels);
	metrics_gauge_set(metrics_gauge_with(build, version), 1);
	s->http = metrics_counter_family(m, "cxbridge_http_requests_total",
	    "HTTP requests answered, by path and status code.",
	    (const char *const[]){ "path", "code", NULL });
	s->clock_skew = stats_plain_counter(m, "cxbridge_clock_skew_errors_total",
	    "AWS calls refused because this host's clock is off by more than "
	    "AWS allows (5 minutes).");
	if (build == NULL || s->http == NULL || s->clock_skew == NULL ||
	    stats_declare_events(s, m) != 0 || stats_declare_delivery(s, m) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void
stats_free(struct stats *s)
{
	free(s);
}

void
stats_http_request(struct stats *s, enum stats_path path, int status)
{
	struct metrics_counter *c;
	char code[8];
	size_t i;

	if (s == NULL || status < STATS_STATUS_MIN || status > STATS_STATUS_MAX ||
	    path >= STATS_PATH_N)
		return;
	i = (size_t)(status - STATS_STATUS_MIN);
	c = atomic_load_explicit(&s->http_child[path][i], memory_order_acquire);
	if (c == NULL) {
		/* Racing threads get the same child: the registry dedupes. */
		snprintf(code, sizeof(code), "%d", status);
		c = metrics_counter_with(s->http, stats_path_names[path], code);
		atomic_store_explicit(&s->http_child[path][i], c,
		    memory_order_release);
	}
	metrics_counter_inc(c);
}

void
stats_received(struct stats *s)
{
	if (s != NULL)
		metrics_counter_inc(s->received);
}

void
stats_rejected(struct stats *s, const char *reason)
{
	if (s != NULL)
		metrics_counter_inc(stats_named_find(s->rejected,
		    NELEM(s->rejected), reason));
}

void
stats_duplicate(struct stats *s)
{
	if (s != NULL)
		metrics_counter_inc(s->duplicate);
}

void
stats_out_of_order(struct stats *s, const char *policy)
{
	if (s != NULL)
		metrics_counter_inc(stats_named_find(s->ooo, NELEM(s->ooo),
		    policy));
}

void
stats_published(struct stats *s, double lag_s)
{
	if (s == NULL)
		return;
	metrics_counter_inc(s->published);
	metrics_histogram_observe(s->lag, lag_s);
}

void
stats_dead_lettered(struct stats *s, const char *reason)
{
	if (s != NULL)
		metrics_counter_inc(stats_named_find(s->dead, NELEM(s->dead),
		    reason));
}

void
stats_failed(struct stats *s)
{
	if (s != NULL)
		metrics_counter_inc(s->failed);
}

void
stats_ack_latency(struct stats *s, double seconds)
{
	if (s != NULL)
		metrics_histogram_observe(s->ack, seconds);
}

void
stats_putevents(struct stats *s, const char *outcome, double seconds,
    size_t entries)
{
	if (s == NULL)
		return;
	metrics_counter_inc(stats_named_find(s->pe_calls, NELEM(s->pe_calls),
	    outcome));
	metrics_histogram_observe(s->pe_latency, seconds);
	metrics_histogram_observe(s->pe_entries, (double)entries);
}

void
stats_putevents_retry(struct stats *s, size_t entries)
{
	if (s != NULL)
		metrics_counter_add(s->pe_retried, entries);
}

void
stats_sqs(struct stats *s, const char *outcome, double seconds)
{
	if (s == NULL)
		return;
	metrics_counter_inc(stats_named_find(s->sqs_calls, NELEM(s->sqs_calls),
	    outcome));
	metrics_histogram_observe(s->sqs_latency, seconds);
}

void
stats_circuit(struct stats *s, enum stats_circuit state)
{
	if (s != NULL)
		metrics_gauge_set(s->circuit, (double)state);
}

void
stats_clock_skew(struct stats *s)
{
	if (s != NULL)
		metrics_counter_inc(s->clock_skew);
}
