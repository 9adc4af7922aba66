/* test_order.c - unit tests for the per-key ordering table. */
#include "testutil.h"

#include "order.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K(s) (s), strlen(s)

static void
test_new_bad_capacity(void **state)
{
	(void)state;
	errno = 0;
	assert_null(order_new(0, 10));
	assert_int_equal(errno, EINVAL);
	assert_null(order_new((size_t)ORDER_CAPACITY_MAX + 1, 10));
	order_free(NULL);
}

static void
test_fresh_stale_tolerance(void **state)
{
	struct order *o = order_new(100, 500);
	int64_t newest = 0;

	(void)state;
	assert_int_equal(order_check(o, K("q1"), 10000, &newest), ORDER_FRESH);
	assert_int_equal(newest, 10000);
	assert_int_equal(order_check(o, K("q1"), 12000, &newest), ORDER_FRESH);
	assert_int_equal(newest, 12000);
	/* Older but within the tolerance: fresh, the newest stays. */
	assert_int_equal(order_check(o, K("q1"), 11600, &newest), ORDER_FRESH);
	assert_int_equal(newest, 12000);
	/* Exactly at the tolerance is fresh; one millisecond more is stale. */
	assert_int_equal(order_check(o, K("q1"), 11500, &newest), ORDER_FRESH);
	assert_int_equal(order_check(o, K("q1"), 11499, &newest), ORDER_STALE);
	assert_int_equal(newest, 12000);
	/* The same timestamp again is fresh. */
	assert_int_equal(order_check(o, K("q1"), 12000, NULL), ORDER_FRESH);
	/* A stale check changed nothing; a fresh one moves the bar. */
	assert_int_equal(order_check(o, K("q1"), 11500, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("q1"), 13000, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("q1"), 12499, &newest), ORDER_STALE);
	assert_int_equal(newest, 13000);
	assert_int_equal(order_size(o), 1);
	order_free(o);
}

static void
test_zero_tolerance_and_keys(void **state)
{
	struct order *o = order_new(100, 0);
	char big[ORDER_KEY_MAX + 1];
	int64_t newest;

	(void)state;
	assert_int_equal(order_check(o, K("a"), 100, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("a"), 100, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("a"), 99, NULL), ORDER_STALE);
	/* Keys are independent byte strings. */
	assert_int_equal(order_check(o, K("b"), 1, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, "a\0x", 3, 1, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, "a\0y", 3, 1, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, "a\0x", 3, 0, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, "", 0, 5, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, "a", 0, 4, NULL), ORDER_STALE);
	assert_int_equal(order_size(o), 5);
	/* Too long to remember: always fresh, never stored. */
	memset(big, 'k', sizeof(big));
	assert_int_equal(order_check(o, big, sizeof(big), 50, &newest),
	    ORDER_FRESH);
	assert_int_equal(newest, 50);
	assert_int_equal(order_check(o, big, sizeof(big), 10, NULL), ORDER_FRESH);
	assert_int_equal(order_size(o), 5);
	assert_int_equal(order_check(o, big, ORDER_KEY_MAX, 50, NULL),
	    ORDER_FRESH);
	assert_int_equal(order_check(o, big, ORDER_KEY_MAX, 10, NULL),
	    ORDER_STALE);
	order_free(o);
}

/* The whole int64_t range and tolerance range, without overflow (UBSan
 * would catch it in the dev build). */
static void
test_extremes(void **state)
{
	struct order *o = order_new(10, 0);
	struct order *wide = order_new(10, UINT64_MAX);
	struct order *mid = order_new(10, (uint64_t)INT64_MAX);

	(void)state;
	assert_int_equal(order_check(o, K("k"), INT64_MAX, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("k"), INT64_MIN, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, K("k"), -1, NULL), ORDER_STALE);
	assert_int_equal(order_check(wide, K("k"), INT64_MAX, NULL), ORDER_FRESH);
	assert_int_equal(order_check(wide, K("k"), INT64_MIN, NULL), ORDER_FRESH);
	assert_int_equal(order_check(mid, K("k"), INT64_MAX, NULL), ORDER_FRESH);
	assert_int_equal(order_check(mid, K("k"), 0, NULL), ORDER_FRESH);
	assert_int_equal(order_check(mid, K("k"), -1, NULL), ORDER_STALE);
	order_free(o);
	order_free(wide);
	order_free(mid);
}

static void
test_eviction_lru(void **state)
{
	struct order *o = order_new(3, 0);
	int64_t newest;

	(void)state;
	assert_int_equal(order_check(o, K("a"), 100, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("b"), 100, NULL), ORDER_FRESH);
	assert_int_equal(order_check(o, K("c"), 100, NULL), ORDER_FRESH);
	/* a is checked again (even a stale check counts as use): b is now
	 * the least recently checked. */
	assert_int_equal(order_check(o, K("a"), 50, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, K("d"), 100, NULL), ORDER_FRESH);
	assert_int_equal(order_evictions(o), 1);
	assert_int_equal(order_size(o), 3);
	/* a, c, d still remembered. */
	assert_int_equal(order_check(o, K("a"), 99, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, K("c"), 99, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, K("d"), 99, NULL), ORDER_STALE);
	assert_int_equal(order_evictions(o), 1);
	/* b was forgotten, so its stale event passes: what eviction costs. */
	assert_int_equal(order_check(o, K("b"), 1, &newest), ORDER_FRESH);
	assert_int_equal(newest, 1);
	assert_int_equal(order_evictions(o), 2);
	/* That evicted a, the least recently checked of a, c, d. */
	assert_int_equal(order_check(o, K("c"), 99, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, K("d"), 99, NULL), ORDER_STALE);
	assert_int_equal(order_check(o, K("a"), 1, NULL), ORDER_FRESH);
	assert_int_equal(order_evictions(o), 3);
	order_free(o);
}

static void
key_of(char buf[32], unsigned n, unsigned salt)
{
	snprintf(buf, 32, "queue-%u-%u", salt, n);
}

/* The bound holds across shards, and the shares add up to the capacity. */
static void
test_capacity_bound(void **state)
{
	struct order *o = order_new(5000, 0);
	char key[32];

	(void)state;
	for (unsigned i = 0; i < 30000; i++) {
		key_of(key, i, 1);
		assert_int_equal(order_check(o, K(key), i, NULL), ORDER_FRESH);
	}
	assert_int_equal(order_size(o), 5000);
	assert_int_equal(order_evictions(o), 25000);
	for (unsigned i = 29900; i < 30000; i++) {
		key_of(key, i, 1);
		assert_int_equal(order_check(o, K(key), 0, NULL), ORDER_STALE);
	}
	order_free(o);
}

#define C_KEYS   1000
#define C_ROUNDS 200

struct conc_arg {
	struct order *o;
	int64_t parity;
	int64_t last_newest[C_KEYS];
	unsigned bad, fresh, stale;
};

/* Thread t checks timestamps 2r + t for every key in round r.  Whatever the
 * interleaving, the verdicts must agree with the newest each reports. */
static void *
conc_run(void *p)
{
	struct conc_arg *a = p;
	char key[32];
	int64_t ts, newest;

	for (unsigned r = 0; r < C_ROUNDS; r++) {
		for (unsigned k = 0; k < C_KEYS; k++) {
			key_of(key, k, 7);
			ts = 2 * (int64_t)r + a->parity;
			if (order_check(a->o, K(key), ts, &newest) ==
			    ORDER_FRESH) {
				a->fresh++;
				a->bad += newest < ts || newest > ts + 1;
			} else {
				a->stale++;
				a->bad += newest <= ts + 1;
			}
			/* The newest a key reports never goes back. */
			a->bad += newest < a->last_newest[k];
			a->last_newest[k] = newest;
		}
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct order *o = order_new(4 * C_KEYS, 1);
	struct conc_arg *a = calloc(2, sizeof(*a));
	pthread_t t[2];
	char key[32];
	int64_t newest;

	(void)state;
	assert_non_null(a);
	for (int i = 0; i < 2; i++) {
		a[i].o = o;
		a[i].parity = i;
		assert_int_equal(pthread_create(&t[i], NULL, conc_run, &a[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a[0].bad + a[1].bad, 0);
	assert_int_equal(a[0].fresh + a[0].stale, C_KEYS * C_ROUNDS);
	assert_int_equal(order_size(o), C_KEYS);
	assert_int_equal(order_evictions(o), 0);
	/* Every key ends at the largest timestamp either thread sent. */
	for (unsigned k = 0; k < C_KEYS; k++) {
		key_of(key, k, 7);
		order_check(o, K(key), 0, &newest);
		assert_int_equal(newest, 2 * (C_ROUNDS - 1) + 1);
	}
	print_message("threads: %u fresh, %u stale\n",
	    a[0].fresh + a[1].fresh, a[0].stale + a[1].stale);
	free(a);
	order_free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bad_capacity),
		cmocka_unit_test(test_fresh_stale_tolerance),
		cmocka_unit_test(test_zero_tolerance_and_keys),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_capacity_bound),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
