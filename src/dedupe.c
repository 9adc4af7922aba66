/* dedupe.c - bounded, sharded TTL table of event ids in flight or delivered. */
#include "dedupe.h"
#include "siphash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*
 * Layout: up to 64 shards picked by the hash's high half, each with its own
 * mutex, a chained hash table that doubles as it fills (load factor <= 1),
 * and a FIFO of its delivered entries.  The TTL is the same for every entry,
 * so delivered entries expire in commit order and the FIFO head is always
 * the next to expire and the first to evict.  Entries in flight are not on
 * the FIFO: the same two pointers hold their waiter list instead.
 */
#define DD_SHARDS_MAX    64
#define DD_SHARD_MIN     256    /* fewer shards for small tables */
#define DD_BUCKETS_MIN   16
#define DD_EXPIRE_BATCH  8      /* expired entries dropped per claim */
#define DD_SLOT_SIZE     128    /* shard stride: no shared cache lines */

enum dd_state { DD_INFLIGHT = 1, DD_DELIVERED };

struct dd_entry {
	struct dd_entry *chain;
	union {
		struct {
			struct dd_entry *prev, *next;
		} fifo;                         /* DD_DELIVERED */
		struct {
			struct dedupe_waiter *head, *tail;
		} wait;                         /* DD_INFLIGHT */
	} u;
	uint64_t expires_ms;                    /* DD_DELIVERED */
	uint32_t hash;                          /* low half of the key's hash */
	uint16_t keylen;
	uint8_t  state;
	char     key[];
};

struct dd_shard {
	pthread_mutex_t   lock;
	struct dd_entry **buckets;
	size_t            nbuckets;     /* power of two */
	size_t            maxbuckets;   /* no growth past the capacity */
	size_t            count;
	size_t            capacity;
	size_t            bytes;        /* buckets and entries */
	uint64_t          evictions;
	struct dd_entry  *head, *tail;  /* delivered, oldest first */
};

union dd_slot {
	struct dd_shard s;
	char            pad[DD_SLOT_SIZE];
};

_Static_assert(sizeof(struct dd_shard) <= DD_SLOT_SIZE, "shard too large");

struct dedupe {
	union dd_slot *shards;
	size_t         nshards;         /* power of two */
	size_t         ninit;           /* shards set up, for dedupe_free */
	uint64_t       ttl_ms;
	struct siphash_key key;         /* random: see siphash.h */
};

static uint64_t
dd_hash(const struct dedupe *d, const char *key, size_t len)
{
	return siphash13(&d->key, key, len);
}

static struct dd_shard *
dd_shard_of(struct dedupe *d, uint64_t h)
{
	return &d->shards[(h >> 32) & (d->nshards - 1)].s;
}

static size_t
dd_entry_size(size_t keylen)
{
	size_t n = offsetof(struct dd_entry, key) + keylen;

	return n < sizeof(struct dd_entry) ? sizeof(struct dd_entry) : n;
}

static struct dd_entry *
dd_find(struct dd_shard *s, uint32_t h, const char *key, size_t keylen)
{
	struct dd_entry *e = s->buckets[h & (s->nbuckets - 1)];

	for (; e != NULL; e = e->chain) {
		if (e->hash == h && e->keylen == keylen &&
		    (keylen == 0 || memcmp(e->key, key, keylen) == 0))
			return e;
	}
	return NULL;
}

static void
dd_fifo_unlink(struct dd_shard *s, struct dd_entry *e)
{
	if (e->u.fifo.prev != NULL)
		e->u.fifo.prev->u.fifo.next = e->u.fifo.next;
	else
		s->head = e->u.fifo.next;
	if (e->u.fifo.next != NULL)
		e->u.fifo.next->u.fifo.prev = e->u.fifo.prev;
	else
		s->tail = e->u.fifo.prev;
}

static void
dd_fifo_append(struct dd_shard *s, struct dd_entry *e)
{
	e->u.fifo.next = NULL;
	e->u.fifo.prev = s->tail;
	if (s->tail != NULL)
		s->tail->u.fifo.next = e;
	else
		s->head = e;
	s->tail = e;
}

/* Unlinks e from its chain and the FIFO and frees it. */
static void
dd_destroy(struct dd_shard *s, struct dd_entry *e)
{
	struct dd_entry **link = &s->buckets[e->hash & (s->nbuckets - 1)];

	while (*link != e)
		link = &(*link)->chain;
	*link = e->chain;
	if (e->state == DD_DELIVERED)
		dd_fifo_unlink(s, e);
	s->count--;
	s->bytes -= dd_entry_size(e->keylen);
	free(e);
}

/* Drops up to max entries whose TTL has run out, oldest first. */
static void
dd_expire(struct dd_shard *s, uint64_t now_ms, size_t max)
{
	while (max > 0 && s->head != NULL && s->head->expires_ms <= now_ms) {
		dd_destroy(s, s->head);
		max--;
	}
}

/* Returns 0 when there is room for one more entry, -1 when the shard holds
 * nothing but claims in flight. */
static int
dd_make_room(struct dd_shard *s, uint64_t now_ms)
{
	if (s->count < s->capacity)
		return 0;
	dd_expire(s, now_ms, SIZE_MAX);
	if (s->count < s->capacity)
		return 0;
	if (s->head == NULL)
		return -1;
	dd_destroy(s, s->head);
	s->evictions++;
	return 0;
}

/* Doubles the bucket array.  On allocation failure the chains just get
 * longer, which is slower but still correct. */
static void
dd_grow(struct dd_shard *s)
{
	size_t n = s->nbuckets * 2;
	struct dd_entry **nb, *e, *next;

	nb = calloc(n, sizeof(struct dd_entry *));
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
	s->bytes += (n - s->nbuckets) * sizeof(struct dd_entry *);
	s->buckets = nb;
	s->nbuckets = n;
}

/* Adds key as a claim in flight.  Returns NULL when there is no room. */
static struct dd_entry *
dd_insert(struct dd_shard *s, uint32_t h, const char *key, size_t keylen,
    uint64_t now_ms)
{
	size_t size = dd_entry_size(keylen);
	struct dd_entry *e, **slot;

	if (dd_make_room(s, now_ms) == -1)
		return NULL;
	e = malloc(size);
	if (e == NULL)
		return NULL;
	e->hash = h;
	e->keylen = (uint16_t)keylen;
	e->state = DD_INFLIGHT;
	e->expires_ms = 0;
	e->u.wait.head = NULL;
	e->u.wait.tail = NULL;
	if (keylen > 0)
		memcpy(e->key, key, keylen);
	slot = &s->buckets[h & (s->nbuckets - 1)];
	e->chain = *slot;
	*slot = e;
	s->count++;
	s->bytes += size;
	if (s->count > s->nbuckets && s->nbuckets < s->maxbuckets)
		dd_grow(s);
	return e;
}

static void
dd_wait(struct dd_entry *e, struct dedupe_waiter *w)
{
	if (w == NULL)
		return;
	w->next = NULL;
	if (e->u.wait.tail != NULL)
		e->u.wait.tail->next = w;
	else
		e->u.wait.head = w;
	e->u.wait.tail = w;
}

static enum dedupe_state
dd_claim_existing(struct dd_shard *s, struct dd_entry *e, uint64_t now_ms,
    struct dedupe_waiter *w)
{
	if (e->state == DD_INFLIGHT) {
		dd_wait(e, w);
		return DEDUPE_INFLIGHT;
	}
	if (now_ms < e->expires_ms)
		return DEDUPE_SEEN;
	/* Expired but not yet dropped: reuse the entry for the new claim. */
	dd_fifo_unlink(s, e);
	e->state = DD_INFLIGHT;
	e->u.wait.head = NULL;
	e->u.wait.tail = NULL;
	return DEDUPE_NEW;
}

enum dedupe_state
dedupe_claim(struct dedupe *d, const char *key, size_t keylen,
    uint64_t now_ms, struct dedupe_waiter *w)
{
	enum dedupe_state st = DEDUPE_NEW;
	struct dd_shard *s;
	struct dd_entry *e;
	uint64_t h;

	if (keylen > DEDUPE_KEY_MAX)
		return DEDUPE_FULL;
	h = dd_hash(d, key, keylen);
	s = dd_shard_of(d, h);
	pthread_mutex_lock(&s->lock);
	dd_expire(s, now_ms, DD_EXPIRE_BATCH);
	e = dd_find(s, (uint32_t)h, key, keylen);
	if (e != NULL)
		st = dd_claim_existing(s, e, now_ms, w);
	else if (dd_insert(s, (uint32_t)h, key, keylen, now_ms) == NULL)
		st = DEDUPE_FULL;
	pthread_mutex_unlock(&s->lock);
	return st;
}

/* Finds the key's claim in flight and locks its shard; on NULL the shard is
 * already unlocked. */
static struct dd_entry *
dd_find_claim(struct dedupe *d, const char *key, size_t keylen,
    struct dd_shard **sp)
{
	struct dd_shard *s;
	struct dd_entry *e;
	uint64_t h;

	if (keylen > DEDUPE_KEY_MAX)
		return NULL;
	h = dd_hash(d, key, keylen);
	s = dd_shard_of(d, h);
	pthread_mutex_lock(&s->lock);
	e = dd_find(s, (uint32_t)h, key, keylen);
	if (e == NULL || e->state != DD_INFLIGHT) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	*sp = s;
	return e;
}

struct dedupe_waiter *
dedupe_commit(struct dedupe *d, const char *key, size_t keylen,
    uint64_t now_ms)
{
	struct dedupe_waiter *ws;
	struct dd_shard *s;
	struct dd_entry *e;
	uint64_t exp;

	e = dd_find_claim(d, key, keylen, &s);
	if (e == NULL)
		return NULL;
	ws = e->u.wait.head;
	exp = now_ms > UINT64_MAX - d->ttl_ms ? UINT64_MAX : now_ms + d->ttl_ms;
	/* Threads read their clocks before taking the lock, so a commit may
	 * carry a slightly older time than the FIFO tail.  Keeping the FIFO
	 * sorted costs that entry at most the skew in extra lifetime. */
	if (s->tail != NULL && s->tail->expires_ms > exp)
		exp = s->tail->expires_ms;
	e->state = DD_DELIVERED;
	e->expires_ms = exp;
	dd_fifo_append(s, e);
	pthread_mutex_unlock(&s->lock);
	return ws;
}

struct dedupe_waiter *
dedupe_release(struct dedupe *d, const char *key, size_t keylen)
{
	struct dedupe_waiter *ws;
	struct dd_shard *s;
	struct dd_entry *e;

	e = dd_find_claim(d, key, keylen, &s);
	if (e == NULL)
		return NULL;
	ws = e->u.wait.head;
	dd_destroy(s, e);
	pthread_mutex_unlock(&s->lock);
	return ws;
}

/* Fewer shards for small tables, so each still holds DD_SHARD_MIN entries
 * and per-shard eviction stays close to table-wide oldest-first. */
static size_t
dd_nshards(size_t capacity)
{
	size_t n = 1;

	while (n < DD_SHARDS_MAX && capacity / (n * 2) >= DD_SHARD_MIN)
		n *= 2;
	return n;
}

static int
dd_shard_init(struct dd_shard *s, size_t capacity)
{
	s->capacity = capacity;
	s->nbuckets = DD_BUCKETS_MIN;
	s->maxbuckets = DD_BUCKETS_MIN;
	while (s->maxbuckets < capacity)
		s->maxbuckets *= 2;
	s->buckets = calloc(s->nbuckets, sizeof(struct dd_entry *));
	if (s->buckets == NULL)
		return -1;
	s->bytes = s->nbuckets * sizeof(struct dd_entry *);
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->buckets);
		return -1;
	}
	return 0;
}

static void
dd_shard_fini(struct dd_shard *s)
{
	struct dd_entry *e, *next;

	for (size_t i = 0; i < s->nbuckets; i++) {
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->chain;
			free(e);
		}
	}
	free(s->buckets);
	pthread_mutex_destroy(&s->lock);
}

struct dedupe *
dedupe_new(size_t capacity, unsigned ttl_s)
{
	struct dedupe *d;
	size_t n;

	if (capacity == 0 || capacity > DEDUPE_CAPACITY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	n = dd_nshards(capacity);
	d->shards = aligned_alloc(DD_SLOT_SIZE, n * sizeof(union dd_slot));
	if (d->shards == NULL)
		goto fail;
	memset(d->shards, 0, n * sizeof(union dd_slot));
	d->nshards = n;
	d->ttl_ms = (uint64_t)ttl_s * 1000;
	siphash_seed(&d->key, d);
	/* The first capacity % n shards take one extra, so the sum is exact. */
	for (size_t i = 0; i < n; i++) {
		if (dd_shard_init(&d->shards[i].s,
		    capacity / n + (i < capacity % n)) == -1)
			goto fail;
		d->ninit++;
	}
	return d;
fail:
	dedupe_free(d);
	errno = ENOMEM;
	return NULL;
}

void
dedupe_free(struct dedupe *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->ninit; i++)
		dd_shard_fini(&d->shards[i].s);
	free(d->shards);
	free(d);
}

size_t
dedupe_size(struct dedupe *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nshards; i++) {
		pthread_mutex_lock(&d->shards[i].s.lock);
		n += d->shards[i].s.count;
		pthread_mutex_unlock(&d->shards[i].s.lock);
	}
	return n;
}

uint64_t
dedupe_evictions(struct dedupe *d)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->nshards; i++) {
		pthread_mutex_lock(&d->shards[i].s.lock);
		n += d->shards[i].s.evictions;
		pthread_mutex_unlock(&d->shards[i].s.lock);
	}
	return n;
}

size_t
dedupe_memory(struct dedupe *d)
{
	size_t n = sizeof(*d) + d->nshards * sizeof(union dd_slot);

	for (size_t i = 0; i < d->nshards; i++) {
		pthread_mutex_lock(&d->shards[i].s.lock);
		n += d->shards[i].s.bytes;
		pthread_mutex_unlock(&d->shards[i].s.lock);
	}
	return n;
}
