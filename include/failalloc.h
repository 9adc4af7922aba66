/* failalloc.h - the hook an allocation-failure test build arms after start-up. */
#ifndef CXB_FAILALLOC_H
#define CXB_FAILALLOC_H

/*
 * Called once the daemon serves requests.  In the normal build it does
 * nothing; the `make failalloc` build replaces it (tests/failalloc/wrap.c)
 * to start counting allocations and fail the Nth one.
 */
void failalloc_arm(void);

#endif
