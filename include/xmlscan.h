/* xmlscan.h - pulls one element's text out of a small XML answer (AWS Query protocol, STS). */
#ifndef CXB_XMLSCAN_H
#define CXB_XMLSCAN_H

#include <stddef.h>

/* Caps: a longer document, a deeper nesting or a longer element name is
 * refused as malformed.  STS answers are about 2 KiB, 5 levels deep. */
#define XMLSCAN_MAX_INPUT ((size_t)64 * 1024)
#define XMLSCAN_MAX_DEPTH 16
#define XMLSCAN_NAME_MAX  64

/*
 * Finds the first element whose path from the document's root is `path`
 * (local names joined by "/", e.g. "ErrorResponse/Error/Code"; namespace
 * prefixes and attributes are ignored) and copies its text into out
 * (outlen bytes, NUL-terminated): the five predefined entities and
 * numeric character references are decoded, CDATA is kept as is, and
 * leading and trailing ASCII whitespace is dropped.  No DTD is read: a
 * DOCTYPE or any other entity is refused.  Pure: no allocation, no I/O.
 * The whole document is read and must be well formed (tags balanced),
 * also after the match.  Returns 0 (found), 1 (no such element), or -1
 * (malformed or truncated, over a cap, the element holds child elements,
 * or its text, counted before the surrounding whitespace is dropped, does
 * not fit outlen).  out is "" unless 0.
 */
int xmlscan_text(const char *xml, size_t len, const char *path, char *out,
    size_t outlen);

#endif
