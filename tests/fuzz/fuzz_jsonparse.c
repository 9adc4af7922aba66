/* fuzz_jsonparse.c - libFuzzer target: jsonparse against jsonscan_check + jansson's own parser. */
#include "fuzzutil.h"

#include <jansson.h>

#include "jsonparse.h"
#include "jsonscan.h"

/* Deep enough to reach the depth limit, shallow enough for the recursion. */
#define FUZZ_DEPTH 12

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The tree as text with its members in order: equal text, equal trees
 * (types included: a real always prints with a '.' or an exponent). */
static char *
fuzz_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

/*
 * The daemon used to run jsonscan_check and then json_loadb; jsonparse
 * replaced both on the webhook path for speed.  They must accept exactly
 * the same bodies and build the same trees.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees a read one byte past the body. */
	char *body = malloc(size > 0 ? size : 1);
	struct jsonparse_error perr;
	json_t *mine, *theirs = NULL;

	FUZZ_CHECK(body != NULL);
	if (size > 0)
		memcpy(body, data, size);
	mine = jsonparse(body, size, FUZZ_DEPTH, &perr);
	if (jsonscan_check(body, size, FUZZ_DEPTH, NULL) == 0)
		theirs = json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL);
	if (mine == NULL) {
		FUZZ_CHECK(perr.kind != JSONPARSE_OK && perr.kind != JSONPARSE_NOMEM);
		FUZZ_CHECK(perr.offset <= size);
		FUZZ_CHECK(theirs == NULL);
	} else {
		char *a, *b;

		FUZZ_CHECK(perr.kind == JSONPARSE_OK);
		FUZZ_CHECK(theirs != NULL);
		a = fuzz_dump(mine);
		b = fuzz_dump(theirs);
		FUZZ_CHECK(a != NULL && b != NULL);
		if (strcmp(a, b) != 0) {
			fprintf(stderr, "jsonparse: %s\njansson:   %s\n", a, b);
			FUZZ_CHECK(!"the trees differ");
		}
		free(a);
		free(b);
	}
	json_decref(mine);
	json_decref(theirs);
	free(body);
	return 0;
}
