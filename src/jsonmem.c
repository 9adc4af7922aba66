/* jsonmem.c - jansson's allocator, so a lack of memory is told from bad JSON. */
#include "jsonmem.h"

#include <jansson.h>
#include <stdlib.h>

static _Thread_local bool jsonmem_out_of_memory;

static void *
jsonmem_malloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		jsonmem_out_of_memory = true;
	return p;
}

void
jsonmem_init(void)
{
	json_set_alloc_funcs(jsonmem_malloc, free);
}

void
jsonmem_clear(void)
{
	jsonmem_out_of_memory = false;
}

bool
jsonmem_failed(void)
{
	return jsonmem_out_of_memory;
}
