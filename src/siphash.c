/* siphash.c - keyed hashing for tables whose keys come from the network. */
#include "siphash.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void
siphash_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

uint64_t
siphash13(const struct siphash_key *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v[4], m, b = (uint64_t)len << 56;

	v[0] = key->k0 ^ 0x736f6d6570736575ULL;
	v[1] = key->k1 ^ 0x646f72616e646f6dULL;
	v[2] = key->k0 ^ 0x6c7967656e657261ULL;
	v[3] = key->k1 ^ 0x7465646279746573ULL;
	for (; len >= 8; p += 8, len -= 8) {
		m = 0;
		for (int i = 7; i >= 0; i--)
			m = (m << 8) | p[i];
		v[3] ^= m;
		siphash_round(v);
		v[0] ^= m;
	}
	for (size_t i = 0; i < len; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v[3] ^= b;
	siphash_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int i = 0; i < 3; i++)
		siphash_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void
siphash_seed(struct siphash_key *key, const void *salt)
{
	uint64_t k[2];
	struct timespec ts;

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		k[0] = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[1] = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^
		    (uint64_t)(uintptr_t)salt;
	}
	key->k0 = k[0];
	key->k1 = k[1];
}
