/* queue.c - bounded hand-off of entries from the HTTP threads to delivery. */
#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "entry.h"

struct queue {
	pthread_mutex_t lock;
	struct entry   *head, *tail;      /* waiting to be taken */
	atomic_size_t   outstanding;      /* pushed, not finished */
	size_t          capacity;
	bool            closed;
	void          (*notify)(void *);
	void           *notify_arg;
};

struct queue *
queue_new(size_t capacity)
{
	struct queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q);
		return NULL;
	}
	q->capacity = capacity;
	return q;
}

void
queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q);
}

void
queue_set_notify(struct queue *q, void (*fn)(void *), void *arg)
{
	q->notify = fn;
	q->notify_arg = arg;
}

int
queue_push(struct queue *q, struct entry *e)
{
	pthread_mutex_lock(&q->lock);
	if (q->closed || atomic_load(&q->outstanding) >= q->capacity) {
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	/* Only the push that finds the queue empty wakes the consumer: it takes
	 * everything queued at once, so later pushes ride on that wake-up. */
	bool wake = q->head == NULL;

	e->next = NULL;
	if (q->tail != NULL)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	atomic_fetch_add(&q->outstanding, 1);
	pthread_mutex_unlock(&q->lock);
	if (wake && q->notify != NULL)
		q->notify(q->notify_arg);
	return 0;
}

struct entry *
queue_take_all(struct queue *q)
{
	struct entry *list;

	pthread_mutex_lock(&q->lock);
	list = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return list;
}

void
queue_finish(struct queue *q, size_t n)
{
	atomic_fetch_sub(&q->outstanding, n);
}

void
queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_mutex_unlock(&q->lock);
}

size_t
queue_outstanding(const struct queue *q)
{
	return atomic_load(&((struct queue *)q)->outstanding);
}

size_t
queue_capacity(const struct queue *q)
{
	return q->capacity;
}
