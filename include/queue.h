/* queue.h - bounded hand-off of entries from the HTTP threads to delivery. */
#ifndef CXB_QUEUE_H
#define CXB_QUEUE_H

#include <stddef.h>

struct entry;
struct queue;

/*
 * The bound is on events *outstanding*: pushed and not yet finished by
 * delivery (queue_finish).  So a slow EventBridge fills the queue and the
 * HTTP side answers 429 instead of the daemon growing without limit.
 */
struct queue *queue_new(size_t capacity);
void          queue_free(struct queue *q);                 /* NULL ok */

/* Called (outside the lock) after a push that found the queue empty, to wake
 * the consumer; it must then take everything (queue_take_all). */
void queue_set_notify(struct queue *q, void (*fn)(void *), void *arg);

/* 0: queued, the consumer now owns e.  -1: full or closed, caller keeps e. */
int           queue_push(struct queue *q, struct entry *e);

/* Takes every queued entry, oldest first, linked through entry->next. */
struct entry *queue_take_all(struct queue *q);

/* The consumer finished n entries: they no longer count against capacity. */
void          queue_finish(struct queue *q, size_t n);

/* After close, pushes fail; entries already queued are still taken. */
void          queue_close(struct queue *q);

size_t        queue_outstanding(const struct queue *q);
size_t        queue_capacity(const struct queue *q);

#endif
