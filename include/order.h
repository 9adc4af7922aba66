/* order.h - newest event timestamp per ordering key, bounded and sharded. */
#ifndef CXB_ORDER_H
#define CXB_ORDER_H

#include <stddef.h>
#include <stdint.h>

/* Longest key remembered, in bytes; keys are byte strings.  A longer key
 * is always ORDER_FRESH and never stored, so callers should refuse it
 * first (event.c caps ordering keys at this length). */
#define ORDER_KEY_MAX        256
/* Largest capacity order_new accepts. */
#define ORDER_CAPACITY_MAX   100000000u

enum order_verdict { ORDER_FRESH, ORDER_STALE };

struct order;

/* capacity: most keys remembered (1..ORDER_CAPACITY_MAX), split evenly over
 * the shards and enforced per shard.  tolerance_ms: how much older than the
 * newest an event may be and still be fresh.  Returns NULL with errno
 * EINVAL for a bad capacity, ENOMEM on allocation failure.  All functions
 * below are safe to call from any thread. */
struct order *order_new(size_t capacity, uint64_t tolerance_ms);
/* NULL ok. */
void order_free(struct order *o);

/*
 * ORDER_FRESH: ts_ms is not older than newest - tolerance for the key (being
 * exactly tolerance_ms older is fresh); the newest becomes
 * max(newest, ts_ms).  A key not known is fresh and is remembered.
 * ORDER_STALE: ts_ms < newest - tolerance; nothing changes.
 * Either way *newest_ms (if not NULL) gets the newest known afterwards.
 * Every check, fresh or stale, makes the key the most recently used.
 * When remembering a new key fails (allocation, or keylen over
 * ORDER_KEY_MAX) the answer is ORDER_FRESH and nothing is stored: ordering
 * fails open, it never holds an event back for want of memory.
 */
enum order_verdict order_check(struct order *o, const char *key,
    size_t keylen, int64_t ts_ms, int64_t *newest_ms);

/* The same verdict as order_check, but nothing is recorded: the daemon peeks
 * when an event arrives and records with order_check once it is published,
 * so an event that is never published cannot make later ones stale.  An
 * unknown key is fresh and *newest_ms gets ts_ms. */
enum order_verdict order_peek(struct order *o, const char *key,
    size_t keylen, int64_t ts_ms, int64_t *newest_ms);

/* Keys remembered. */
size_t   order_size(struct order *o);
/* Keys forgotten to stay within capacity, least recently checked first. */
uint64_t order_evictions(struct order *o);

#endif
