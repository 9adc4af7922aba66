/* jsonscan.h - one pass over a body before parsing: strict UTF-8, nesting depth. */
#ifndef CXB_JSONSCAN_H
#define CXB_JSONSCAN_H

#include <stddef.h>

enum jsonscan_kind {
	JSONSCAN_OK = 0,
	JSONSCAN_BAD_UTF8,       /* overlong, surrogate, > U+10FFFF, stray or
	                          * truncated sequence, or a byte never valid */
	JSONSCAN_TOO_DEEP,       /* more [ and { open than max_depth */
	JSONSCAN_NUL             /* a raw 0x00 byte, never valid in JSON */
};

struct jsonscan_error {
	enum jsonscan_kind kind;
	size_t             offset;   /* byte offset of the first byte of the bad
	                              * UTF-8 sequence, or of the [ or { that went
	                              * one level too deep */
};

/*
 * Scans len bytes of buf once (O(len), no allocation, no NUL needed) so that
 * hostile input is refused before jansson builds anything from it:
 *  - every byte sequence must be well-formed UTF-8 (RFC 3629): no overlong
 *    forms, no surrogates U+D800-U+DFFF, nothing above U+10FFFF, no
 *    continuation byte without a lead, no sequence cut short;
 *  - [ and { outside strings may nest at most max_depth deep (0 allows no
 *    container at all).  Strings are tracked with their backslash escapes, so
 *    brackets inside "..." do not count.
 * It is not a JSON validator: unbalanced or otherwise malformed text passes if
 * it breaks neither rule, and is left for the parser to refuse.
 * Returns 0, or -1 with *err filled (err may be NULL) for the first problem.
 */
int jsonscan_check(const char *buf, size_t len, unsigned max_depth,
        struct jsonscan_error *err);

/*
 * Length (2-4) of the well-formed UTF-8 sequence that starts at p[0], a byte
 * >= 0x80 with avail bytes readable from p; 0 if it is not one (the rules
 * above).  Shared with jsonparse, which checks strings as it goes.
 */
size_t jsonscan_utf8_len(const unsigned char *p, size_t avail);

#endif
