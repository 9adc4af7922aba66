/* digest.h - SHA-256 and HMAC-SHA256, with OpenSSL's algorithms fetched once. */
#ifndef CXB_DIGEST_H
#define CXB_DIGEST_H

#include <openssl/evp.h>
#include <stddef.h>

#define DIGEST_SHA256_LEN 32

/*
 * OpenSSL 3 looks an algorithm up by name (EVP_MD_fetch, with locks and
 * string copies) every time EVP_sha256() or HMAC() is used: under load that
 * cost more than hashing a webhook's bearer token.  These functions fetch
 * SHA-256 and HMAC once per process and reuse them; they are safe to call
 * from any thread.
 */

/* SHA-256 of len bytes into out.  0, or -1 if OpenSSL failed. */
int digest_sha256(const void *data, size_t len,
        unsigned char out[DIGEST_SHA256_LEN]);

/* HMAC-SHA256 of msg under key into out.  0 or -1. */
int digest_hmac_sha256(const void *key, size_t keylen, const void *msg,
        size_t len, unsigned char out[DIGEST_SHA256_LEN]);

/*
 * A new HMAC context with its digest already SHA-256: give it a key with
 * EVP_MAC_init(ctx, key, keylen, NULL), feed it, and free it with
 * EVP_MAC_CTX_free.  NULL if OpenSSL failed.
 */
EVP_MAC_CTX *digest_hmac_sha256_new(void);

#endif
