/* jsonmem.h - jansson's allocator: a per-thread arena for parsed webhook bodies. */
#ifndef CXB_JSONMEM_H
#define CXB_JSONMEM_H

/*
 * jsonparse builds a tree of about a hundred small blocks for every event,
 * and event_build frees it a few microseconds later on the same thread.  In
 * glibc's malloc that churn cost more than the parsing itself under load.
 *
 * After jsonmem_init (once, before any thread uses jansson), every jansson
 * allocation goes through jsonmem.  Between jsonmem_arena_begin and
 * jsonmem_arena_end, the calling thread's allocations are cut from its own
 * arena (JSONMEM_ARENA_BYTES, allocated on the first begin, freed when the
 * thread exits); freeing such a block is a no-op, and the arena starts over
 * at the next begin once every block cut from it has been freed.  Blocks
 * that do not fit, and all allocations outside begin/end, go to malloc.
 *
 * The one rule: a tree built between begin and end is freed (its last
 * reference dropped) on the thread that built it.  event_build keeps it:
 * the tree never leaves the call.  Without jsonmem_init, begin and end do
 * nothing harmful and jansson uses malloc.
 */
#define JSONMEM_ARENA_BYTES ((size_t)32 * 1024)

void jsonmem_init(void);
void jsonmem_arena_begin(void);
void jsonmem_arena_end(void);

#endif
