/* dedupe_bench.c - memory and speed of the dedupe table holding a million delivered ids. */
/*
 *   dedupe_bench [KEYS] [CAPACITY]      (defaults 1000000 and 1000000)
 *
 * Claims and commits KEYS distinct uuid-shaped ids (36 bytes, as the
 * default /id key carries) in a table built as the daemon builds it with
 * [dedupe] capacity = CAPACITY and ttl_s = 3600, so nothing expires during
 * the run.  Reports the process's VmRSS before and after, the table's own
 * accounting (dedupe_memory, which leaves out malloc's per-block overhead),
 * its size and evictions, and the cost of one claim + commit.  Prints one
 * line of key=value pairs for bench/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dedupe.h"

#define BENCH_KEYS_MAX 100000000UL

/* VmRSS or VmHWM of this process in KiB, or 0 if /proc cannot say. */
static unsigned long
bench_status_kib(const char *field)
{
	char line[256];
	unsigned long kib = 0;
	size_t flen = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kib = strtoul(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* Distinct ids in the uuid shape: the counter in the last group and a
 * multiplicative mix of it in the second, so neighbouring keys differ in
 * more than their tail.  The table hashes the whole key either way. */
static int
bench_fill(struct dedupe *d, unsigned long keys, unsigned long *full)
{
	char key[40];
	uint64_t now = 1000;

	for (unsigned long i = 0; i < keys; i++) {
		int n = snprintf(key, sizeof(key),
		    "9b2f61c4-%04lx-4a7e-8c1d-%012lx", (i * 2654435761UL) & 0xffff, i);
		enum dedupe_state st = dedupe_claim(d, key, (size_t)n, now, NULL);

		if (st == DEDUPE_FULL) {
			(*full)++;
			continue;
		}
		if (st != DEDUPE_NEW) {
			fprintf(stderr, "dedupe_bench: key %lu not new (%d)\n", i,
			    (int)st);
			return -1;
		}
		dedupe_commit(d, key, (size_t)n, now);
		if ((i & 1023) == 0)
			now++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long keys = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000UL;
	unsigned long cap = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000UL;
	unsigned long rss0, rss1, hwm, full = 0;
	struct dedupe *d;
	uint64_t t0, t1;

	if (keys == 0 || keys > BENCH_KEYS_MAX || cap == 0 ||
	    cap > DEDUPE_CAPACITY_MAX) {
		fprintf(stderr, "usage: dedupe_bench [KEYS] [CAPACITY]\n");
		return 2;
	}
	rss0 = bench_status_kib("VmRSS");
	d = dedupe_new(cap, 3600);
	if (d == NULL) {
		perror("dedupe_new");
		return 1;
	}
	t0 = clock_mono_us();
	if (bench_fill(d, keys, &full) != 0) {
		dedupe_free(d);
		return 1;
	}
	t1 = clock_mono_us();
	rss1 = bench_status_kib("VmRSS");
	hwm = bench_status_kib("VmHWM");
	printf("dedupe_keys=%lu dedupe_capacity=%lu dedupe_size=%zu "
	    "dedupe_evictions=%llu dedupe_full=%lu dedupe_memory_kib=%zu "
	    "rss_before_kib=%lu rss_after_kib=%lu hwm_kib=%lu "
	    "ns_per_claim_commit=%.0f\n",
	    keys, cap, dedupe_size(d), (unsigned long long)dedupe_evictions(d),
	    full, dedupe_memory(d) / 1024, rss0, rss1, hwm,
	    (double)(t1 - t0) * 1000.0 / (double)keys);
	dedupe_free(d);
	return 0;
}
