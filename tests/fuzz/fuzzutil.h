/* fuzzutil.h - what the libFuzzer targets share: entry points, input splitting, checks. */
#ifndef CXB_FUZZUTIL_H
#define CXB_FUZZUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer calls these; declared here for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fields one input is cut into; a target never needs more. */
#define FUZZ_MAX_FIELDS 80

/*
 * One fuzz input read field by field.  Every field is copied into its own
 * allocation of exactly its size (plus the NUL for strings), so ASan sees a
 * read even one byte past a field, which it would not if the fields were
 * pointers into one shared buffer.
 */
struct fuzz_input {
	const uint8_t *p;
	size_t         left;
	int            done;                  /* no field left at all */
	void          *owned[FUZZ_MAX_FIELDS];
	size_t         n_owned;
};

static inline void
fuzz_input_init(struct fuzz_input *in, const uint8_t *data, size_t size)
{
	memset(in, 0, sizeof(*in));
	in->p = data;
	in->left = size;
}

static inline void *
fuzz_input_keep(struct fuzz_input *in, const uint8_t *src, size_t n,
    size_t extra)
{
	uint8_t *copy;

	if (in->n_owned == FUZZ_MAX_FIELDS)
		return NULL;
	copy = malloc(n + extra > 0 ? n + extra : 1);
	if (copy == NULL)
		return NULL;
	if (n > 0)
		memcpy(copy, src, n);
	if (extra > 0)
		copy[n] = '\0';
	in->owned[in->n_owned++] = copy;
	return copy;
}

/* The bytes up to the next sep (not included) or the end, copied with
 * extra (0 or 1) NUL bytes after them; the input moves past the sep. */
static inline void *
fuzz_input_next(struct fuzz_input *in, uint8_t sep, size_t extra, size_t *len)
{
	const uint8_t *end;
	size_t n;
	void *copy;

	if (in->done)
		return NULL;
	end = in->left > 0 ? memchr(in->p, sep, in->left) : NULL;
	n = end != NULL ? (size_t)(end - in->p) : in->left;
	copy = fuzz_input_keep(in, in->p, n, extra);
	if (copy == NULL)
		return NULL;
	if (len != NULL)
		*len = n;
	if (end == NULL) {
		in->done = 1;
		in->left = 0;
	} else {
		in->p += n + 1;
		in->left -= n + 1;
	}
	return copy;
}

/*
 * The next field as a NUL-terminated string that lives until
 * fuzz_input_fini; *len (may be NULL) gets its length.  NULL once the input
 * is used up, so a target can tell an absent value from an empty one (an
 * input ending in sep has a last, empty field), or when out of fields or
 * memory.
 */
static inline char *
fuzz_input_field(struct fuzz_input *in, uint8_t sep, size_t *len)
{
	return fuzz_input_next(in, sep, 1, len);
}

/* As fuzz_input_field, but an exact-size copy with no NUL after it, for
 * functions that take a pointer and a length (a body as received). */
static inline void *
fuzz_input_bytes(struct fuzz_input *in, uint8_t sep, size_t *len)
{
	return fuzz_input_next(in, sep, 0, len);
}

/* What is left, as an exact-size copy with no NUL (a body); *len gets its
 * length.  Never NULL unless out of memory: the rest may be empty. */
static inline void *
fuzz_input_rest(struct fuzz_input *in, size_t *len)
{
	size_t n = in->done ? 0 : in->left;
	void *copy = fuzz_input_keep(in, in->p, n, 0);

	in->done = 1;
	in->left = 0;
	*len = n;
	return copy;
}

static inline void
fuzz_input_fini(struct fuzz_input *in)
{
	for (size_t i = 0; i < in->n_owned; i++)
		free(in->owned[i]);
	in->n_owned = 0;
}

/* A property the code under test promised did not hold: abort, so libFuzzer
 * keeps the input as a crash. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* A char array field holds a NUL somewhere: it is a terminated string. */
#define FUZZ_CHECK_TERMINATED(field) \
	FUZZ_CHECK(memchr((field), '\0', sizeof(field)) != NULL)

#endif
