/* test_auth.c - unit tests for webhook authentication (bearer, basic, hmac-sha256). */
#include "testutil.h"

#include "auth.h"
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TOL      300
#define NOW      1700000000
#define NOW_S    "1700000000"
#define BODY     "{\"id\":\"5b3a0f7e-8c1d-4e2a-9f60-1d2c3b4a5e6f\"}"
#define TMPL     "/tmp/cxb_test_auth_XXXXXX"

/* ---- helpers ---------------------------------------------------------- */

static void
write_file(char path[64], const void *data, size_t len, mode_t mode)
{
	int fd;

	snprintf(path, 64, "%s", TMPL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Loads text as a secret file; err gets the message on failure. */
static struct auth *
load_err(enum auth_mode mode, const char *text, char *err, size_t errlen)
{
	char path[64];
	struct auth *a;

	write_file(path, text, strlen(text), 0600);
	a = auth_new(mode, path, TOL, err, errlen);
	unlink(path);
	return a;
}

static struct auth *
load(enum auth_mode mode, const char *text)
{
	char err[256] = "";
	struct auth *a = load_err(mode, text, err, sizeof(err));

	if (a == NULL)
		fail_msg("auth_new: %s", err);
	return a;
}

static enum auth_result
check_authz(const struct auth *a, const char *authorization)
{
	struct auth_request r = { .authorization = authorization, .now_s = NOW };

	return auth_check(a, &r);
}

static void
b64(const void *data, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

/* "Basic " + base64(cred) into out (at least 16 + 4/3 strlen(cred)). */
static void
basic_header(const char *cred, char *out)
{
	strcpy(out, "Basic ");
	b64(cred, strlen(cred), out + 6);
}

/* Independent Standard Webhooks signature: HMAC() over the concatenated
 * "<id>.<ts>.<body>", base64.  out: at least 45 bytes. */
static void
sign(const void *key, size_t keylen, const char *id, const char *ts,
    const void *body, size_t body_len, char *out)
{
	size_t il = strlen(id), tl = strlen(ts), n = il + tl + 2 + body_len;
	unsigned char *msg = malloc(n + 1), mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	assert_non_null(msg);
	memcpy(msg, id, il);
	msg[il] = '.';
	memcpy(msg + il + 1, ts, tl);
	msg[il + 1 + tl] = '.';
	if (body_len > 0)
		memcpy(msg + il + tl + 2, body, body_len);
	assert_non_null(HMAC(EVP_sha256(), key, (int)keylen, msg, n, mac, &maclen));
	assert_int_equal(maclen, 32);
	b64(mac, maclen, out);
	free(msg);
}

/* "v1,<sig>" for the default id/ts/body. */
static void
sign_v1(const void *key, size_t keylen, const char *ts, char *out)
{
	memcpy(out, "v1,", 3);
	sign(key, keylen, "msg_1", ts, BODY, strlen(BODY), out + 3);
}

static enum auth_result
check_hmac(const struct auth *a, const char *id, const char *ts,
    const char *sig, const char *body, int64_t now)
{
	struct auth_request r = {
		.webhook_id = id, .webhook_timestamp = ts, .webhook_signature = sig,
		.body = body, .body_len = body == NULL ? 0 : strlen(body), .now_s = now,
	};

	return auth_check(a, &r);
}

static const unsigned char key32[32] = {
	0x3a, 0x91, 0x0c, 0x5e, 0x77, 0x12, 0xfe, 0x08, 0x4d, 0xb3, 0x60, 0x2f,
	0x9e, 0x01, 0xc4, 0x58, 0x13, 0xaa, 0x7b, 0xe6, 0x29, 0x90, 0x45, 0xd1,
	0x6f, 0x3c, 0x88, 0x0b, 0xf2, 0x57, 0x1e, 0xc9,
};
#define RAWKEY "a raw signing key, not base64 0123"

static struct auth *
load_whsec(void)
{
	char line[128] = "whsec_";

	b64(key32, sizeof(key32), line + 6);
	strcat(line, "\n");
	return load(AUTH_HMAC_SHA256, line);
}

/* ---- none ------------------------------------------------------------- */

static void
test_none(void **state)
{
	char err[128];
	struct auth *a;

	(void)state;
	a = auth_new(AUTH_NONE, NULL, TOL, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(auth_secret_count(a), 0);
	assert_int_equal(check_authz(a, NULL), AUTH_OK);
	auth_free(a);
	auth_free(NULL);
	assert_int_equal(auth_secret_count(NULL), 0);
	/* A missing object fails closed. */
	assert_int_equal(check_authz(NULL, "Bearer x"), AUTH_BAD_CREDENTIALS);
}

static void
test_new_errors(void **state)
{
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_null(auth_new(AUTH_BEARER, NULL, TOL, err, sizeof(err)));
	assert_true(err[0] != '\0');
	assert_null(auth_new((enum auth_mode)42, "/dev/null", TOL, err, sizeof(err)));
	assert_null(auth_new(AUTH_BEARER, "/nonexistent/cxb-secrets", TOL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/cxb-secrets"));
	assert_null(auth_new(AUTH_BEARER, "/tmp", TOL, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
	/* err may be omitted. */
	assert_null(auth_new(AUTH_BEARER, "/nonexistent/x", TOL, NULL, 0));
}

/* ---- bearer ----------------------------------------------------------- */

static void
test_bearer(void **state)
{
	struct auth *a = load(AUTH_BEARER, "tok-alpha-0123456789_~+/.=\n");

	(void)state;
	assert_int_equal(auth_secret_count(a), 1);
	/* good; the scheme is case-insensitive, 1*SP and trailing blanks ok */
	assert_int_equal(check_authz(a, "Bearer tok-alpha-0123456789_~+/.="), AUTH_OK);
	assert_int_equal(check_authz(a, "bearer tok-alpha-0123456789_~+/.="), AUTH_OK);
	assert_int_equal(check_authz(a, "BEARER   tok-alpha-0123456789_~+/.= "), AUTH_OK);
	/* missing */
	assert_int_equal(check_authz(a, NULL), AUTH_MISSING);
	assert_int_equal(check_authz(a, ""), AUTH_MISSING);
	assert_int_equal(check_authz(a, "  "), AUTH_MISSING);
	/* malformed */
	assert_int_equal(check_authz(a, "Bearer"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearer "), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearertok-alpha"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearer\ttok-alpha-0123456789_~+/.="), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Basic dG9rOng="), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Digest tok-alpha-0123456789_~+/.="), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearex tok-alpha-0123456789_~+/.="), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearer tok-alpha-0123456789_~+/.= x"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearer tok!alpha"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearer =abc"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Bearer ab=c"), AUTH_MALFORMED);
	/* wrong: other token, a prefix, an extension */
	assert_int_equal(check_authz(a, "Bearer tok-beta-0123456789"), AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_authz(a, "Bearer tok-alpha-0123456789_~+/."), AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_authz(a, "Bearer tok-alpha-0123456789_~+/.=="), AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_authz(a, "Bearer TOK-alpha-0123456789_~+/.="), AUTH_BAD_CREDENTIALS);
	auth_free(a);
}

static void
test_bearer_rotation(void **state)
{
	struct auth *a = load(AUTH_BEARER,
	    "old-token-aaaaaaaaaaaaaaaa\nnew-token-bbbbbbbbbbbbbbbb\n");

	(void)state;
	assert_int_equal(auth_secret_count(a), 2);
	assert_int_equal(check_authz(a, "Bearer old-token-aaaaaaaaaaaaaaaa"), AUTH_OK);
	assert_int_equal(check_authz(a, "Bearer new-token-bbbbbbbbbbbbbbbb"), AUTH_OK);
	auth_free(a);
	/* The old one retired: only the new one works. */
	a = load(AUTH_BEARER, "new-token-bbbbbbbbbbbbbbbb\n");
	assert_int_equal(check_authz(a, "Bearer old-token-aaaaaaaaaaaaaaaa"),
	    AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_authz(a, "Bearer new-token-bbbbbbbbbbbbbbbb"), AUTH_OK);
	auth_free(a);
}

/* ---- basic ------------------------------------------------------------ */

static void
test_basic(void **state)
{
	struct auth *a = load(AUTH_BASIC,
	    "alice:correct horse battery\nbob:pa:ss:word-with-colons\n");
	char h[256];

	(void)state;
	assert_int_equal(auth_secret_count(a), 2);
	basic_header("alice:correct horse battery", h);
	assert_int_equal(check_authz(a, h), AUTH_OK);
	h[0] = 'b';
	assert_int_equal(check_authz(a, h), AUTH_OK);          /* scheme case */
	basic_header("bob:pa:ss:word-with-colons", h);          /* second secret */
	assert_int_equal(check_authz(a, h), AUTH_OK);
	/* missing */
	assert_int_equal(check_authz(a, NULL), AUTH_MISSING);
	assert_int_equal(check_authz(a, ""), AUTH_MISSING);
	/* malformed: bad base64 in its several ways, no colon, wrong scheme */
	assert_int_equal(check_authz(a, "Basic"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Basic !!!!"), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Basic YWxpY2U6eA"), AUTH_MALFORMED);   /* unpadded */
	assert_int_equal(check_authz(a, "Basic YWxp Y2U6"), AUTH_MALFORMED);    /* blank inside */
	assert_int_equal(check_authz(a, "Basic YR=="), AUTH_MALFORMED);        /* unused bits set */
	/* the good "bob:..." pair, but with a non-zero unused bit before the
	 * padding (Python's lenient b64decode accepts it; we do not) */
	assert_int_equal(check_authz(a, "Basic Ym9iOnBhOnNzOndvcmQtd2l0aC1jb2xvbnM="), AUTH_OK);
	assert_int_equal(check_authz(a, "Basic Ym9iOnBhOnNzOndvcmQtd2l0aC1jb2xvbnN="),
	    AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Token Ym9iOnBhOnNzOndvcmQtd2l0aC1jb2xvbnM="),
	    AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Basic YWJj=ZGVm"), AUTH_MALFORMED);   /* = inside */
	assert_int_equal(check_authz(a, "Basic ===="), AUTH_MALFORMED);
	assert_int_equal(check_authz(a, "Basic YWxpY2U="), AUTH_MALFORMED);    /* "alice", no colon */
	assert_int_equal(check_authz(a, "Bearer YWxpY2U6eA=="), AUTH_MALFORMED);
	/* wrong */
	basic_header("alice:correct horse batterY", h);
	assert_int_equal(check_authz(a, h), AUTH_BAD_CREDENTIALS);
	basic_header("alice:pa:ss:word-with-colons", h);       /* mixed pair */
	assert_int_equal(check_authz(a, h), AUTH_BAD_CREDENTIALS);
	basic_header("alice:", h);
	assert_int_equal(check_authz(a, h), AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_authz(a, "Basic YWxpY2U6eA=="), AUTH_BAD_CREDENTIALS); /* alice:x */
	auth_free(a);
}

static void
test_basic_rotation(void **state)
{
	struct auth *a = load(AUTH_BASIC, "svc:first-password-1111\n");
	char h[256];

	(void)state;
	basic_header("svc:second-password-2222", h);
	assert_int_equal(check_authz(a, h), AUTH_BAD_CREDENTIALS);
	auth_free(a);
	a = load(AUTH_BASIC, "svc:first-password-1111\nsvc:second-password-2222\n");
	assert_int_equal(check_authz(a, h), AUTH_OK);
	basic_header("svc:first-password-1111", h);
	assert_int_equal(check_authz(a, h), AUTH_OK);
	auth_free(a);
}

/* ---- hmac-sha256 ------------------------------------------------------ */

static void
test_hmac_whsec_key(void **state)
{
	struct auth *a = load_whsec();
	char sig[64], line[128] = "whsec_";

	(void)state;
	sign_v1(key32, sizeof(key32), NOW_S, sig);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, BODY, NOW), AUTH_OK);
	/* The key is the decoded bytes, not the "whsec_..." text. */
	b64(key32, sizeof(key32), line + 6);
	sign_v1(line, strlen(line), NOW_S, sig);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	auth_free(a);
}

static void
test_hmac_raw_key(void **state)
{
	struct auth *a = load(AUTH_HMAC_SHA256, RAWKEY "\r\n");
	char sig[64];

	(void)state;
	sign_v1(RAWKEY, strlen(RAWKEY), NOW_S, sig);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, BODY, NOW), AUTH_OK);
	/* The CR was trimmed: signing with it included must fail. */
	sign_v1(RAWKEY "\r", strlen(RAWKEY) + 1, NOW_S, sig);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	/* An empty body is signed as "<id>.<ts>." */
	memcpy(sig, "v1,", 3);
	sign(RAWKEY, strlen(RAWKEY), "msg_1", NOW_S, "", 0, sig + 3);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, NULL, NOW), AUTH_OK);
	auth_free(a);
}

static void
test_hmac_missing_malformed(void **state)
{
	struct auth *a = load_whsec();
	char sig[64], bad[64];

	(void)state;
	sign_v1(key32, sizeof(key32), NOW_S, sig);
	assert_int_equal(check_hmac(a, NULL, NOW_S, sig, BODY, NOW), AUTH_MISSING);
	assert_int_equal(check_hmac(a, "msg_1", NULL, sig, BODY, NOW), AUTH_MISSING);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, NULL, BODY, NOW), AUTH_MISSING);
	assert_int_equal(check_hmac(a, "", NOW_S, sig, BODY, NOW), AUTH_MISSING);
	assert_int_equal(check_hmac(a, "msg_1", "", sig, BODY, NOW), AUTH_MISSING);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, "", BODY, NOW), AUTH_MISSING);
	/* timestamps: integer seconds only, at most 18 digits */
	assert_int_equal(check_hmac(a, "msg_1", "17e8", sig, BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", "-1700000000", sig, BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", "+1700000000", sig, BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", " 1700000000", sig, BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", "1700000000.5", sig, BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", "1234567890123456789", sig, BODY, NOW),
	    AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg\x01", NOW_S, sig, BODY, NOW), AUTH_MALFORMED);
	/* signature header syntax */
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, "v1", BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, ",abcd", BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, "v1,", BODY, NOW), AUTH_MALFORMED);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, "v1,!!!!", BODY, NOW), AUTH_MALFORMED);
	/* 31 bytes: right syntax, wrong length for HMAC-SHA256 */
	strcpy(bad, "v1,");
	b64(key32, 31, bad + 3);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, bad, BODY, NOW), AUTH_MALFORMED);
	/* well formed but wrong, or no v1 entry at all */
	strcpy(bad, "v1,");
	b64(key32, 32, bad + 3);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, bad, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, "v2,whatever", BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	/* the signature, labelled with another version, is ignored */
	memcpy(sig, "v2", 2);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	auth_free(a);
}

static void
test_hmac_window(void **state)
{
	struct auth *a = load_whsec();
	char sig[64], ts[32], bad[64];

	(void)state;
	snprintf(ts, sizeof(ts), "%d", NOW + TOL);
	sign_v1(key32, sizeof(key32), ts, sig);
	assert_int_equal(check_hmac(a, "msg_1", ts, sig, BODY, NOW), AUTH_OK);
	snprintf(ts, sizeof(ts), "%d", NOW + TOL + 1);
	sign_v1(key32, sizeof(key32), ts, sig);
	assert_int_equal(check_hmac(a, "msg_1", ts, sig, BODY, NOW), AUTH_STALE);
	snprintf(ts, sizeof(ts), "%d", NOW - TOL);
	sign_v1(key32, sizeof(key32), ts, sig);
	assert_int_equal(check_hmac(a, "msg_1", ts, sig, BODY, NOW), AUTH_OK);
	snprintf(ts, sizeof(ts), "%d", NOW - TOL - 1);
	sign_v1(key32, sizeof(key32), ts, sig);
	assert_int_equal(check_hmac(a, "msg_1", ts, sig, BODY, NOW), AUTH_STALE);
	/* A stale forgery is reported as a forgery, not as stale. */
	sign_v1(RAWKEY, strlen(RAWKEY), ts, bad);
	assert_int_equal(check_hmac(a, "msg_1", ts, bad, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	/* Extreme clocks do not overflow the distance. */
	sign_v1(key32, sizeof(key32), "999999999999999999", sig);
	assert_int_equal(check_hmac(a, "msg_1", "999999999999999999", sig, BODY,
	    INT64_MIN), AUTH_STALE);
	sign_v1(key32, sizeof(key32), "0", sig);
	assert_int_equal(check_hmac(a, "msg_1", "0", sig, BODY, INT64_MAX), AUTH_STALE);
	assert_int_equal(check_hmac(a, "msg_1", "0", sig, BODY, TOL), AUTH_OK);
	auth_free(a);
}

static void
test_hmac_tamper(void **state)
{
	struct auth *a = load_whsec();
	char sig[64], body[] = BODY;

	(void)state;
	sign_v1(key32, sizeof(key32), NOW_S, sig);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, body, NOW), AUTH_OK);
	body[10] ^= 1;
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, body, NOW),
	    AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_hmac(a, "msg_2", NOW_S, sig, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	assert_int_equal(check_hmac(a, "msg_1", "1700000001", sig, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	/* one flipped bit in the signature */
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	auth_free(a);
}

static void
test_hmac_multiple_signatures(void **state)
{
	struct auth *a = load_whsec();
	char good[64], wrong[64], h[4200];

	(void)state;
	sign_v1(key32, sizeof(key32), NOW_S, good);
	sign_v1(RAWKEY, strlen(RAWKEY), NOW_S, wrong);
	snprintf(h, sizeof(h), "%s %s", wrong, good);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_OK);
	snprintf(h, sizeof(h), "%s %s", good, wrong);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_OK);
	snprintf(h, sizeof(h), "v1a,c29tZSBvdGhlciBzY2hlbWU=  %s ", good);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_OK);
	snprintf(h, sizeof(h), "%s %s", wrong, wrong);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	/* a malformed entry spoils the header even beside a good one */
	snprintf(h, sizeof(h), "%s garbage", good);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_MALFORMED);
	/* at most AUTH_MAX_SIGNATURES v1 entries */
	h[0] = '\0';
	for (int i = 0; i < AUTH_MAX_SIGNATURES - 1; i++)
		snprintf(h + strlen(h), sizeof(h) - strlen(h), "%s ", wrong);
	snprintf(h + strlen(h), sizeof(h) - strlen(h), "%s", good);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_OK);
	snprintf(h + strlen(h), sizeof(h) - strlen(h), " %s", wrong);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_MALFORMED);
	auth_free(a);
}

static void
test_hmac_rotation(void **state)
{
	char text[256] = "whsec_", sig_old[64], sig_new[64], h[160];
	struct auth *a;

	(void)state;
	b64(key32, sizeof(key32), text + 6);
	strcat(text, "\n" RAWKEY "\n");
	a = load(AUTH_HMAC_SHA256, text);
	assert_int_equal(auth_secret_count(a), 2);
	sign_v1(key32, sizeof(key32), NOW_S, sig_old);
	sign_v1(RAWKEY, strlen(RAWKEY), NOW_S, sig_new);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig_old, BODY, NOW), AUTH_OK);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig_new, BODY, NOW), AUTH_OK);
	auth_free(a);
	/* the sender signs with both during the change-over */
	a = load(AUTH_HMAC_SHA256, RAWKEY "\n");
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, sig_old, BODY, NOW),
	    AUTH_BAD_CREDENTIALS);
	snprintf(h, sizeof(h), "%s %s", sig_old, sig_new);
	assert_int_equal(check_hmac(a, "msg_1", NOW_S, h, BODY, NOW), AUTH_OK);
	auth_free(a);
}

/*
 * Known-answer vector for the Standard Webhooks scheme, computed outside
 * this code base:
 *   key  = "cxbridge known-answer key 2024!!" (32 bytes)
 *        = whsec_Y3hicmlkZ2Uga25vd24tYW5zd2VyIGtleSAyMDI0ISE=
 *   printf '%s' 'msg_kat_0001.1700000000.{"id":"9f1c2a4e-0b7d-4c55-9a3e-
 *     2f6d8b1e7c40","eventType":"routing:queued"}' |   (one line, no break)
 *     openssl dgst -sha256 -hmac 'cxbridge known-answer key 2024!!' -binary |
 *     base64
 *   => QlZ2YE3G/uHCmpA8mGVrC2ZSi/jL1WTLYcmJwKZ3N/Q=
 * (python3 hmac.new(key, msg, hashlib.sha256) gives the same.)
 */
static void
test_hmac_known_answer(void **state)
{
	const char *body = "{\"id\":\"9f1c2a4e-0b7d-4c55-9a3e-2f6d8b1e7c40\","
	    "\"eventType\":\"routing:queued\"}";
	const char *sig = "v1,QlZ2YE3G/uHCmpA8mGVrC2ZSi/jL1WTLYcmJwKZ3N/Q=";
	struct auth *a = load(AUTH_HMAC_SHA256,
	    "whsec_Y3hicmlkZ2Uga25vd24tYW5zd2VyIGtleSAyMDI0ISE=\n");
	struct auth *raw = load(AUTH_HMAC_SHA256,
	    "cxbridge known-answer key 2024!!\n");

	(void)state;
	assert_int_equal(check_hmac(a, "msg_kat_0001", "1700000000", sig, body,
	    1700000000), AUTH_OK);
	assert_int_equal(check_hmac(raw, "msg_kat_0001", "1700000000", sig, body,
	    1700000100), AUTH_OK);
	assert_int_equal(check_hmac(a, "msg_kat_0002", "1700000000", sig, body,
	    1700000000), AUTH_BAD_CREDENTIALS);
	auth_free(a);
	auth_free(raw);
}

/* ---- caps ------------------------------------------------------------- */

static void
test_oversize_headers(void **state)
{
	struct auth *b = load(AUTH_BEARER, "tok-alpha-0123456789\n");
	struct auth *h = load_whsec();
	static char big[AUTH_SIGNATURE_MAX + 2];
	char id[AUTH_ID_MAX + 2], sig[64];

	(void)state;
	memcpy(big, "Bearer ", 7);
	memset(big + 7, 'a', AUTH_AUTHORIZATION_MAX - 7);
	big[AUTH_AUTHORIZATION_MAX] = '\0';
	assert_int_equal(check_authz(b, big), AUTH_BAD_CREDENTIALS);
	strcat(big, "a");
	assert_int_equal(check_authz(b, big), AUTH_MALFORMED);

	/* a signature header one byte over the cap, good signature inside */
	sign_v1(key32, sizeof(key32), NOW_S, sig);
	memset(big, ' ', AUTH_SIGNATURE_MAX + 1);
	memcpy(big, sig, strlen(sig));
	big[AUTH_SIGNATURE_MAX] = '\0';
	assert_int_equal(check_hmac(h, "msg_1", NOW_S, big, BODY, NOW), AUTH_OK);
	big[AUTH_SIGNATURE_MAX] = ' ';
	big[AUTH_SIGNATURE_MAX + 1] = '\0';
	assert_int_equal(check_hmac(h, "msg_1", NOW_S, big, BODY, NOW), AUTH_MALFORMED);

	/* id of exactly the cap signs fine; one more byte is refused */
	memset(id, 'i', AUTH_ID_MAX);
	id[AUTH_ID_MAX] = '\0';
	memcpy(sig, "v1,", 3);
	sign(key32, sizeof(key32), id, NOW_S, BODY, strlen(BODY), sig + 3);
	assert_int_equal(check_hmac(h, id, NOW_S, sig, BODY, NOW), AUTH_OK);
	id[AUTH_ID_MAX] = 'i';
	id[AUTH_ID_MAX + 1] = '\0';
	sign(key32, sizeof(key32), id, NOW_S, BODY, strlen(BODY), sig + 3);
	assert_int_equal(check_hmac(h, id, NOW_S, sig, BODY, NOW), AUTH_MALFORMED);
	auth_free(b);
	auth_free(h);
}

/* ---- secret file ------------------------------------------------------ */

static void
test_file_format(void **state)
{
	struct auth *a = load(AUTH_BEARER,
	    "# production tokens\n"
	    "\n"
	    "   \t\n"
	    "  # indented comment\n"
	    "first-token-1111111111\r\n"
	    "#second-token-retired-2222222222\n"
	    "third-token-3333333333 \t\r\n"
	    "last-token-no-newline-4444");

	(void)state;
	assert_int_equal(auth_secret_count(a), 3);
	assert_int_equal(check_authz(a, "Bearer first-token-1111111111"), AUTH_OK);
	assert_int_equal(check_authz(a, "Bearer third-token-3333333333"), AUTH_OK);
	assert_int_equal(check_authz(a, "Bearer last-token-no-newline-4444"), AUTH_OK);
	assert_int_equal(check_authz(a, "Bearer second-token-retired-2222222222"),
	    AUTH_BAD_CREDENTIALS);
	auth_free(a);
}

static void
test_file_errors(void **state)
{
	char err[256];

	(void)state;
	assert_null(load_err(AUTH_BEARER, "", err, sizeof(err)));
	assert_non_null(strstr(err, "no secrets"));
	assert_non_null(strstr(err, "/tmp/cxb_test_auth_"));
	assert_null(load_err(AUTH_BEARER, "# only\n\n# comments\r\n", err, sizeof(err)));
	assert_non_null(strstr(err, "no secrets"));
	/* each message names the line and never holds the secret */
	assert_null(load_err(AUTH_BEARER, "# c\nok-token-1234567890\nnot a token\n",
	    err, sizeof(err)));
	assert_non_null(strstr(err, ":3: "));
	assert_null(strstr(err, "not a token"));
	assert_null(load_err(AUTH_BASIC, "nocolonsecretvalue\n", err, sizeof(err)));
	assert_non_null(strstr(err, ":1: "));
	assert_null(strstr(err, "nocolonsecretvalue"));
	assert_null(load_err(AUTH_BASIC, "user:\n", err, sizeof(err)));
	assert_non_null(strstr(err, "empty password"));
	assert_null(load_err(AUTH_BASIC, ":password-only-here\n", err, sizeof(err)));
	assert_null(load_err(AUTH_BASIC, "user:pass\x01word-long-enough\n", err,
	    sizeof(err)));
	assert_null(load_err(AUTH_HMAC_SHA256, "whsec_c2VjcmV0\nwhsec_c2VjcmV0!!\n",
	    err, sizeof(err)));
	assert_non_null(strstr(err, ":2: "));
	assert_null(strstr(err, "c2VjcmV0"));
	assert_null(load_err(AUTH_HMAC_SHA256, "whsec_\n", err, sizeof(err)));
	assert_null(load_err(AUTH_BEARER, " leading-blank-token-123\n", err,
	    sizeof(err)));
	assert_non_null(strstr(err, ":1: leading whitespace"));
	assert_null(strstr(err, "leading-blank-token"));
}

static void
test_file_nul(void **state)
{
	static const char text[] = "good-token-1234567890\nbad\0token-1234567890\n";
	char path[64], err[256];

	(void)state;
	write_file(path, text, sizeof(text) - 1, 0600);
	assert_null(auth_new(AUTH_HMAC_SHA256, path, TOL, err, sizeof(err)));
	unlink(path);
	assert_non_null(strstr(err, ":2: NUL byte"));
}

/* n lines "<prefix><i, zero-padded to width><suffix>\n"; width <= 61. */
static char *
repeat_lines(const char *prefix, int width, const char *suffix, int n)
{
	char *buf = malloc((size_t)n * 128 + 1);

	assert_non_null(buf);
	buf[0] = '\0';
	for (int i = 0, off = 0; i < n; i++)
		off += sprintf(buf + off, "%s%0*d%s\n", prefix, width, i, suffix);
	return buf;
}

static void
test_file_caps(void **state)
{
	char err[256], *text;
	struct auth *a;
	char line[AUTH_SECRET_MAX + 3], h[AUTH_SECRET_MAX + 16];

	(void)state;
	text = repeat_lines("token-number-", 4, "-abcdef", AUTH_MAX_SECRETS);
	a = load(AUTH_BEARER, text);
	assert_int_equal(auth_secret_count(a), AUTH_MAX_SECRETS);
	assert_int_equal(check_authz(a, "Bearer token-number-0031-abcdef"), AUTH_OK);
	auth_free(a);
	free(text);
	text = repeat_lines("token-number-", 4, "-abcdef", AUTH_MAX_SECRETS + 1);
	assert_null(load_err(AUTH_BEARER, text, err, sizeof(err)));
	assert_non_null(strstr(err, ":33: more than 32 secrets"));
	free(text);

	/* a line of exactly the cap loads; one byte more is refused */
	memset(line, 'k', AUTH_SECRET_MAX);
	strcpy(line + AUTH_SECRET_MAX, "\n");
	a = load(AUTH_BEARER, line);
	snprintf(h, sizeof(h), "Bearer %.*s", AUTH_SECRET_MAX, line);
	assert_int_equal(check_authz(a, h), AUTH_OK);
	auth_free(a);
	strcpy(line + AUTH_SECRET_MAX, "k\n");
	assert_null(load_err(AUTH_BEARER, line, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: longer than 1024 bytes"));

	/* file size: 64 KiB of comments plus one token is too big */
	text = repeat_lines("# ", 61, "", AUTH_FILE_MAX / 64);
	assert_int_equal(strlen(text), AUTH_FILE_MAX);
	assert_null(load_err(AUTH_BEARER, text, err, sizeof(err)));
	assert_non_null(strstr(err, "no secrets"));
	strcat(text, "x");
	assert_null(load_err(AUTH_BEARER, text, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than 65536 bytes"));
	free(text);
}

/* Reads back what the logger wrote to fd. */
static void
read_log(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
}

static void
test_file_mode_warning(void **state)
{
	char path[64], logpath[64], out[4096], err[256];
	int logfd;
	struct auth *a;

	(void)state;
	write_file(logpath, "", 0, 0600);
	logfd = open(logpath, O_RDWR | O_APPEND);
	assert_true(logfd >= 0);
	unlink(logpath);
	log_set_fd(logfd);

	write_file(path, "shared-token-abcdefghij\n", 24, 0644);
	a = auth_new(AUTH_BEARER, path, TOL, err, sizeof(err));
	assert_non_null(a);
	auth_free(a);
	read_log(logfd, out, sizeof(out));
	assert_non_null(strstr(out, "accessible by group or others"));
	assert_non_null(strstr(out, path));
	assert_null(strstr(out, "shared-token"));
	unlink(path);

	assert_int_equal(ftruncate(logfd, 0), 0);
	write_file(path, "shared-token-abcdefghij\nshort\n", 30, 0600);
	a = auth_new(AUTH_BEARER, path, TOL, err, sizeof(err));
	assert_non_null(a);
	auth_free(a);
	read_log(logfd, out, sizeof(out));
	assert_null(strstr(out, "accessible by group"));
	assert_non_null(strstr(out, ":2: secret is shorter than 16 bytes"));
	assert_null(strstr(out, "short\""));
	unlink(path);

	log_set_fd(-1);
	close(logfd);
}

/* ---- misc ------------------------------------------------------------- */

static void
test_result_names(void **state)
{
	(void)state;
	assert_string_equal(auth_result_name(AUTH_OK), "ok");
	assert_string_equal(auth_result_name(AUTH_MISSING), "missing");
	assert_string_equal(auth_result_name(AUTH_MALFORMED), "malformed");
	assert_string_equal(auth_result_name(AUTH_BAD_CREDENTIALS), "bad_credentials");
	assert_string_equal(auth_result_name(AUTH_STALE), "stale");
	assert_string_equal(auth_result_name((enum auth_result)99), "unknown");
}

struct thread_arg {
	const struct auth *a;
	const char *good;
	const char *wrong;
	int failures;
};

static void *
thread_main(void *p)
{
	struct thread_arg *t = p;

	for (int i = 0; i < 300; i++) {
		if (check_hmac(t->a, "msg_1", NOW_S, t->good, BODY, NOW) != AUTH_OK)
			t->failures++;
		if (check_hmac(t->a, "msg_1", NOW_S, t->wrong, BODY, NOW) !=
		    AUTH_BAD_CREDENTIALS)
			t->failures++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct auth *a = load_whsec();
	char good[64], wrong[64];
	struct thread_arg args[4];
	pthread_t th[4];

	(void)state;
	sign_v1(key32, sizeof(key32), NOW_S, good);
	sign_v1(RAWKEY, strlen(RAWKEY), NOW_S, wrong);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ a, good, wrong, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	auth_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_bearer_rotation),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_basic_rotation),
		cmocka_unit_test(test_hmac_whsec_key),
		cmocka_unit_test(test_hmac_raw_key),
		cmocka_unit_test(test_hmac_missing_malformed),
		cmocka_unit_test(test_hmac_window),
		cmocka_unit_test(test_hmac_tamper),
		cmocka_unit_test(test_hmac_multiple_signatures),
		cmocka_unit_test(test_hmac_rotation),
		cmocka_unit_test(test_hmac_known_answer),
		cmocka_unit_test(test_oversize_headers),
		cmocka_unit_test(test_file_format),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_nul),
		cmocka_unit_test(test_file_caps),
		cmocka_unit_test(test_file_mode_warning),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
