/* test_digest.c - unit tests for SHA-256 and HMAC-SHA256 with fetched algorithms. */
#include "testutil.h"

#include "digest.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void
hex(const unsigned char *d, char out[2 * DIGEST_SHA256_LEN + 1])
{
	for (int i = 0; i < DIGEST_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* FIPS 180-2 appendix B.1 and the empty message. */
static void
test_sha256_vectors(void **state)
{
	unsigned char d[DIGEST_SHA256_LEN];
	char h[2 * DIGEST_SHA256_LEN + 1];

	(void)state;
	assert_int_equal(digest_sha256("abc", 3, d), 0);
	hex(d, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(digest_sha256("", 0, d), 0);
	hex(d, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 test cases 1 and 2. */
static void
test_hmac_vectors(void **state)
{
	unsigned char key1[20], d[DIGEST_SHA256_LEN];
	char h[2 * DIGEST_SHA256_LEN + 1];

	(void)state;
	memset(key1, 0x0b, sizeof(key1));
	assert_int_equal(digest_hmac_sha256(key1, sizeof(key1), "Hi There", 8,
	    d), 0);
	hex(d, h);
	assert_string_equal(h, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(digest_hmac_sha256("Jefe", 4,
	    "what do ya want for nothing?", 28, d), 0);
	hex(d, h);
	assert_string_equal(h, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}

/* A context from digest_hmac_sha256_new takes a key and nothing else, and
 * can be re-keyed: the streaming use in auth.c. */
static void
test_hmac_context_rekeyed(void **state)
{
	EVP_MAC_CTX *ctx = digest_hmac_sha256_new();
	unsigned char d[DIGEST_SHA256_LEN], want[DIGEST_SHA256_LEN];
	size_t n = 0;

	(void)state;
	assert_non_null(ctx);
	for (int round = 0; round < 2; round++) {
		const char *key = round == 0 ? "Jefe" : "another key";

		assert_int_equal(EVP_MAC_init(ctx, (const unsigned char *)key,
		    strlen(key), NULL), 1);
		assert_int_equal(EVP_MAC_update(ctx,
		    (const unsigned char *)"what do ya ", 11), 1);
		assert_int_equal(EVP_MAC_update(ctx,
		    (const unsigned char *)"want for nothing?", 17), 1);
		assert_int_equal(EVP_MAC_final(ctx, d, &n, sizeof(d)), 1);
		assert_int_equal(n, DIGEST_SHA256_LEN);
		assert_int_equal(digest_hmac_sha256(key, strlen(key),
		    "what do ya want for nothing?", 28, want), 0);
		assert_memory_equal(d, want, sizeof(d));
	}
	EVP_MAC_CTX_free(ctx);
}

static void *
thread_hash(void *arg)
{
	int *bad = arg;
	unsigned char d[DIGEST_SHA256_LEN], ref[DIGEST_SHA256_LEN];

	if (digest_sha256("abc", 3, ref) != 0)
		(*bad)++;
	for (int i = 0; i < 2000; i++) {
		if (digest_hmac_sha256("k", 1, "m", 1, d) != 0 ||
		    digest_sha256("abc", 3, d) != 0 || memcmp(d, ref, sizeof(d)))
			(*bad)++;
	}
	return NULL;
}

/* The first use from several threads at once fetches exactly once. */
static void
test_threads(void **state)
{
	pthread_t t[4];
	int bad[4] = { 0 };

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_hash,
		    &bad[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(bad[i], 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_hmac_vectors),
		cmocka_unit_test(test_hmac_context_rekeyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
