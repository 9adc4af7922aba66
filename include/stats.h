/* stats.h - the daemon's metric families, and the calls that update them. */
#ifndef CXB_STATS_H
#define CXB_STATS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;
struct stats;

enum stats_path { STATS_PATH_WEBHOOK, STATS_PATH_HEALTH, STATS_PATH_READY,
    STATS_PATH_METRICS, STATS_PATH_OTHER, STATS_PATH_N };

enum stats_circuit { STATS_CIRCUIT_CLOSED = 0, STATS_CIRCUIT_OPEN = 1,
    STATS_CIRCUIT_HALF_OPEN = 2 };

/* Declares every family in m (borrowed; must outlive the stats).  NULL on
 * failure.  Every update below accepts a NULL stats and does nothing. */
struct stats *stats_new(struct metrics *m, const char *version);
void stats_free(struct stats *s);                 /* NULL ok */

void stats_http_request(struct stats *s, enum stats_path path, int status);
void stats_received(struct stats *s);
/* reason: unauthorized, content_type, schema, too_large, out_of_order,
 * queue_full, dedupe_full, draining, internal. */
void stats_rejected(struct stats *s, const char *reason);
void stats_duplicate(struct stats *s);
void stats_out_of_order(struct stats *s, const char *policy);
void stats_published(struct stats *s, double lag_s);
void stats_dead_lettered(struct stats *s, const char *reason);
void stats_failed(struct stats *s);
void stats_ack_latency(struct stats *s, double seconds);

/* outcome: success, partial, error, transport. */
void stats_putevents(struct stats *s, const char *outcome, double seconds,
    size_t entries);
void stats_putevents_retry(struct stats *s, size_t entries);
void stats_sqs(struct stats *s, const char *outcome, double seconds);
void stats_circuit(struct stats *s, enum stats_circuit state);
/* An AWS call refused because this host's clock is off (awsskew). */
void stats_clock_skew(struct stats *s);

#endif
