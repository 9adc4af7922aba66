/* test_queue.c - unit tests for the bounded hand-off queue. */
#include "testutil.h"

#include "entry.h"
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Entries on the stack: the queue never frees what it holds. */
#define N_LOCAL 8

static void
test_new_free(void **state)
{
	struct queue *q = queue_new(7);

	(void)state;
	assert_non_null(q);
	assert_int_equal(queue_capacity(q), 7);
	assert_int_equal(queue_outstanding(q), 0);
	assert_null(queue_take_all(q));
	queue_free(q);
	queue_free(NULL);
}

static void
test_fifo(void **state)
{
	struct entry e[N_LOCAL];
	struct queue *q = queue_new(100);
	struct entry *list, *p;
	size_t n = 0;

	(void)state;
	memset(e, 0, sizeof(e));
	for (size_t i = 0; i < 5; i++) {
		/* A stale next must not leak into the list. */
		e[i].next = &e[7];
		assert_int_equal(queue_push(q, &e[i]), 0);
	}
	list = queue_take_all(q);
	for (p = list; p != NULL; p = p->next, n++)
		assert_ptr_equal(p, &e[n]);
	assert_int_equal(n, 5);
	assert_null(queue_take_all(q));

	/* Pushes after a take start a new list, still oldest first. */
	assert_int_equal(queue_push(q, &e[5]), 0);
	assert_int_equal(queue_push(q, &e[6]), 0);
	list = queue_take_all(q);
	assert_ptr_equal(list, &e[5]);
	assert_ptr_equal(list->next, &e[6]);
	assert_null(list->next->next);
	assert_int_equal(queue_outstanding(q), 7);
	queue_free(q);
}

static void
test_capacity_counts_outstanding(void **state)
{
	struct entry e[N_LOCAL];
	struct queue *q = queue_new(3);
	struct entry *list;

	(void)state;
	memset(e, 0, sizeof(e));
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(queue_push(q, &e[i]), 0);
	assert_int_equal(queue_outstanding(q), 3);
	assert_int_equal(queue_push(q, &e[3]), -1);

	/* Taking does not make room: the entries are still being delivered. */
	list = queue_take_all(q);
	assert_ptr_equal(list, &e[0]);
	assert_int_equal(queue_outstanding(q), 3);
	assert_int_equal(queue_push(q, &e[3]), -1);
	assert_null(queue_take_all(q));

	queue_finish(q, 2);
	assert_int_equal(queue_outstanding(q), 1);
	assert_int_equal(queue_push(q, &e[3]), 0);
	assert_int_equal(queue_push(q, &e[4]), 0);
	assert_int_equal(queue_push(q, &e[5]), -1);
	assert_int_equal(queue_outstanding(q), 3);

	/* The refused entry was not linked in. */
	list = queue_take_all(q);
	assert_ptr_equal(list, &e[3]);
	assert_ptr_equal(list->next, &e[4]);
	assert_null(list->next->next);
	queue_finish(q, 3);
	assert_int_equal(queue_outstanding(q), 0);
	queue_free(q);
}

static void
test_zero_capacity_refuses(void **state)
{
	struct entry e = { 0 };
	struct queue *q = queue_new(0);

	(void)state;
	assert_non_null(q);
	assert_int_equal(queue_push(q, &e), -1);
	assert_null(queue_take_all(q));
	queue_free(q);
}

static void
test_close(void **state)
{
	struct entry e[N_LOCAL];
	struct queue *q = queue_new(10);
	struct entry *list;

	(void)state;
	memset(e, 0, sizeof(e));
	assert_int_equal(queue_push(q, &e[0]), 0);
	assert_int_equal(queue_push(q, &e[1]), 0);
	queue_close(q);
	assert_int_equal(queue_push(q, &e[2]), -1);
	assert_int_equal(queue_outstanding(q), 2);

	list = queue_take_all(q);
	assert_ptr_equal(list, &e[0]);
	assert_ptr_equal(list->next, &e[1]);
	assert_null(list->next->next);

	/* Finishing makes room, but a closed queue stays closed. */
	queue_finish(q, 2);
	assert_int_equal(queue_push(q, &e[3]), -1);
	assert_null(queue_take_all(q));
	queue_free(q);
}

struct notified {
	int calls;
	struct queue *q;
	size_t outstanding_seen;
};

static void
count_notify(void *arg)
{
	struct notified *n = arg;

	n->calls++;
	/* Called outside the lock: the queue may be used from the callback. */
	n->outstanding_seen = queue_outstanding(n->q);
}

/* Only a push onto an empty queue wakes the consumer, which takes it all. */
static void
test_notify_when_queue_was_empty(void **state)
{
	struct entry e[N_LOCAL];
	struct queue *q = queue_new(3);
	struct notified n = { 0, q, 0 };

	(void)state;
	memset(e, 0, sizeof(e));
	queue_set_notify(q, count_notify, &n);
	assert_int_equal(queue_push(q, &e[0]), 0);
	assert_int_equal(n.calls, 1);
	assert_int_equal(n.outstanding_seen, 1);
	/* Not empty yet: the wake-up already on its way covers this one. */
	assert_int_equal(queue_push(q, &e[1]), 0);
	assert_int_equal(n.calls, 1);
	assert_ptr_equal(queue_take_all(q), &e[0]);
	/* Taken: the next push must wake again. */
	assert_int_equal(queue_push(q, &e[2]), 0);
	assert_int_equal(n.calls, 2);
	assert_int_equal(n.outstanding_seen, 3);
	/* A refused push wakes no one. */
	assert_int_equal(queue_push(q, &e[3]), -1);
	assert_int_equal(n.calls, 2);
	queue_close(q);
	queue_finish(q, 3);
	assert_int_equal(queue_push(q, &e[3]), -1);
	assert_int_equal(n.calls, 2);
	queue_take_all(q);
	queue_free(q);
}

/* Two producers and one consumer: every entry arrives exactly once. */
#define PRODUCERS   2
#define PER_PRODUCER 100000
#define MT_CAPACITY 256

struct mt {
	struct queue   *q;
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	bool            pending;
	unsigned char   seen[PRODUCERS * PER_PRODUCER];
	int64_t         last[PRODUCERS];
	size_t          taken, dup, disorder, full_retries;
};

struct producer {
	struct mt *mt;
	int        id;
};

static void
mt_notify(void *arg)
{
	struct mt *mt = arg;

	pthread_mutex_lock(&mt->lock);
	mt->pending = true;
	pthread_cond_signal(&mt->cond);
	pthread_mutex_unlock(&mt->lock);
}

static void *
mt_produce(void *arg)
{
	struct producer *p = arg;

	for (int64_t i = 0; i < PER_PRODUCER; i++) {
		struct entry *e = calloc(1, sizeof(*e));

		if (e == NULL)
			return (void *)1;
		e->time_ms = (int64_t)p->id * PER_PRODUCER + i;
		e->attempts = (unsigned)p->id;
		while (queue_push(p->mt->q, e) != 0) {
			__atomic_add_fetch(&p->mt->full_retries, 1,
			    __ATOMIC_RELAXED);
			sched_yield();
		}
	}
	return NULL;
}

/* Takes until every entry has come through; marks and frees each one. */
static void *
mt_consume(void *arg)
{
	struct mt *mt = arg;
	struct timespec until;

	while (mt->taken < PRODUCERS * PER_PRODUCER) {
		struct entry *list, *next;
		size_t n = 0;

		pthread_mutex_lock(&mt->lock);
		while (!mt->pending) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 10;
			if (pthread_cond_timedwait(&mt->cond, &mt->lock,
			    &until) == ETIMEDOUT) {
				pthread_mutex_unlock(&mt->lock);
				return (void *)1;   /* lost wake-up or lost entries */
			}
		}
		mt->pending = false;
		pthread_mutex_unlock(&mt->lock);
		for (list = queue_take_all(mt->q); list != NULL; list = next) {
			int64_t id = list->time_ms;
			unsigned who = list->attempts;

			next = list->next;
			if (mt->seen[id]++ != 0)
				mt->dup++;
			if (id <= mt->last[who])
				mt->disorder++;
			mt->last[who] = id;
			free(list);
			n++;
		}
		mt->taken += n;
		queue_finish(mt->q, n);
	}
	return NULL;
}

static void
test_threads_nothing_lost(void **state)
{
	struct mt *mt = calloc(1, sizeof(*mt));
	struct producer p[PRODUCERS];
	pthread_t prod[PRODUCERS], cons;
	void *rc;

	(void)state;
	assert_non_null(mt);
	mt->q = queue_new(MT_CAPACITY);
	assert_non_null(mt->q);
	pthread_mutex_init(&mt->lock, NULL);
	pthread_cond_init(&mt->cond, NULL);
	for (int i = 0; i < PRODUCERS; i++)
		mt->last[i] = (int64_t)i * PER_PRODUCER - 1;
	queue_set_notify(mt->q, mt_notify, mt);

	assert_int_equal(pthread_create(&cons, NULL, mt_consume, mt), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		p[i].mt = mt;
		p[i].id = i;
		assert_int_equal(pthread_create(&prod[i], NULL, mt_produce,
		    &p[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(prod[i], &rc);
		assert_null(rc);
	}
	pthread_join(cons, &rc);
	assert_null(rc);

	assert_int_equal(mt->taken, PRODUCERS * PER_PRODUCER);
	assert_int_equal(mt->dup, 0);
	/* Each producer's entries come out in the order it pushed them. */
	assert_int_equal(mt->disorder, 0);
	for (size_t i = 0; i < PRODUCERS * PER_PRODUCER; i++)
		if (mt->seen[i] != 1)
			fail_msg("entry %zu seen %u times", i, mt->seen[i]);
	assert_int_equal(queue_outstanding(mt->q), 0);
	assert_null(queue_take_all(mt->q));
	queue_free(mt->q);
	pthread_cond_destroy(&mt->cond);
	pthread_mutex_destroy(&mt->lock);
	free(mt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_free),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_capacity_counts_outstanding),
		cmocka_unit_test(test_zero_capacity_refuses),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_notify_when_queue_was_empty),
		cmocka_unit_test(test_threads_nothing_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
