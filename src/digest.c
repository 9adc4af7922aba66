/* digest.c - SHA-256 and HMAC-SHA256, with OpenSSL's algorithms fetched once. */
#include "digest.h"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>

/* Fetched on first use and kept for the life of the process. */
static EVP_MD         *digest_md;
static EVP_MAC_CTX    *digest_hmac_template;   /* HMAC with SHA-256 set */
static pthread_once_t  digest_once = PTHREAD_ONCE_INIT;

static void
digest_fetch(void)
{
	char name[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac;

	digest_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return;
	digest_hmac_template = EVP_MAC_CTX_new(mac);
	/* The context holds its own reference to the algorithm. */
	EVP_MAC_free(mac);
	if (digest_hmac_template != NULL &&
	    EVP_MAC_CTX_set_params(digest_hmac_template, params) != 1) {
		EVP_MAC_CTX_free(digest_hmac_template);
		digest_hmac_template = NULL;
	}
}

int
digest_sha256(const void *data, size_t len,
    unsigned char out[DIGEST_SHA256_LEN])
{
	unsigned int n = 0;

	pthread_once(&digest_once, digest_fetch);
	if (digest_md == NULL ||
	    EVP_Digest(data, len, out, &n, digest_md, NULL) != 1 ||
	    n != DIGEST_SHA256_LEN)
		return -1;
	return 0;
}

EVP_MAC_CTX *
digest_hmac_sha256_new(void)
{
	pthread_once(&digest_once, digest_fetch);
	if (digest_hmac_template == NULL)
		return NULL;
	return EVP_MAC_CTX_dup(digest_hmac_template);
}

int
digest_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
	EVP_MAC_CTX *ctx = digest_hmac_sha256_new();
	size_t n = 0;
	int rc = -1;

	if (ctx == NULL)
		return -1;
	if (EVP_MAC_init(ctx, key, keylen, NULL) == 1 &&
	    EVP_MAC_update(ctx, msg, len) == 1 &&
	    EVP_MAC_final(ctx, out, &n, DIGEST_SHA256_LEN) == 1 &&
	    n == DIGEST_SHA256_LEN)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	return rc;
}
