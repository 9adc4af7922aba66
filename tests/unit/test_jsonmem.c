/* test_jsonmem.c - unit tests for the per-thread arena behind jansson. */
#include "testutil.h"

#include "jsonmem.h"
#include "jsonparse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char event_a[] =
    "{\"id\":\"a-1\",\"eventType\":\"routing:queued\",\"n\":[1,2,3],"
    "\"routingContext\":{\"queueId\":\"q-1\",\"agentId\":\"ag-1\"}}";
static const char event_b[] =
    "{\"id\":\"b-2\",\"eventType\":\"routing:agent-assigned\",\"x\":\"yyyyyyyy\","
    "\"routingContext\":{\"queueId\":\"q-2\",\"skill\":\"billing\"}}";

static json_t *
arena_parse(const char *text, size_t len)
{
	json_t *v;

	jsonmem_arena_begin();
	v = jsonparse(text, len, 16, NULL);
	jsonmem_arena_end();
	assert_non_null(v);
	return v;
}

static void
assert_dumps_to(const json_t *v, const char *text)
{
	char *d = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_non_null(d);
	assert_string_equal(d, text);
	free(d);
}

static int
setup(void **state)
{
	(void)state;
	jsonmem_init();
	return 0;
}

/* Parse, free, parse again: the arena is reused and the trees are whole. */
static void
test_reuse(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++) {
		json_t *v = arena_parse(i % 2 ? event_a : event_b,
		    i % 2 ? sizeof(event_a) - 1 : sizeof(event_b) - 1);

		assert_dumps_to(v, i % 2 ? event_a : event_b);
		json_decref(v);
	}
}

/* A tree still alive at the next begin must not be written over. */
static void
test_live_tree_kept(void **state)
{
	json_t *a, *b;

	(void)state;
	a = arena_parse(event_a, sizeof(event_a) - 1);
	b = arena_parse(event_b, sizeof(event_b) - 1);
	assert_dumps_to(a, event_a);
	assert_dumps_to(b, event_b);
	json_decref(a);
	assert_dumps_to(b, event_b);
	json_decref(b);
	/* All freed: the next parse starts over, and is whole too. */
	a = arena_parse(event_a, sizeof(event_a) - 1);
	assert_dumps_to(a, event_a);
	json_decref(a);
}

/* Bigger than the arena: the rest comes from malloc, and frees go there. */
static void
test_overflow_to_malloc(void **state)
{
	size_t cap = JSONMEM_ARENA_BYTES * 3, len = 0;
	char *text = malloc(cap);
	json_t *v;

	(void)state;
	assert_non_null(text);
	text[len++] = '[';
	for (int i = 0; len < cap - 64; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\"s%d\"",
		    i ? "," : "", i);
	text[len++] = ']';
	v = arena_parse(text, len);
	assert_true(json_array_size(v) > 5000);
	assert_string_equal(json_string_value(json_array_get(v, 4999)), "s4999");
	json_decref(v);
	free(text);
}

/* Blocks from malloc (outside begin/end) freed inside a scope, and blocks
 * added to an arena tree after the scope, all go back to malloc. */
static void
test_mixed_blocks(void **state)
{
	json_t *outside = json_pack("{s:s}", "k", "v"), *v;

	(void)state;
	assert_non_null(outside);
	v = arena_parse(event_a, sizeof(event_a) - 1);
	assert_int_equal(json_object_set_new(v, "extra",
	    json_string("added after the parse")), 0);
	jsonmem_arena_begin();
	json_decref(outside);
	jsonmem_arena_end();
	assert_string_equal(json_string_value(json_object_get(v, "extra")),
	    "added after the parse");
	json_decref(v);
}

/* arg: an int counting this thread's failed parses. */
static void *
thread_parse(void *arg)
{
	int *failed = arg;

	for (int i = 0; i < 100; i++) {
		json_t *v = jsonparse(event_b, sizeof(event_b) - 1, 16, NULL);

		if (v == NULL)
			(*failed)++;
		json_decref(v);
		jsonmem_arena_begin();
		v = jsonparse(event_b, sizeof(event_b) - 1, 16, NULL);
		jsonmem_arena_end();
		if (v == NULL || json_object_size(v) != 4)
			(*failed)++;
		json_decref(v);
	}
	return NULL;
}

/* Each thread has its own arena, freed when it exits (LeakSanitizer and
 * valgrind would see it otherwise). */
static void
test_threads(void **state)
{
	pthread_t t[4];
	int failed[4] = { 0 };

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_parse,
		    &failed[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(failed[i], 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_live_tree_kept),
		cmocka_unit_test(test_overflow_to_malloc),
		cmocka_unit_test(test_mixed_blocks),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
