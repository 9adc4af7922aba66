/* test_credsts.c - STS AssumeRole and AssumeRoleWithWebIdentity against an in-process HTTP stub. */
#include "testutil.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "credchain.h"
#include "credsts.h"
#include "httpstub.h"
#include "sigv4.h"

#define WEB_TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
#define SRC_ID    "AKIASOURCEKEY0001"
#define SRC_SECRET "sourceSecret/0123456789+abcdef"
#define SRC_TOKEN "source-session-token"

static struct aws_credentials c;
static char err[512];
static const struct credfetch_limits lim = { 1000, 3000, NULL };
static struct httpstub stub;

static const char ok_fmt[] =
    "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    "<%sResult><Credentials><AccessKeyId>ASIASTSISSUED0001</AccessKeyId>"
    "<SecretAccessKey>issued/secret+1</SecretAccessKey>"
    "<SessionToken>issued-token</SessionToken>"
    "<Expiration>2031-02-03T04:05:06Z</Expiration></Credentials>"
    "</%sResult></%sResponse>";

static const char err_xml[] =
    "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
    "<Message>not authorized to perform sts:AssumeRole</Message></Error>"
    "</ErrorResponse>";

static int fail_next;

static void
sts_fn(const struct httpstub_req *req, struct httpstub_resp *resp, void *arg)
{
	const char *action = strstr(req->body, "Action=AssumeRoleWithWebIdentity") ?
	    "AssumeRoleWithWebIdentity" : "AssumeRole";

	(void)arg;
	if (fail_next) {
		resp->status = 403;
		snprintf(resp->body, sizeof(resp->body), "%s", err_xml);
		return;
	}
	resp->status = 200;
	snprintf(resp->body, sizeof(resp->body), ok_fmt, action, action, action,
	    action);
}

static int
setup(void **state)
{
	(void)state;
	fail_next = 0;
	memset(err, 0, sizeof(err));
	return httpstub_start(&stub, sts_fn, NULL);
}

static int
teardown(void **state)
{
	(void)state;
	httpstub_stop(&stub);
	return 0;
}

static void
role(struct credchain_role *r, const char *session)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->arn, sizeof(r->arn), "arn:aws:iam::123456789012:role/a b");
	snprintf(r->session_name, sizeof(r->session_name), "%s", session);
}

static void
test_parse(void **state)
{
	char body[1024];

	(void)state;
	snprintf(body, sizeof(body), ok_fmt, "AssumeRole", "AssumeRole",
	    "AssumeRole", "AssumeRole");
	assert_int_equal(credsts_parse(body, strlen(body), "AssumeRole", &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "ASIASTSISSUED0001");
	assert_string_equal(c.secret_access_key, "issued/secret+1");
	assert_string_equal(c.session_token, "issued-token");
	assert_int_equal(c.expiration, 1927857906);
	/* The answer of the other action is not this one's. */
	assert_int_equal(credsts_parse(body, strlen(body),
	    "AssumeRoleWithWebIdentity", &c, err, sizeof(err)), -1);
	assert_string_equal(c.access_key_id, "");
	/* Truncated: refused even though the keys came first. */
	assert_int_equal(credsts_parse(body, strlen(body) - 25, "AssumeRole", &c,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed or lacks"));
	assert_int_equal(credsts_parse(err_xml, strlen(err_xml), "AssumeRole", &c,
	    err, sizeof(err)), -1);
}

static void
test_web_identity(void **state)
{
	struct credchain_role r;
	struct httpstub_req req;
	char path[] = "/tmp/cxb-webid-XXXXXX", v[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, WEB_TOKEN "\n", strlen(WEB_TOKEN) + 1),
	    (ssize_t)strlen(WEB_TOKEN) + 1);
	close(fd);
	role(&r, "");
	r.duration_s = 900;
	assert_int_equal(credsts_web_identity(stub.url, &r, path, &lim, &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "ASIASTSISSUED0001");
	assert_string_equal(c.source, "sts-web-identity");
	httpstub_request(&stub, 0, &req);
	assert_string_equal(req.method, "POST");
	assert_string_equal(req.path, "/");
	/* Unsigned, form-encoded, every value escaped. */
	assert_null(httpstub_header(&req, "Authorization", v, sizeof(v)));
	assert_non_null(strstr(httpstub_header(&req, "Content-Type", v, sizeof(v)),
	    "application/x-www-form-urlencoded"));
	assert_non_null(strstr(req.body, "Action=AssumeRoleWithWebIdentity&"
	    "Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole"
	    "%2Fa%20b&RoleSessionName=cxbridge-"));
	assert_non_null(strstr(req.body, "&DurationSeconds=900&WebIdentityToken="
	    WEB_TOKEN));
	assert_int_equal(req.body_len, strlen(req.body));
	/* STS's own error comes back in the message; the token never does. */
	fail_next = 1;
	assert_int_equal(credsts_web_identity(stub.url, &r, path, &lim, &c, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "HTTP 403 AccessDenied: not authorized"));
	assert_null(strstr(err, WEB_TOKEN));
	unlink(path);
	assert_int_equal(credsts_web_identity(stub.url, &r, path, &lim, &c, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "web identity token file"));
}

/* Recomputes the signature over the request as received. */
static void
check_signature(const struct httpstub_req *req)
{
	struct sigv4_signer *s = sigv4_signer_new("eu-west-1", "sts");
	struct sigv4_result *res = malloc(sizeof(*res));
	char host[128], ctype[128], date[32], auth[1024];
	struct sigv4_header h[2];
	struct sigv4_request sr;
	struct tm tm;
	struct aws_credentials src;

	assert_non_null(s);
	assert_non_null(res);
	memset(&src, 0, sizeof(src));
	strcpy(src.access_key_id, SRC_ID);
	strcpy(src.secret_access_key, SRC_SECRET);
	strcpy(src.session_token, SRC_TOKEN);
	assert_non_null(httpstub_header(req, "Host", host, sizeof(host)));
	assert_non_null(httpstub_header(req, "Content-Type", ctype, sizeof(ctype)));
	assert_non_null(httpstub_header(req, "X-Amz-Date", date, sizeof(date)));
	assert_non_null(httpstub_header(req, "Authorization", auth, sizeof(auth)));
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(date, "%Y%m%dT%H%M%SZ", &tm));
	h[0] = (struct sigv4_header){ "Host", host };
	h[1] = (struct sigv4_header){ "Content-Type", ctype };
	sr = (struct sigv4_request){ .method = "POST", .path = "/", .query = "",
	    .headers = h, .n_headers = 2, .payload = req->body,
	    .payload_len = req->body_len };
	assert_int_equal(sigv4_sign(s, &sr, &src, timegm(&tm), res), 0);
	assert_string_equal(res->authorization, auth);
	assert_non_null(strstr(auth, "Credential=" SRC_ID "/"));
	assert_non_null(strstr(auth, "/eu-west-1/sts/aws4_request"));
	free(res);
	sigv4_signer_free(s);
}

static void
test_assume_role_signed(void **state)
{
	struct aws_credentials src;
	struct credchain_role r;
	struct httpstub_req req;
	char v[128];

	(void)state;
	memset(&src, 0, sizeof(src));
	strcpy(src.access_key_id, SRC_ID);
	strcpy(src.secret_access_key, SRC_SECRET);
	strcpy(src.session_token, SRC_TOKEN);
	role(&r, "cxb-session");
	snprintf(r.external_id, sizeof(r.external_id), "ext&id=1");
	assert_int_equal(credsts_assume_role(stub.url, "eu-west-1", &r, &src, &lim,
	    &c, err, sizeof(err)), 0);
	assert_string_equal(c.session_token, "issued-token");
	assert_string_equal(c.source, "sts-assume-role");
	httpstub_request(&stub, 0, &req);
	assert_non_null(strstr(req.body, "Action=AssumeRole&Version=2011-06-15&"));
	assert_non_null(strstr(req.body, "&RoleSessionName=cxb-session&"
	    "ExternalId=ext%26id%3D1"));
	assert_null(strstr(req.body, "DurationSeconds"));
	assert_string_equal(httpstub_header(&req, "X-Amz-Security-Token", v,
	    sizeof(v)), SRC_TOKEN);
	check_signature(&req);
	/* Bad source credentials cannot be signed with. */
	src.access_key_id[0] = '\0';
	assert_int_equal(credsts_assume_role(stub.url, "eu-west-1", &r, &src, &lim,
	    &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "signing failed"));
	assert_int_equal(httpstub_count(&stub), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse), T(test_web_identity), T(test_assume_role_signed),
	};
	int rc;

	/* The stub may write to a connection a cancelled fetch closed. */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
