/* auth.c - webhook authentication: bearer tokens, basic, HMAC-SHA256 signatures. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "digest.h"
#include "log.h"

#define AUTH_DIGEST_LEN   32          /* SHA-256 and HMAC-SHA256 output */
#define AUTH_SHORT_SECRET 16          /* below this a secret is guessable */
#define AUTH_WHSEC        "whsec_"
#define AUTH_WHSEC_LEN    (sizeof(AUTH_WHSEC) - 1)

/*
 * Bearer and basic credentials are kept only as SHA-256 digests: comparing
 * fixed-size digests hides the length of the stored token, and the token
 * itself is not needed after loading.  HMAC keys must be kept as they are.
 */
struct auth_secret {
	size_t        key_len;
	unsigned char key[AUTH_SECRET_MAX];
	unsigned char digest[AUTH_DIGEST_LEN];
};

/* One allocation holds every secret, so auth_free wipes them in one go. */
struct auth {
	enum auth_mode     mode;
	unsigned           tolerance_s;
	size_t             n;
	struct auth_secret secrets[AUTH_MAX_SECRETS];
};


static void auth_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
auth_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 base64: standard alphabet, padded to a multiple of four,
 * no whitespace, and the unused bits of the last group zero (so each byte
 * string has exactly one accepted encoding).  Returns 0 with *outlen set,
 * or -1 if the input is not such base64, is empty, or decodes to more than
 * outcap bytes.
 */
static int
auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t outcap,
    size_t *outlen)
{
	size_t pad = 0, o = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > outcap)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		size_t q = i + 4 == len ? pad : 0;
		int v[4] = { 0, 0, 0, 0 };
		unsigned long w;

		for (size_t k = 0; k < 4 - q; k++) {
			v[k] = auth_b64_value((unsigned char)in[i + k]);
			if (v[k] < 0)
				return -1;
		}
		if ((q == 1 && (v[2] & 0x3) != 0) || (q == 2 && (v[1] & 0xf) != 0))
			return -1;
		w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)v[2] << 6 | (unsigned long)v[3];
		out[o++] = (unsigned char)(w >> 16);
		if (q < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (q < 1)
			out[o++] = (unsigned char)w;
	}
	*outlen = o;
	return 0;
}

/* RFC 7235 token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool
auth_token68(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (auth_b64_value((unsigned char)s[i]) >= 0 ||
	    s[i] == '-' || s[i] == '.' || s[i] == '_' || s[i] == '~'))
		i++;
	if (i == 0)
		return false;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

static int
auth_sha256(const void *data, size_t len, unsigned char out[AUTH_DIGEST_LEN])
{
	return digest_sha256(data, len, out);
}

/* Compares against every stored digest, never stopping early. */
static enum auth_result
auth_match_digest(const struct auth *a, const unsigned char d[AUTH_DIGEST_LEN])
{
	int match = 0;

	for (size_t i = 0; i < a->n; i++)
		match |= CRYPTO_memcmp(d, a->secrets[i].digest, AUTH_DIGEST_LEN) == 0;
	return match ? AUTH_OK : AUTH_BAD_CREDENTIALS;
}

/* ---- secret file ---------------------------------------------------- */

static void
auth_warn_short(const char *file, unsigned line, size_t len)
{
	if (len < AUTH_SHORT_SECRET)
		log_warnx("%s:%u: secret is shorter than %d bytes and easy to guess",
		    file, line, AUTH_SHORT_SECRET);
}

static int
auth_add_bearer(struct auth_secret *s, const char *file, unsigned line,
    const char *p, size_t len, char *err, size_t errlen)
{
	if (!auth_token68(p, len)) {
		auth_err(err, errlen, "%s:%u: not a bearer token (only the RFC 6750 "
		    "characters A-Z a-z 0-9 - . _ ~ + / and trailing =)", file, line);
		return -1;
	}
	auth_warn_short(file, line, len);
	return auth_sha256(p, len, s->digest);
}

static int
auth_add_basic(struct auth_secret *s, const char *file, unsigned line,
    const char *p, size_t len, char *err, size_t errlen)
{
	const char *colon = memchr(p, ':', len);

	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			auth_err(err, errlen, "%s:%u: control character", file, line);
			return -1;
		}
	}
	if (colon == NULL || colon == p) {
		auth_err(err, errlen, "%s:%u: expected user:password", file, line);
		return -1;
	}
	if ((size_t)(colon - p) + 1 == len) {
		auth_err(err, errlen, "%s:%u: empty password", file, line);
		return -1;
	}
	auth_warn_short(file, line, len - (size_t)(colon - p) - 1);
	return auth_sha256(p, len, s->digest);
}

static int
auth_add_hmac(struct auth_secret *s, const char *file, unsigned line,
    const char *p, size_t len, char *err, size_t errlen)
{
	if (len >= AUTH_WHSEC_LEN && memcmp(p, AUTH_WHSEC, AUTH_WHSEC_LEN) == 0) {
		if (auth_b64_decode(p + AUTH_WHSEC_LEN, len - AUTH_WHSEC_LEN, s->key,
		    sizeof(s->key), &s->key_len) == -1) {
			auth_err(err, errlen, "%s:%u: whsec_ secret is not valid "
			    "padded base64", file, line);
			return -1;
		}
	} else {
		memcpy(s->key, p, len);
		s->key_len = len;
	}
	auth_warn_short(file, line, s->key_len);
	return 0;
}

/* Adds one secret line (trimmed, non-empty, not a comment). */
static int
auth_add_line(struct auth *a, const char *file, unsigned line, const char *p,
    size_t len, char *err, size_t errlen)
{
	struct auth_secret *s;
	int rc = -1;

	if (a->n == AUTH_MAX_SECRETS) {
		auth_err(err, errlen, "%s:%u: more than %d secrets", file, line,
		    AUTH_MAX_SECRETS);
		return -1;
	}
	s = &a->secrets[a->n];
	if (a->mode == AUTH_BEARER)
		rc = auth_add_bearer(s, file, line, p, len, err, errlen);
	else if (a->mode == AUTH_BASIC)
		rc = auth_add_basic(s, file, line, p, len, err, errlen);
	else if (a->mode == AUTH_HMAC_SHA256)
		rc = auth_add_hmac(s, file, line, p, len, err, errlen);
	if (rc == -1) {
		if (err != NULL && errlen > 0 && err[0] == '\0')
			auth_err(err, errlen, "%s:%u: cannot hash secret", file, line);
		OPENSSL_cleanse(s, sizeof(*s));
		return -1;
	}
	a->n++;
	return 0;
}

static void
auth_check_mode(const char *file, const struct stat *st)
{
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0)
		log_warnx("%s: secret file is accessible by group or others "
		    "(mode %04o); make it 0600 or 0400", file,
		    (unsigned)(st->st_mode & 07777));
}

/* Reads the whole file into *buf (NUL-terminated, AUTH_FILE_MAX + 1 bytes,
 * to be wiped by the caller). */
static int
auth_read_file(const char *file, char **buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	size_t n = 0;
	int fd;

	*buf = NULL;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		auth_err(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		auth_err(err, errlen, "%s: not a regular file", file);
		goto fail;
	}
	auth_check_mode(file, &st);
	*buf = malloc(AUTH_FILE_MAX + 1);
	if (*buf == NULL) {
		auth_err(err, errlen, "%s: out of memory", file);
		goto fail;
	}
	/* Read one byte past the cap, so an over-size file is caught even
	 * when st_size is wrong or the file grows while read. */
	while (n <= (size_t)AUTH_FILE_MAX) {
		ssize_t r = read(fd, *buf + n, AUTH_FILE_MAX + 1 - n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			auth_err(err, errlen, "%s: %s", file, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > (size_t)AUTH_FILE_MAX) {
		auth_err(err, errlen, "%s: larger than %d bytes", file, AUTH_FILE_MAX);
		goto fail;
	}
	(*buf)[n] = '\0';
	*len = n;
	close(fd);
	return 0;
fail:
	if (*buf != NULL) {
		OPENSSL_cleanse(*buf, AUTH_FILE_MAX + 1);
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return -1;
}

static bool
auth_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Checks one raw line and adds it unless it is blank or a comment. */
static int
auth_parse_line(struct auth *a, const char *file, unsigned line, const char *p,
    size_t len, char *err, size_t errlen)
{
	size_t lead = 0;

	if (memchr(p, '\0', len) != NULL) {
		auth_err(err, errlen, "%s:%u: NUL byte", file, line);
		return -1;
	}
	while (len > 0 && auth_blank(p[len - 1]))
		len--;
	while (lead < len && auth_blank(p[lead]))
		lead++;
	if (lead == len || p[lead] == '#')
		return 0;
	/* A secret that starts with a blank is almost always an editing slip
	 * that would never match; say so instead of loading it. */
	if (lead > 0) {
		auth_err(err, errlen, "%s:%u: leading whitespace", file, line);
		return -1;
	}
	if (len > AUTH_SECRET_MAX) {
		auth_err(err, errlen, "%s:%u: longer than %d bytes", file, line,
		    AUTH_SECRET_MAX);
		return -1;
	}
	return auth_add_line(a, file, line, p, len, err, errlen);
}

static int
auth_load(struct auth *a, const char *file, char *err, size_t errlen)
{
	char *buf;
	size_t len, off = 0;
	unsigned line = 0;
	int rc = 0;

	if (auth_read_file(file, &buf, &len, err, errlen) == -1)
		return -1;
	while (off < len && rc == 0) {
		const char *p = buf + off;
		const char *nl = memchr(p, '\n', len - off);
		size_t n = nl == NULL ? len - off : (size_t)(nl - p);

		line++;
		rc = auth_parse_line(a, file, line, p, n, err, errlen);
		off += n + 1;
	}
	OPENSSL_cleanse(buf, AUTH_FILE_MAX + 1);
	free(buf);
	if (rc == 0 && a->n == 0) {
		auth_err(err, errlen, "%s: no secrets", file);
		rc = -1;
	}
	return rc;
}

/* ---- public: lifetime ----------------------------------------------- */

struct auth *
auth_new(enum auth_mode mode, const char *secret_file, unsigned hmac_tolerance_s,
    char *err, size_t errlen)
{
	struct auth *a;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (mode != AUTH_NONE && mode != AUTH_BEARER && mode != AUTH_BASIC &&
	    mode != AUTH_HMAC_SHA256) {
		auth_err(err, errlen, "unknown authentication mode %d", (int)mode);
		return NULL;
	}
	if (mode != AUTH_NONE && (secret_file == NULL || secret_file[0] == '\0')) {
		auth_err(err, errlen, "no secret file for the authentication mode");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		auth_err(err, errlen, "out of memory");
		return NULL;
	}
	a->mode = mode;
	a->tolerance_s = hmac_tolerance_s;
	if (mode == AUTH_NONE)
		return a;
	if (mode == AUTH_HMAC_SHA256) {
		EVP_MAC_CTX *probe = digest_hmac_sha256_new();

		if (probe == NULL) {
			auth_err(err, errlen, "%s: HMAC is not available in OpenSSL",
			    secret_file);
			goto fail;
		}
		EVP_MAC_CTX_free(probe);
	}
	if (auth_load(a, secret_file, err, errlen) == -1)
		goto fail;
	return a;
fail:
	auth_free(a);
	return NULL;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

size_t
auth_secret_count(const struct auth *a)
{
	return a == NULL ? 0 : a->n;
}

const char *
auth_result_name(enum auth_result result)
{
	switch (result) {
	case AUTH_OK:
		return "ok";
	case AUTH_MISSING:
		return "missing";
	case AUTH_MALFORMED:
		return "malformed";
	case AUTH_BAD_CREDENTIALS:
		return "bad_credentials";
	case AUTH_STALE:
		return "stale";
	}
	return "unknown";
}

/* ---- public: checking ----------------------------------------------- */

static bool
auth_ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* Splits "<scheme> 1*SP <credentials>" (RFC 7235; the scheme is matched
 * without regard to case, trailing blanks are dropped). */
static enum auth_result
auth_split_scheme(const char *h, const char *scheme, const char **cred,
    size_t *cred_len)
{
	size_t sl = strlen(scheme), len, i;

	if (h == NULL)
		return AUTH_MISSING;
	len = strnlen(h, AUTH_AUTHORIZATION_MAX + 1);
	if (len > AUTH_AUTHORIZATION_MAX)
		return AUTH_MALFORMED;
	while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	if (len == 0)
		return AUTH_MISSING;
	if (len <= sl || !auth_ascii_caseeq(h, scheme, sl) || h[sl] != ' ')
		return AUTH_MALFORMED;
	for (i = sl; i < len && h[i] == ' '; i++)
		;
	if (i == len)
		return AUTH_MALFORMED;
	*cred = h + i;
	*cred_len = len - i;
	return AUTH_OK;
}

static enum auth_result
auth_check_bearer(const struct auth *a, const char *h)
{
	unsigned char d[AUTH_DIGEST_LEN];
	const char *tok;
	size_t len;
	enum auth_result res = auth_split_scheme(h, "Bearer", &tok, &len);

	if (res != AUTH_OK)
		return res;
	if (!auth_token68(tok, len))
		return AUTH_MALFORMED;
	if (auth_sha256(tok, len, d) == -1)
		return AUTH_BAD_CREDENTIALS;
	return auth_match_digest(a, d);
}

static enum auth_result
auth_check_basic(const struct auth *a, const char *h)
{
	unsigned char buf[AUTH_AUTHORIZATION_MAX], d[AUTH_DIGEST_LEN];
	const char *b64;
	size_t len, n = 0;
	enum auth_result res = auth_split_scheme(h, "Basic", &b64, &len);

	if (res != AUTH_OK)
		return res;
	if (auth_b64_decode(b64, len, buf, sizeof(buf), &n) == -1 ||
	    memchr(buf, ':', n) == NULL)
		res = AUTH_MALFORMED;
	else if (auth_sha256(buf, n, d) == -1)
		res = AUTH_BAD_CREDENTIALS;
	else
		res = auth_match_digest(a, d);
	/* A wrong password is often a near-miss of the right one. */
	OPENSSL_cleanse(buf, sizeof(buf));
	return res;
}

/* 1..AUTH_TIMESTAMP_MAX decimal digits, nothing else: fits int64_t. */
static int
auth_parse_timestamp(const char *s, int64_t *out)
{
	size_t len = strnlen(s, AUTH_TIMESTAMP_MAX + 1);
	int64_t v = 0;

	if (len == 0 || len > AUTH_TIMESTAMP_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
auth_parse_id(const char *s, size_t *len)
{
	*len = strnlen(s, AUTH_ID_MAX + 1);
	if (*len > AUTH_ID_MAX)
		return -1;
	for (size_t i = 0; i < *len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return -1;
	}
	return 0;
}

/* Collects the v1 signatures of "v1,<b64> v2,<...> ..."; entries of other
 * versions are skipped, a malformed v1 entry spoils the whole header. */
static enum auth_result
auth_parse_signatures(const char *h, unsigned char sigs[][AUTH_DIGEST_LEN],
    size_t *nsig)
{
	size_t len = strnlen(h, AUTH_SIGNATURE_MAX + 1), i = 0;

	*nsig = 0;
	if (len > AUTH_SIGNATURE_MAX)
		return AUTH_MALFORMED;
	while (i < len) {
		const char *tok, *comma;
		size_t tl, n;

		while (i < len && h[i] == ' ')
			i++;
		if (i == len)
			break;
		tok = h + i;
		for (tl = 0; i < len && h[i] != ' '; i++, tl++)
			;
		comma = memchr(tok, ',', tl);
		if (comma == NULL || comma == tok)
			return AUTH_MALFORMED;
		if (comma - tok != 2 || memcmp(tok, "v1", 2) != 0)
			continue;
		if (*nsig == AUTH_MAX_SIGNATURES)
			return AUTH_MALFORMED;
		if (auth_b64_decode(comma + 1, tl - 3, sigs[*nsig], AUTH_DIGEST_LEN,
		    &n) == -1 || n != AUTH_DIGEST_LEN)
			return AUTH_MALFORMED;
		(*nsig)++;
	}
	return AUTH_OK;
}

static int
auth_hmac_one(EVP_MAC_CTX *ctx, const struct auth_secret *s,
    const struct auth_request *r, size_t id_len, unsigned char out[AUTH_DIGEST_LEN])
{
	size_t outl = 0;

	/* The context's digest is SHA-256 already (digest_hmac_sha256_new). */
	if (EVP_MAC_init(ctx, s->key, s->key_len, NULL) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)r->webhook_id, id_len) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)r->webhook_timestamp,
	    strlen(r->webhook_timestamp)) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) != 1)
		return -1;
	if (r->body_len > 0 && EVP_MAC_update(ctx, r->body, r->body_len) != 1)
		return -1;
	if (EVP_MAC_final(ctx, out, &outl, AUTH_DIGEST_LEN) != 1 ||
	    outl != AUTH_DIGEST_LEN)
		return -1;
	return 0;
}

/* Every secret's MAC against every presented signature, never stopping
 * early, so the time taken does not depend on which (if any) matched. */
static enum auth_result
auth_verify_hmac(const struct auth *a, const struct auth_request *r,
    size_t id_len, unsigned char sigs[][AUTH_DIGEST_LEN], size_t nsig)
{
	unsigned char mac[AUTH_DIGEST_LEN];
	EVP_MAC_CTX *ctx = digest_hmac_sha256_new();
	int match = 0;

	if (ctx == NULL) {
		log_warnx("%s: cannot allocate an HMAC context", __func__);
		return AUTH_BAD_CREDENTIALS;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (auth_hmac_one(ctx, &a->secrets[i], r, id_len, mac) == -1) {
			log_warnx("%s: HMAC computation failed", __func__);
			EVP_MAC_CTX_free(ctx);
			return AUTH_BAD_CREDENTIALS;
		}
		for (size_t j = 0; j < nsig; j++)
			match |= CRYPTO_memcmp(mac, sigs[j], AUTH_DIGEST_LEN) == 0;
	}
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(mac, sizeof(mac));
	return match ? AUTH_OK : AUTH_BAD_CREDENTIALS;
}

static bool
auth_fresh(int64_t ts, int64_t now, unsigned tolerance_s)
{
	/* Unsigned difference: cannot overflow whatever the two values are. */
	uint64_t d = ts >= now ? (uint64_t)ts - (uint64_t)now :
	    (uint64_t)now - (uint64_t)ts;

	return d <= tolerance_s;
}

static bool
auth_empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static enum auth_result
auth_check_hmac(const struct auth *a, const struct auth_request *r)
{
	unsigned char sigs[AUTH_MAX_SIGNATURES][AUTH_DIGEST_LEN];
	size_t id_len, nsig;
	int64_t ts;
	enum auth_result res;

	if (auth_empty(r->webhook_id) || auth_empty(r->webhook_timestamp) ||
	    auth_empty(r->webhook_signature))
		return AUTH_MISSING;
	if (auth_parse_id(r->webhook_id, &id_len) == -1 ||
	    auth_parse_timestamp(r->webhook_timestamp, &ts) == -1)
		return AUTH_MALFORMED;
	res = auth_parse_signatures(r->webhook_signature, sigs, &nsig);
	if (res != AUTH_OK)
		return res;
	if (nsig == 0)
		return AUTH_BAD_CREDENTIALS;
	res = auth_verify_hmac(a, r, id_len, sigs, nsig);
	if (res != AUTH_OK)
		return res;
	/* Checked after the signature, so STALE only ever names a genuine
	 * message: clock skew or a replay, not a forgery. */
	return auth_fresh(ts, r->now_s, a->tolerance_s) ? AUTH_OK : AUTH_STALE;
}

enum auth_result
auth_check(const struct auth *a, const struct auth_request *r)
{
	if (a == NULL || r == NULL)
		return AUTH_BAD_CREDENTIALS;
	switch (a->mode) {
	case AUTH_NONE:
		return AUTH_OK;
	case AUTH_BEARER:
		return auth_check_bearer(a, r->authorization);
	case AUTH_BASIC:
		return auth_check_basic(a, r->authorization);
	case AUTH_HMAC_SHA256:
		return auth_check_hmac(a, r);
	}
	return AUTH_BAD_CREDENTIALS;
}
