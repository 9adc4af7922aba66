/* order.c - newest event timestamp per ordering key, bounded and sharded. */
#include "order.h"
#include "siphash.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*
 * The same layout as dedupe.c: up to 64 shards picked by the hash's high
 * half, each with a mutex, a chained hash table that doubles as it fills,
 * and here a least-recently-checked list whose head is evicted first.
 */
#define OR_SHARDS_MAX    64
#define OR_SHARD_MIN     256    /* fewer shards for small tables */
#define OR_BUCKETS_MIN   16
#define OR_SLOT_SIZE     128    /* shard stride: no shared cache lines */

struct or_entry {
	struct or_entry *chain;
	struct or_entry *prev, *next;   /* LRU list, oldest first */
	int64_t  newest_ms;
	uint32_t hash;                  /* low half of the key's hash */
	uint16_t keylen;
	char     key[];
};

struct or_shard {
	pthread_mutex_t   lock;
	struct or_entry **buckets;
	size_t            nbuckets;     /* power of two */
	size_t            maxbuckets;   /* no growth past the capacity */
	size_t            count;
	size_t            capacity;
	uint64_t          evictions;
	struct or_entry  *head, *tail;  /* least recently checked first */
};

union or_slot {
	struct or_shard s;
	char            pad[OR_SLOT_SIZE];
};

_Static_assert(sizeof(struct or_shard) <= OR_SLOT_SIZE, "shard too large");

struct order {
	union or_slot *shards;
	size_t         nshards;         /* power of two */
	size_t         ninit;           /* shards set up, for order_free */
	uint64_t       tolerance_ms;
	struct siphash_key key;         /* random: see siphash.h */
};

static uint64_t
or_hash(const struct order *o, const char *key, size_t len)
{
	return siphash13(&o->key, key, len);
}

static struct or_entry *
or_find(struct or_shard *s, uint32_t h, const char *key, size_t keylen)
{
	struct or_entry *e = s->buckets[h & (s->nbuckets - 1)];

	for (; e != NULL; e = e->chain) {
		if (e->hash == h && e->keylen == keylen &&
		    (keylen == 0 || memcmp(e->key, key, keylen) == 0))
			return e;
	}
	return NULL;
}

static void
or_lru_unlink(struct or_shard *s, struct or_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
}

static void
or_lru_append(struct or_shard *s, struct or_entry *e)
{
	e->next = NULL;
	e->prev = s->tail;
	if (s->tail != NULL)
		s->tail->next = e;
	else
		s->head = e;
	s->tail = e;
}

/* Forgets the least recently checked key. */
static void
or_evict(struct or_shard *s)
{
	struct or_entry *e = s->head;
	struct or_entry **link = &s->buckets[e->hash & (s->nbuckets - 1)];

	while (*link != e)
		link = &(*link)->chain;
	*link = e->chain;
	or_lru_unlink(s, e);
	s->count--;
	s->evictions++;
	free(e);
}

/* Doubles the bucket array; on allocation failure chains grow instead. */
static void
or_grow(struct or_shard *s)
{
	size_t n = s->nbuckets * 2;
	struct or_entry **nb, *e, *next;

	nb = calloc(n, sizeof(struct or_entry *));
	if (nb == NULL)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->chain;
			e->chain = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

static void
or_insert(struct or_shard *s, uint32_t h, const char *key, size_t keylen,
    int64_t ts_ms)
{
	size_t size = offsetof(struct or_entry, key) + keylen;
	struct or_entry *e, **slot;

	if (size < sizeof(struct or_entry))
		size = sizeof(struct or_entry);
	e = malloc(size);
	if (e == NULL)
		return;
	if (s->count >= s->capacity)
		or_evict(s);
	e->hash = h;
	e->keylen = (uint16_t)keylen;
	e->newest_ms = ts_ms;
	if (keylen > 0)
		memcpy(e->key, key, keylen);
	slot = &s->buckets[h & (s->nbuckets - 1)];
	e->chain = *slot;
	*slot = e;
	or_lru_append(s, e);
	s->count++;
	if (s->count > s->nbuckets && s->nbuckets < s->maxbuckets)
		or_grow(s);
}

/* ts is stale when it is more than tolerance below newest.  Computed in
 * unsigned arithmetic: newest - tolerance could overflow int64_t. */
static int
or_is_stale(int64_t ts, int64_t newest, uint64_t tolerance)
{
	return ts < newest && (uint64_t)newest - (uint64_t)ts > tolerance;
}

/* record: a fresh ts_ms becomes the key's newest (inserting the key). */
static enum order_verdict
order_lookup(struct order *o, const char *key, size_t keylen, int64_t ts_ms,
    int64_t *newest_ms, bool record)
{
	enum order_verdict v = ORDER_FRESH;
	int64_t newest = ts_ms;
	struct or_shard *s;
	struct or_entry *e;
	uint64_t h;

	if (keylen <= ORDER_KEY_MAX) {
		h = or_hash(o, key, keylen);
		s = &o->shards[(h >> 32) & (o->nshards - 1)].s;
		pthread_mutex_lock(&s->lock);
		e = or_find(s, (uint32_t)h, key, keylen);
		if (e == NULL) {
			if (record)
				or_insert(s, (uint32_t)h, key, keylen, ts_ms);
		} else {
			or_lru_unlink(s, e);
			or_lru_append(s, e);
			if (or_is_stale(ts_ms, e->newest_ms, o->tolerance_ms))
				v = ORDER_STALE;
			else if (record && ts_ms > e->newest_ms)
				e->newest_ms = ts_ms;
			newest = e->newest_ms;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (newest_ms != NULL)
		*newest_ms = newest;
	return v;
}

enum order_verdict
order_check(struct order *o, const char *key, size_t keylen, int64_t ts_ms,
    int64_t *newest_ms)
{
	return order_lookup(o, key, keylen, ts_ms, newest_ms, true);
}

enum order_verdict
order_peek(struct order *o, const char *key, size_t keylen, int64_t ts_ms,
    int64_t *newest_ms)
{
	return order_lookup(o, key, keylen, ts_ms, newest_ms, false);
}

/* Fewer shards for small tables, so each still holds OR_SHARD_MIN keys and
 * per-shard eviction stays close to table-wide least recently checked. */
static size_t
or_nshards(size_t capacity)
{
	size_t n = 1;

	while (n < OR_SHARDS_MAX && capacity / (n * 2) >= OR_SHARD_MIN)
		n *= 2;
	return n;
}

static int
or_shard_init(struct or_shard *s, size_t capacity)
{
	s->capacity = capacity;
	s->nbuckets = OR_BUCKETS_MIN;
	s->maxbuckets = OR_BUCKETS_MIN;
	while (s->maxbuckets < capacity)
		s->maxbuckets *= 2;
	s->buckets = calloc(s->nbuckets, sizeof(struct or_entry *));
	if (s->buckets == NULL)
		return -1;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->buckets);
		return -1;
	}
	return 0;
}

static void
or_shard_fini(struct or_shard *s)
{
	struct or_entry *e, *next;

	for (e = s->head; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	free(s->buckets);
	pthread_mutex_destroy(&s->lock);
}

struct order *
order_new(size_t capacity, uint64_t tolerance_ms)
{
	struct order *o;
	size_t n;

	if (capacity == 0 || capacity > ORDER_CAPACITY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	n = or_nshards(capacity);
	o->shards = aligned_alloc(OR_SLOT_SIZE, n * sizeof(union or_slot));
	if (o->shards == NULL)
		goto fail;
	memset(o->shards, 0, n * sizeof(union or_slot));
	o->nshards = n;
	o->tolerance_ms = tolerance_ms;
	siphash_seed(&o->key, o);
	/* The first capacity % n shards take one extra, so the sum is exact. */
	for (size_t i = 0; i < n; i++) {
		if (or_shard_init(&o->shards[i].s,
		    capacity / n + (i < capacity % n)) == -1)
			goto fail;
		o->ninit++;
	}
	return o;
fail:
	order_free(o);
	errno = ENOMEM;
	return NULL;
}

void
order_free(struct order *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->ninit; i++)
		or_shard_fini(&o->shards[i].s);
	free(o->shards);
	free(o);
}

size_t
order_size(struct order *o)
{
	size_t n = 0;

	for (size_t i = 0; i < o->nshards; i++) {
		pthread_mutex_lock(&o->shards[i].s.lock);
		n += o->shards[i].s.count;
		pthread_mutex_unlock(&o->shards[i].s.lock);
	}
	return n;
}

uint64_t
order_evictions(struct order *o)
{
	uint64_t n = 0;

	for (size_t i = 0; i < o->nshards; i++) {
		pthread_mutex_lock(&o->shards[i].s.lock);
		n += o->shards[i].s.evictions;
		pthread_mutex_unlock(&o->shards[i].s.lock);
	}
	return n;
}
