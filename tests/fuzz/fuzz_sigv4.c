/* fuzz_sigv4.c - libFuzzer target: SigV4 canonical request, signing and URI encoding. */
#include "fuzzutil.h"

#include <strings.h>

#include "sigv4.h"

#define FUZZ_NOW ((time_t)1700000000)

/* More than SIGV4_MAX_HEADERS, so the cap is reached too. */
#define FUZZ_HEADERS (SIGV4_MAX_HEADERS + 2)

/* What SigV4 leaves unencoded (RFC 3986 unreserved). */
#define FUZZ_UNRESERVED "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789-._~"

static struct sigv4_signer *fuzz_events, *fuzz_s3;
static struct aws_credentials fuzz_creds;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_events = sigv4_signer_new("us-east-1", "events");
	fuzz_s3 = sigv4_signer_new("eu-west-1", "s3");
	if (fuzz_events == NULL || fuzz_s3 == NULL) {
		fprintf(stderr, "fuzz_sigv4: sigv4_signer_new failed\n");
		exit(1);
	}
	snprintf(fuzz_creds.access_key_id, sizeof(fuzz_creds.access_key_id),
	    "AKIDEXAMPLE");
	snprintf(fuzz_creds.secret_access_key,
	    sizeof(fuzz_creds.secret_access_key),
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	snprintf(fuzz_creds.session_token, sizeof(fuzz_creds.session_token),
	    "IQoJb3JpZ2luX2VjEXAMPLETOKEN");
	return 0;
}

/* Whatever the request, the canonical form is plain lines: no byte below
 * 0x20 but the line breaks between its parts (no header injection). */
static void
fuzz_check_canonical(const char *creq, const char *method)
{
	size_t mlen = strlen(method);

	for (const char *p = creq; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 || *p == '\n');
	FUZZ_CHECK(strncasecmp(creq, method, mlen) == 0 && creq[mlen] == '\n');
}

static int
fuzz_signer_owned(const struct sigv4_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(h[i].name, "x-amz-date") == 0 ||
		    strcasecmp(h[i].name, "x-amz-security-token") == 0 ||
		    strcasecmp(h[i].name, "authorization") == 0)
			return 1;
	}
	return 0;
}

static void
fuzz_sign_one(struct sigv4_signer *s, const struct sigv4_request *req)
{
	struct sigv4_result res;
	char sts[SIGV4_STS_SIZE];
	char *creq = sigv4_canonical_request(s, req);
	int rc;

	if (creq == NULL)
		return;
	fuzz_check_canonical(creq, req->method);
	/* "SIGV4_STS_SIZE is always enough" */
	FUZZ_CHECK(sigv4_string_to_sign(s, creq, FUZZ_NOW, sts,
	    sizeof(sts)) > 0);
	free(creq);

	rc = sigv4_sign(s, req, &fuzz_creds, FUZZ_NOW, &res);
	/* A request that canonicalizes can be signed, unless it carries a
	 * header the signer adds itself or leaves it no room for them. */
	if (!fuzz_signer_owned(req->headers, req->n_headers) &&
	    req->n_headers <= SIGV4_MAX_HEADERS - 2)
		FUZZ_CHECK(rc == 0);
	if (rc == 0) {
		static const char prefix[] =
		    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/";

		FUZZ_CHECK(strncmp(res.authorization, prefix,
		    sizeof(prefix) - 1) == 0);
		FUZZ_CHECK(strcmp(res.amz_date, "20231114T221320Z") == 0);
	}
}

/* Encoding then decoding gives the bytes back; a buffer one byte short is
 * refused rather than overrun. */
static void
fuzz_uri_encode(const char *src, size_t len, int keep_slash)
{
	size_t cap = 3 * len + 1, o = 0;
	char *dst = malloc(cap), *tight;
	int n;

	if (dst == NULL)
		return;
	n = sigv4_uri_encode(src, len, keep_slash, dst, cap);
	FUZZ_CHECK(n >= 0 && (size_t)n < cap && dst[n] == '\0');
	for (int i = 0; i < n; i++, o++) {
		unsigned int c = (unsigned char)dst[i];

		if (dst[i] == '%') {
			FUZZ_CHECK(i + 2 < n &&
			    sscanf(dst + i + 1, "%2X", &c) == 1);
			i += 2;
		} else {
			FUZZ_CHECK(strchr(FUZZ_UNRESERVED, (int)c) != NULL ||
			    (keep_slash && c == '/'));
		}
		FUZZ_CHECK(o < len && (unsigned char)src[o] == c);
	}
	FUZZ_CHECK(o == len);
	tight = malloc((size_t)n + 1);
	if (tight != NULL) {
		FUZZ_CHECK(sigv4_uri_encode(src, len, keep_slash, tight,
		    (size_t)n + 1) == n);
		FUZZ_CHECK(sigv4_uri_encode(src, len, keep_slash, tight,
		    (size_t)n) == -1);
		free(tight);
	}
	free(dst);
}

/*
 * Input, fields separated by NUL bytes (the one byte no C string holds):
 * method, path, query, then "name:value" headers up to an empty field, then
 * the payload.  A missing path or query is NULL.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigv4_header headers[FUZZ_HEADERS];
	struct sigv4_request req = { .headers = headers };
	struct fuzz_input in;
	char *h;

	fuzz_uri_encode((const char *)data, size, 0);
	fuzz_uri_encode((const char *)data, size, 1);

	fuzz_input_init(&in, data, size);
	req.method = fuzz_input_field(&in, '\0', NULL);
	req.path = fuzz_input_field(&in, '\0', NULL);
	req.query = fuzz_input_field(&in, '\0', NULL);
	while (req.n_headers < FUZZ_HEADERS) {
		char *colon;

		h = fuzz_input_field(&in, '\0', NULL);
		if (h == NULL || *h == '\0')
			break;
		colon = strchr(h, ':');
		if (colon != NULL)
			*colon = '\0';
		headers[req.n_headers].name = h;
		headers[req.n_headers++].value = colon != NULL ? colon + 1 : "";
	}
	req.payload = fuzz_input_rest(&in, &req.payload_len);
	if (req.method != NULL && req.payload != NULL) {
		fuzz_sign_one(fuzz_events, &req);
		fuzz_sign_one(fuzz_s3, &req);
	}
	fuzz_input_fini(&in);
	return 0;
}
