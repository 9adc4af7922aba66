/* jsonmem.c - jansson's allocator: a per-thread arena for parsed webhook bodies. */
#include "jsonmem.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* malloc's alignment, which jansson's structs expect. */
#define JSONMEM_ALIGN 16

struct jsonmem_arena {
	char   *buf;      /* JSONMEM_ARENA_BYTES, or NULL before the first use */
	size_t  used;
	size_t  live;     /* blocks cut and not yet freed */
	bool    active;
};

static _Thread_local struct jsonmem_arena jsonmem_tl;
static pthread_key_t  jsonmem_key;
static pthread_once_t jsonmem_once = PTHREAD_ONCE_INIT;
static bool           jsonmem_key_ok;
static bool           jsonmem_installed;   /* jansson calls us */

static bool
jsonmem_owns(const struct jsonmem_arena *a, const void *p)
{
	uintptr_t u = (uintptr_t)p, b = (uintptr_t)a->buf;

	return a->buf != NULL && u >= b && u < b + JSONMEM_ARENA_BYTES;
}

static void *
jsonmem_malloc(size_t n)
{
	struct jsonmem_arena *a = &jsonmem_tl;
	size_t need = (n + JSONMEM_ALIGN - 1) & ~(size_t)(JSONMEM_ALIGN - 1);
	void *p;

	if (a->active && need >= n && need <= JSONMEM_ARENA_BYTES - a->used) {
		p = a->buf + a->used;
		a->used += need;
		a->live++;
		return p;
	}
	return malloc(n);
}

static void
jsonmem_free(void *p)
{
	struct jsonmem_arena *a = &jsonmem_tl;

	if (jsonmem_owns(a, p))
		a->live--;
	else
		free(p);
}

/* A thread's arena goes with the thread (pthread calls this on exit). */
static void
jsonmem_thread_exit(void *buf)
{
	free(buf);
}

static void
jsonmem_make_key(void)
{
	jsonmem_key_ok = pthread_key_create(&jsonmem_key, jsonmem_thread_exit) == 0;
}

void
jsonmem_init(void)
{
	pthread_once(&jsonmem_once, jsonmem_make_key);
	json_set_alloc_funcs(jsonmem_malloc, jsonmem_free);
	jsonmem_installed = true;
}

void
jsonmem_arena_begin(void)
{
	struct jsonmem_arena *a = &jsonmem_tl;

	if (!jsonmem_installed || !jsonmem_key_ok)
		return;
	if (a->buf == NULL) {
		a->buf = malloc(JSONMEM_ARENA_BYTES);
		if (a->buf == NULL)
			return;   /* this parse uses malloc; the next one tries again */
		if (pthread_setspecific(jsonmem_key, a->buf) != 0) {
			free(a->buf);
			a->buf = NULL;
			return;
		}
	}
	/* A tree still alive from an earlier parse keeps its blocks: carry on
	 * after them, and fall back to malloc when the arena is full. */
	if (a->live == 0)
		a->used = 0;
	a->active = true;
}

void
jsonmem_arena_end(void)
{
	jsonmem_tl.active = false;
}
