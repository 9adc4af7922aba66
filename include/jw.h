/* jw.h - JSON text written into a buffer with a hard size cap. */
#ifndef CXB_JW_H
#define CXB_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A writer of JSON text.  Once a write fails (the cap, or memory), every
 * later write is a no-op and jw_finish reports the failure, so builders
 * check once at the end.  The text is always NUL-terminated.
 */
struct jw {
	char   *buf;
	size_t  len;
	size_t  cap;      /* bytes in buf */
	size_t  max;      /* the text plus its NUL never needs more */
	bool    fixed;    /* buf is the caller's: never grown, never freed */
	bool    err;
};

/* A heap buffer that grows as needed up to max bytes (NUL included). */
void jw_init(struct jw *w, size_t max);

/* The caller's buffer of size bytes (size > 0); nothing is allocated. */
void jw_init_fixed(struct jw *w, char *buf, size_t size);

/* Marks w failed, as a write that did not fit does. */
void jw_fail(struct jw *w);

void jw_raw(struct jw *w, const char *s, size_t n);
void jw_lit(struct jw *w, const char *s);

/*
 * A JSON string.  Bytes that are not UTF-8 become U+FFFD, so the output
 * always is; control characters, '"', '\\' and U+FFFE / U+FFFF are
 * escaped (SQS refuses the last two raw, and a PutEvents body may end up
 * in a DLQ message).
 */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_str(struct jw *w, const char *s);

/* "key": after a ',' unless *first (which it then clears). */
void jw_key(struct jw *w, int *first, const char *key);
/* A string member; nothing at all when val is NULL. */
void jw_member(struct jw *w, int *first, const char *key, const char *val);

/*
 * Copies JSON text that a parser accepted, dropping whitespace outside
 * strings and escaping U+FFFE / U+FFFF.  Numbers keep their exact digits.
 */
void jw_compact(struct jw *w, const char *text);

/*
 * jw_init: hands the text (and its length, if len is not NULL) to the
 * caller, who frees it; NULL if any write failed (the buffer is freed).
 * jw_init_fixed: the caller's buffer, or NULL if any write failed.
 */
char *jw_finish(struct jw *w, size_t *len);

/* Length of the well-formed UTF-8 sequence at p (left bytes available)
 * with its code point in *cp, or 0 if the bytes there are not UTF-8. */
size_t jw_utf8_decode(const unsigned char *p, size_t left, uint32_t *cp);

#endif
