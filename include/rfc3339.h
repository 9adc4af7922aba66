/* rfc3339.h - strict RFC 3339 date-time parsing and UTC formatting. */
#ifndef CXB_RFC3339_H
#define CXB_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* Longest text rfc3339_parse accepts: 19 + ".123456789" + "+hh:mm". */
#define RFC3339_MAX_LEN 35

/* Room rfc3339_format_ms needs, including the NUL. */
#define RFC3339_FORMAT_SIZE 32

/*
 * Parses exactly len bytes of s (no NUL needed, nothing may precede or
 * follow) as an RFC 3339 date-time:
 *   YYYY-MM-DD "T" HH:MM:SS [ "." 1*9DIGIT ] ( "Z" / ("+" / "-") HH:MM )
 * "T" and "Z" may be lower case, as the RFC allows; no space in place of "T".
 * The day must exist in the proleptic Gregorian calendar (leap years
 * included), hour <= 23, minute <= 59, second <= 59: a leap second (60) is
 * refused, because no clock this daemon compares with can represent it.
 * Offset hour <= 23, minute <= 59; "-00:00" is accepted as UTC.  Fractions
 * are truncated (not rounded) to milliseconds.  The TZ environment is never
 * consulted.  Returns 0 and stores milliseconds since 1970-01-01T00:00:00Z
 * in *ms_since_epoch, or -1 (and leaves it alone) if the text is not valid.
 */
int  rfc3339_parse(const char *s, size_t len, int64_t *ms_since_epoch);

/*
 * Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters and a NUL) into out.
 * Instants before year 0000 or after 9999 are written with a minus sign or
 * more year digits; such text is not valid RFC 3339 and rfc3339_parse
 * refuses it.  Never fails.
 */
void rfc3339_format_ms(int64_t ms, char out[RFC3339_FORMAT_SIZE]);

#endif
