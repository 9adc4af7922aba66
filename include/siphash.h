/* siphash.h - keyed hashing for tables whose keys come from the network. */
#ifndef CXB_SIPHASH_H
#define CXB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* A random 128-bit key, so senders, who choose the keys, cannot aim them at
 * one chain. */
struct siphash_key {
	uint64_t k0, k1;
};

/* From getrandom without blocking; early in boot the pool may not be ready,
 * and a key from the clocks, the pid and salt is still better than a daemon
 * that hangs. */
void     siphash_seed(struct siphash_key *key, const void *salt);

/* SipHash-1-3 of len bytes. */
uint64_t siphash13(const struct siphash_key *key, const void *data, size_t len);

#endif
