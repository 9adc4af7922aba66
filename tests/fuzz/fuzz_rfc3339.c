/* fuzz_rfc3339.c - libFuzzer target: rfc3339_parse, checked against timegm and a round trip. */
#include "fuzzutil.h"

#include <time.h>

#include "rfc3339.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* n decimal digits at s; the caller knows they are digits. */
static int
fuzz_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/*
 * An independent reading of text that rfc3339_parse accepted: the layout is
 * fixed up to the seconds, then an optional fraction, then Z or an offset.
 * glibc's timegm does the calendar arithmetic.
 */
static int64_t
fuzz_expected_ms(const char *s, size_t len)
{
	struct tm tm = { 0 };
	size_t i = 19;
	int64_t ms = 0, secs;
	int scale = 100;

	tm.tm_year = fuzz_digits(s, 4) - 1900;
	tm.tm_mon = fuzz_digits(s + 5, 2) - 1;
	tm.tm_mday = fuzz_digits(s + 8, 2);
	tm.tm_hour = fuzz_digits(s + 11, 2);
	tm.tm_min = fuzz_digits(s + 14, 2);
	tm.tm_sec = fuzz_digits(s + 17, 2);
	secs = (int64_t)timegm(&tm);
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			ms += (s[i] - '0') * scale;
			scale /= 10;
		}
	}
	if (s[i] == '+' || s[i] == '-') {
		int64_t off = fuzz_digits(s + i + 1, 2) * 3600 +
		    fuzz_digits(s + i + 4, 2) * 60;

		secs -= s[i] == '+' ? off : -off;
	}
	return secs * 1000 + ms;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	char again[RFC3339_FORMAT_SIZE];
	int64_t ms = INT64_MIN, ms2 = INT64_MIN;
	const char *s;
	size_t len;

	/* Exactly size bytes, no NUL: the parser must not read past them. */
	fuzz_input_init(&in, data, size);
	s = fuzz_input_rest(&in, &len);
	if (s == NULL)
		return 0;
	if (rfc3339_parse(s, len, &ms) != 0) {
		FUZZ_CHECK(ms == INT64_MIN);    /* "leaves it alone" */
		fuzz_input_fini(&in);
		return 0;
	}
	FUZZ_CHECK(len >= 20 && len <= RFC3339_MAX_LEN);
	FUZZ_CHECK(ms == fuzz_expected_ms(s, len));

	/* Formatting gives back the same instant, for years 0000..9999: the
	 * only ones written as RFC 3339 (an offset can move "0000-01-01" into
	 * year -1, written "-001-12-31..."). */
	rfc3339_format_ms(ms, again);
	FUZZ_CHECK(strlen(again) < RFC3339_FORMAT_SIZE);
	if (strlen(again) == 24 && again[0] != '-') {
		FUZZ_CHECK(rfc3339_parse(again, 24, &ms2) == 0);
		FUZZ_CHECK(ms2 == ms);
	}
	fuzz_input_fini(&in);
	return 0;
}
