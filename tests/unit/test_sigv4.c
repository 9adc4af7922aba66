/* test_sigv4.c - sigv4 against the official AWS SigV4 test suite, plus unit cases. */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "sigv4.h"

#define SUITE_DIR    "tests/data/sigv4-suite"
#define SUITE_CASES  34
#define SUITE_FILE_MAX 65536
/* Parameters from tests/data/sigv4-suite/SOURCE.txt. */
#define SUITE_AKID   "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION "us-east-1"
#define SUITE_SVC    "service"

/* One parsed .req file; the strings point into text. */
struct suite_req {
	char               *text;
	char               *method;
	char               *path;
	char               *query;
	struct sigv4_header headers[SIGV4_MAX_HEADERS];
	size_t              n_headers;
	char               *body;
	size_t              body_len;
};

static time_t
suite_time(void)
{
	struct tm tm = { .tm_year = 2015 - 1900, .tm_mon = 7, .tm_mday = 30,
	    .tm_hour = 12, .tm_min = 36, .tm_sec = 0 };

	return timegm(&tm);
}

/* Whole file as a NUL-terminated string, or NULL. */
static char *
read_text(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(SUITE_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, SUITE_FILE_MAX + 1, f);
	fclose(f);
	if (n > SUITE_FILE_MAX) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (lenp)
		*lenp = n;
	return buf;
}

/* Request line "METHOD SP target SP HTTP/1.1"; the target may itself hold
 * spaces (normalize-path/get-space), so it ends at the last space. */
static int
parse_request_line(struct suite_req *r, char *line)
{
	char *sp1 = strchr(line, ' ');
	char *sp2 = strrchr(line, ' ');
	char *q;

	if (sp1 == NULL || sp2 == sp1)
		return -1;
	*sp1 = '\0';
	*sp2 = '\0';
	r->method = line;
	r->path = sp1 + 1;
	q = strchr(r->path, '?');
	r->query = NULL;
	if (q != NULL) {
		*q = '\0';
		r->query = q + 1;
	}
	return 0;
}

/* The end of the header starting at p: its '\n' unless the next line
 * starts with whitespace (obs-fold), which continues the value; the signer
 * is left to fold it.  NULL when the header runs to the end of the file. */
static char *
header_end(char *p, char *end)
{
	char *nl = memchr(p, '\n', (size_t)(end - p));

	while (nl != NULL && nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t'))
		nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
	return nl;
}

/* Header lines up to a blank line or the end, then the body.  Files may
 * lack the final newline. */
static int
parse_req(struct suite_req *r, char *text, size_t len)
{
	char *p = text, *end = text + len, *nl;

	memset(r, 0, sizeof(*r));
	r->text = text;
	nl = memchr(p, '\n', len);
	if (nl == NULL)
		return -1;
	*nl = '\0';
	if (parse_request_line(r, p) == -1)
		return -1;
	p = nl + 1;
	while (p < end && *p != '\n') {
		char *colon;

		nl = header_end(p, end);
		if (nl != NULL)
			*nl = '\0';
		colon = strchr(p, ':');
		if (colon == NULL || r->n_headers == SIGV4_MAX_HEADERS)
			return -1;
		*colon = '\0';
		r->headers[r->n_headers].name = p;
		r->headers[r->n_headers].value = colon + 1;
		r->n_headers++;
		p = nl ? nl + 1 : end;
	}
	if (p < end)
		p++;
	r->body = p;
	r->body_len = (size_t)(end - p);
	return 0;
}

static const char *
find_header(const struct suite_req *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* The token the case was signed with: the x-amz-security-token line of the
 * .creq (SOURCE.txt), or "" when there is none. */
static void
creq_token(const char *creq, char *out, size_t size)
{
	const char *t = strstr(creq, "\nx-amz-security-token:");
	size_t n;

	out[0] = '\0';
	if (t == NULL)
		return;
	t += strlen("\nx-amz-security-token:");
	n = strcspn(t, "\n");
	if (n < size) {
		memcpy(out, t, n);
		out[n] = '\0';
	}
}

static int
same(const char *name, const char *what, const char *want, const char *got)
{
	if (got != NULL && strcmp(want, got) == 0)
		return 1;
	print_message("%s: %s differs\n--- want\n%s\n--- got\n%s\n", name, what,
	    want, got ? got : "(NULL)");
	return 0;
}

static char *
case_file(const char *dir, const char *name, const char *ext)
{
	char path[1024];

	if (snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext) >=
	    (int)sizeof(path))
		return NULL;
	return read_text(path, NULL);
}

/* Canonical request and string to sign from the .req as written, then the
 * Authorization from sigv4_sign with the headers the signer owns removed.
 * The .sreq files are not compared: get-vanilla-with-session-token.sreq
 * carries a Signature that is not the HMAC of its own .sts (the .authz is). */
static int
check_signing(const char *name, const struct suite_req *r, const char *creq,
    const char *sts, const char *authz)
{
	struct sigv4_signer *s = sigv4_signer_new(SUITE_REGION, SUITE_SVC);
	struct sigv4_request req = { r->method, r->path, r->query, r->headers,
	    r->n_headers, r->body, r->body_len };
	struct sigv4_header own[SIGV4_MAX_HEADERS];
	static struct aws_credentials c;
	static struct sigv4_result out;
	char got_sts[SIGV4_STS_SIZE];
	const char *date = find_header(r, "X-Amz-Date");
	char *got_creq;
	int ok;

	memset(&c, 0, sizeof(c));
	strcpy(c.access_key_id, SUITE_AKID);
	strcpy(c.secret_access_key, SUITE_SECRET);
	creq_token(creq, c.session_token, sizeof(c.session_token));
	/* get-vanilla-with-session-token: the token is not in the .req but
	 * the signer adds it, so the canonical step gets it here too. */
	memcpy(own, r->headers, r->n_headers * sizeof(own[0]));
	if (c.session_token[0] != '\0' &&
	    find_header(r, "X-Amz-Security-Token") == NULL)
		own[req.n_headers++] = (struct sigv4_header){
		    "X-Amz-Security-Token", c.session_token };
	req.headers = own;
	got_creq = sigv4_canonical_request(s, &req);
	ok = same(name, "canonical request", creq, got_creq);
	if (sigv4_string_to_sign(s, creq, suite_time(), got_sts,
	    sizeof(got_sts)) < 0)
		strcpy(got_sts, "(failed)");
	ok &= same(name, "string to sign", sts, got_sts);
	req.n_headers = 0;
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, "X-Amz-Date") != 0 &&
		    strcasecmp(r->headers[i].name, "X-Amz-Security-Token") != 0)
			own[req.n_headers++] = r->headers[i];
	req.headers = own;
	if (sigv4_sign(s, &req, &c, suite_time(), &out) != 0)
		strcpy(out.authorization, "(sigv4_sign failed)");
	ok &= same(name, "Authorization", authz, out.authorization);
	ok &= same(name, "X-Amz-Date", date ? date : "(none in .req)",
	    out.amz_date);
	ok &= same(name, "X-Amz-Security-Token", c.session_token,
	    out.security_token);
	free(got_creq);
	sigv4_signer_free(s);
	return ok;
}

static int
run_case(const char *dir, const char *name)
{
	char path[1024];
	struct suite_req r;
	size_t len = 0;
	char *req, *creq, *sts, *authz;
	int ok = 0;

	req = NULL;
	if (snprintf(path, sizeof(path), "%s/%s.req", dir, name) <
	    (int)sizeof(path))
		req = read_text(path, &len);
	creq = case_file(dir, name, "creq");
	sts = case_file(dir, name, "sts");
	authz = case_file(dir, name, "authz");
	if (req && creq && sts && authz && parse_req(&r, req, len) == 0) {
		ok = check_signing(name, &r, creq, sts, authz);
	} else {
		print_message("%s: cannot read or parse the case files\n", name);
	}
	free(req);
	free(creq);
	free(sts);
	free(authz);
	return ok;
}

/* Every directory holding <dirname>.req is a case; groups nest. */
static void
walk(const char *dir, int *cases, int *passed)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char sub[1024], req[1200];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(sub) || stat(sub, &st) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (snprintf(req, sizeof(req), "%s/%s.req", sub, e->d_name) <
		    (int)sizeof(req) && stat(req, &st) == 0) {
			(*cases)++;
			*passed += run_case(sub, e->d_name);
		} else {
			walk(sub, cases, passed);
		}
	}
	closedir(d);
}

static void
test_official_suite(void **state)
{
	int cases = 0, passed = 0;

	(void)state;
	walk(SUITE_DIR, &cases, &passed);
	print_message("sigv4 suite: %d/%d cases reproduced\n", passed, cases);
	assert_int_equal(cases, SUITE_CASES);
	assert_int_equal(passed, cases);
}

/* ---- unit cases ---- */

static char *
creq_for(const char *service, const char *method, const char *path,
    const char *query, const struct sigv4_header *h, size_t n)
{
	struct sigv4_signer *s = sigv4_signer_new("us-east-1", service);
	struct sigv4_request req = { method, path, query, h, n, NULL, 0 };
	char *c;

	assert_non_null(s);
	c = sigv4_canonical_request(s, &req);
	sigv4_signer_free(s);
	return c;
}

static const struct sigv4_header host_only[] = { { "Host", "h" } };

/* Second line of a canonical request (the URI) or third (the query). */
static void
assert_line(const char *creq, int lineno, const char *want)
{
	const char *p = creq;
	char got[1024];
	size_t n;

	assert_non_null(creq);
	for (int i = 0; i < lineno; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	n = strcspn(p, "\n");
	assert_true(n < sizeof(got));
	memcpy(got, p, n);
	got[n] = '\0';
	assert_string_equal(got, want);
}

static void
check_uri(const char *service, const char *path, const char *want)
{
	char *c = creq_for(service, "GET", path, NULL, host_only, 1);

	assert_line(c, 1, want);
	free(c);
}

static void
check_query(const char *query, const char *want)
{
	char *c = creq_for("events", "GET", "/", query, host_only, 1);

	assert_line(c, 2, want);
	free(c);
}

static void
test_uri_encode(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(sigv4_uri_encode("a b/\xc3\xbc~-._Z9", 12, 1, buf,
	    sizeof(buf)), 18);
	assert_string_equal(buf, "a%20b/%C3%BC~-._Z9");
	assert_int_equal(sigv4_uri_encode("a/b=%", 5, 0, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "a%2Fb%3D%25");
	/* Exact fit, then one byte short. */
	assert_int_equal(sigv4_uri_encode("a b", 3, 0, buf, 6), 5);
	assert_int_equal(sigv4_uri_encode("a b", 3, 0, buf, 5), -1);
	assert_int_equal(sigv4_uri_encode("", 0, 0, buf, 1), 0);
}

static void
test_canonical_uri(void **state)
{
	(void)state;
	check_uri("events", "", "/");
	check_uri("events", "/a%20b", "/a%2520b");           /* double encoded */
	check_uri("events", "/a/./b/../c//d/", "/a/c/d/");
	check_uri("events", "/a/b/..", "/a");
	check_uri("events", "/../..", "/");
	check_uri("events", "/%2E%2E/x", "/%252E%252E/x");   /* not a dot segment */
	check_uri("events", "/$x:@!", "/%24x%3A%40%21");
	check_uri("s3", "/a%20b//c/../d", "/a%20b//c/../d"); /* as sent */
	check_uri("s3", "/a b%2f", "/a%20b%2F");
	assert_null(creq_for("events", "GET", "no-slash", NULL, host_only, 1));
}

static void
test_canonical_query(void **state)
{
	(void)state;
	check_query("b=2&a=3&a=1&c&=x&%41=z", "=x&A=z&a=1&a=3&b=2&c=");
	check_query("k=a+b%2fc d&k=%zz", "k=%25zz&k=a%2Bb%2Fc%20d");
	check_query("Param-3=3&Param=2&%E1%88%B4=1", "%E1%88%B4=1&Param=2&Param-3=3");
	check_query("a=1&&a=", "=&a=&a=1");
	check_query("", "");
}

static void
test_query_caps(void **state)
{
	char q[SIGV4_MAX_PARAMS * 2 + 8];
	size_t n = 0;
	char *c;

	(void)state;
	for (int i = 0; i < SIGV4_MAX_PARAMS; i++) {
		q[n++] = 'a';
		q[n++] = '&';
	}
	q[n - 1] = '\0';
	c = creq_for("events", "GET", "/", q, host_only, 1);
	assert_non_null(c);
	free(c);
	q[n - 1] = '&';
	q[n] = 'a';
	q[n + 1] = '\0';
	assert_null(creq_for("events", "GET", "/", q, host_only, 1));
}

static void
test_headers(void **state)
{
	const struct sigv4_header h[] = {
		{ "X-B", "  two\t  words  " }, { "Host", "example.com" },
		{ "User-Agent", "curl" }, { "x-b", "next" },
		{ "X-Amzn-Trace-Id", "Root=1" }, { "A", "" },
		{ "X-Amz-Content-SHA256", " UNSIGNED-PAYLOAD " },
	};
	char *c = creq_for("events", "post", "/", NULL, h, 7);

	(void)state;
	assert_non_null(c);
	assert_string_equal(c, "POST\n/\n\na:\nhost:example.com\n"
	    "x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-b:two words,next\n\n"
	    "a;host;x-amz-content-sha256;x-b\nUNSIGNED-PAYLOAD");
	free(c);
}

static void
test_headers_refused(void **state)
{
	const struct sigv4_header bad_name[] = { { "Host", "h" }, { "a b", "v" } };
	const struct sigv4_header inject[] = { { "Host", "h" },
	    { "x", "v\r\nEvil: 1" } };
	const struct sigv4_header nul_ctl[] = { { "Host", "h" }, { "x", "v\x01" } };
	const struct sigv4_header fold[] = { { "Host", "h" }, { "x", "a\r\n  b" } };
	const struct sigv4_header no_host[] = { { "x", "v" } };
	char *c;

	(void)state;
	assert_null(creq_for("events", "GET", "/", NULL, bad_name, 2));
	assert_null(creq_for("events", "GET", "/", NULL, inject, 2));
	assert_null(creq_for("events", "GET", "/", NULL, nul_ctl, 2));
	assert_null(creq_for("events", "GET", "/", NULL, no_host, 1));
	assert_null(creq_for("events", "G T", "/", NULL, host_only, 1));
	c = creq_for("events", "GET", "/", NULL, fold, 2);
	assert_non_null(c);
	assert_non_null(strstr(c, "\nx:a b\n"));
	free(c);
}

static void
set_creds(struct aws_credentials *c, const char *secret, const char *token)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->access_key_id, "AKIDEXAMPLE");
	strcpy(c->secret_access_key, secret);
	strcpy(c->session_token, token);
}

static int
sign_at(struct sigv4_signer *s, const struct aws_credentials *c, time_t t,
    struct sigv4_result *out)
{
	const struct sigv4_header h[] = { { "Host", "events.us-east-1.amazonaws.com" },
	    { "Content-Type", "application/x-amz-json-1.1" } };
	struct sigv4_request req = { "POST", "/", NULL, h, 2, "{}", 2 };

	return sigv4_sign(s, &req, c, t, out);
}

static void
test_key_cache(void **state)
{
	struct sigv4_signer *s = sigv4_signer_new("eu-west-1", "events");
	struct sigv4_signer *fresh = sigv4_signer_new("eu-west-1", "events");
	static struct aws_credentials c;
	static struct sigv4_result a, b;
	time_t day = suite_time() - 12 * 3600 - 36 * 60; /* 2015-08-30T00:00:00Z */

	(void)state;
	assert_non_null(s);
	assert_non_null(fresh);
	set_creds(&c, "secret-one", "");
	assert_int_equal(sign_at(s, &c, day + 10, &a), 0);
	assert_int_equal(sigv4_signer_derivations(s), 1);
	assert_int_equal(sign_at(s, &c, day + 86399, &a), 0); /* 23:59:59 */
	assert_int_equal(sigv4_signer_derivations(s), 1);
	/* The cached key gives what a fresh derivation gives. */
	assert_int_equal(sign_at(fresh, &c, day + 86399, &b), 0);
	assert_string_equal(a.authorization, b.authorization);
	/* Midnight: a new day, a new key and a new scope. */
	assert_int_equal(sign_at(s, &c, day + 86400, &a), 0);
	assert_int_equal(sigv4_signer_derivations(s), 2);
	assert_string_equal(a.amz_date, "20150831T000000Z");
	assert_non_null(strstr(a.authorization, "/20150831/eu-west-1/events/aws4_request"));
	assert_int_equal(sign_at(fresh, &c, day + 86400, &b), 0);
	assert_string_equal(a.authorization, b.authorization);
	/* A rotated secret the same day is a new key too. */
	set_creds(&c, "secret-two", "");
	assert_int_equal(sign_at(s, &c, day + 86401, &a), 0);
	assert_int_equal(sigv4_signer_derivations(s), 3);
	assert_int_equal(sign_at(s, &c, day + 90000, &a), 0);
	assert_int_equal(sigv4_signer_derivations(s), 3);
	sigv4_signer_free(s);
	sigv4_signer_free(fresh);
}

static void
test_sign_outputs(void **state)
{
	struct sigv4_signer *s = sigv4_signer_new("us-east-1", "sqs");
	static struct aws_credentials c;
	static struct sigv4_result out;
	const struct sigv4_header dated[] = { { "Host", "h" },
	    { "x-amz-date", "20150830T123600Z" } };
	struct sigv4_request req = { "GET", "/", NULL, dated, 2, NULL, 0 };

	(void)state;
	set_creds(&c, "s", "tok en");
	assert_int_equal(sign_at(s, &c, 0, &out), 0);
	assert_string_equal(out.amz_date, "19700101T000000Z");
	assert_string_equal(out.security_token, "tok en");
	assert_non_null(strstr(out.authorization,
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "));
	/* The signer owns X-Amz-Date. */
	assert_int_equal(sigv4_sign(s, &req, &c, 0, &out), -1);
	assert_string_equal(out.authorization, "");
	/* Years that do not fit the 16-character form are refused. */
	assert_int_equal(sign_at(s, &c, (time_t)253402300800LL, &out), -1);
	/* Bad credentials. */
	set_creds(&c, "s", "");
	strcpy(c.access_key_id, "AKID/x");
	assert_int_equal(sign_at(s, &c, 0, &out), -1);
	set_creds(&c, "", "");
	assert_int_equal(sign_at(s, &c, 0, &out), -1);
	set_creds(&c, "s", "bad\ntoken");
	assert_int_equal(sign_at(s, &c, 0, &out), -1);
	sigv4_signer_free(s);
}

static void
test_header_caps(void **state)
{
	struct sigv4_signer *s = sigv4_signer_new("us-east-1", "sqs");
	static struct sigv4_header h[SIGV4_MAX_HEADERS];
	static char names[SIGV4_MAX_HEADERS][16];
	static char longname[SIGV4_MAX_NAME + 2];
	static struct aws_credentials c;
	static struct sigv4_result out;
	struct sigv4_request req = { "GET", "/", NULL, h, 0, NULL, 0 };

	(void)state;
	set_creds(&c, "s", "");
	h[0] = (struct sigv4_header){ "Host", "h" };
	for (int i = 1; i < SIGV4_MAX_HEADERS; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d", i);
		h[i] = (struct sigv4_header){ names[i], "v" };
	}
	req.n_headers = SIGV4_MAX_HEADERS - 2; /* room for date and token */
	assert_int_equal(sigv4_sign(s, &req, &c, 0, &out), 0);
	req.n_headers = SIGV4_MAX_HEADERS - 1;
	assert_int_equal(sigv4_sign(s, &req, &c, 0, &out), -1);
	memset(longname, 'n', SIGV4_MAX_NAME + 1);
	h[1].name = longname;
	req.n_headers = 2;
	assert_int_equal(sigv4_sign(s, &req, &c, 0, &out), -1);
	longname[SIGV4_MAX_NAME] = '\0';
	assert_int_equal(sigv4_sign(s, &req, &c, 0, &out), 0);
	assert_null(sigv4_signer_new("US-EAST-1", "sqs"));
	assert_null(sigv4_signer_new("us-east-1", ""));
	sigv4_signer_free(NULL);
	sigv4_signer_free(s);
}

/* Several threads share one signer across a day boundary: every result
 * must equal the single-threaded one. */
struct thread_arg {
	struct sigv4_signer *s;
	const char          *want[2];
	int                  bad;
};

static void *
sign_thread(void *p)
{
	struct thread_arg *a = p;
	static __thread struct aws_credentials c;
	static __thread struct sigv4_result out;
	time_t base = suite_time();

	set_creds(&c, "threaded", "");
	for (int i = 0; i < 200; i++) {
		int d = i & 1;

		if (sign_at(a->s, &c, base + d * 86400, &out) != 0 ||
		    strcmp(out.authorization, a->want[d]) != 0)
			__atomic_add_fetch(&a->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	static struct aws_credentials c;
	static struct sigv4_result r0, r1;
	struct thread_arg a = { sigv4_signer_new("us-east-1", "events"), { 0 }, 0 };
	pthread_t t[4];

	(void)state;
	set_creds(&c, "threaded", "");
	assert_int_equal(sign_at(a.s, &c, suite_time(), &r0), 0);
	assert_int_equal(sign_at(a.s, &c, suite_time() + 86400, &r1), 0);
	a.want[0] = r0.authorization;
	a.want[1] = r1.authorization;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sign_thread, &a), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a.bad, 0);
	sigv4_signer_free(a.s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_official_suite),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_canonical_uri),
		cmocka_unit_test(test_canonical_query),
		cmocka_unit_test(test_query_caps),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_headers_refused),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_sign_outputs),
		cmocka_unit_test(test_header_caps),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
