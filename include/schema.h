/* schema.h - a JSON Schema subset: compiled once at load, validated many times. */
#ifndef CXB_SCHEMA_H
#define CXB_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

/* Caps on what a schema may be (docs/schema.md lists them all). */
#define SCHEMA_FILE_MAX     (1024 * 1024)  /* bytes of a schema file */
#define SCHEMA_DEPTH_MAX    32             /* nested schemas, root = 1 */
#define SCHEMA_MEMBERS_MAX  1024           /* entries of properties, required,
                                            * enum, type */
#define SCHEMA_POINTER_MAX  256            /* JSON pointer text incl. NUL;
                                            * longer ones end in "..." */

struct schema;

/* Why an instance failed: the first failure, in the documented order. */
struct schema_error {
	char pointer[SCHEMA_POINTER_MAX];  /* RFC 6901 pointer to the failing
	                                    * value, or to the missing member */
	char rule[32];                     /* the keyword: "required", ... */
	char message[256];                 /* one sentence; never echoes more
	                                    * than a short prefix of a value */
};

/*
 * Reads the file (at most SCHEMA_FILE_MAX bytes, duplicate keys refused) and
 * compiles it as schema_from_json does.  Returns a schema the caller frees
 * with schema_free, or NULL with a one-line reason "file: pointer: why" in
 * err (err may be NULL; errlen counts the NUL).
 */
struct schema *schema_load(const char *file, char *err, size_t errlen);

/*
 * Compiles doc (a JSON object; it is only read, and may be freed afterwards)
 * into an internal tree, compiling every pattern once.  A keyword outside the
 * subset, a bad keyword value, an unknown format or a schema nested deeper
 * than SCHEMA_DEPTH_MAX is an error naming the JSON pointer of the offending
 * place in the schema.  "$schema", "$id", "title", "description", "$comment"
 * and "examples" are ignored.  Returns the schema, or NULL with err filled.
 */
struct schema *schema_from_json(const json_t *doc, char *err, size_t errlen);

/* Frees the schema.  NULL is a no-op. */
void schema_free(struct schema *s);

/*
 * Validates instance against s.  Neither is modified, so any number of
 * threads may validate against one schema at once; the validator itself
 * allocates nothing (glibc's regexec may, for "pattern").  Returns 0 if
 * valid, or -1 with the first failure in err (err may be NULL).
 */
int  schema_validate(const struct schema *s, const json_t *instance,
         struct schema_error *err);

#endif
