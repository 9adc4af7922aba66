/* jsonparse.h - a webhook body to a jansson tree in one strict pass. */
#ifndef CXB_JSONPARSE_H
#define CXB_JSONPARSE_H

#include <jansson.h>
#include <stddef.h>

enum jsonparse_kind {
	JSONPARSE_OK = 0,
	JSONPARSE_SYNTAX,        /* not JSON text (RFC 8259), a duplicate key,
	                          * \u0000, or a number out of range */
	JSONPARSE_BAD_UTF8,      /* as jsonscan: overlong, surrogate, ... */
	JSONPARSE_TOO_DEEP,      /* more [ and { open than max_depth */
	JSONPARSE_NUL,           /* a raw 0x00 byte */
	JSONPARSE_NOMEM          /* an allocation failed: not the body's fault */
};

struct jsonparse_error {
	enum jsonparse_kind kind;
	size_t              offset;  /* byte offset where the problem was seen */
	const char         *what;    /* static text, e.g. "',' or '}' expected" */
};

/*
 * Parses the len bytes of buf (no NUL terminator needed) into a new jansson
 * tree, and refuses what the daemon refuses in a webhook body:
 *  - anything that is not one JSON object or array (RFC 8259), optionally
 *    surrounded by whitespace;
 *  - bytes that are not well-formed UTF-8 (the rules of jsonscan.h), a raw
 *    NUL anywhere, a control character inside a string;
 *  - more than max_depth [ and { open at once (a max_depth over 256 counts
 *    as 256: the parser recurses once per level);
 *  - an object with a duplicate key, a string holding \u0000, a lone or
 *    mismatched surrogate escape, an integer outside int64_t or a real
 *    number that overflows a double.
 * What it accepts gives the same tree as jansson's json_loadb(buf, len,
 * JSON_REJECT_DUPLICATES) after jsonscan_check (members in document order,
 * integers as integers, numbers with a fraction or exponent as reals), and
 * it refuses the same bodies (tests/fuzz/fuzz_jsonparse.c checks both). It
 * exists because it is several times faster: strings are copied in runs,
 * not byte by byte.
 * Returns the tree (the caller owns one reference), or NULL with *err
 * filled (err may be NULL).  Allocates through jansson's allocator.
 */
json_t *jsonparse(const char *buf, size_t len, unsigned max_depth,
        struct jsonparse_error *err);

#endif
