/* wrap.c - fails the Nth allocation the daemon's own code makes after start-up.
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 * --wrap=strndup: only references from the project's objects are redirected,
 * so libraries keep the real allocator - except jansson, which the daemon
 * points at src/jsonmem.c, whose malloc call is redirected too.  CXB_FAILALLOC_AT=N fails
 * allocation number N (1-based) after failalloc_arm(); 0 fails none.  At exit
 * the count of allocations made after arming goes to stderr, so a test knows
 * how far N must go.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_bool armed;
static atomic_ulong count;
static unsigned long fail_at;

static int
should_fail(void)
{
	unsigned long n;

	if (!atomic_load(&armed))
		return 0;
	n = atomic_fetch_add(&count, 1) + 1;
	return n == fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = __wrap_malloc(n);

	return d == NULL ? NULL : memcpy(d, s, n);
}

char *
__wrap_strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *d = __wrap_malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void
report(void)
{
	fprintf(stderr, "failalloc: %lu allocations after arming\n",
	    atomic_load(&count));
}

void
failalloc_arm(void)
{
	const char *at = getenv("CXB_FAILALLOC_AT");

	fail_at = at == NULL ? 0 : strtoul(at, NULL, 10);
	atexit(report);
	atomic_store(&armed, 1);
}
