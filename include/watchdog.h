/* watchdog.h - proves the daemon makes progress before systemd is told so. */
#ifndef CXB_WATCHDOG_H
#define CXB_WATCHDOG_H

#include <stdint.h>

struct watchdog;

/* url: the listener's own /health (http_health_url).  NULL on failure. */
struct watchdog *watchdog_new(const char *url, long timeout_ms);
void             watchdog_free(struct watchdog *w);   /* NULL ok */

/*
 * One round trip through the real listener: an HTTP worker must accept,
 * read and answer, and /health answers 200 only while the delivery thread
 * goes round its loop.  0 when all of that happened within the timeout.
 */
int              watchdog_check(struct watchdog *w);

/* The interval to notify at: half of systemd's WatchdogSec, in ms; 0 when
 * systemd is not watching. */
uint64_t         watchdog_interval_ms(void);

#endif
