/* test_credfetch.c - IMDSv2, the container endpoint and their JSON answers, against an in-process HTTP stub. */
#include "testutil.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credfetch.h"
#include "creds.h"
#include "httpstub.h"

#define KEY_ID  "ASIAFETCHTEST0001"
#define SECRET  "fetchSecret/abc+def0123456789"
#define TOKEN   "IQoJb3JpZ2luX2VjEFetchToken=="

static struct aws_credentials c;
static char err[512];
static const struct credfetch_limits lim = { 1000, 3000, NULL };

/* ------------------------------------------------------------ the stub */

struct imds {
	int  v1;              /* PUT answers 404, GETs need no token */
	int  forget;          /* tokens handed out so far are invalid */
	char token[64];
	int  puts;
	char role[160];       /* answer to the role list */
	int  no_role;         /* role list answers 404 */
};

static const char creds_json[] =
    "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"" KEY_ID
    "\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN
    "\",\"Expiration\":\"2999-01-02T03:04:05Z\"}";

static void
imds_fn(const struct httpstub_req *req, struct httpstub_resp *resp, void *arg)
{
	struct imds *m = arg;
	char tok[128], ttl[32];
	const char *base = "/latest/meta-data/iam/security-credentials/";

	if (strcmp(req->method, "PUT") == 0 &&
	    strcmp(req->path, "/latest/api/token") == 0) {
		if (m->v1 || httpstub_header(req, "X-aws-ec2-metadata-token-ttl-seconds",
		    ttl, sizeof(ttl)) == NULL) {
			resp->status = m->v1 ? 404 : 400;
			return;
		}
		m->puts++;
		m->forget = 0;
		snprintf(m->token, sizeof(m->token), "tok-%d_%s", m->puts, ttl);
		resp->status = 200;
		snprintf(resp->body, sizeof(resp->body), "%s", m->token);
		return;
	}
	if (!m->v1 && (httpstub_header(req, "X-aws-ec2-metadata-token", tok,
	    sizeof(tok)) == NULL || m->forget || strcmp(tok, m->token) != 0)) {
		resp->status = 401;
		return;
	}
	if (strcmp(req->path, base) == 0) {
		resp->status = m->no_role ? 404 : 200;
		snprintf(resp->body, sizeof(resp->body), "%s", m->role);
	} else if (strncmp(req->path, base, strlen(base)) == 0 &&
	    strcmp(req->path + strlen(base), "web-role") == 0) {
		resp->status = 200;
		snprintf(resp->body, sizeof(resp->body), "%s", creds_json);
	}
}

static struct httpstub stub;
static struct imds m;

static int
setup(void **state)
{
	(void)state;
	memset(&m, 0, sizeof(m));
	snprintf(m.role, sizeof(m.role), "web-role\n");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	unsetenv("AWS_EC2_METADATA_V1_DISABLED");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	memset(err, 0, sizeof(err));
	return httpstub_start(&stub, imds_fn, &m);
}

static int
teardown(void **state)
{
	(void)state;
	httpstub_stop(&stub);
	return 0;
}

static void
assert_err(const char *want)
{
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_null(strstr(err, SECRET));
	assert_null(strstr(err, TOKEN));
}

/* --------------------------------------------------------------- JSON */

static void
test_parse_json(void **state)
{
	char body[1024];

	(void)state;
	assert_int_equal(credfetch_parse_json(creds_json, strlen(creds_json),
	    "Token", 1, "t", &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, KEY_ID);
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, TOKEN);
	assert_int_equal(c.expiration, 32472241445);
	/* An IMDS error code is not credentials. */
	snprintf(body, sizeof(body), "{\"Code\":\"AssumeRoleUnauthorizedAccess\","
	    "\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\"}");
	assert_int_equal(credfetch_parse_json(body, strlen(body), "Token", 1, "t",
	    &c, err, sizeof(err)), -1);
	assert_err("AssumeRoleUnauthorizedAccess");
	assert_string_equal(c.access_key_id, "");
	/* A Code that is not an AWS error code, or that holds the answer's
	 * secret or token, is not echoed (fuzz_creds found the secret in the
	 * message through Code). */
	snprintf(body, sizeof(body), "{\"Code\":\"x" SECRET "x\","
	    "\"AccessKeyId\":\"" KEY_ID "\",\"SecretAccessKey\":\"" SECRET "\"}");
	assert_int_equal(credfetch_parse_json(body, strlen(body), "Token", 1, "t",
	    &c, err, sizeof(err)), -1);
	assert_null(strstr(err, SECRET));
	assert_err("not shown");
	snprintf(body, sizeof(body), "{\"Code\":\"Failed" TOKEN "\","
	    "\"Token\":\"" TOKEN "\"}");
	assert_int_equal(credfetch_parse_json(body, strlen(body), "Token", 1, "t",
	    &c, err, sizeof(err)), -1);
	assert_null(strstr(err, TOKEN));
	/* Shaped like a code, but holding an all-letters-and-digits secret. */
	snprintf(body, sizeof(body), "{\"Code\":\"DeniedQ7f3Kx9Lm2Np5Rs8\","
	    "\"AccessKeyId\":\"" KEY_ID "\",\"SecretAccessKey\":\"Q7f3Kx9Lm2Np5Rs8\"}");
	assert_int_equal(credfetch_parse_json(body, strlen(body), "Token", 1, "t",
	    &c, err, sizeof(err)), -1);
	assert_null(strstr(err, "Q7f3Kx9Lm2Np5Rs8"));
	/* Expiration: required for IMDS/ECS, optional for a helper. */
	snprintf(body, sizeof(body), "{\"AccessKeyId\":\"AKIA1\","
	    "\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\"}");
	assert_int_equal(credfetch_parse_json(body, strlen(body), "SessionToken",
	    1, "t", &c, err, sizeof(err)), -1);
	assert_err("Expiration");
	assert_int_equal(credfetch_parse_json(body, strlen(body), "SessionToken",
	    0, "t", &c, err, sizeof(err)), 0);
	assert_int_equal(c.expiration, 0);
	assert_string_equal(c.session_token, "t");
	/* Bad values, duplicates, not JSON, a 1970 expiry. */
	const char *bad[] = {
		"{\"AccessKeyId\":\"AK-IA\",\"SecretAccessKey\":\"s\"}",
		"{\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s p\"}",
		"{\"AccessKeyId\":\"AKIA\",\"AccessKeyId\":\"AKIB\",\"SecretAccessKey\":\"s\"}",
		"{\"AccessKeyId\":\"AKIA\"}",
		"[1]", "not json",
		"{\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}",
		"{\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s\","
		    "\"Expiration\":\"1970-01-01T00:00:00Z\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (credfetch_parse_json(bad[i], strlen(bad[i]), "Token", 0, "t", &c,
		    err, sizeof(err)) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_string_equal(c.secret_access_key, "");
	}
}

static void
test_parse_json_caps(void **state)
{
	char *body = malloc(AWS_SESSION_TOKEN_MAX + 200);
	size_t n;

	(void)state;
	assert_non_null(body);
	n = (size_t)snprintf(body, 100, "{\"AccessKeyId\":\"AKIA\","
	    "\"SecretAccessKey\":\"s\",\"Token\":\"");
	memset(body + n, 'T', AWS_SESSION_TOKEN_MAX + 1);
	memcpy(body + n + AWS_SESSION_TOKEN_MAX + 1, "\"}", 3);
	assert_int_equal(credfetch_parse_json(body, strlen(body), "Token", 0, "t",
	    &c, err, sizeof(err)), -1);
	assert_err("longer than");
	free(body);
}

/* --------------------------------------------------------------- IMDS */

static void
imds_init(struct credfetch_imds *md)
{
	char url[96];

	snprintf(url, sizeof(url), "%s/", stub.url);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	assert_int_equal(credfetch_imds_init(md, err, sizeof(err)), 0);
	assert_string_equal(md->endpoint, stub.url);   /* the "/" is dropped */
}

static void
test_imds_v2_token_reuse_and_401(void **state)
{
	struct credfetch_imds md;
	struct httpstub_req r;
	char v[128];

	(void)state;
	imds_init(&md);
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, KEY_ID);
	assert_string_equal(c.source, "imds");
	assert_int_equal(httpstub_count(&stub), 3);
	httpstub_request(&stub, 0, &r);
	assert_string_equal(r.method, "PUT");
	assert_string_equal(httpstub_header(&r, "X-aws-ec2-metadata-token-ttl-seconds",
	    v, sizeof(v)), "21600");
	assert_null(httpstub_header(&r, "X-aws-ec2-metadata-token", v, sizeof(v)));
	httpstub_request(&stub, 1, &r);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/latest/meta-data/iam/security-credentials/");
	assert_string_equal(httpstub_header(&r, "X-aws-ec2-metadata-token", v,
	    sizeof(v)), "tok-1_21600");
	httpstub_request(&stub, 2, &r);
	assert_string_equal(r.path,
	    "/latest/meta-data/iam/security-credentials/web-role");
	/* The token is kept: a second fetch makes no PUT. */
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), 0);
	assert_int_equal(m.puts, 1);
	assert_int_equal(httpstub_count(&stub), 5);
	/* IMDS forgot it: 401, one new PUT, then the answer. */
	m.forget = 1;
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), 0);
	assert_int_equal(m.puts, 2);
	assert_string_equal(md.token, "tok-2_21600");
	credfetch_imds_fini(&md);
	assert_string_equal(md.token, "");
}

static void
test_imds_v1_fallback(void **state)
{
	struct credfetch_imds md;
	struct httpstub_req r;
	char v[128];

	(void)state;
	m.v1 = 1;
	imds_init(&md);
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), 0);
	httpstub_request(&stub, 1, &r);
	assert_null(httpstub_header(&r, "X-aws-ec2-metadata-token", v, sizeof(v)));
	/* Unless IMDSv1 is off, as the SDKs' AWS_EC2_METADATA_V1_DISABLED. */
	setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
	imds_init(&md);
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), -1);
	assert_err("token request was answered HTTP 404");
	assert_string_equal(c.access_key_id, "");
}

static void
test_imds_errors(void **state)
{
	struct credfetch_imds md;

	(void)state;
	imds_init(&md);
	m.no_role = 1;
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), -1);
	assert_err("no IAM role");
	m.no_role = 0;
	snprintf(m.role, sizeof(m.role), "../../etc/passwd");
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), -1);
	assert_err("is not a role name");
	/* Endpoint mode. */
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	assert_int_equal(credfetch_imds_init(&md, err, sizeof(err)), 0);
	assert_string_equal(md.endpoint, "http://169.254.169.254");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
	assert_int_equal(credfetch_imds_init(&md, err, sizeof(err)), 0);
	assert_string_equal(md.endpoint, "http://[fd00:ec2::254]");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", 1);
	assert_int_equal(credfetch_imds_init(&md, err, sizeof(err)), -1);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://x", 1);
	assert_int_equal(credfetch_imds_init(&md, err, sizeof(err)), -1);
	/* Nothing listening: a transport error, not a hang. */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
	assert_int_equal(credfetch_imds_init(&md, err, sizeof(err)), 0);
	assert_int_equal(credfetch_imds(&md, &lim, &c, err, sizeof(err)), -1);
	assert_err("instance metadata token");
}

/* ---------------------------------------------------------- container */

static char want_auth[128];

static void
ecs_fn(const struct httpstub_req *req, struct httpstub_resp *resp, void *arg)
{
	char v[256];

	(void)arg;
	if (want_auth[0] != '\0' && (httpstub_header(req, "Authorization", v,
	    sizeof(v)) == NULL || strcmp(v, want_auth) != 0)) {
		resp->status = 401;
		snprintf(resp->body, sizeof(resp->body), "{\"code\":\"AccessDenied\"}");
		return;
	}
	if (strcmp(req->path, "/big") == 0) {
		resp->status = 200;
		memset(resp->body, ' ', 70000);
		resp->body_len = 70000;
		return;
	}
	resp->status = 200;
	snprintf(resp->body, sizeof(resp->body), "%s", creds_json);
}

static int
container_init_full(const char *url)
{
	struct credfetch_container ct;

	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	return credfetch_container_init(&ct, err, sizeof(err));
}

static void
test_container_host_rules(void **state)
{
	static const char *const ok[] = {
		"http://127.0.0.1/c", "http://127.9.8.7:8080/c", "http://localhost/c",
		"http://[::1]:51679/c", "http://169.254.170.2/v2/c",
		"http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/c",
		"https://creds.example.com/c",
	};
	static const char *const bad[] = {
		"http://10.0.0.1/c", "http://169.254.170.3/c", "http://example.com/c",
		"http://[fd00:ec2::24]/c", "http://128.0.0.1/c", "ftp://127.0.0.1/c",
		"http://127.0.0.1/c?x=1",
	};
	struct credfetch_container ct;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (container_init_full(ok[i]) != 0)
			fail_msg("refused %s: %s", ok[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (container_init_full(bad[i]) != -1)
			fail_msg("accepted %s", bad[i]);
	/* The relative URI goes to the ECS agent, and wins over the full one. */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
	assert_int_equal(credfetch_container_init(&ct, err, sizeof(err)), 0);
	assert_string_equal(ct.url, "http://169.254.170.2/v2/credentials/abc");
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/no-slash", 1);
	assert_int_equal(credfetch_container_init(&ct, err, sizeof(err)), -1);
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	assert_int_equal(credfetch_container_init(&ct, err, sizeof(err)), -1);
	/* A token that would smuggle a header line is refused. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Evil: 1", 1);
	assert_int_equal(credfetch_container_init(&ct, err, sizeof(err)), -1);
	assert_err("control character");
}

static void
test_container_fetch_and_token_file(void **state)
{
	struct credfetch_container ct;
	struct httpstub_req r;
	char url[128], v[128], path[] = "/tmp/cxb-ecs-token-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	httpstub_stop(&stub);
	assert_int_equal(httpstub_start(&stub, ecs_fn, NULL), 0);
	assert_true(fd >= 0);
	close(fd);
	snprintf(url, sizeof(url), "%s/v1/credentials", stub.url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env", 1);
	f = fopen(path, "w");
	fputs("eks-pod-token-1\n", f);
	fclose(f);
	snprintf(want_auth, sizeof(want_auth), "eks-pod-token-1");
	assert_int_equal(credfetch_container_init(&ct, err, sizeof(err)), 0);
	assert_int_equal(credfetch_container(&ct, &lim, &c, err, sizeof(err)), 0);
	assert_string_equal(c.session_token, TOKEN);
	assert_string_equal(c.source, "container");
	httpstub_request(&stub, 0, &r);
	assert_string_equal(httpstub_header(&r, "Authorization", v, sizeof(v)),
	    "eks-pod-token-1");
	/* The file is read on every fetch (EKS rotates it). */
	f = fopen(path, "w");
	fputs("eks-pod-token-2", f);
	fclose(f);
	assert_int_equal(credfetch_container(&ct, &lim, &c, err, sizeof(err)), -1);
	assert_err("authorization token refused");
	snprintf(want_auth, sizeof(want_auth), "eks-pod-token-2");
	assert_int_equal(credfetch_container(&ct, &lim, &c, err, sizeof(err)), 0);
	/* A control byte inside the file's token is refused. */
	f = fopen(path, "w");
	fputs("eks\x01token", f);
	fclose(f);
	assert_int_equal(credfetch_container(&ct, &lim, &c, err, sizeof(err)), -1);
	assert_err("control byte");
	unlink(path);
	/* The answer is capped. */
	snprintf(url, sizeof(url), "%s/big", stub.url);
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	want_auth[0] = '\0';
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	assert_int_equal(credfetch_container_init(&ct, err, sizeof(err)), 0);
	assert_int_equal(credfetch_container(&ct, &lim, &c, err, sizeof(err)), -1);
	assert_err("over 65536 bytes");
	credfetch_container_fini(&ct);
}

static void
test_cancel(void **state)
{
	atomic_int cancel = 1;
	struct credfetch_limits l = { 1000, 3000, &cancel };
	struct credfetch_imds md;

	(void)state;
	imds_init(&md);
	assert_int_equal(credfetch_imds(&md, &l, &c, err, sizeof(err)), -1);
	assert_err("cancelled");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_json), T(test_parse_json_caps),
		T(test_imds_v2_token_reuse_and_401), T(test_imds_v1_fallback),
		T(test_imds_errors), T(test_container_host_rules),
		T(test_container_fetch_and_token_file), T(test_cancel),
	};
	int rc;

	/* The stub may write to a connection a cancelled fetch closed. */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
