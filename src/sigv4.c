/* sigv4.c - AWS Signature Version 4 request signing (Authorization header form). */
#include "sigv4.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "digest.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_HASH_LEN  DIGEST_SHA256_LEN
#define SIGV4_HEX_LEN   ((size_t)2 * SIGV4_HASH_LEN)

struct sigv4_signer {
	char            region[SIGV4_MAX_SCOPE + 1];
	char            service[SIGV4_MAX_SCOPE + 1];
	int             is_s3;
	pthread_mutex_t lock;
	/* The signing key of the last (day, secret) seen, guarded by lock.  The
	 * secret is remembered as a SHA-256 fingerprint, not a copy. */
	int             key_valid;
	char            key_date[9];
	unsigned char   key_secret_fp[SIGV4_HASH_LEN];
	unsigned char   key[SIGV4_HASH_LEN];
	unsigned long   derivations;
};

/* Growable text buffer capped at SIGV4_MAX_CANONICAL. */
struct sigv4_buf {
	char   *p;
	size_t  len;
	size_t  cap;
};

/* A header after validation: lowercase name, original value and position. */
struct sigv4_hdr {
	char        name[SIGV4_MAX_NAME + 1];
	const char *value;
	size_t      order;
};

struct sigv4_param {
	const char *key;
	const char *value;
};

/* Never signed, as in the AWS SDKs: proxies and tracers may rewrite them. */
static const char *const sigv4_unsigned[] = {
	"expect", "user-agent", "x-amzn-trace-id",
};

static const char sigv4_hexdigits[] = "0123456789ABCDEF";

static int
sigv4_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 9110 token characters, the only ones allowed in names and methods. */
static int
sigv4_is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
sigv4_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
sigv4_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char
sigv4_lower(char c)
{
	return (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
}

static void
sigv4_hex(const unsigned char *in, size_t len, char *out)
{
	static const char lower[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = lower[in[i] >> 4];
		out[2 * i + 1] = lower[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int
sigv4_sha256(const void *data, size_t len, unsigned char out[SIGV4_HASH_LEN])
{
	return digest_sha256(data, len, out);
}

static int
sigv4_hmac(const void *key, size_t keylen, const char *msg, size_t msglen,
    unsigned char out[SIGV4_HASH_LEN])
{
	return digest_hmac_sha256(key, keylen, msg, msglen, out);
}

/* Makes room for n more bytes and a NUL, never past the cap. */
static int
sigv4_buf_reserve(struct sigv4_buf *b, size_t n)
{
	size_t want, ncap;
	char *np;

	if (n > SIGV4_MAX_CANONICAL - b->len)
		return -1;
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 1024;
	while (ncap < want)
		ncap *= 2;
	if (ncap > SIGV4_MAX_CANONICAL + 1)
		ncap = SIGV4_MAX_CANONICAL + 1;
	np = realloc(b->p, ncap);
	if (np == NULL)
		return -1;
	b->p = np;
	b->cap = ncap;
	return 0;
}

static int
sigv4_buf_add(struct sigv4_buf *b, const char *s, size_t n)
{
	if (sigv4_buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
sigv4_buf_str(struct sigv4_buf *b, const char *s)
{
	return sigv4_buf_add(b, s, strlen(s));
}

int
sigv4_uri_encode(const char *src, size_t len, int keep_slash, char *dst,
    size_t dstsize)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (sigv4_is_unreserved(c) || (keep_slash && c == '/')) {
			if (dstsize - o < 2)
				return -1;
			dst[o++] = (char)c;
			continue;
		}
		if (dstsize - o < 4)
			return -1;
		dst[o++] = '%';
		dst[o++] = sigv4_hexdigits[c >> 4];
		dst[o++] = sigv4_hexdigits[c & 0x0f];
	}
	if (dstsize - o < 1 || o > INT32_MAX)
		return -1;
	dst[o] = '\0';
	return (int)o;
}

static int
sigv4_buf_encode(struct sigv4_buf *b, const char *s, size_t n, int keep_slash)
{
	int len;

	if (n > SIGV4_MAX_CANONICAL / 3 || sigv4_buf_reserve(b, 3 * n) == -1)
		return -1;
	len = sigv4_uri_encode(s, n, keep_slash, b->p + b->len, b->cap - b->len);
	if (len < 0)
		return -1;
	b->len += (size_t)len;
	return 0;
}

/* Dot segments and empty segments removed the way the AWS SDKs do it
 * (RFC 3986 5.2.4, plus "//" collapsed).  path starts with "/"; out has
 * room for len + 2 bytes.  Returns the output length. */
static size_t
sigv4_remove_dots(const char *path, size_t len, char *out)
{
	const char *p = path, *end = path + len;
	size_t o = 0;

	while (p < end) {
		const char *seg = p;
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);

		p = slash ? slash + 1 : end;
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, seg, n);
		o += n;
	}
	if (o == 0 || path[len - 1] == '/')
		out[o++] = '/';
	out[o] = '\0';
	return o;
}

/* S3 signs the path as sent: escapes already there stay single-encoded. */
static int
sigv4_buf_s3_path(struct sigv4_buf *b, const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '%' && i + 2 < len &&
		    sigv4_hexval((unsigned char)path[i + 1]) >= 0 &&
		    sigv4_hexval((unsigned char)path[i + 2]) >= 0) {
			char esc[3] = { '%', path[i + 1], path[i + 2] };

			esc[1] = sigv4_hexdigits[sigv4_hexval((unsigned char)esc[1])];
			esc[2] = sigv4_hexdigits[sigv4_hexval((unsigned char)esc[2])];
			if (sigv4_buf_add(b, esc, 3) == -1)
				return -1;
			i += 2;
			continue;
		}
		if (sigv4_buf_encode(b, path + i, 1, 1) == -1)
			return -1;
	}
	return 0;
}

/* Other services normalize the path, then encode it as a whole, so escapes
 * already in the wire path are encoded a second time ("%20" -> "%2520"). */
static int
sigv4_canonical_uri(const struct sigv4_signer *s, const char *path,
    struct sigv4_buf *b)
{
	size_t len = path ? strnlen(path, SIGV4_MAX_PATH + 1) : 0;
	char *norm;
	size_t n;
	int rc;

	if (len > SIGV4_MAX_PATH)
		return -1;
	if (len == 0)
		return sigv4_buf_add(b, "/", 1);
	if (path[0] != '/')
		return -1;
	if (s->is_s3)
		return sigv4_buf_s3_path(b, path, len);
	norm = malloc(len + 2);
	if (norm == NULL)
		return -1;
	n = sigv4_remove_dots(path, len, norm);
	rc = sigv4_buf_encode(b, norm, n, 1);
	free(norm);
	return rc;
}

/* Decodes valid %XX escapes (a stray "%" stays literal) and re-encodes the
 * result strictly, so the canonical form is the same however the wire form
 * was escaped.  Writes a NUL-terminated string; returns the byte after it. */
static char *
sigv4_reencode(const char *src, size_t len, char *dst)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '%' && i + 2 < len &&
		    sigv4_hexval((unsigned char)src[i + 1]) >= 0 &&
		    sigv4_hexval((unsigned char)src[i + 2]) >= 0) {
			c = (unsigned char)(sigv4_hexval((unsigned char)src[i + 1]) * 16 +
			    sigv4_hexval((unsigned char)src[i + 2]));
			i += 2;
		}
		if (sigv4_is_unreserved(c)) {
			*dst++ = (char)c;
		} else {
			*dst++ = '%';
			*dst++ = sigv4_hexdigits[c >> 4];
			*dst++ = sigv4_hexdigits[c & 0x0f];
		}
	}
	*dst++ = '\0';
	return dst;
}

static int
sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_param *pa = a, *pb = b;
	int c = strcmp(pa->key, pb->key);

	return c != 0 ? c : strcmp(pa->value, pb->value);
}

/* Splits query into its parameters, canonicalized, in params[]; their
 * strings live in store (3 * qlen + 2 * n bytes).  Returns the count. */
static size_t
sigv4_split_query(const char *query, size_t qlen, struct sigv4_param *params,
    char *store)
{
	const char *p = query, *end = query + qlen;
	size_t n = 0;

	for (;;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pend = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pend - p));
		const char *kend = eq ? eq : pend;
		const char *v = eq ? eq + 1 : pend;

		params[n].key = store;
		store = sigv4_reencode(p, (size_t)(kend - p), store);
		params[n].value = store;
		store = sigv4_reencode(v, (size_t)(pend - v), store);
		n++;
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return n;
}

/* Parameters sorted by encoded name, then encoded value; "k" counts as "k=". */
static int
sigv4_canonical_query(const char *query, struct sigv4_buf *b)
{
	size_t qlen = query ? strnlen(query, SIGV4_MAX_QUERY + 1) : 0;
	size_t n = 1;
	struct sigv4_param *params = NULL;
	char *store = NULL;
	int rc = -1;

	if (qlen == 0)
		return 0;
	if (qlen > SIGV4_MAX_QUERY)
		return -1;
	for (size_t i = 0; i < qlen; i++)
		n += query[i] == '&';
	if (n > SIGV4_MAX_PARAMS)
		return -1;
	params = calloc(n, sizeof(*params));
	store = malloc(3 * qlen + 2 * n);
	if (params == NULL || store == NULL)
		goto fail;
	n = sigv4_split_query(query, qlen, params, store);
	qsort(params, n, sizeof(*params), sigv4_param_cmp);
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && sigv4_buf_add(b, "&", 1) == -1) ||
		    sigv4_buf_str(b, params[i].key) == -1 ||
		    sigv4_buf_add(b, "=", 1) == -1 ||
		    sigv4_buf_str(b, params[i].value) == -1)
			goto fail;
	}
	rc = 0;
fail:
	free(params);
	free(store);
	return rc;
}

static int
sigv4_valid_value(const char *v)
{
	size_t len = strnlen(v, SIGV4_MAX_VALUE + 1);

	if (len > SIGV4_MAX_VALUE)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		/* A line break is only acceptable as obs-fold: header
		 * injection otherwise. */
		if (c == '\r' && v[i + 1] == '\n')
			i++;
		if (c == '\r' || c == '\n') {
			if (v[i + 1] != ' ' && v[i + 1] != '\t')
				return 0;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Lowercases and checks a name into h; returns 1 if it is to be signed,
 * 0 if it is one the SDKs leave unsigned, -1 if invalid. */
static int
sigv4_hdr_init(struct sigv4_hdr *h, const struct sigv4_header *in, size_t order)
{
	size_t len;

	if (in->name == NULL || in->value == NULL)
		return -1;
	len = strnlen(in->name, SIGV4_MAX_NAME + 1);
	if (len == 0 || len > SIGV4_MAX_NAME || !sigv4_valid_value(in->value))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!sigv4_is_tchar((unsigned char)in->name[i]))
			return -1;
		h->name[i] = sigv4_lower(in->name[i]);
	}
	h->name[len] = '\0';
	h->value = in->value;
	h->order = order;
	for (size_t i = 0; i < sizeof(sigv4_unsigned) / sizeof(sigv4_unsigned[0]); i++)
		if (strcmp(h->name, sigv4_unsigned[i]) == 0)
			return 0;
	return 1;
}

/* Sorted by name; repeated names keep the order they were given in. */
static int
sigv4_hdr_cmp(const void *a, const void *b)
{
	const struct sigv4_hdr *ha = a, *hb = b;
	int c = strcmp(ha->name, hb->name);

	if (c != 0)
		return c;
	return ha->order < hb->order ? -1 : ha->order > hb->order;
}

/* Value with ends trimmed and every whitespace run (obs-fold included)
 * folded to one space. */
static int
sigv4_buf_trimmed(struct sigv4_buf *b, const char *v)
{
	size_t len = strlen(v), i = 0;
	int pending_space = 0;

	if (sigv4_buf_reserve(b, len) == -1)
		return -1;
	while (i < len && sigv4_is_space((unsigned char)v[i]))
		i++;
	for (; i < len; i++) {
		if (sigv4_is_space((unsigned char)v[i])) {
			pending_space = 1;
			continue;
		}
		if (pending_space)
			b->p[b->len++] = ' ';
		pending_space = 0;
		b->p[b->len++] = v[i];
	}
	b->p[b->len] = '\0';
	return 0;
}

/* Validates, filters and sorts the headers into hdrs[]; returns the count
 * or -1.  Fails when no host header is present: AWS requires it signed. */
static int
sigv4_collect_headers(const struct sigv4_request *req, struct sigv4_hdr *hdrs)
{
	size_t n = 0;
	int have_host = 0;

	if (req->n_headers > SIGV4_MAX_HEADERS ||
	    (req->n_headers > 0 && req->headers == NULL))
		return -1;
	for (size_t i = 0; i < req->n_headers; i++) {
		int rc = sigv4_hdr_init(&hdrs[n], &req->headers[i], i);

		if (rc == -1)
			return -1;
		if (rc == 0)
			continue;
		if (strcmp(hdrs[n].name, "host") == 0)
			have_host = 1;
		n++;
	}
	if (!have_host)
		return -1;
	qsort(hdrs, n, sizeof(*hdrs), sigv4_hdr_cmp);
	return (int)n;
}

/* Canonical header lines, the blank line, then the signed-header list. */
static int
sigv4_canonical_headers(const struct sigv4_hdr *hdrs, size_t n,
    struct sigv4_buf *b)
{
	for (size_t i = 0; i < n; i++) {
		int same = i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0;

		if (same) {
			if (sigv4_buf_add(b, ",", 1) == -1)
				return -1;
		} else if ((i > 0 && sigv4_buf_add(b, "\n", 1) == -1) ||
		    sigv4_buf_str(b, hdrs[i].name) == -1 ||
		    sigv4_buf_add(b, ":", 1) == -1) {
			return -1;
		}
		if (sigv4_buf_trimmed(b, hdrs[i].value) == -1)
			return -1;
	}
	if (sigv4_buf_add(b, "\n\n", 2) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0)
			continue;
		if ((i > 0 && sigv4_buf_add(b, ";", 1) == -1) ||
		    sigv4_buf_str(b, hdrs[i].name) == -1)
			return -1;
	}
	return sigv4_buf_add(b, "\n", 1);
}

/* A given x-amz-content-sha256 wins (e.g. "UNSIGNED-PAYLOAD"), as in the SDKs. */
static int
sigv4_payload_hash(const struct sigv4_request *req, const struct sigv4_hdr *hdrs,
    size_t n, struct sigv4_buf *b)
{
	unsigned char md[SIGV4_HASH_LEN];
	char hex[SIGV4_HEX_LEN + 1];

	for (size_t i = 0; i < n; i++)
		if (strcmp(hdrs[i].name, "x-amz-content-sha256") == 0)
			return sigv4_buf_trimmed(b, hdrs[i].value);
	if (req->payload == NULL && req->payload_len > 0)
		return -1;
	if (sigv4_sha256(req->payload ? req->payload : "", req->payload_len,
	    md) == -1)
		return -1;
	sigv4_hex(md, sizeof(md), hex);
	return sigv4_buf_add(b, hex, SIGV4_HEX_LEN);
}

static int
sigv4_method(const char *method, struct sigv4_buf *b)
{
	char m[SIGV4_MAX_METHOD + 1];
	size_t len = method ? strnlen(method, SIGV4_MAX_METHOD + 1) : 0;

	if (len == 0 || len > SIGV4_MAX_METHOD)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!sigv4_is_tchar((unsigned char)method[i]))
			return -1;
		m[i] = (char)((method[i] >= 'a' && method[i] <= 'z') ?
		    method[i] - 'a' + 'A' : method[i]);
	}
	return sigv4_buf_add(b, m, len);
}

char *
sigv4_canonical_request(const struct sigv4_signer *s,
    const struct sigv4_request *req)
{
	struct sigv4_buf b = { NULL, 0, 0 };
	struct sigv4_hdr *hdrs = NULL;
	int n;

	if (s == NULL || req == NULL)
		return NULL;
	hdrs = calloc(SIGV4_MAX_HEADERS, sizeof(*hdrs));
	if (hdrs == NULL)
		return NULL;
	n = sigv4_collect_headers(req, hdrs);
	if (n < 0 ||
	    sigv4_method(req->method, &b) == -1 ||
	    sigv4_buf_add(&b, "\n", 1) == -1 ||
	    sigv4_canonical_uri(s, req->path, &b) == -1 ||
	    sigv4_buf_add(&b, "\n", 1) == -1 ||
	    sigv4_canonical_query(req->query, &b) == -1 ||
	    sigv4_buf_add(&b, "\n", 1) == -1 ||
	    sigv4_canonical_headers(hdrs, (size_t)n, &b) == -1 ||
	    sigv4_payload_hash(req, hdrs, (size_t)n, &b) == -1)
		goto fail;
	free(hdrs);
	return b.p;
fail:
	free(hdrs);
	free(b.p);
	return NULL;
}

static int
sigv4_amz_date(time_t now, char out[SIGV4_AMZ_DATE_SIZE])
{
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL)
		return -1;
	/* Years outside 1000..9999 do not make 16 characters: refused. */
	if (strftime(out, SIGV4_AMZ_DATE_SIZE, "%Y%m%dT%H%M%SZ", &tm) !=
	    SIGV4_AMZ_DATE_SIZE - 1)
		return -1;
	return 0;
}

int
sigv4_string_to_sign(const struct sigv4_signer *s, const char *creq,
    time_t now, char *out, size_t size)
{
	char date[SIGV4_AMZ_DATE_SIZE], hex[SIGV4_HEX_LEN + 1];
	unsigned char md[SIGV4_HASH_LEN];
	int n;

	if (s == NULL || creq == NULL || out == NULL ||
	    sigv4_amz_date(now, date) == -1 ||
	    sigv4_sha256(creq, strlen(creq), md) == -1)
		return -1;
	sigv4_hex(md, sizeof(md), hex);
	n = snprintf(out, size, SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s",
	    date, date, s->region, s->service, hex);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, day), region), service),
 * "aws4_request"). */
static int
sigv4_derive(const struct sigv4_signer *s, const char *day, const char *secret,
    unsigned char out[SIGV4_HASH_LEN])
{
	char k0[4 + AWS_SECRET_ACCESS_KEY_MAX + 1];
	unsigned char k[SIGV4_HASH_LEN];
	int rc = -1;
	int n;

	/* The caller checked the secret's length; should a longer one get
	 * here, it is refused rather than signed with a cut key. */
	n = snprintf(k0, sizeof(k0), "AWS4%s", secret);
	if (n < 0 || (size_t)n >= sizeof(k0))
		goto fail;
	if (sigv4_hmac(k0, (size_t)n, day, 8, k) == -1 ||
	    sigv4_hmac(k, sizeof(k), s->region, strlen(s->region), k) == -1 ||
	    sigv4_hmac(k, sizeof(k), s->service, strlen(s->service), k) == -1 ||
	    sigv4_hmac(k, sizeof(k), "aws4_request", 12, out) == -1)
		goto fail;
	rc = 0;
fail:
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

/* The signing key for (day, secret), derived at most once per pair. */
static int
sigv4_signing_key(struct sigv4_signer *s, const char *day, const char *secret,
    unsigned char key[SIGV4_HASH_LEN])
{
	unsigned char fp[SIGV4_HASH_LEN];
	int rc = 0;

	if (sigv4_sha256(secret, strlen(secret), fp) == -1)
		return -1;
	pthread_mutex_lock(&s->lock);
	if (!s->key_valid || memcmp(s->key_date, day, 8) != 0 ||
	    CRYPTO_memcmp(s->key_secret_fp, fp, sizeof(fp)) != 0) {
		s->key_valid = 0;
		rc = sigv4_derive(s, day, secret, s->key);
		if (rc == 0) {
			memcpy(s->key_date, day, 8);
			s->key_date[8] = '\0';
			memcpy(s->key_secret_fp, fp, sizeof(fp));
			s->key_valid = 1;
			s->derivations++;
		}
	}
	if (rc == 0)
		memcpy(key, s->key, SIGV4_HASH_LEN);
	pthread_mutex_unlock(&s->lock);
	OPENSSL_cleanse(fp, sizeof(fp));
	return rc;
}

static int
sigv4_check_creds(const struct aws_credentials *c)
{
	size_t idlen = strnlen(c->access_key_id, AWS_ACCESS_KEY_ID_MAX + 1);
	size_t seclen = strnlen(c->secret_access_key, AWS_SECRET_ACCESS_KEY_MAX + 1);

	if (idlen == 0 || idlen > AWS_ACCESS_KEY_ID_MAX || seclen == 0 ||
	    seclen > AWS_SECRET_ACCESS_KEY_MAX ||
	    strnlen(c->session_token, AWS_SESSION_TOKEN_MAX + 1) >
	    AWS_SESSION_TOKEN_MAX || !sigv4_valid_value(c->session_token))
		return -1;
	/* It is pasted into the Credential= field, so keep it alphanumeric. */
	for (size_t i = 0; i < idlen; i++) {
		char ch = c->access_key_id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9')))
			return -1;
	}
	return 0;
}

/* req's headers plus X-Amz-Date and the token, into all[]; -1 if req
 * already carries a header the signer owns. */
static int
sigv4_add_own_headers(const struct sigv4_request *req,
    const struct sigv4_result *out, struct sigv4_header *all, size_t *n)
{
	static const char *const owned[] = {
		"x-amz-date", "x-amz-security-token", "authorization",
	};

	if (req->n_headers > SIGV4_MAX_HEADERS - 2 ||
	    (req->n_headers > 0 && req->headers == NULL))
		return -1;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (req->headers[i].name == NULL)
			return -1;
		for (size_t j = 0; j < sizeof(owned) / sizeof(owned[0]); j++)
			if (strcasecmp(req->headers[i].name, owned[j]) == 0)
				return -1;
		all[i] = req->headers[i];
	}
	*n = req->n_headers;
	all[(*n)++] = (struct sigv4_header){ "X-Amz-Date", out->amz_date };
	if (out->security_token[0] != '\0')
		all[(*n)++] = (struct sigv4_header){ "X-Amz-Security-Token",
		    out->security_token };
	return 0;
}

/* The line before the payload hash of a canonical request. */
static int
sigv4_signed_list(const char *creq, const char **list, int *len)
{
	const char *last = strrchr(creq, '\n');
	const char *prev;

	if (last == NULL || last == creq)
		return -1;
	prev = memrchr(creq, '\n', (size_t)(last - creq));
	if (prev == NULL)
		return -1;
	*list = prev + 1;
	*len = (int)(last - prev - 1);
	return 0;
}

static int
sigv4_authorization(struct sigv4_signer *s, const struct aws_credentials *creds,
    const char *creq, time_t now, struct sigv4_result *out)
{
	char sts[SIGV4_STS_SIZE], sig[SIGV4_HEX_LEN + 1];
	unsigned char key[SIGV4_HASH_LEN], mac[SIGV4_HASH_LEN];
	const char *list;
	int stslen, listlen, n, rc = -1;

	stslen = sigv4_string_to_sign(s, creq, now, sts, sizeof(sts));
	if (stslen < 0 || sigv4_signed_list(creq, &list, &listlen) == -1 ||
	    sigv4_signing_key(s, out->amz_date, creds->secret_access_key,
	    key) == -1 ||
	    sigv4_hmac(key, sizeof(key), sts, (size_t)stslen, mac) == -1)
		goto fail;
	sigv4_hex(mac, sizeof(mac), sig);
	n = snprintf(out->authorization, sizeof(out->authorization),
	    SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
	    "SignedHeaders=%.*s, Signature=%s", creds->access_key_id,
	    out->amz_date, s->region, s->service, listlen, list, sig);
	if (n > 0 && (size_t)n < sizeof(out->authorization))
		rc = 0;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int
sigv4_sign(struct sigv4_signer *s, const struct sigv4_request *req,
    const struct aws_credentials *creds, time_t now, struct sigv4_result *out)
{
	struct sigv4_header all[SIGV4_MAX_HEADERS];
	struct sigv4_request full;
	char *creq = NULL;
	int rc = -1;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (s == NULL || req == NULL || creds == NULL ||
	    sigv4_check_creds(creds) == -1 ||
	    sigv4_amz_date(now, out->amz_date) == -1)
		goto fail;
	memcpy(out->security_token, creds->session_token,
	    strlen(creds->session_token) + 1);
	full = *req;
	if (sigv4_add_own_headers(req, out, all, &full.n_headers) == -1)
		goto fail;
	full.headers = all;
	creq = sigv4_canonical_request(s, &full);
	if (creq == NULL ||
	    sigv4_authorization(s, creds, creq, now, out) == -1)
		goto fail;
	rc = 0;
fail:
	free(creq);
	if (rc == -1)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

static int
sigv4_valid_scope(const char *v)
{
	size_t len = v ? strnlen(v, SIGV4_MAX_SCOPE + 1) : 0;

	if (len == 0 || len > SIGV4_MAX_SCOPE)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') ||
		    v[i] == '-'))
			return 0;
	return 1;
}

struct sigv4_signer *
sigv4_signer_new(const char *region, const char *service)
{
	struct sigv4_signer *s;

	if (!sigv4_valid_scope(region) || !sigv4_valid_scope(service))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return NULL;
	}
	memcpy(s->region, region, strlen(region) + 1);
	memcpy(s->service, service, strlen(service) + 1);
	s->is_s3 = strcmp(service, "s3") == 0;
	return s;
}

void
sigv4_signer_free(struct sigv4_signer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->lock);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

unsigned long
sigv4_signer_derivations(struct sigv4_signer *s)
{
	unsigned long n;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = s->derivations;
	pthread_mutex_unlock(&s->lock);
	return n;
}
