/* test_metrics.c - registry, text format 0.0.4 rendering, caps, threads. */
#include "testutil.h"

#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
assert_render(struct metrics *m, const char *expected)
{
	size_t len = 0;
	char *out = metrics_render(m, &len);

	assert_non_null(out);
	assert_string_equal(out, expected);
	assert_int_equal(len, strlen(out));
	free(out);
}

/* Returns the rendered line starting with prefix, copied into line. */
static int
find_line(struct metrics *m, const char *prefix, char *line, size_t size)
{
	char *out = metrics_render(m, NULL);
	char *p, *nl;
	int found = -1;

	assert_non_null(out);
	for (p = out; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(line, size, "%.*s", (int)(nl - p), p);
			found = 0;
			break;
		}
	}
	free(out);
	return found;
}

static double
cb_double(void *arg)
{
	return *(const double *)arg;
}

static uint64_t
cb_u64(void *arg)
{
	return *(const uint64_t *)arg;
}

static void
test_render_exact(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *req, *temp, *lat;
	struct metrics_histogram *h;
	static const double bounds[] = { 0.1, 0.5, 1 };
	double depth = 7;
	uint64_t evictions = 42;
	char line[64];

	(void)state;
	assert_non_null(m);
	req = metrics_counter_family(m, "t_requests_total", "Requests handled.",
	    LABELS("method", "code"));
	temp = metrics_gauge_family(m, "t_temperature_celsius", "Temperature.",
	    NULL);
	assert_int_equal(metrics_gauge_func(m, "t_queue_depth",
	    "Queued events.", cb_double, &depth), 0);
	assert_int_equal(metrics_counter_func(m, "t_evictions_total",
	    "Evictions.", cb_u64, &evictions), 0);
	lat = metrics_histogram_family(m, "t_latency_seconds", "Latency.",
	    LABELS("op"), bounds, 3);
	assert_non_null(req);
	assert_non_null(temp);
	assert_non_null(lat);

	for (int i = 0; i < 3; i++)
		metrics_counter_inc(metrics_counter_with(req, "GET", "200"));
	metrics_counter_add(metrics_counter_with(req, "POST", "500"), 2);
	metrics_gauge_set(metrics_gauge_child(temp, NULL), -1.5);
	h = metrics_histogram_with(lat, "put");
	/* 0.5 sits on a bound: "le" means less than or equal. */
	metrics_histogram_observe(h, 0.0625);
	metrics_histogram_observe(h, 0.5);
	metrics_histogram_observe(h, 0.75);
	metrics_histogram_observe(h, 3);
	metrics_histogram_observe(h, NAN);      /* ignored */

	assert_render(m,
	    "# HELP t_requests_total Requests handled.\n"
	    "# TYPE t_requests_total counter\n"
	    "t_requests_total{method=\"GET\",code=\"200\"} 3\n"
	    "t_requests_total{method=\"POST\",code=\"500\"} 2\n"
	    "# HELP t_temperature_celsius Temperature.\n"
	    "# TYPE t_temperature_celsius gauge\n"
	    "t_temperature_celsius -1.5\n"
	    "# HELP t_queue_depth Queued events.\n"
	    "# TYPE t_queue_depth gauge\n"
	    "t_queue_depth 7\n"
	    "# HELP t_evictions_total Evictions.\n"
	    "# TYPE t_evictions_total counter\n"
	    "t_evictions_total 42\n"
	    "# HELP t_latency_seconds Latency.\n"
	    "# TYPE t_latency_seconds histogram\n"
	    "t_latency_seconds_bucket{op=\"put\",le=\"0.1\"} 1\n"
	    "t_latency_seconds_bucket{op=\"put\",le=\"0.5\"} 2\n"
	    "t_latency_seconds_bucket{op=\"put\",le=\"1\"} 3\n"
	    "t_latency_seconds_bucket{op=\"put\",le=\"+Inf\"} 4\n"
	    "t_latency_seconds_sum{op=\"put\"} 4.3125\n"
	    "t_latency_seconds_count{op=\"put\"} 4\n");

	/* Callbacks run at render time, not at registration. */
	depth = 0.25;
	evictions = 43;
	assert_int_equal(find_line(m, "t_queue_depth ", line, sizeof(line)),
	    0);
	assert_string_equal(line, "t_queue_depth 0.25");
	assert_int_equal(find_line(m, "t_evictions_total ", line,
	    sizeof(line)), 0);
	assert_string_equal(line, "t_evictions_total 43");
	assert_int_equal(metrics_histogram_count(h), 4);
	assert_true(metrics_histogram_sum(h) == 4.3125);
	metrics_free(m);
}

static void
test_histogram_without_labels(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f;
	struct metrics_histogram *h;
	static const double one[] = { 2 };

	(void)state;
	f = metrics_histogram_family(m, "t_batch_entries", "Entries per batch.",
	    NULL, one, 1);
	assert_non_null(f);
	h = metrics_histogram_child(f, NULL);
	assert_non_null(h);
	metrics_histogram_observe(h, 2);
	metrics_histogram_observe(h, 10);
	assert_render(m,
	    "# HELP t_batch_entries Entries per batch.\n"
	    "# TYPE t_batch_entries histogram\n"
	    "t_batch_entries_bucket{le=\"2\"} 1\n"
	    "t_batch_entries_bucket{le=\"+Inf\"} 2\n"
	    "t_batch_entries_sum 12\n"
	    "t_batch_entries_count 2\n");
	metrics_free(m);
}

static void
test_default_buckets(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f;
	char line[128];

	(void)state;
	f = metrics_histogram_family(m, "t_ack_seconds", "Ack latency.", NULL,
	    NULL, 0);
	assert_non_null(f);
	metrics_histogram_observe(metrics_histogram_child(f, NULL), 0.0004);
	assert_int_equal(find_line(m, "t_ack_seconds_bucket{le=\"0.0005\"}",
	    line, sizeof(line)), 0);
	assert_string_equal(line, "t_ack_seconds_bucket{le=\"0.0005\"} 1");
	assert_int_equal(find_line(m, "t_ack_seconds_bucket{le=\"10\"}",
	    line, sizeof(line)), 0);
	assert_int_equal(find_line(m, "t_ack_seconds_bucket{le=\"0.0025\"}",
	    line, sizeof(line)), 0);
	assert_true(metrics_latency_buckets[0] == 0.0005);
	assert_true(metrics_latency_buckets[METRICS_LATENCY_N - 1] == 10);
	metrics_free(m);
}

static void
test_escaping(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f;

	(void)state;
	f = metrics_counter_family(m, "t_paths_total",
	    "Paths with \\ and\nnewline, \"quotes\" kept.", LABELS("path"));
	assert_non_null(f);
	metrics_counter_inc(metrics_counter_with(f, "a\\b\"c\nd"));
	assert_render(m,
	    "# HELP t_paths_total Paths with \\\\ and\\nnewline, "
	    "\"quotes\" kept.\n"
	    "# TYPE t_paths_total counter\n"
	    "t_paths_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
	metrics_free(m);
}

static void
test_numbers(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0.1, "0.1" },
		{ 1e-05, "1e-05" },
		{ 1e21, "1e+21" },
		{ 9007199254740992.0, "9007199254740992" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ -0.0005, "-0.0005" },
		{ NAN, "NaN" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
	};
	struct metrics *m = metrics_new();
	struct metrics_gauge *g;
	struct metrics_counter *c;
	char line[128], want[128];

	(void)state;
	g = metrics_gauge_child(metrics_gauge_family(m, "t_value", "V.", NULL),
	    NULL);
	c = metrics_counter_child(metrics_counter_family(m, "t_big_total",
	    "B.", NULL), NULL);
	assert_non_null(g);
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_gauge_set(g, cases[i].v);
		assert_int_equal(find_line(m, "t_value ", line, sizeof(line)),
		    0);
		snprintf(want, sizeof(want), "t_value %s", cases[i].want);
		assert_string_equal(line, want);
	}
	metrics_gauge_set(g, 1);
	metrics_gauge_add(g, 2.5);
	metrics_gauge_add(g, -0.5);
	assert_true(metrics_gauge_value(g) == 3);
	/* Counters never use an exponent, even near 2^64. */
	metrics_counter_add(c, UINT64_MAX - 1);
	metrics_counter_inc(c);
	assert_int_equal(find_line(m, "t_big_total ", line, sizeof(line)), 0);
	assert_string_equal(line, "t_big_total 18446744073709551615");
	metrics_free(m);
}

static void
test_bad_declarations(void **state)
{
	static const double dup[] = { 1, 1 }, down[] = { 2, 1 };
	static const double inf[] = { 1, INFINITY }, nan[] = { NAN };
	struct metrics *m = metrics_new();
	char longname[METRICS_NAME_MAX + 8];
	struct metrics_family *ok;

	(void)state;
	/* Names. */
	assert_null(metrics_counter_family(m, "t_requests", "H.", NULL));
	assert_null(metrics_gauge_family(m, "t_depth_total", "H.", NULL));
	assert_null(metrics_counter_family(m, "1t_total", "H.", NULL));
	assert_null(metrics_counter_family(m, "t-x_total", "H.", NULL));
	assert_null(metrics_counter_family(m, "", "H.", NULL));
	assert_null(metrics_counter_family(m, NULL, "H.", NULL));
	assert_null(metrics_gauge_family(m, "t_\xc3\xa9", "H.", NULL));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_null(metrics_gauge_family(m, longname, "H.", NULL));
	assert_null(metrics_histogram_family(m, "t_x_count", "H.", NULL,
	    NULL, 0));
	/* Help. */
	assert_null(metrics_gauge_family(m, "t_a", NULL, NULL));
	assert_null(metrics_gauge_family(m, "t_a", "", NULL));
	/* Label names. */
	assert_null(metrics_gauge_family(m, "t_a", "H.", LABELS("__x")));
	assert_null(metrics_gauge_family(m, "t_a", "H.", LABELS("a:b")));
	assert_null(metrics_gauge_family(m, "t_a", "H.", LABELS("9a")));
	assert_null(metrics_gauge_family(m, "t_a", "H.", LABELS("a", "a")));
	assert_null(metrics_gauge_family(m, "t_a", "H.",
	    LABELS("a", "b", "c", "d", "e", "f", "g", "h", "i")));
	assert_null(metrics_histogram_family(m, "t_h", "H.", LABELS("le"),
	    NULL, 0));
	/* Bounds. */
	assert_null(metrics_histogram_family(m, "t_h", "H.", NULL, dup, 2));
	assert_null(metrics_histogram_family(m, "t_h", "H.", NULL, down, 2));
	assert_null(metrics_histogram_family(m, "t_h", "H.", NULL, inf, 2));
	assert_null(metrics_histogram_family(m, "t_h", "H.", NULL, nan, 1));
	assert_null(metrics_histogram_family(m, "t_h", "H.", NULL, dup, 0));
	assert_int_equal(metrics_gauge_func(m, "t_f", "H.", NULL, NULL), -1);
	assert_int_equal(metrics_counter_func(m, "t_f", "H.", cb_u64, NULL),
	    -1);
	/* Nothing bad was registered. */
	assert_render(m, "");

	/* Good ones, then clashes with them. */
	ok = metrics_histogram_family(m, "t_h", "H.", LABELS("a_b", "_c"),
	    NULL, 0);
	assert_non_null(ok);
	assert_non_null(metrics_gauge_family(m, "ns:t_a", "H.",
	    LABELS("A9")));
	assert_null(metrics_gauge_family(m, "t_h", "H.", NULL));
	assert_null(metrics_gauge_family(m, "t_h_bucket", "H.", NULL));
	assert_null(metrics_gauge_family(m, "t_h_sum", "H.", NULL));
	assert_int_equal(metrics_gauge_func(m, "ns:t_a", "H.", cb_double,
	    NULL), -1);
	assert_non_null(metrics_gauge_family(m, "t_g_count", "H.", NULL));
	assert_null(metrics_histogram_family(m, "t_g", "H.", NULL, NULL, 0));

	/* Lookups with the wrong value count or family type. */
	assert_null(metrics_histogram_with(ok, "x"));
	assert_null(metrics_histogram_with(ok, "x", "y", "z"));
	assert_null(metrics_histogram_child(ok, NULL));
	assert_null(metrics_counter_with(ok, "x", "y"));
	assert_non_null(metrics_histogram_with(ok, "x", "y"));
	metrics_free(m);
}

static void
test_child_cap(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f;
	struct metrics_counter *a, *over;
	char path[16];

	(void)state;
	assert_int_equal(metrics_set_child_cap(m, 0), -1);
	assert_int_equal(metrics_set_child_cap(m, METRICS_CHILDREN_LIMIT + 1),
	    -1);
	assert_int_equal(metrics_set_child_cap(m, 3), 0);
	f = metrics_counter_family(m, "t_hits_total", "Hits.",
	    LABELS("path", "code"));
	assert_non_null(f);
	a = metrics_counter_with(f, "/a", "200");
	assert_non_null(a);
	assert_ptr_equal(metrics_counter_with(f, "/a", "200"), a);
	assert_ptr_not_equal(metrics_counter_with(f, "/b", "200"), a);
	assert_non_null(metrics_counter_with(f, "/c", "200"));
	/* Past the cap every new tuple shares the overflow child. */
	over = NULL;
	for (int i = 0; i < 50; i++) {
		struct metrics_counter *c;

		snprintf(path, sizeof(path), "/x%d", i);
		c = metrics_counter_with(f, path, "404");
		assert_non_null(c);
		assert_ptr_not_equal(c, a);
		if (over == NULL)
			over = c;
		assert_ptr_equal(c, over);
		metrics_counter_inc(c);
	}
	/* Known tuples still get their own child. */
	assert_ptr_equal(metrics_counter_with(f, "/a", "200"), a);
	metrics_counter_inc(a);
	assert_render(m,
	    "# HELP t_hits_total Hits.\n"
	    "# TYPE t_hits_total counter\n"
	    "t_hits_total{path=\"/a\",code=\"200\"} 1\n"
	    "t_hits_total{path=\"/b\",code=\"200\"} 0\n"
	    "t_hits_total{path=\"/c\",code=\"200\"} 0\n"
	    "t_hits_total{path=\"" METRICS_OVERFLOW_VALUE "\",code=\""
	    METRICS_OVERFLOW_VALUE "\"} 50\n");
	/* The overflow tuple named directly is the same child. */
	assert_ptr_equal(metrics_counter_with(f, METRICS_OVERFLOW_VALUE,
	    METRICS_OVERFLOW_VALUE), over);
	metrics_free(m);
}

static void
test_label_value_cap(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f;
	struct metrics_counter *c1, *c2, *c3;
	char v1[300], v2[300], want[400];

	(void)state;
	f = metrics_counter_family(m, "t_paths_total", "P.", LABELS("path"));
	/* Two values that differ only past the cap share one child. */
	memset(v1, 'a', sizeof(v1) - 1);
	v1[sizeof(v1) - 1] = '\0';
	memcpy(v2, v1, sizeof(v2));
	v2[200] = 'b';
	c1 = metrics_counter_with(f, v1);
	c2 = metrics_counter_with(f, v2);
	assert_non_null(c1);
	assert_ptr_equal(c1, c2);
	/* A two-byte character across the cap is dropped whole. */
	memset(v2, 'a', METRICS_VALUE_MAX - 1);
	memcpy(v2 + METRICS_VALUE_MAX - 1, "\xc3\xa9zz", 5);
	c3 = metrics_counter_with(f, v2);
	assert_non_null(c3);
	assert_ptr_not_equal(c3, c1);
	v2[METRICS_VALUE_MAX - 1] = '\0';
	assert_ptr_equal(metrics_counter_with(f, v2), c3);
	metrics_counter_inc(c1);
	/* Invalid UTF-8 (a lone byte, an overlong form, a surrogate) -> '?'. */
	metrics_counter_inc(metrics_counter_with(f,
	    "x\xff" "y\xc0\xaf" "z\xed\xa0\x80" "\xe2\x82\xac"));
	snprintf(want, sizeof(want),
	    "# HELP t_paths_total P.\n"
	    "# TYPE t_paths_total counter\n"
	    "t_paths_total{path=\"%.*s\"} 1\n"
	    "t_paths_total{path=\"%.*s\"} 0\n"
	    "t_paths_total{path=\"x?y??z???\xe2\x82\xac\"} 1\n",
	    METRICS_VALUE_MAX, v1, METRICS_VALUE_MAX - 1, v1);
	assert_render(m, want);
	metrics_free(m);
}

static void
test_null_safe(void **state)
{
	(void)state;
	metrics_free(NULL);
	assert_null(metrics_render(NULL, NULL));
	assert_null(metrics_counter_family(NULL, "t_total", "H.", NULL));
	assert_null(metrics_counter_with(NULL, "x"));
	assert_null(metrics_gauge_child(NULL, NULL));
	metrics_counter_inc(NULL);
	metrics_counter_add(NULL, 3);
	metrics_gauge_set(NULL, 1);
	metrics_gauge_add(NULL, 1);
	metrics_histogram_observe(NULL, 1);
	assert_int_equal(metrics_counter_value(NULL), 0);
	assert_int_equal(metrics_histogram_count(NULL), 0);
	assert_true(metrics_gauge_value(NULL) == 0);
	assert_true(metrics_histogram_sum(NULL) == 0);
}

/* ---- concurrency ----------------------------------------------------- */

#define THREAD_OPS 1000000

struct worker {
	struct metrics_family *req, *lat;
	struct metrics_counter *c;
	struct metrics_histogram *h;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	/* Both threads create the same children at the same moment. */
	w->c = metrics_counter_with(w->req, "GET", "200");
	w->h = metrics_histogram_with(w->lat, "put");
	for (int i = 0; i < THREAD_OPS; i++) {
		metrics_counter_inc(w->c);
		/* Exact binary fractions, so the sum is exact too. */
		metrics_histogram_observe(w->h, (i & 1) ? 2.0 : 0.25);
	}
	return NULL;
}

struct scraper {
	struct metrics *m;
	_Atomic int stop;
	int renders;
	int bad;
};

/* While the workers run, every render must be cumulative with
 * _count equal to the +Inf bucket. */
static void *
scraper_run(void *arg)
{
	struct scraper *s = arg;

	while (!s->stop) {
		char *out = metrics_render(s->m, NULL);
		unsigned long long b[3] = { 0 }, count = 0;
		const char *p;

		if (out == NULL) {
			s->bad++;
			break;
		}
		p = strstr(out, "t_conc_seconds_bucket{op=\"put\",le=\"1\"}");
		if (p != NULL) {
			if (sscanf(p, "t_conc_seconds_bucket{op=\"put\",le=\"1\"} %llu\n"
			    "t_conc_seconds_bucket{op=\"put\",le=\"5\"} %llu\n"
			    "t_conc_seconds_bucket{op=\"put\",le=\"+Inf\"} %llu\n",
			    &b[0], &b[1], &b[2]) != 3)
				s->bad++;
			p = strstr(out, "t_conc_seconds_count{op=\"put\"} ");
			if (p == NULL || sscanf(p, "t_conc_seconds_count"
			    "{op=\"put\"} %llu", &count) != 1)
				s->bad++;
			if (b[0] > b[1] || b[1] > b[2] || count != b[2])
				s->bad++;
		}
		free(out);
		s->renders++;
	}
	return NULL;
}

static void
test_concurrency(void **state)
{
	static const double bounds[] = { 1, 5 };
	struct metrics *m = metrics_new();
	struct worker w[2];
	struct scraper s = { .m = m };
	pthread_t t[2], st;
	char line[128];

	(void)state;
	w[0].req = metrics_counter_family(m, "t_conc_total", "C.",
	    LABELS("method", "code"));
	w[0].lat = metrics_histogram_family(m, "t_conc_seconds", "H.",
	    LABELS("op"), bounds, 2);
	assert_non_null(w[0].req);
	assert_non_null(w[0].lat);
	w[1] = w[0];
	assert_int_equal(pthread_create(&st, NULL, scraper_run, &s), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]),
		    0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	s.stop = 1;
	pthread_join(st, NULL);

	assert_ptr_equal(w[0].c, w[1].c);
	assert_ptr_equal(w[0].h, w[1].h);
	assert_int_equal(metrics_counter_value(w[0].c), 2 * THREAD_OPS);
	assert_int_equal(metrics_histogram_count(w[0].h), 2 * THREAD_OPS);
	assert_true(metrics_histogram_sum(w[0].h) ==
	    THREAD_OPS * 0.25 + THREAD_OPS * 2.0);
	assert_int_equal(s.bad, 0);
	assert_true(s.renders > 0);
	assert_int_equal(find_line(m, "t_conc_total{", line, sizeof(line)), 0);
	assert_string_equal(line,
	    "t_conc_total{method=\"GET\",code=\"200\"} 2000000");
	assert_int_equal(find_line(m, "t_conc_seconds_bucket{op=\"put\",le=\"1\"}",
	    line, sizeof(line)), 0);
	assert_string_equal(line,
	    "t_conc_seconds_bucket{op=\"put\",le=\"1\"} 1000000");
	assert_int_equal(find_line(m, "t_conc_seconds_sum", line,
	    sizeof(line)), 0);
	assert_string_equal(line, "t_conc_seconds_sum{op=\"put\"} 2250000");
	metrics_free(m);
}

/* ---- promtool -------------------------------------------------------- */

static double
sample_depth(void *arg)
{
	(void)arg;
	return 17;
}

/* A registry shaped like the daemon's, with escapes and an overflow. */
static struct metrics *
sample_registry(void)
{
	static const double entries[] = { 1, 2, 5, 10 };
	struct metrics *m = metrics_new();
	struct metrics_family *req, *lat, *ent, *info;

	metrics_set_child_cap(m, 4);
	req = metrics_counter_family(m, "cxbridge_http_requests_total",
	    "HTTP requests by path and status code.\nSecond \\ line.",
	    LABELS("path", "code"));
	lat = metrics_histogram_family(m, "cxbridge_putevents_duration_seconds",
	    "PutEvents call latency.", LABELS("outcome"), NULL, 0);
	ent = metrics_histogram_family(m, "cxbridge_putevents_entries",
	    "Entries per PutEvents call.", NULL, entries, 4);
	info = metrics_gauge_family(m, "cxbridge_build_info", "Build.",
	    LABELS("version"));
	metrics_gauge_func(m, "cxbridge_queue_depth", "Queued events.",
	    sample_depth, NULL);
	metrics_counter_inc(metrics_counter_with(req, "/webhook", "200"));
	metrics_counter_inc(metrics_counter_with(req, "/a\"b\\c\nd\xff", "404"));
	for (int i = 0; i < 10; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/scan/%d", i);
		metrics_counter_inc(metrics_counter_with(req, path, "404"));
	}
	metrics_histogram_observe(metrics_histogram_with(lat, "ok"), 0.012);
	metrics_histogram_observe(metrics_histogram_with(lat, "ok"), 0.3);
	metrics_histogram_observe(metrics_histogram_with(lat, "error"), 11);
	metrics_histogram_observe(metrics_histogram_child(ent, NULL), 7);
	metrics_gauge_set(metrics_gauge_with(info, "0.1.0"), 1);
	return m;
}

static int
write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	if (fwrite(data, 1, len, fp) != len) {
		fclose(fp);
		return -1;
	}
	return fclose(fp);
}

/* With CXB_METRICS_SAMPLE=FILE the sample is written there for
 * tests/promtool-check.sh; with promtool installed it is also checked
 * here, and so is a bad exposition, which the script must refuse. */
static void
test_promtool(void **state)
{
	static const char bad[] =
	    "# HELP t_x H.\n# TYPE t_x counter\nt_x 1\n";
	const char *sample = getenv("CXB_METRICS_SAMPLE");
	struct metrics *m = sample_registry();
	char tmp[] = "/tmp/test_metrics_XXXXXX", cmd[256];
	size_t len = 0;
	char *out;
	int fd;

	(void)state;
	out = metrics_render(m, &len);
	assert_non_null(out);
	assert_non_null(strstr(out, "path=\"" METRICS_OVERFLOW_VALUE "\""));
	if (sample != NULL && sample[0] != '\0')
		assert_int_equal(write_file(sample, out, len), 0);
	/* `make deps` installs promtool; a missing one is a failure, not a skip. */
	if (access("/usr/bin/promtool", X_OK) != 0)
		fail_msg("/usr/bin/promtool is missing: run `make deps`");
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "sh tests/promtool-check.sh %s >/dev/null",
	    tmp);
	assert_int_equal(write_file(tmp, out, len), 0);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(write_file(tmp, bad, sizeof(bad) - 1), 0);
	snprintf(cmd, sizeof(cmd), "sh tests/promtool-check.sh %s "
	    ">/dev/null 2>&1", tmp);
	assert_int_not_equal(system(cmd), 0);
	unlink(tmp);
	free(out);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_histogram_without_labels),
		cmocka_unit_test(test_default_buckets),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bad_declarations),
		cmocka_unit_test(test_child_cap),
		cmocka_unit_test(test_label_value_cap),
		cmocka_unit_test(test_null_safe),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
