/* metrics.c - metric registry rendered as Prometheus text format 0.0.4. */
#include "metrics.h"

#include "log.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_latency_buckets[METRICS_LATENCY_N] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

enum metrics_type {
	MT_COUNTER,
	MT_GAUGE,
	MT_HISTOGRAM,
	MT_COUNTER_FN,
	MT_GAUGE_FN,
};

struct metrics_counter {
	_Atomic uint64_t value;
};

struct metrics_gauge {
	_Atomic uint64_t bits;          /* a double's bit pattern */
};

struct metrics_histogram {
	const double     *bounds;       /* the family's, nbounds of them */
	size_t            nbounds;
	/* Per bucket, not cumulative, so one observation is one increment;
	 * the last is "+Inf".  The render makes them cumulative. */
	_Atomic uint64_t *buckets;
	_Atomic uint64_t  sum_bits;
};

struct metrics_child {
	/* Creation order.  Written once under the lock with release, read by
	 * the render without it. */
	_Atomic(struct metrics_child *) next;
	struct metrics_child *hnext;    /* hash chain, under the lock */
	uint64_t hash;
	char    *key;                   /* values, each NUL-terminated, back to back */
	size_t   keylen;
	union {
		struct metrics_counter   counter;
		struct metrics_gauge     gauge;
		struct metrics_histogram hist;
	} u;
};

struct metrics_family {
	_Atomic(struct metrics_family *) next;
	struct metrics    *reg;
	enum metrics_type  type;
	char               name[METRICS_NAME_MAX + 1];
	char              *help;
	size_t             nlabels;
	char               labels[METRICS_LABELS_MAX][METRICS_NAME_MAX + 1];
	double             bounds[METRICS_BUCKETS_MAX];
	size_t             nbounds;
	double           (*gauge_fn)(void *);
	uint64_t         (*counter_fn)(void *);
	void              *fn_arg;

	_Atomic(struct metrics_child *) head;
	/* The rest is under the registry lock. */
	struct metrics_child  *tail;
	size_t                 nchildren;  /* not counting the overflow child */
	size_t                 cap;
	bool                   overflowed;
	struct metrics_child **hash;
	size_t                 hmask;
};

struct metrics {
	pthread_mutex_t lock;
	_Atomic(struct metrics_family *) head;
	struct metrics_family *tail;        /* under the lock */
	size_t child_cap;                   /* under the lock */
};

/* Longest key: every label at the value cap plus its NUL. */
#define METRICS_KEY_MAX (METRICS_LABELS_MAX * (METRICS_VALUE_MAX + 1))

static uint64_t
metrics_dbl_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
metrics_bits_dbl(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* There is no atomic add for doubles: retry the sum until no other thread
 * changed it between the load and the store. */
static void
metrics_atomic_add_double(_Atomic uint64_t *p, double delta)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
	uint64_t new;

	do {
		new = metrics_dbl_bits(metrics_bits_dbl(old) + delta);
	} while (!atomic_compare_exchange_weak_explicit(p, &old, new,
	    memory_order_relaxed, memory_order_relaxed));
}

/* ---- validation ---------------------------------------------------- */

static bool
metrics_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
metrics_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* colon: whether ':' is allowed (metric names) or not (label names). */
static bool
metrics_name_ok(const char *name, bool colon)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > METRICS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (metrics_is_alpha(c) || (colon && c == ':'))
			continue;
		if (i > 0 && metrics_is_digit(c))
			continue;
		return false;
	}
	return true;
}

static bool
metrics_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool
metrics_suffix_ok(const char *name, enum metrics_type type)
{
	bool total = metrics_ends_with(name, "_total");

	if (type == MT_COUNTER || type == MT_COUNTER_FN)
		return total;
	if (total)
		return false;
	if (type == MT_HISTOGRAM)
		return !metrics_ends_with(name, "_bucket") &&
		    !metrics_ends_with(name, "_sum") &&
		    !metrics_ends_with(name, "_count");
	return true;
}

static bool
metrics_labels_ok(const char *const *labels, enum metrics_type type,
    size_t *nlabels)
{
	size_t n;

	for (n = 0; labels != NULL && labels[n] != NULL; n++) {
		if (n >= METRICS_LABELS_MAX)
			return false;
		if (!metrics_name_ok(labels[n], false) ||
		    strncmp(labels[n], "__", 2) == 0)
			return false;
		if (type == MT_HISTOGRAM && strcmp(labels[n], "le") == 0)
			return false;
		for (size_t j = 0; j < n; j++)
			if (strcmp(labels[j], labels[n]) == 0)
				return false;
	}
	*nlabels = n;
	return true;
}

static bool
metrics_bounds_ok(const double *bounds, size_t nbounds)
{
	if (nbounds == 0 || nbounds > METRICS_BUCKETS_MAX)
		return false;
	for (size_t i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]))
			return false;
		if (i > 0 && !(bounds[i] > bounds[i - 1]))
			return false;
	}
	return true;
}

/* The names a family's samples carry; a histogram has three plus its own. */
static size_t
metrics_sample_names(const char *name, enum metrics_type type,
    char out[4][METRICS_NAME_MAX + 8])
{
	snprintf(out[0], sizeof(out[0]), "%s", name);
	if (type != MT_HISTOGRAM)
		return 1;
	snprintf(out[1], sizeof(out[1]), "%s_bucket", name);
	snprintf(out[2], sizeof(out[2]), "%s_sum", name);
	snprintf(out[3], sizeof(out[3]), "%s_count", name);
	return 4;
}

/* Caller holds the lock. */
static bool
metrics_clash(struct metrics *m, const char *name, enum metrics_type type)
{
	char a[4][METRICS_NAME_MAX + 8], b[4][METRICS_NAME_MAX + 8];
	size_t na = metrics_sample_names(name, type, a);

	for (struct metrics_family *f = atomic_load(&m->head); f != NULL;
	    f = atomic_load(&f->next)) {
		size_t nb = metrics_sample_names(f->name, f->type, b);

		for (size_t i = 0; i < na; i++)
			for (size_t j = 0; j < nb; j++)
				if (strcmp(a[i], b[j]) == 0)
					return true;
	}
	return false;
}

/* ---- label values and children ------------------------------------- */

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
metrics_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		/* No overlong forms, no surrogates. */
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		/* No overlong forms, nothing past U+10FFFF. */
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* Copies value into dst cut to METRICS_VALUE_MAX bytes on a character
 * boundary, bad UTF-8 bytes as '?': Prometheus refuses a scrape with an
 * invalid label value, and values may come from the network.  Returns the
 * bytes written including the NUL. */
static size_t
metrics_value_copy(char *dst, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n = 0;

	while (*s != '\0') {
		size_t cl = metrics_utf8_len(s);

		if (cl == 0) {
			if (n + 1 > METRICS_VALUE_MAX)
				break;
			dst[n++] = '?';
			s++;
			continue;
		}
		if (n + cl > METRICS_VALUE_MAX)
			break;
		memcpy(dst + n, s, cl);
		n += cl;
		s += cl;
	}
	dst[n] = '\0';
	return n + 1;
}

/* Builds the lookup key; -1 if the number of values is wrong. */
static int
metrics_key(const struct metrics_family *f, const char *const *values,
    char *key, size_t *keylen)
{
	size_t n = 0, i;

	for (i = 0; values != NULL && values[i] != NULL; i++) {
		if (i >= f->nlabels)
			return -1;
		n += metrics_value_copy(key + n, values[i]);
	}
	if (i != f->nlabels)
		return -1;
	*keylen = n;
	return 0;
}

static uint64_t
metrics_hash(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
metrics_child_free(struct metrics_child *c)
{
	if (c == NULL)
		return;
	free(c->u.hist.buckets);
	free(c->key);
	free(c);
}

/* Caller holds the lock. */
static struct metrics_child *
metrics_child_find(struct metrics_family *f, const char *key, size_t keylen,
    uint64_t hash)
{
	struct metrics_child *c;

	for (c = f->hash[hash & f->hmask]; c != NULL; c = c->hnext)
		if (c->hash == hash && c->keylen == keylen &&
		    memcmp(c->key, key, keylen) == 0)
			return c;
	return NULL;
}

static int
metrics_child_init(struct metrics_family *f, struct metrics_child *c)
{
	struct metrics_histogram *h = &c->u.hist;

	switch (f->type) {
	case MT_COUNTER:
		atomic_init(&c->u.counter.value, 0);
		break;
	case MT_GAUGE:
		atomic_init(&c->u.gauge.bits, metrics_dbl_bits(0.0));
		break;
	case MT_HISTOGRAM:
		h->bounds = f->bounds;
		h->nbounds = f->nbounds;
		h->buckets = calloc(f->nbounds + 1, sizeof(h->buckets[0]));
		if (h->buckets == NULL)
			return -1;
		for (size_t i = 0; i <= f->nbounds; i++)
			atomic_init(&h->buckets[i], 0);
		atomic_init(&h->sum_bits, metrics_dbl_bits(0.0));
		break;
	default:
		return -1;
	}
	return 0;
}

/* Caller holds the lock.  Publishes the child to the render last, once it
 * is complete. */
static struct metrics_child *
metrics_child_add(struct metrics_family *f, const char *key, size_t keylen,
    uint64_t hash)
{
	struct metrics_child *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->key = malloc(keylen + 1);
	if (c->key == NULL)
		goto fail;
	memcpy(c->key, key, keylen);
	c->key[keylen] = '\0';
	c->keylen = keylen;
	c->hash = hash;
	atomic_init(&c->next, NULL);
	if (metrics_child_init(f, c) == -1)
		goto fail;
	c->hnext = f->hash[hash & f->hmask];
	f->hash[hash & f->hmask] = c;
	if (f->tail == NULL)
		atomic_store_explicit(&f->head, c, memory_order_release);
	else
		atomic_store_explicit(&f->tail->next, c, memory_order_release);
	f->tail = c;
	return c;
fail:
	log_warnx("%s: %s: out of memory", __func__, f->name);
	metrics_child_free(c);
	return NULL;
}

/* Caller holds the lock. */
static struct metrics_child *
metrics_child_overflow(struct metrics_family *f)
{
	char key[METRICS_KEY_MAX];
	const size_t vlen = sizeof(METRICS_OVERFLOW_VALUE);
	size_t keylen = f->nlabels * vlen;
	uint64_t hash;
	struct metrics_child *c;

	for (size_t i = 0; i < f->nlabels; i++)
		memcpy(key + i * vlen, METRICS_OVERFLOW_VALUE, vlen);
	hash = metrics_hash(key, keylen);
	c = metrics_child_find(f, key, keylen, hash);
	if (c != NULL)
		return c;
	if (!f->overflowed) {
		f->overflowed = true;
		log_warnx("%s: %s has %zu label sets, its cap; new ones are "
		    "counted under \"%s\"", __func__, f->name, f->nchildren,
		    METRICS_OVERFLOW_VALUE);
	}
	return metrics_child_add(f, key, keylen, hash);
}

static struct metrics_child *
metrics_child_get(struct metrics_family *f, enum metrics_type type,
    const char *const *values)
{
	char key[METRICS_KEY_MAX];
	size_t keylen;
	uint64_t hash;
	struct metrics_child *c;

	if (f == NULL)
		return NULL;
	if (f->type != type || metrics_key(f, values, key, &keylen) == -1) {
		log_warnx("%s: %s: wrong type or label count", __func__,
		    f->name);
		return NULL;
	}
	hash = metrics_hash(key, keylen);
	pthread_mutex_lock(&f->reg->lock);
	c = metrics_child_find(f, key, keylen, hash);
	if (c == NULL && f->nchildren >= f->cap) {
		c = metrics_child_overflow(f);
	} else if (c == NULL) {
		c = metrics_child_add(f, key, keylen, hash);
		if (c != NULL)
			f->nchildren++;
	}
	pthread_mutex_unlock(&f->reg->lock);
	return c;
}

struct metrics_counter *
metrics_counter_child(struct metrics_family *f, const char *const *values)
{
	struct metrics_child *c = metrics_child_get(f, MT_COUNTER, values);

	return c == NULL ? NULL : &c->u.counter;
}

struct metrics_gauge *
metrics_gauge_child(struct metrics_family *f, const char *const *values)
{
	struct metrics_child *c = metrics_child_get(f, MT_GAUGE, values);

	return c == NULL ? NULL : &c->u.gauge;
}

struct metrics_histogram *
metrics_histogram_child(struct metrics_family *f, const char *const *values)
{
	struct metrics_child *c = metrics_child_get(f, MT_HISTOGRAM, values);

	return c == NULL ? NULL : &c->u.hist;
}

/* ---- registry and declarations ------------------------------------- */

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	atomic_init(&m->head, NULL);
	m->child_cap = METRICS_CHILDREN_DEFAULT;
	return m;
}

static void
metrics_family_free(struct metrics_family *f)
{
	struct metrics_child *c, *next;

	if (f == NULL)
		return;
	for (c = atomic_load(&f->head); c != NULL; c = next) {
		next = atomic_load(&c->next);
		metrics_child_free(c);
	}
	free(f->hash);
	free(f->help);
	free(f);
}

void
metrics_free(struct metrics *m)
{
	struct metrics_family *f, *next;

	if (m == NULL)
		return;
	for (f = atomic_load(&m->head); f != NULL; f = next) {
		next = atomic_load(&f->next);
		metrics_family_free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int
metrics_set_child_cap(struct metrics *m, size_t cap)
{
	if (m == NULL || cap == 0 || cap > METRICS_CHILDREN_LIMIT)
		return -1;
	pthread_mutex_lock(&m->lock);
	m->child_cap = cap;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* One declaration's arguments, whatever its type. */
struct metrics_decl {
	enum metrics_type   type;
	const char         *name;
	const char         *help;
	const char *const  *labels;
	const double       *bounds;
	size_t              nbounds;
	double            (*gauge_fn)(void *);
	uint64_t          (*counter_fn)(void *);
	void               *fn_arg;
};

/* Checks everything that does not need the registry. */
static bool
metrics_decl_ok(const struct metrics_decl *d, size_t *nlabels)
{
	if (!metrics_name_ok(d->name, true) ||
	    !metrics_suffix_ok(d->name, d->type))
		return false;
	if (d->help == NULL || d->help[0] == '\0' ||
	    strlen(d->help) > METRICS_HELP_MAX)
		return false;
	if (!metrics_labels_ok(d->labels, d->type, nlabels))
		return false;
	return d->type != MT_HISTOGRAM ||
	    metrics_bounds_ok(d->bounds, d->nbounds);
}

/* Caller holds the lock.  Sizes the hash for the cap plus the overflow
 * child, at most one entry per slot on average. */
static struct metrics_family *
metrics_family_make(struct metrics *m, const struct metrics_decl *d,
    size_t nlabels)
{
	struct metrics_family *f;
	size_t slots = 1;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	atomic_init(&f->next, NULL);
	atomic_init(&f->head, NULL);
	f->reg = m;
	f->type = d->type;
	snprintf(f->name, sizeof(f->name), "%s", d->name);
	f->nlabels = nlabels;
	for (size_t i = 0; i < nlabels; i++)
		snprintf(f->labels[i], sizeof(f->labels[i]), "%s",
		    d->labels[i]);
	if (d->type == MT_HISTOGRAM) {
		memcpy(f->bounds, d->bounds, d->nbounds * sizeof(f->bounds[0]));
		f->nbounds = d->nbounds;
	}
	f->gauge_fn = d->gauge_fn;
	f->counter_fn = d->counter_fn;
	f->fn_arg = d->fn_arg;
	f->cap = nlabels == 0 ? 1 : m->child_cap;
	while (slots < f->cap + 1)
		slots <<= 1;
	f->hash = calloc(slots, sizeof(struct metrics_child *));
	f->hmask = slots - 1;
	f->help = strdup(d->help);
	if (f->hash == NULL || f->help == NULL) {
		metrics_family_free(f);
		return NULL;
	}
	return f;
}

/* The family is complete (callback, single child) before it is published,
 * so a concurrent render never sees half of it. */
static struct metrics_family *
metrics_declare(struct metrics *m, const struct metrics_decl *d)
{
	struct metrics_family *f = NULL;
	size_t nlabels = 0;
	bool fn = d->type == MT_COUNTER_FN || d->type == MT_GAUGE_FN;

	if (m == NULL)
		return NULL;
	if (!metrics_decl_ok(d, &nlabels)) {
		log_warnx("%s: bad declaration of %s", __func__,
		    d->name == NULL ? "(null)" : d->name);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	if (metrics_clash(m, d->name, d->type)) {
		log_warnx("%s: %s clashes with an earlier metric", __func__,
		    d->name);
		goto fail;
	}
	f = metrics_family_make(m, d, nlabels);
	if (f == NULL)
		goto fail;
	if (nlabels == 0 && !fn) {
		if (metrics_child_add(f, "", 0, metrics_hash("", 0)) == NULL)
			goto fail;
		f->nchildren = 1;
	}
	if (m->tail == NULL)
		atomic_store_explicit(&m->head, f, memory_order_release);
	else
		atomic_store_explicit(&m->tail->next, f, memory_order_release);
	m->tail = f;
	pthread_mutex_unlock(&m->lock);
	return f;
fail:
	pthread_mutex_unlock(&m->lock);
	metrics_family_free(f);
	return NULL;
}

struct metrics_family *
metrics_counter_family(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	struct metrics_decl d = {
		.type = MT_COUNTER, .name = name, .help = help, .labels = labels,
	};

	return metrics_declare(m, &d);
}

struct metrics_family *
metrics_gauge_family(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	struct metrics_decl d = {
		.type = MT_GAUGE, .name = name, .help = help, .labels = labels,
	};

	return metrics_declare(m, &d);
}

struct metrics_family *
metrics_histogram_family(struct metrics *m, const char *name,
    const char *help, const char *const *labels, const double *bounds,
    size_t nbounds)
{
	struct metrics_decl d = {
		.type = MT_HISTOGRAM, .name = name, .help = help,
		.labels = labels, .bounds = bounds, .nbounds = nbounds,
	};

	if (bounds == NULL) {
		d.bounds = metrics_latency_buckets;
		d.nbounds = METRICS_LATENCY_N;
	}
	return metrics_declare(m, &d);
}

int
metrics_gauge_func(struct metrics *m, const char *name, const char *help,
    double (*fn)(void *arg), void *arg)
{
	struct metrics_decl d = {
		.type = MT_GAUGE_FN, .name = name, .help = help,
		.gauge_fn = fn, .fn_arg = arg,
	};

	if (fn == NULL)
		return -1;
	return metrics_declare(m, &d) == NULL ? -1 : 0;
}

int
metrics_counter_func(struct metrics *m, const char *name, const char *help,
    uint64_t (*fn)(void *arg), void *arg)
{
	struct metrics_decl d = {
		.type = MT_COUNTER_FN, .name = name, .help = help,
		.counter_fn = fn, .fn_arg = arg,
	};

	if (fn == NULL)
		return -1;
	return metrics_declare(m, &d) == NULL ? -1 : 0;
}

/* ---- hot path ------------------------------------------------------- */

void
metrics_counter_inc(struct metrics_counter *c)
{
	if (c != NULL)
		atomic_fetch_add_explicit(&c->value, 1, memory_order_relaxed);
}

void
metrics_counter_add(struct metrics_counter *c, uint64_t n)
{
	if (c != NULL)
		atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void
metrics_gauge_set(struct metrics_gauge *g, double v)
{
	if (g != NULL)
		atomic_store_explicit(&g->bits, metrics_dbl_bits(v),
		    memory_order_relaxed);
}

void
metrics_gauge_add(struct metrics_gauge *g, double delta)
{
	if (g != NULL)
		metrics_atomic_add_double(&g->bits, delta);
}

/* The bucket is counted before the sum, so a render racing with this sees
 * at worst the count one ahead of the sum, never buckets out of step with
 * _count, which the render derives from the buckets. */
void
metrics_histogram_observe(struct metrics_histogram *h, double v)
{
	size_t i = 0;

	if (h == NULL || isnan(v))
		return;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	metrics_atomic_add_double(&h->sum_bits, v);
}

uint64_t
metrics_counter_value(const struct metrics_counter *c)
{
	if (c == NULL)
		return 0;
	return atomic_load_explicit(&c->value, memory_order_relaxed);
}

double
metrics_gauge_value(const struct metrics_gauge *g)
{
	if (g == NULL)
		return 0.0;
	return metrics_bits_dbl(atomic_load_explicit(&g->bits,
	    memory_order_relaxed));
}

uint64_t
metrics_histogram_count(const struct metrics_histogram *h)
{
	uint64_t n = 0;

	if (h == NULL)
		return 0;
	for (size_t i = 0; i <= h->nbounds; i++)
		n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
	return n;
}

double
metrics_histogram_sum(const struct metrics_histogram *h)
{
	if (h == NULL)
		return 0.0;
	return metrics_bits_dbl(atomic_load_explicit(&h->sum_bits,
	    memory_order_relaxed));
}

/* ---- rendering ------------------------------------------------------ */

/* Shortest of %.15g..%.17g that reads back as the same double, so values
 * stay exact without printing 0.1 as 0.10000000000000001.  Prometheus
 * spells the specials NaN, +Inf and -Inf.  Assumes the "C" locale. */
static void
metrics_fmt_double(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* Writes s escaping backslash, newline and, for label values, '"'. */
static void
metrics_put_escaped(FILE *fp, const char *s, bool quote)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quote)
			esc = "\\\"";
		if (esc == NULL)
			continue;
		fwrite(run, 1, (size_t)(s - run), fp);
		fputs(esc, fp);
		run = s + 1;
	}
	fwrite(run, 1, (size_t)(s - run), fp);
}

/* "{a="x",b="y"}" for the child's values, with le="..." last if given. */
static void
metrics_put_labels(FILE *fp, const struct metrics_family *f,
    const struct metrics_child *c, const char *le)
{
	const char *v = c->key;

	if (f->nlabels == 0 && le == NULL)
		return;
	fputc('{', fp);
	for (size_t i = 0; i < f->nlabels; i++) {
		fprintf(fp, "%s%s=\"", i > 0 ? "," : "", f->labels[i]);
		metrics_put_escaped(fp, v, true);
		fputc('"', fp);
		v += strlen(v) + 1;
	}
	if (le != NULL)
		fprintf(fp, "%sle=\"%s\"", f->nlabels > 0 ? "," : "", le);
	fputc('}', fp);
}

static void
metrics_put_histogram(FILE *fp, const struct metrics_family *f,
    const struct metrics_child *c)
{
	const struct metrics_histogram *h = &c->u.hist;
	uint64_t cum = 0;
	char num[40];

	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += atomic_load_explicit(&h->buckets[i],
		    memory_order_relaxed);
		if (i < h->nbounds)
			metrics_fmt_double(num, sizeof(num), h->bounds[i]);
		else
			snprintf(num, sizeof(num), "+Inf");
		fprintf(fp, "%s_bucket", f->name);
		metrics_put_labels(fp, f, c, num);
		fprintf(fp, " %" PRIu64 "\n", cum);
	}
	metrics_fmt_double(num, sizeof(num), metrics_histogram_sum(h));
	fprintf(fp, "%s_sum", f->name);
	metrics_put_labels(fp, f, c, NULL);
	fprintf(fp, " %s\n", num);
	/* From the buckets, not a separate count, so it always equals +Inf. */
	fprintf(fp, "%s_count", f->name);
	metrics_put_labels(fp, f, c, NULL);
	fprintf(fp, " %" PRIu64 "\n", cum);
}

static void
metrics_put_child(FILE *fp, const struct metrics_family *f,
    const struct metrics_child *c)
{
	char num[40];

	if (f->type == MT_HISTOGRAM) {
		metrics_put_histogram(fp, f, c);
		return;
	}
	fputs(f->name, fp);
	metrics_put_labels(fp, f, c, NULL);
	if (f->type == MT_COUNTER) {
		fprintf(fp, " %" PRIu64 "\n", metrics_counter_value(&c->u.counter));
		return;
	}
	metrics_fmt_double(num, sizeof(num), metrics_gauge_value(&c->u.gauge));
	fprintf(fp, " %s\n", num);
}

static const char *
metrics_type_name(enum metrics_type type)
{
	switch (type) {
	case MT_COUNTER:
	case MT_COUNTER_FN:
		return "counter";
	case MT_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

static void
metrics_put_family(FILE *fp, const struct metrics_family *f)
{
	char num[40];

	fprintf(fp, "# HELP %s ", f->name);
	metrics_put_escaped(fp, f->help, false);
	fprintf(fp, "\n# TYPE %s %s\n", f->name, metrics_type_name(f->type));
	if (f->type == MT_COUNTER_FN) {
		fprintf(fp, "%s %" PRIu64 "\n", f->name,
		    f->counter_fn(f->fn_arg));
		return;
	}
	if (f->type == MT_GAUGE_FN) {
		metrics_fmt_double(num, sizeof(num), f->gauge_fn(f->fn_arg));
		fprintf(fp, "%s %s\n", f->name, num);
		return;
	}
	for (const struct metrics_child *c = atomic_load_explicit(&f->head,
	    memory_order_acquire); c != NULL;
	    c = atomic_load_explicit(&c->next, memory_order_acquire))
		metrics_put_child(fp, f, c);
}

/* Lock-free: families and children are only ever appended, each published
 * with a release store once complete. */
char *
metrics_render(struct metrics *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *fp;
	bool failed;

	if (m == NULL)
		return NULL;
	fp = open_memstream(&buf, &n);
	if (fp == NULL) {
		log_warn("%s: open_memstream", __func__);
		return NULL;
	}
	for (const struct metrics_family *f = atomic_load_explicit(&m->head,
	    memory_order_acquire); f != NULL;
	    f = atomic_load_explicit(&f->next, memory_order_acquire))
		metrics_put_family(fp, f);
	failed = ferror(fp) != 0;
	if (fclose(fp) != 0 || failed) {
		log_warnx("%s: out of memory", __func__);
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}
