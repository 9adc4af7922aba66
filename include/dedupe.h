/* dedupe.h - bounded, sharded TTL table of event ids in flight or delivered. */
#ifndef CXB_DEDUPE_H
#define CXB_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

/* Longest key accepted, in bytes.  Keys are byte strings (no terminator
 * needed, any bytes allowed).  A longer key is never stored: dedupe_claim
 * answers DEDUPE_FULL, so callers should refuse such events with a 4xx
 * before claiming (event.c already caps ids at this length). */
#define DEDUPE_KEY_MAX       256
/* Largest capacity dedupe_new accepts (about 10 GB of entries). */
#define DEDUPE_CAPACITY_MAX  100000000u

/* Embedded in the caller's request object.  While queued on a claim the
 * table owns next; the caller must not touch or free the object until the
 * claim's commit or release has handed it back. */
struct dedupe_waiter {
	struct dedupe_waiter *next;
};

enum dedupe_state { DEDUPE_NEW, DEDUPE_SEEN, DEDUPE_INFLIGHT, DEDUPE_FULL };

struct dedupe;

/* capacity: most entries held (1..DEDUPE_CAPACITY_MAX), in flight included.
 * It is split evenly over the shards and enforced per shard, so eviction can
 * start before the whole table is full (at about 98% with 1,000,000).
 * ttl_s: how long a delivered id is remembered; 0 remembers nothing after
 * commit, though copies still share an in-flight claim.
 * Returns NULL with errno EINVAL for a bad capacity, ENOMEM on allocation
 * failure.  All functions below are safe to call from any thread. */
struct dedupe *dedupe_new(size_t capacity, unsigned ttl_s);
/* Frees the table and every entry.  Waiters still queued are not touched
 * (they belong to the caller).  NULL ok. */
void dedupe_free(struct dedupe *d);

/*
 * now_ms is the caller's clock in milliseconds; use one monotonic clock for
 * every call.  Returns:
 * DEDUPE_NEW       the caller now holds the in-flight claim and must later
 *                  call dedupe_commit or dedupe_release for the key.
 * DEDUPE_SEEN      delivered within the TTL: answer "duplicate".
 * DEDUPE_INFLIGHT  another request holds the claim; w (if not NULL) has been
 *                  queued on it and is returned by that claim's commit or
 *                  release.  With w NULL nothing is queued.
 * DEDUPE_FULL      no room: the key's shard is at capacity and holds only
 *                  claims in flight, an allocation failed, or keylen is over
 *                  DEDUPE_KEY_MAX.  Answer 503.
 * To make room a claim drops expired entries, then the oldest delivered
 * entry of the shard (counted by dedupe_evictions).  Claims in flight are
 * never evicted.
 */
enum dedupe_state dedupe_claim(struct dedupe *d, const char *key,
    size_t keylen, uint64_t now_ms, struct dedupe_waiter *w);

/* Delivered: the key is remembered until now_ms + ttl.  Returns the waiters
 * queued on the claim, oldest first, as a NULL-terminated list (NULL if
 * none); the caller wakes each with the same outcome.  Returns NULL and
 * changes nothing when the key holds no claim in flight. */
struct dedupe_waiter *dedupe_commit(struct dedupe *d, const char *key,
    size_t keylen, uint64_t now_ms);

/* Not delivered: the claim is removed, so a retry goes through.  Returns the
 * queued waiters as dedupe_commit does; NULL if the key holds no claim. */
struct dedupe_waiter *dedupe_release(struct dedupe *d, const char *key,
    size_t keylen);

/* Entries held, in flight included (expired ones not yet dropped count). */
size_t   dedupe_size(struct dedupe *d);
/* Delivered entries dropped before their TTL to make room. */
uint64_t dedupe_evictions(struct dedupe *d);
/* Bytes requested from malloc for the table and its entries (malloc's own
 * overhead, about 16 bytes per entry with glibc, is not included). */
size_t   dedupe_memory(struct dedupe *d);

#endif
