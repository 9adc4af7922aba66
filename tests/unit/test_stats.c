/* test_stats.c - unit tests for the metric families and their update calls. */
#include "testutil.h"

#include "log.h"
#include "metrics.h"
#include "stats.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
	struct metrics *m;
	struct stats   *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->m = metrics_new();
	f->s = f->m == NULL ? NULL : stats_new(f->m, "1.2.3");
	if (f->s == NULL) {
		metrics_free(f->m);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	stats_free(f->s);
	metrics_free(f->m);
	free(f);
	return 0;
}

static char *
render(struct fx *f)
{
	char *text = metrics_render(f->m, NULL);

	assert_non_null(text);
	return text;
}

/* line is a whole sample line ("name{labels} value") of text. */
static void
assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void
assert_no_line_start(const char *text, const char *start)
{
	size_t n = strlen(start);

	for (const char *p = text; (p = strstr(p, start)) != NULL; p++)
		if (p == text || p[-1] == '\n')
			fail_msg("unexpected line starting \"%.*s\"", (int)n, start);
}

static void
test_declared_at_zero(void **state)
{
	struct fx *f = *state;
	char *t = render(f);

	assert_line(t, "cxbridge_build_info{version=\"1.2.3\"} 1");
	assert_line(t, "cxbridge_events_received_total 0");
	assert_line(t, "cxbridge_events_rejected_total{reason=\"schema\"} 0");
	assert_line(t, "cxbridge_events_dead_lettered_total{reason=\"deadline\"} 0");
	assert_line(t, "cxbridge_events_out_of_order_total{policy=\"reject\"} 0");
	assert_line(t, "cxbridge_putevents_calls_total{outcome=\"partial\"} 0");
	assert_line(t, "cxbridge_sqs_calls_total{outcome=\"transport\"} 0");
	assert_line(t, "cxbridge_circuit_state 0");
	/* Request children appear on first use only. */
	assert_no_line_start(t, "cxbridge_http_requests_total{");
	free(t);
}

static void
test_http_request(void **state)
{
	struct fx *f = *state;
	char *t;

	stats_http_request(f->s, STATS_PATH_WEBHOOK, 200);
	stats_http_request(f->s, STATS_PATH_WEBHOOK, 200);
	stats_http_request(f->s, STATS_PATH_WEBHOOK, 429);
	stats_http_request(f->s, STATS_PATH_READY, 503);
	stats_http_request(f->s, STATS_PATH_OTHER, 404);
	/* Out of range: ignored. */
	stats_http_request(f->s, STATS_PATH_HEALTH, 99);
	stats_http_request(f->s, STATS_PATH_HEALTH, 600);
	stats_http_request(f->s, STATS_PATH_N, 200);
	t = render(f);
	assert_line(t, "cxbridge_http_requests_total{path=\"webhook\",code=\"200\"} 2");
	assert_line(t, "cxbridge_http_requests_total{path=\"webhook\",code=\"429\"} 1");
	assert_line(t, "cxbridge_http_requests_total{path=\"ready\",code=\"503\"} 1");
	assert_line(t, "cxbridge_http_requests_total{path=\"other\",code=\"404\"} 1");
	assert_no_line_start(t, "cxbridge_http_requests_total{path=\"health\"");
	assert_no_line_start(t, "cxbridge_http_requests_total{path=\"webhook\","
	    "code=\"503\"");
	free(t);
}

static void
test_event_counters(void **state)
{
	struct fx *f = *state;
	char *t;

	stats_received(f->s);
	stats_received(f->s);
	stats_received(f->s);
	stats_duplicate(f->s);
	stats_failed(f->s);
	stats_failed(f->s);
	t = render(f);
	assert_line(t, "cxbridge_events_received_total 3");
	assert_line(t, "cxbridge_events_duplicate_total 1");
	assert_line(t, "cxbridge_events_failed_total 2");
	assert_line(t, "cxbridge_events_published_total 0");
	free(t);
}

static void
test_rejected_by_reason(void **state)
{
	static const char *const reasons[] = {
		"unauthorized", "schema", "too_large", "out_of_order",
		"queue_full", "dedupe_full", "draining", "internal",
	};
	struct fx *f = *state;
	char line[128], *before, *t;

	/* reasons[i] is counted i + 1 times, so a mix-up shows. */
	for (size_t i = 0; i < 8; i++)
		for (size_t k = 0; k <= i; k++)
			stats_rejected(f->s, reasons[i]);
	t = render(f);
	for (size_t i = 0; i < 8; i++) {
		snprintf(line, sizeof(line),
		    "cxbridge_events_rejected_total{reason=\"%s\"} %zu",
		    reasons[i], i + 1);
		assert_line(t, line);
	}
	/* Unknown reasons change nothing at all. */
	stats_rejected(f->s, "bogus");
	stats_rejected(f->s, "");
	stats_rejected(f->s, "Schema");
	before = t;
	t = render(f);
	assert_string_equal(t, before);
	assert_no_line_start(t, "cxbridge_events_rejected_total{reason=\"bogus\"");
	free(t);
	free(before);
}

static void
test_dead_lettered_and_order(void **state)
{
	static const char *const reasons[] = {
		"eventbridge_error", "non_retryable", "out_of_order", "deadline",
		"circuit_open", "shutdown",
	};
	struct fx *f = *state;
	char line[128], *before, *t;

	for (size_t i = 0; i < 6; i++)
		for (size_t k = 0; k <= i; k++)
			stats_dead_lettered(f->s, reasons[i]);
	stats_out_of_order(f->s, "dlq");
	stats_out_of_order(f->s, "accept");
	stats_out_of_order(f->s, "accept");
	t = render(f);
	for (size_t i = 0; i < 6; i++) {
		snprintf(line, sizeof(line),
		    "cxbridge_events_dead_lettered_total{reason=\"%s\"} %zu",
		    reasons[i], i + 1);
		assert_line(t, line);
	}
	assert_line(t, "cxbridge_events_out_of_order_total{policy=\"dlq\"} 1");
	assert_line(t, "cxbridge_events_out_of_order_total{policy=\"reject\"} 0");
	assert_line(t, "cxbridge_events_out_of_order_total{policy=\"accept\"} 2");
	stats_dead_lettered(f->s, "none");
	stats_dead_lettered(f->s, "unknown");
	stats_out_of_order(f->s, "drop");
	before = t;
	t = render(f);
	assert_string_equal(t, before);
	free(t);
	free(before);
}

static void
test_histograms(void **state)
{
	struct fx *f = *state;
	char *t;

	stats_published(f->s, 0.25);
	stats_published(f->s, 2.5);
	stats_ack_latency(f->s, 0.004);
	t = render(f);
	assert_line(t, "cxbridge_events_published_total 2");
	assert_line(t, "cxbridge_event_lag_seconds_count 2");
	assert_line(t, "cxbridge_event_lag_seconds_sum 2.75");
	assert_line(t, "cxbridge_event_lag_seconds_bucket{le=\"+Inf\"} 2");
	assert_line(t, "cxbridge_ack_latency_seconds_count 1");
	assert_line(t, "cxbridge_ack_latency_seconds_sum 0.004");
	free(t);
}

static void
test_putevents_and_sqs(void **state)
{
	struct fx *f = *state;
	char *t;

	stats_putevents(f->s, "success", 0.05, 10);
	stats_putevents(f->s, "partial", 0.5, 7);
	stats_putevents(f->s, "no_such_outcome", 0.1, 1);
	stats_putevents_retry(f->s, 3);
	stats_putevents_retry(f->s, 2);
	stats_sqs(f->s, "error", 1.5);
	stats_sqs(f->s, "transport", 0.5);
	t = render(f);
	assert_line(t, "cxbridge_putevents_calls_total{outcome=\"success\"} 1");
	assert_line(t, "cxbridge_putevents_calls_total{outcome=\"partial\"} 1");
	assert_line(t, "cxbridge_putevents_calls_total{outcome=\"error\"} 0");
	assert_no_line_start(t, "cxbridge_putevents_calls_total{outcome=\"no_such");
	/* Latency and size are observed for every call, known outcome or not. */
	assert_line(t, "cxbridge_putevents_latency_seconds_count 3");
	assert_line(t, "cxbridge_putevents_entries_count 3");
	assert_line(t, "cxbridge_putevents_entries_sum 18");
	assert_line(t, "cxbridge_putevents_entries_bucket{le=\"1\"} 1");
	assert_line(t, "cxbridge_putevents_entries_bucket{le=\"6\"} 1");
	assert_line(t, "cxbridge_putevents_entries_bucket{le=\"7\"} 2");
	assert_line(t, "cxbridge_putevents_entries_bucket{le=\"10\"} 3");
	assert_line(t, "cxbridge_putevents_entries_retried_total 5");
	assert_line(t, "cxbridge_sqs_calls_total{outcome=\"error\"} 1");
	assert_line(t, "cxbridge_sqs_calls_total{outcome=\"transport\"} 1");
	assert_line(t, "cxbridge_sqs_calls_total{outcome=\"success\"} 0");
	assert_line(t, "cxbridge_sqs_latency_seconds_count 2");
	assert_line(t, "cxbridge_sqs_latency_seconds_sum 2");
	free(t);
}

static void
test_circuit_gauge(void **state)
{
	struct fx *f = *state;
	char *t;

	stats_circuit(f->s, STATS_CIRCUIT_OPEN);
	t = render(f);
	assert_line(t, "cxbridge_circuit_state 1");
	free(t);
	stats_circuit(f->s, STATS_CIRCUIT_HALF_OPEN);
	t = render(f);
	assert_line(t, "cxbridge_circuit_state 2");
	free(t);
	stats_circuit(f->s, STATS_CIRCUIT_CLOSED);
	t = render(f);
	assert_line(t, "cxbridge_circuit_state 0");
	free(t);
}

static void
test_null_stats_is_noop(void **state)
{
	(void)state;
	stats_http_request(NULL, STATS_PATH_WEBHOOK, 200);
	stats_received(NULL);
	stats_rejected(NULL, "schema");
	stats_duplicate(NULL);
	stats_out_of_order(NULL, "dlq");
	stats_published(NULL, 1);
	stats_dead_lettered(NULL, "deadline");
	stats_failed(NULL);
	stats_ack_latency(NULL, 1);
	stats_putevents(NULL, "success", 1, 1);
	stats_putevents_retry(NULL, 1);
	stats_sqs(NULL, "success", 1);
	stats_circuit(NULL, STATS_CIRCUIT_OPEN);
	stats_free(NULL);
}

static void
test_two_registries_apart(void **state)
{
	struct fx *f = *state;
	struct metrics *m2 = metrics_new();
	struct stats *s2;
	char *t;
	int fd;

	assert_non_null(m2);
	s2 = stats_new(m2, "9.9.9");
	assert_non_null(s2);
	stats_received(s2);
	t = render(f);
	assert_line(t, "cxbridge_events_received_total 0");
	free(t);
	t = metrics_render(m2, NULL);
	assert_non_null(t);
	assert_line(t, "cxbridge_events_received_total 1");
	assert_line(t, "cxbridge_build_info{version=\"9.9.9\"} 1");
	free(t);
	/* A registry holds one set of families: declaring again fails (and
	 * logs why; kept off the test output). */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	log_set_fd(fd);
	assert_null(stats_new(m2, "9.9.9"));
	log_set_fd(-1);
	close(fd);
	stats_free(s2);
	metrics_free(m2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_declared_at_zero),
		T(test_http_request),
		T(test_event_counters),
		T(test_rejected_by_reason),
		T(test_dead_lettered_and_order),
		T(test_histograms),
		T(test_putevents_and_sqs),
		T(test_circuit_gauge),
		cmocka_unit_test(test_null_stats_is_noop),
		T(test_two_registries_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
