/* jsonmem.h - jansson's allocator, so a lack of memory is told from bad JSON. */
#ifndef CXB_JSONMEM_H
#define CXB_JSONMEM_H

#include <stdbool.h>

/*
 * jansson reports an allocation failure inside the parser as a syntax error
 * (or, for some strings, not at all).  After jsonmem_init, every jansson
 * allocation goes through a wrapper that remembers a failure per thread:
 * clear the mark, parse, and jsonmem_failed() says whether memory ran out,
 * so the answer is 503 ("retry later") and never 400 ("drop the event").
 */
void jsonmem_init(void);
void jsonmem_clear(void);
bool jsonmem_failed(void);

#endif
