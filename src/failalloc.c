/* failalloc.c - the hook an allocation-failure test build arms after start-up. */
#include "failalloc.h"

/* Weak: the test build's strong definition takes its place. */
__attribute__((weak)) void
failalloc_arm(void)
{
}
