/* rfc3339.c - strict RFC 3339 date-time parsing and UTC formatting. */
#include "rfc3339.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RFC3339_MIN_LEN 20        /* YYYY-MM-DDTHH:MM:SSZ */
#define RFC3339_FRAC_MAX 9

/* Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar. */
#define RFC3339_EPOCH_SHIFT 719468
#define RFC3339_DAYS_PER_ERA 146097   /* 400 years */

static bool
rfc3339_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
rfc3339_month_days(int64_t y, int m)
{
	static const unsigned char days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && rfc3339_leap(y))
		return 29;
	return days[m - 1];
}

static int64_t
rfc3339_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * Counting years from March puts the leap day last, so the day of the year
 * follows from the month by a fixed linear formula, and a 400-year era
 * always has the same number of days.  No libc time code is used: mktime
 * and friends depend on TZ and on the width of time_t.
 */
static int64_t
rfc3339_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	int mp = m > 2 ? m - 3 : m + 9;     /* March = 0 */

	if (m <= 2)
		y--;
	era = rfc3339_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * mp + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * RFC3339_DAYS_PER_ERA + doe - RFC3339_EPOCH_SHIFT;
}

static void
rfc3339_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + RFC3339_EPOCH_SHIFT;
	int64_t era = rfc3339_floor_div(z, RFC3339_DAYS_PER_ERA);
	int64_t doe = z - era * RFC3339_DAYS_PER_ERA;
	/* The corrections undo the leap days of a 4-, 100- and 400-year span. */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

/* Reads exactly n ASCII digits; -1 if any is not a digit. */
static int
rfc3339_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Parses the part after the seconds: fraction and offset.  Returns the
 * offset east of UTC in seconds and the milliseconds, or -1. */
static int
rfc3339_tail(const char *s, size_t len, int *frac_ms, int *offset_s)
{
	size_t i = 0;
	int hh, mm;

	*frac_ms = 0;
	if (i < len && s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > RFC3339_FRAC_MAX)
			return -1;
		for (size_t k = 0; k < 3; k++) {
			size_t p = start + k;
			*frac_ms = *frac_ms * 10 + (p < i ? s[p] - '0' : 0);
		}
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
		*offset_s = 0;
		return 0;
	}
	if (i + 6 != len || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
		return -1;
	hh = rfc3339_digits(s + i + 1, 2);
	mm = rfc3339_digits(s + i + 4, 2);
	if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
		return -1;
	*offset_s = (hh * 3600 + mm * 60) * (s[i] == '-' ? -1 : 1);
	return 0;
}

int
rfc3339_parse(const char *s, size_t len, int64_t *ms_since_epoch)
{
	int y, mo, d, h, mi, sec, frac, off;
	int64_t days, secs;

	if (s == NULL || len < RFC3339_MIN_LEN || len > RFC3339_MAX_LEN)
		return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	y = rfc3339_digits(s, 4);
	mo = rfc3339_digits(s + 5, 2);
	d = rfc3339_digits(s + 8, 2);
	h = rfc3339_digits(s + 11, 2);
	mi = rfc3339_digits(s + 14, 2);
	sec = rfc3339_digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 ||
	    d > rfc3339_month_days(y, mo) || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || sec < 0 || sec > 59)
		return -1;
	if (rfc3339_tail(s + 19, len - 19, &frac, &off) != 0)
		return -1;
	days = rfc3339_days_from_civil(y, mo, d);
	secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec - off;
	*ms_since_epoch = secs * 1000 + frac;
	return 0;
}

void
rfc3339_format_ms(int64_t ms, char out[RFC3339_FORMAT_SIZE])
{
	int64_t secs = rfc3339_floor_div(ms, 1000);
	int64_t msec = ms % 1000;
	int64_t days = rfc3339_floor_div(secs, 86400);
	int64_t sod = secs - days * 86400;
	int64_t y;
	int m, d, n;
	char text[64];

	rfc3339_civil_from_days(days, &y, &m, &d);
	/* The widest year (about -292 million) still fits in out; the local
	 * buffer only spares the compiler from proving that. */
	n = snprintf(text, sizeof(text),
	    "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
	    (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
	    (int)(msec < 0 ? msec + 1000 : msec));
	if (n < 0 || n >= RFC3339_FORMAT_SIZE)
		n = 0;
	memcpy(out, text, (size_t)n);
	out[n] = '\0';
}
