/* fuzz_auth.c - libFuzzer target: auth_check in bearer, basic and hmac-sha256 modes. */
#include "fuzzutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "log.h"

#define FUZZ_NOW        INT64_C(1700000000)
#define FUZZ_TOLERANCE  300
#define FUZZ_SIG_MAX    (AUTH_SIGNATURE_MAX + 64)

/* The HMAC key the harness signs with (first line of the hmac file), and
 * one it does not hold. */
static const unsigned char fuzz_key[32] = "fuzz-hmac-key-0123456789abcdefgh";
static const unsigned char fuzz_other_key[32] =
    "not-the-key-0123456789abcdefghij";

static struct auth *fuzz_bearer, *fuzz_basic, *fuzz_hmac;

/* Writes text to a private temporary file, loads it, removes the file. */
static struct auth *
fuzz_auth_load(enum auth_mode mode, const char *text)
{
	char path[] = "/tmp/cxb_fuzz_auth_XXXXXX";
	char err[512];
	struct auth *a;
	size_t len = strlen(text);
	int fd = mkstemp(path);

	if (fd == -1 || fchmod(fd, 0600) == -1 ||
	    write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "fuzz_auth: cannot write %s\n", path);
		exit(1);
	}
	close(fd);
	a = auth_new(mode, path, FUZZ_TOLERANCE, err, sizeof(err));
	unlink(path);
	if (a == NULL) {
		fprintf(stderr, "fuzz_auth: %s\n", err);
		exit(1);
	}
	return a;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char hmac_file[256];
	unsigned char b64[64];

	(void)argc;
	(void)argv;
	log_set_level(LOGL_ERROR);
	fuzz_bearer = fuzz_auth_load(AUTH_BEARER,
	    "# two tokens, as during a rotation\n"
	    "fuzz-bearer-token-0123456789abcdef\n"
	    "second.token_with~all+chars/ABCDEFGH==\n");
	fuzz_basic = fuzz_auth_load(AUTH_BASIC,
	    "cxone:correct horse battery staple\n"
	    "ops:pass:with:colons-and-length\n");
	EVP_EncodeBlock(b64, fuzz_key, (int)sizeof(fuzz_key));
	snprintf(hmac_file, sizeof(hmac_file), "whsec_%s\n"
	    "raw-second-key-of-enough-length\n", (const char *)b64);
	fuzz_hmac = fuzz_auth_load(AUTH_HMAC_SHA256, hmac_file);
	return 0;
}

/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into out (at least 48 bytes). */
static void
fuzz_sign(const unsigned char *key, const struct auth_request *r, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n = strlen(r->webhook_id) + strlen(r->webhook_timestamp) + 2 +
	    r->body_len;
	unsigned char *msg = malloc(n + 1);     /* sprintf's NUL */
	int off;

	FUZZ_CHECK(msg != NULL);
	off = sprintf((char *)msg, "%s.%s.", r->webhook_id,
	    r->webhook_timestamp);
	if (r->body_len > 0)
		memcpy(msg + off, r->body, r->body_len);
	FUZZ_CHECK(HMAC(EVP_sha256(), key, 32, msg, n, mac, &maclen) != NULL);
	free(msg);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
}

/*
 * The fuzzed headers with a signature the harness made put in front of the
 * fuzzed ones: signed with the right key the result may never be "bad
 * credentials" (the parse can still refuse the rest of the header); signed
 * with a key auth does not hold it may never be OK or STALE.
 */
static void
fuzz_hmac_signed(struct auth_request r, const unsigned char *key, int right)
{
	char sig[FUZZ_SIG_MAX];
	enum auth_result res;
	size_t n;

	if (r.webhook_id == NULL || r.webhook_timestamp == NULL)
		return;
	fuzz_sign(key, &r, sig);
	n = strlen(sig);
	if (r.webhook_signature != NULL && r.webhook_signature[0] != '\0')
		snprintf(sig + n, sizeof(sig) - n, " %s", r.webhook_signature);
	r.webhook_signature = sig;
	res = auth_check(fuzz_hmac, &r);
	if (right)
		FUZZ_CHECK(res != AUTH_BAD_CREDENTIALS);
	else
		FUZZ_CHECK(res != AUTH_OK && res != AUTH_STALE);
}

/*
 * Input: Authorization, webhook-id, webhook-timestamp and webhook-signature
 * lines (a header that is not there is NULL: an input of two lines has no
 * timestamp or signature), then the body, all bytes up to the end.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct auth_request r = { .now_s = FUZZ_NOW };
	enum auth_result res;

	fuzz_input_init(&in, data, size);
	r.authorization = fuzz_input_field(&in, '\n', NULL);
	r.webhook_id = fuzz_input_field(&in, '\n', NULL);
	r.webhook_timestamp = fuzz_input_field(&in, '\n', NULL);
	r.webhook_signature = fuzz_input_field(&in, '\n', NULL);
	r.body = fuzz_input_rest(&in, &r.body_len);
	if (r.body == NULL)
		goto out;

	/* STALE is for HMAC only. */
	res = auth_check(fuzz_bearer, &r);
	FUZZ_CHECK(res < AUTH_STALE);
	res = auth_check(fuzz_basic, &r);
	FUZZ_CHECK(res < AUTH_STALE);
	res = auth_check(fuzz_hmac, &r);
	FUZZ_CHECK(res <= AUTH_STALE);
	fuzz_hmac_signed(r, fuzz_key, 1);
	fuzz_hmac_signed(r, fuzz_other_key, 0);
out:
	fuzz_input_fini(&in);
	return 0;
}
