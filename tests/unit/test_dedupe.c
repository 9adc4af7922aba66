/* test_dedupe.c - unit tests for the dedupe TTL table. */
#include "testutil.h"

#include "dedupe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K(s) (s), strlen(s)

/* A request object as the ingest code would embed the waiter. */
struct req {
	struct dedupe_waiter w;
	int id;
	int woken;
};

static struct req *
req_of(struct dedupe_waiter *w)
{
	return (struct req *)(void *)((char *)w - offsetof(struct req, w));
}

static size_t
wake_all(struct dedupe_waiter *w)
{
	size_t n = 0;

	for (; w != NULL; w = w->next, n++)
		req_of(w)->woken++;
	return n;
}

static void
uuid_key(char buf[37], unsigned n, unsigned salt)
{
	snprintf(buf, 37, "%08x-%04x-4%03x-8%03x-%012x", n * 2654435761u,
	    salt & 0xffff, n & 0xfff, (n >> 12) & 0xfff, n);
}

static void
test_new_bad_capacity(void **state)
{
	(void)state;
	errno = 0;
	assert_null(dedupe_new(0, 60));
	assert_int_equal(errno, EINVAL);
	assert_null(dedupe_new((size_t)DEDUPE_CAPACITY_MAX + 1, 60));
	dedupe_free(NULL);
}

static void
test_claim_commit_seen(void **state)
{
	struct dedupe *d = dedupe_new(100, 60);
	struct req r = { .id = 1 };

	(void)state;
	assert_non_null(d);
	assert_int_equal(dedupe_claim(d, K("a"), 1000, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_size(d), 1);
	assert_int_equal(dedupe_claim(d, K("a"), 1001, &r.w), DEDUPE_INFLIGHT);
	assert_ptr_equal(dedupe_commit(d, K("a"), 1002), &r.w);
	assert_null(r.w.next);
	assert_int_equal(dedupe_claim(d, K("a"), 1003, &r.w), DEDUPE_SEEN);
	/* A delivered key holds no claim: commit and release change nothing. */
	assert_null(dedupe_commit(d, K("a"), 1004));
	assert_null(dedupe_release(d, K("a")));
	assert_int_equal(dedupe_claim(d, K("a"), 1005, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_size(d), 1);
	assert_int_equal(dedupe_evictions(d), 0);
	dedupe_free(d);
}

static void
test_release_lets_retry(void **state)
{
	struct dedupe *d = dedupe_new(100, 60);
	struct req r = { .id = 1 };

	(void)state;
	assert_null(dedupe_release(d, K("a")));
	assert_null(dedupe_commit(d, K("a"), 1));
	assert_int_equal(dedupe_claim(d, K("a"), 1, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, K("a"), 2, &r.w), DEDUPE_INFLIGHT);
	assert_ptr_equal(dedupe_release(d, K("a")), &r.w);
	assert_int_equal(dedupe_size(d), 0);
	assert_int_equal(dedupe_claim(d, K("a"), 3, NULL), DEDUPE_NEW);
	assert_null(dedupe_release(d, K("a")));
	assert_int_equal(dedupe_size(d), 0);
	dedupe_free(d);
}

/* Every copy that waited comes back exactly once, in arrival order. */
static void
check_waiters(int commit)
{
	struct dedupe *d = dedupe_new(100, 60);
	struct req r[5];
	struct dedupe_waiter *w;
	int i = 0;

	assert_int_equal(dedupe_claim(d, K("k"), 1, NULL), DEDUPE_NEW);
	for (int j = 0; j < 5; j++) {
		r[j] = (struct req){ .id = j, .w.next = (void *)&r[j] };
		assert_int_equal(dedupe_claim(d, K("k"), 2, &r[j].w),
		    DEDUPE_INFLIGHT);
	}
	/* Waiters on another key stay out of this list. */
	assert_int_equal(dedupe_claim(d, K("other"), 2, NULL), DEDUPE_NEW);
	w = commit ? dedupe_commit(d, K("k"), 3) : dedupe_release(d, K("k"));
	for (; w != NULL; w = w->next, i++)
		assert_int_equal(req_of(w)->id, i);
	assert_int_equal(i, 5);
	assert_int_equal(dedupe_claim(d, K("k"), 4, NULL),
	    commit ? DEDUPE_SEEN : DEDUPE_NEW);
	/* The second claim's list starts empty. */
	assert_null(commit ? dedupe_release(d, K("other")) :
	    dedupe_commit(d, K("k"), 5));
	dedupe_free(d);
}

static void
test_waiters_commit(void **state)
{
	(void)state;
	check_waiters(1);
}

static void
test_waiters_release(void **state)
{
	(void)state;
	check_waiters(0);
}

static void
test_keys_are_bytes(void **state)
{
	struct dedupe *d = dedupe_new(100, 60);
	char big[DEDUPE_KEY_MAX + 1];

	(void)state;
	assert_int_equal(dedupe_claim(d, "ab", 2, 1, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, "abc", 3, 1, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, "a\0b", 3, 1, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, "a\0c", 3, 1, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, "", 0, 1, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, "a", 0, 1, NULL), DEDUPE_INFLIGHT);
	assert_int_equal(dedupe_size(d), 5);
	memset(big, 'x', sizeof(big));
	assert_int_equal(dedupe_claim(d, big, DEDUPE_KEY_MAX + 1, 1, NULL),
	    DEDUPE_FULL);
	assert_int_equal(dedupe_claim(d, big, DEDUPE_KEY_MAX, 1, NULL),
	    DEDUPE_NEW);
	assert_null(dedupe_commit(d, big, DEDUPE_KEY_MAX, 1));
	assert_int_equal(dedupe_claim(d, big, DEDUPE_KEY_MAX, 2, NULL),
	    DEDUPE_SEEN);
	assert_int_equal(dedupe_size(d), 6);
	dedupe_free(d);
}

static void
deliver(struct dedupe *d, const char *key, uint64_t now)
{
	assert_int_equal(dedupe_claim(d, K(key), now, NULL), DEDUPE_NEW);
	assert_null(dedupe_commit(d, K(key), now));
}

static void
test_ttl(void **state)
{
	struct dedupe *d = dedupe_new(100, 2);

	(void)state;
	assert_int_equal(dedupe_claim(d, K("a"), 1000, NULL), DEDUPE_NEW);
	dedupe_commit(d, K("a"), 1000);
	assert_int_equal(dedupe_claim(d, K("a"), 2999, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_claim(d, K("a"), 3000, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_size(d), 1);
	/* The TTL counts from the commit, not from the claim. */
	dedupe_commit(d, K("a"), 5000);
	assert_int_equal(dedupe_claim(d, K("a"), 6999, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_claim(d, K("a"), 7000, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 0);
	dedupe_free(d);

	/* "z" sits behind 20 older entries, past the few a claim sweeps, so
	 * its own lookup finds it expired. */
	d = dedupe_new(100, 2);
	for (int i = 0; i < 20; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		deliver(d, k, 1000);
	}
	deliver(d, "z", 1000);
	assert_int_equal(dedupe_claim(d, K("z"), 2999, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_size(d), 21);
	assert_int_equal(dedupe_claim(d, K("z"), 3000, NULL), DEDUPE_NEW);
	assert_true(dedupe_size(d) > 8);
	dedupe_free(d);

	/* TTL 0: nothing remembered after delivery. */
	d = dedupe_new(100, 0);
	assert_int_equal(dedupe_claim(d, K("a"), 10, NULL), DEDUPE_NEW);
	dedupe_commit(d, K("a"), 10);
	assert_int_equal(dedupe_claim(d, K("a"), 10, NULL), DEDUPE_NEW);
	dedupe_free(d);
}

/* Threads read the clock before the lock, so commits can arrive with times
 * slightly out of order.  Such an entry lives as long as the newer one
 * before it, which keeps the expiry FIFO sorted. */
static void
test_commit_clock_skew(void **state)
{
	struct dedupe *d = dedupe_new(100, 1);

	(void)state;
	assert_int_equal(dedupe_claim(d, K("a"), 3000, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, K("b"), 3000, NULL), DEDUPE_NEW);
	dedupe_commit(d, K("a"), 5000);
	dedupe_commit(d, K("b"), 4000);
	assert_int_equal(dedupe_claim(d, K("b"), 5500, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_claim(d, K("x"), 6000, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_size(d), 1);
	dedupe_free(d);
}

/* Expired entries leave a few per claim, in a table that is not full, even
 * when nobody asks for their keys again. */
static void
test_expiry_sweeps(void **state)
{
	struct dedupe *d = dedupe_new(100, 1);
	char key[37];

	(void)state;
	for (unsigned i = 0; i < 50; i++) {
		uuid_key(key, i, 1);
		assert_int_equal(dedupe_claim(d, K(key), 100, NULL), DEDUPE_NEW);
		dedupe_commit(d, K(key), 100);
	}
	assert_int_equal(dedupe_size(d), 50);
	/* Each claim drops a few expired entries from the FIFO head. */
	for (unsigned i = 0; i < 3; i++) {
		uuid_key(key, i, 2);
		assert_int_equal(dedupe_claim(d, K(key), 1100, NULL), DEDUPE_NEW);
	}
	assert_true(dedupe_size(d) <= 50 + 3 - 3 * 8);
	for (unsigned i = 3; i < 50; i++) {
		uuid_key(key, i, 2);
		assert_int_equal(dedupe_claim(d, K(key), 1100, NULL), DEDUPE_NEW);
	}
	assert_int_equal(dedupe_size(d), 50);
	assert_int_equal(dedupe_evictions(d), 0);
	dedupe_free(d);
}

static void
test_eviction_order(void **state)
{
	struct dedupe *d = dedupe_new(4, 3600);

	(void)state;
	deliver(d, "k1", 1);
	deliver(d, "k2", 2);
	deliver(d, "k3", 3);
	deliver(d, "k4", 4);
	assert_int_equal(dedupe_evictions(d), 0);
	assert_int_equal(dedupe_claim(d, K("k5"), 5, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 1);
	assert_int_equal(dedupe_size(d), 4);
	/* SEEN does not refresh an entry: k2 is still the oldest. */
	assert_int_equal(dedupe_claim(d, K("k2"), 6, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_claim(d, K("k3"), 6, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_claim(d, K("k4"), 6, NULL), DEDUPE_SEEN);
	/* k1 was the one evicted: it can be published again. */
	assert_int_equal(dedupe_claim(d, K("k1"), 7, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 2);
	assert_int_equal(dedupe_claim(d, K("k2"), 8, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 3);
	assert_int_equal(dedupe_claim(d, K("k4"), 8, NULL), DEDUPE_SEEN);
	assert_int_equal(dedupe_claim(d, K("k3"), 8, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 4);
	/* k5, k1, k2, k3 are all in flight now. */
	assert_int_equal(dedupe_claim(d, K("k4"), 9, NULL), DEDUPE_FULL);
	assert_int_equal(dedupe_size(d), 4);
	dedupe_free(d);
}

static void
test_full_when_only_inflight(void **state)
{
	struct dedupe *d = dedupe_new(3, 3600);

	(void)state;
	assert_int_equal(dedupe_claim(d, K("a"), 1, NULL), DEDUPE_NEW);
	deliver(d, "b", 2);
	deliver(d, "c", 3);
	/* The oldest delivered entry goes, never the claim in flight. */
	assert_int_equal(dedupe_claim(d, K("d"), 4, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, K("b"), 4, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 2);
	assert_int_equal(dedupe_claim(d, K("e"), 5, NULL), DEDUPE_FULL);
	assert_int_equal(dedupe_claim(d, K("a"), 5, NULL), DEDUPE_INFLIGHT);
	assert_int_equal(dedupe_size(d), 3);
	assert_int_equal(dedupe_evictions(d), 2);
	assert_null(dedupe_release(d, K("a")));
	assert_int_equal(dedupe_claim(d, K("e"), 6, NULL), DEDUPE_NEW);
	assert_int_equal(dedupe_claim(d, K("f"), 6, NULL), DEDUPE_FULL);
	/* Once the TTL has passed, a delivered entry makes room unevicted. */
	dedupe_commit(d, K("e"), 6);
	assert_int_equal(dedupe_claim(d, K("f"), 6 + 3600 * 1000, NULL),
	    DEDUPE_NEW);
	assert_int_equal(dedupe_evictions(d), 2);
	dedupe_free(d);
}

/* The table never holds more than its capacity, across all shards. */
static void
test_capacity_bound(void **state)
{
	struct dedupe *d = dedupe_new(5000, 3600);
	char key[37];
	size_t size;

	(void)state;
	for (unsigned i = 0; i < 30000; i++) {
		uuid_key(key, i, 3);
		deliver(d, key, i);
	}
	/* 16 shards of 312 or 313: every one is full by now, and the shares
	 * add up to exactly the capacity. */
	size = dedupe_size(d);
	assert_int_equal(size, 5000);
	assert_int_equal(dedupe_evictions(d), 30000 - size);
	/* The newest keys survive eviction. */
	for (unsigned i = 29900; i < 30000; i++) {
		uuid_key(key, i, 3);
		assert_int_equal(dedupe_claim(d, K(key), 30000, NULL),
		    DEDUPE_SEEN);
	}
	dedupe_free(d);
}

#define T_PER_THREAD 500000

struct distinct_arg {
	struct dedupe *d;
	unsigned salt;
	unsigned bad;
};

static void *
distinct_run(void *p)
{
	struct distinct_arg *a = p;
	char key[37];

	for (unsigned i = 0; i < T_PER_THREAD; i++) {
		uuid_key(key, i, a->salt);
		if (dedupe_claim(a->d, K(key), i, NULL) != DEDUPE_NEW)
			a->bad++;
		if (dedupe_commit(a->d, K(key), i) != NULL)
			a->bad++;
	}
	return NULL;
}

static void
test_threads_distinct(void **state)
{
	struct dedupe *d = dedupe_new(4 * T_PER_THREAD, 3600);
	struct distinct_arg a[2] = { { d, 10, 0 }, { d, 11, 0 } };
	pthread_t t[2];
	unsigned lost = 0;
	char key[37];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, distinct_run, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a[0].bad + a[1].bad, 0);
	assert_int_equal(dedupe_size(d), 2 * T_PER_THREAD);
	assert_int_equal(dedupe_evictions(d), 0);
	for (unsigned s = 10; s <= 11; s++) {
		for (unsigned i = 0; i < T_PER_THREAD; i++) {
			uuid_key(key, i, s);
			if (dedupe_claim(d, K(key), T_PER_THREAD, NULL) !=
			    DEDUPE_SEEN)
				lost++;
		}
	}
	assert_int_equal(lost, 0);
	dedupe_free(d);
}

#define R_KEYS 100000
#define R_STEP 256      /* keys between barriers: keeps the threads abreast */
#define R_HOLD 64       /* claims a thread holds before it settles the oldest */

struct race_arg {
	struct dedupe *d;
	pthread_barrier_t *barrier;
	atomic_uint *news;
	struct req *reqs;
	unsigned held[R_HOLD];
	unsigned n_held;
	unsigned n_new, n_inflight, n_seen, n_other;
	size_t woken;
};

/* Settles claim i: some deliveries fail, so waiters see release too. */
static void
race_settle(struct race_arg *a, unsigned i)
{
	char key[37];

	uuid_key(key, i, 20);
	if (i % 3 == 0)
		a->woken += wake_all(dedupe_release(a->d, K(key)));
	else
		a->woken += wake_all(dedupe_commit(a->d, K(key), 2));
}

/* Claims are held for the next R_HOLD keys, as a delivery takes a while,
 * so the other thread meets them in flight. */
static void
race_hold(struct race_arg *a, unsigned i)
{
	if (a->n_held == R_HOLD) {
		race_settle(a, a->held[0]);
		memmove(a->held, a->held + 1, (R_HOLD - 1) * sizeof(a->held[0]));
		a->n_held--;
	}
	a->held[a->n_held++] = i;
}

static void *
race_run(void *p)
{
	struct race_arg *a = p;
	char key[37];

	for (unsigned i = 0; i < R_KEYS; i++) {
		if (i % R_STEP == 0)
			pthread_barrier_wait(a->barrier);
		uuid_key(key, i, 20);
		switch (dedupe_claim(a->d, K(key), 1, &a->reqs[i].w)) {
		case DEDUPE_NEW:
			a->n_new++;
			atomic_fetch_add(&a->news[i], 1);
			race_hold(a, i);
			break;
		case DEDUPE_INFLIGHT:
			a->n_inflight++;
			break;
		case DEDUPE_SEEN:
			a->n_seen++;
			break;
		default:
			a->n_other++;
		}
	}
	for (unsigned j = 0; j < a->n_held; j++)
		race_settle(a, a->held[j]);
	return NULL;
}

/* Two threads claim the same keys in the same order.  A key is NEW once per
 * holder of the claim; every copy that waited is woken exactly once. */
static void
test_threads_same_keys(void **state)
{
	struct dedupe *d = dedupe_new(4 * R_KEYS, 3600);
	atomic_uint *news = calloc(R_KEYS, sizeof(*news));
	struct race_arg a[2];
	pthread_barrier_t barrier;
	pthread_t t[2];
	unsigned released_twice = 0, waited = 0;

	(void)state;
	assert_non_null(news);
	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct race_arg){ .d = d, .barrier = &barrier,
		    .news = news };
		a[i].reqs = calloc(R_KEYS, sizeof(struct req));
		assert_non_null(a[i].reqs);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_run, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < R_KEYS; i++) {
		unsigned n = atomic_load(&news[i]);
		/* Committed keys: one NEW.  Released keys: a second NEW may
		 * follow the release, never two at once. */
		assert_true(n >= 1);
		assert_true(n == 1 || i % 3 == 0);
		released_twice += n == 2;
		for (int j = 0; j < 2; j++)
			assert_true(a[j].reqs[i].woken <= 1);
	}
	for (int j = 0; j < 2; j++) {
		assert_int_equal(a[j].n_other, 0);
		waited += a[j].n_inflight;
		for (unsigned i = 0; i < R_KEYS; i++)
			waited -= (unsigned)a[j].reqs[i].woken;
	}
	assert_int_equal(waited, 0);
	assert_int_equal(a[0].woken + a[1].woken,
	    a[0].n_inflight + a[1].n_inflight);
	assert_int_equal(a[0].n_new + a[1].n_new + a[0].n_inflight +
	    a[1].n_inflight + a[0].n_seen + a[1].n_seen, 2 * R_KEYS);
	print_message("race: %u new, %u in flight, %u seen, %u re-claimed\n",
	    a[0].n_new + a[1].n_new, a[0].n_inflight + a[1].n_inflight,
	    a[0].n_seen + a[1].n_seen, released_twice);
	free(a[0].reqs);
	free(a[1].reqs);
	/* Without real overlap this test would prove nothing.  Even run one
	 * after the other, a thread meets R_HOLD of the other's claims in
	 * flight at each barrier. */
	assert_true(a[0].n_inflight + a[1].n_inflight >=
	    R_KEYS / R_STEP * R_HOLD / 2);
	pthread_barrier_destroy(&barrier);
	free(news);
	dedupe_free(d);
}

static size_t
rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

#define M_KEYS 1000000
#define M_BUDGET (150u * 1024 * 1024)

/* A million uuids, as with the default capacity, fit well under 150 MiB.
 * ASan pads every allocation, so the budget is checked on the bytes the
 * table asks malloc for; RSS is checked only in builds without ASan. */
static void
test_memory_million(void **state)
{
	struct dedupe *d = dedupe_new(2 * M_KEYS, 3600);
	size_t mem0, rss0, mem, rss;
	char key[37];

	(void)state;
	uuid_key(key, M_KEYS - 1, 30);
	assert_int_equal(strlen(key), 36);
	mem0 = dedupe_memory(d);
	rss0 = rss_bytes();
	for (unsigned i = 0; i < M_KEYS; i++) {
		uuid_key(key, i, 30);
		if (dedupe_claim(d, K(key), i, NULL) != DEDUPE_NEW)
			fail_msg("claim %u not NEW", i);
		dedupe_commit(d, K(key), i);
	}
	mem = dedupe_memory(d) - mem0;
	rss = rss_bytes() - rss0;
	assert_int_equal(dedupe_size(d), M_KEYS);
	print_message("memory: %zu bytes/key requested, %zu bytes/key RSS, "
	    "%zu MiB requested for 1e6 keys\n", mem / M_KEYS, rss / M_KEYS,
	    mem >> 20);
	assert_true(mem < M_BUDGET);
	assert_true(mem / M_KEYS >= 36);   /* the keys really are stored */
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(rss < M_BUDGET);
#endif
	dedupe_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bad_capacity),
		cmocka_unit_test(test_claim_commit_seen),
		cmocka_unit_test(test_release_lets_retry),
		cmocka_unit_test(test_waiters_commit),
		cmocka_unit_test(test_waiters_release),
		cmocka_unit_test(test_keys_are_bytes),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_commit_clock_skew),
		cmocka_unit_test(test_expiry_sweeps),
		cmocka_unit_test(test_eviction_order),
		cmocka_unit_test(test_full_when_only_inflight),
		cmocka_unit_test(test_capacity_bound),
		cmocka_unit_test(test_threads_distinct),
		cmocka_unit_test(test_threads_same_keys),
		cmocka_unit_test(test_memory_million),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
