/* metrics.h - metric registry rendered as Prometheus text format 0.0.4. */
#ifndef CXB_METRICS_H
#define CXB_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Families (counter, gauge, histogram) are declared once at start-up with a
 * name, help text and a fixed list of label names.  A child is one tuple of
 * label values; the hot path looks it up once and keeps the handle.
 *
 * Threads: declaring families and looking up children take the registry
 * mutex; updating a child is lock-free (C11 atomics); metrics_render takes no
 * lock and may run while other threads update or create children.  Nothing
 * is removed before metrics_free, so handles stay valid until then.
 *
 * NULL is accepted everywhere a registry, family or child handle is taken:
 * a lookup on NULL returns NULL and an update on NULL does nothing, so a
 * module can run (and be unit-tested) without a registry.
 */

/* Caps.  Names and help come from code; label values may come from the
 * network (request paths), hence the value and child caps. */
#define METRICS_NAME_MAX        128     /* bytes in a metric or label name */
#define METRICS_HELP_MAX        1024    /* bytes of help text */
#define METRICS_LABELS_MAX      8       /* label names per family */
#define METRICS_BUCKETS_MAX     32      /* finite bucket bounds per histogram */
#define METRICS_VALUE_MAX       128     /* bytes kept of a label value */
#define METRICS_CHILDREN_DEFAULT 1000   /* label tuples per family */
#define METRICS_CHILDREN_LIMIT  100000  /* most metrics_set_child_cap allows */

/* Label value given to every label of the overflow child (see below). */
#define METRICS_OVERFLOW_VALUE  "__overflow__"

struct metrics;
struct metrics_family;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* Default latency bounds in seconds, 0.0005 to 10 (METRICS_LATENCY_N). */
#define METRICS_LATENCY_N 14
extern const double metrics_latency_buckets[METRICS_LATENCY_N];

/* Returns a new empty registry, or NULL if out of memory. */
struct metrics *metrics_new(void);
/* Frees the registry, its families and children.  No thread may use any of
 * its handles any more.  NULL ok. */
void metrics_free(struct metrics *m);

/* Child cap (1..METRICS_CHILDREN_LIMIT) for families declared after this
 * call.  Returns 0, or -1 if out of range. */
int metrics_set_child_cap(struct metrics *m, size_t cap);

/*
 * Declarations.  name must match [a-zA-Z_:][a-zA-Z0-9_:]*; counter names
 * must end in "_total" and other names must not; histogram names must not
 * end in "_bucket", "_sum" or "_count".  help is required.  labels is a
 * NULL-terminated array of label names ([a-zA-Z_][a-zA-Z0-9_]*, not
 * starting with "__", no repeats, "le" not for histograms), or NULL for
 * none.  No name may clash with a sample name of an earlier family.  All
 * strings are copied.
 *
 * Returns the family, owned by the registry, or NULL (logged) on a bad
 * declaration or no memory.  A family without labels gets its one child at
 * once, so it is rendered as 0 until updated.
 */
struct metrics_family *metrics_counter_family(struct metrics *m,
    const char *name, const char *help, const char *const *labels);
struct metrics_family *metrics_gauge_family(struct metrics *m,
    const char *name, const char *help, const char *const *labels);
/* bounds: nbounds (1..METRICS_BUCKETS_MAX) finite, strictly increasing
 * upper bounds; "+Inf" is implicit.  bounds NULL means the default latency
 * set.  The bounds are copied. */
struct metrics_family *metrics_histogram_family(struct metrics *m,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t nbounds);

/* Families without labels whose value is computed by fn(arg) at render
 * time, without any registry lock held.  fn must be thread-safe and must
 * not call back into this registry.  Returns 0, or -1 as above. */
int metrics_gauge_func(struct metrics *m, const char *name, const char *help,
    double (*fn)(void *arg), void *arg);
int metrics_counter_func(struct metrics *m, const char *name,
    const char *help, uint64_t (*fn)(void *arg), void *arg);

/*
 * Child lookup: values is a NULL-terminated array with exactly one value per
 * label name of the family (NULL for a family without labels).  Values are
 * copied; each is cut to METRICS_VALUE_MAX bytes on a UTF-8 character
 * boundary, and bytes that are not valid UTF-8 become '?', so two values
 * that differ only past the cap share a child.
 *
 * When the family already has its cap of children, a new tuple gets the
 * overflow child instead: every label set to METRICS_OVERFLOW_VALUE.  It is
 * made once, beyond the cap, and a warning is logged the first time, so
 * totals over the family stay right while the series count stays bounded.
 *
 * Returns the handle, valid until metrics_free, or NULL when the family is
 * NULL or of another type, the value count is wrong, or memory ran out.
 */
struct metrics_counter *metrics_counter_child(struct metrics_family *f,
    const char *const *values);
struct metrics_gauge *metrics_gauge_child(struct metrics_family *f,
    const char *const *values);
struct metrics_histogram *metrics_histogram_child(struct metrics_family *f,
    const char *const *values);

/* metrics_counter_with(f, "GET", "200"): the same with the values listed.
 * A family without labels uses metrics_counter_child(f, NULL). */
#define metrics_counter_with(f, ...) \
	metrics_counter_child((f), (const char *const[]){ __VA_ARGS__, NULL })
#define metrics_gauge_with(f, ...) \
	metrics_gauge_child((f), (const char *const[]){ __VA_ARGS__, NULL })
#define metrics_histogram_with(f, ...) \
	metrics_histogram_child((f), (const char *const[]){ __VA_ARGS__, NULL })

/* Hot path: lock-free, never allocate, NULL handle ok.  Counters are
 * uint64 and wrap at 2^64. */
void metrics_counter_inc(struct metrics_counter *c);
void metrics_counter_add(struct metrics_counter *c, uint64_t n);
/* Gauges hold a double (kept as its bit pattern in an atomic uint64), so
 * one type serves both levels and times; integers are exact to 2^53. */
void metrics_gauge_set(struct metrics_gauge *g, double v);
void metrics_gauge_add(struct metrics_gauge *g, double delta);
/* Counts v in the first bucket whose bound is >= v and adds v to the sum.
 * NaN is ignored.  Under concurrency a render may see the bucket counts
 * and _sum one in-flight observation apart; _count always equals the
 * "+Inf" bucket and buckets are always cumulative. */
void metrics_histogram_observe(struct metrics_histogram *h, double v);

/* Current values (tests, and modules that report their own numbers);
 * 0 for a NULL handle. */
uint64_t metrics_counter_value(const struct metrics_counter *c);
double   metrics_gauge_value(const struct metrics_gauge *g);
uint64_t metrics_histogram_count(const struct metrics_histogram *h);
double   metrics_histogram_sum(const struct metrics_histogram *h);

/*
 * Renders every family in declaration order, children in creation order,
 * as text format 0.0.4.  Returns a NUL-terminated malloc'd buffer the
 * caller frees, its length (without the NUL) in *len if len is not NULL;
 * NULL if m is NULL or out of memory.
 */
char *metrics_render(struct metrics *m, size_t *len);

#endif
