/* test_credprov.c - the credentials provider: refresh ahead of expiry, never blocking, never expired, failures and recovery. */
#include "testutil.h"

#include <curl/curl.h>
#include <signal.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "credprov.h"
#include "creds.h"
#include "httpstub.h"
#include "log.h"

#define SECRET_PREFIX "provSecretNeverLogged"

/* The container endpoint (or STS): a new key on every fetch. */
struct source {
	atomic_int n;          /* keys handed out */
	atomic_int fail;       /* answer 500 */
	atomic_int delay_ms;   /* before answering, from the second fetch on */
	atomic_int lifetime_s;
	atomic_int sts;        /* answer as STS AssumeRole */
};

static struct source src;
static struct httpstub stub;
static char err[1024], logpath[64];
static int logfd = -1;

static void
source_fn(const struct httpstub_req *req, struct httpstub_resp *resp,
    void *arg)
{
	char exp[32];
	time_t t = time(NULL) + atomic_load(&src.lifetime_s);
	struct tm tm;
	int n;

	(void)req;
	(void)arg;
	if (atomic_load(&src.n) > 0)
		resp->delay_ms = atomic_load(&src.delay_ms);
	if (atomic_load(&src.fail)) {
		resp->status = 500;
		return;
	}
	n = atomic_fetch_add(&src.n, 1) + 1;
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	resp->status = 200;
	if (atomic_load(&src.sts))
		snprintf(resp->body, sizeof(resp->body), "<AssumeRoleResponse>"
		    "<AssumeRoleResult><Credentials><AccessKeyId>ASIAPROV%04d"
		    "</AccessKeyId><SecretAccessKey>" SECRET_PREFIX "%04d"
		    "</SecretAccessKey><SessionToken>tok%04d</SessionToken>"
		    "<Expiration>%s</Expiration></Credentials></AssumeRoleResult>"
		    "</AssumeRoleResponse>", n, n, n, exp);
	else
		snprintf(resp->body, sizeof(resp->body), "{\"AccessKeyId\":"
		    "\"ASIAPROV%04d\",\"SecretAccessKey\":\"" SECRET_PREFIX "%04d\","
		    "\"Token\":\"tok%04d\",\"Expiration\":\"%s\"}", n, n, n, exp);
}

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
};

static int
setup(void **state)
{
	char url[96];

	(void)state;
	memset(&src, 0, sizeof(src));
	atomic_store(&src.lifetime_s, 3600);
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/cxb/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/cxb/config", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (httpstub_start(&stub, source_fn, NULL) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/credentials", stub.url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	strcpy(logpath, "/tmp/cxb-credprov-log-XXXXXX");
	logfd = mkstemp(logpath);
	log_set_fd(logfd);
	memset(err, 0, sizeof(err));
	return logfd >= 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	httpstub_stop(&stub);
	log_set_fd(-1);
	close(logfd);
	unlink(logpath);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* How many lines of the log hold text. */
static int
logged(const char *text)
{
	static char buf[65536];
	ssize_t n = pread(logfd, buf, sizeof(buf) - 1, 0);
	int count = 0;

	buf[n > 0 ? n : 0] = '\0';
	assert_null(strstr(buf, SECRET_PREFIX));
	for (const char *p = strstr(buf, text); p != NULL; p = strstr(p + 1, text))
		count++;
	return count;
}

static struct credprov *
provider(long retry_max_ms)
{
	struct credprov_config cfg = { .region = "us-east-1",
	    .sts_url = stub.url, .retry_max_ms = retry_max_ms };
	struct credprov *p = credprov_new(&cfg, err, sizeof(err));

	if (p == NULL)
		fail_msg("credprov_new: %s", err);
	return p;
}

static void
test_policy(void **state)
{
	(void)state;
	/* 80% of a long lifetime, at least 5 minutes (or half) before expiry. */
	assert_int_equal(credprov_refresh_at(0, 3600000), 2880000);
	assert_int_equal(credprov_refresh_at(1000, 901000), 601000);
	assert_int_equal(credprov_refresh_at(0, 20000), 10000);
	assert_int_equal(credprov_refresh_at(0, 1500), 1000);
	assert_int_equal(credprov_refresh_at(5000, 4000), 6000);
	/* The last tenth, at most 10 s, is not handed out. */
	assert_int_equal(credprov_usable_until(0, 3600000), 3590000);
	assert_int_equal(credprov_usable_until(0, 20000), 18000);
	assert_int_equal(credprov_usable_until(0, -1), -1);
	assert_int_equal(credprov_retry_ms(1, 0), 1000);
	assert_int_equal(credprov_retry_ms(2, 0), 2000);
	assert_int_equal(credprov_retry_ms(3, 1), 2000);
	assert_int_equal(credprov_retry_ms(10, 0), 60000);
	assert_int_equal(credprov_retry_ms(1000, 0.5), 45000);
	assert_int_equal(credprov_retry_ms(1, NAN), 1000);
}

static void
test_static_environment(void **state)
{
	struct aws_credentials c;
	struct credprov *p;
	const char *why = NULL;
	char exp[40];
	time_t past = time(NULL) - 10;
	struct tm tm;

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "AKIASTATIC", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_PREFIX "static", 1);
	p = provider(0);
	assert_string_equal(credprov_describe(p), "environment: static keys");
	assert_int_equal(credprov_get(p, &c), -1);        /* not started */
	assert_int_equal(credprov_ready(p, &why), 0);
	assert_string_equal(why, "no AWS credentials yet");
	assert_int_equal(credprov_start(p, err, sizeof(err)), 0);
	assert_int_equal(credprov_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "AKIASTATIC");
	assert_true(isinf(credprov_expiry_s(p)));
	assert_int_equal(credprov_ready(p, &why), 1);
	assert_int_equal(credprov_fetches(p), 1);
	assert_int_equal(httpstub_count(&stub), 0);
	credprov_free(p);
	/* Keys that expired already do not start. */
	gmtime_r(&past, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
	p = provider(0);
	assert_int_equal(credprov_start(p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already past"));
	credprov_free(p);
	credprov_free(NULL);
}

static void
test_refresh_ahead_never_blocks(void **state)
{
	struct aws_credentials c;
	char first[AWS_ACCESS_KEY_ID_MAX + 1] = "", last[AWS_ACCESS_KEY_ID_MAX + 1] = "";
	struct credprov *p;
	uint64_t t0, worst = 0;
	int keys = 1;

	(void)state;
	atomic_store(&src.lifetime_s, 4);
	atomic_store(&src.delay_ms, 700);     /* every refresh is slow */
	p = provider(0);
	assert_int_equal(credprov_start(p, err, sizeof(err)), 0);
	assert_string_equal(credprov_describe(p), "container credentials endpoint");
	assert_int_equal(credprov_get(p, &c), 0);
	snprintf(first, sizeof(first), "%s", c.access_key_id);
	snprintf(last, sizeof(last), "%s", first);
	t0 = clock_mono_ms();
	while (clock_mono_ms() - t0 < 6000 && keys < 3) {
		uint64_t s = clock_mono_us();

		/* Never fails, never waits for the slow fetch. */
		assert_int_equal(credprov_get(p, &c), 0);
		if (clock_mono_us() - s > worst)
			worst = clock_mono_us() - s;
		assert_true(credprov_expiry_s(p) > 0);
		if (strcmp(c.access_key_id, last) != 0) {
			keys++;
			snprintf(last, sizeof(last), "%s", c.access_key_id);
		}
		sleep_ms(5);
	}
	assert_true(keys >= 3);
	assert_true(worst < 50000);
	assert_string_equal(first, "ASIAPROV0001");
	assert_true(credprov_fetches(p) >= 3);
	assert_int_equal(credprov_failures(p), 0);
	assert_int_equal(logged("refresh failed"), 0);
	credprov_free(p);
}

static void
test_failure_expiry_and_recovery(void **state)
{
	struct aws_credentials c;
	struct credprov *p;
	const char *why = NULL;
	uint64_t t0;

	(void)state;
	atomic_store(&src.lifetime_s, 3);
	p = provider(300);
	assert_int_equal(credprov_start(p, err, sizeof(err)), 0);
	atomic_store(&src.fail, 1);
	/* Valid until the margin, then refused: never an expired key. */
	t0 = clock_mono_ms();
	/* Bounds are generous: sanitizer builds on a busy machine are slow. */
	while (credprov_get(p, &c) == 0 && clock_mono_ms() - t0 < 15000) {
		assert_true(credprov_expiry_s(p) > 0);
		sleep_ms(10);
	}
	assert_int_equal(credprov_get(p, &c), -1);
	assert_true(credprov_expiry_s(p) < 1);
	assert_int_equal(credprov_ready(p, &why), 0);
	assert_string_equal(why,
	    "the AWS credentials have expired and refreshing them fails");
	sleep_ms(1200);
	assert_true(credprov_expiry_s(p) < 0);
	assert_true(credprov_failures(p) >= 3);
	/* Each state change is logged once, however many retries failed. */
	assert_int_equal(logged("refresh failed"), 1);
	assert_int_equal(logged("expired and could not be refreshed"), 1);
	assert_true(logged("container endpoint: answered HTTP 500") >= 1);
	/* Back: the capped backoff picks it up within a moment. */
	atomic_store(&src.fail, 0);
	t0 = clock_mono_ms();
	while (credprov_get(p, &c) != 0 && clock_mono_ms() - t0 < 15000)
		sleep_ms(10);
	assert_int_equal(credprov_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAPROV0002");
	assert_int_equal(credprov_ready(p, &why), 1);
	assert_int_equal(logged("AWS credentials refreshed again"), 1);
	credprov_free(p);
}

static void
test_stop_cancels_a_fetch(void **state)
{
	struct credprov *p;
	uint64_t t0;

	(void)state;
	atomic_store(&src.lifetime_s, 2);
	atomic_store(&src.delay_ms, 2500);
	p = provider(0);
	assert_int_equal(credprov_start(p, err, sizeof(err)), 0);
	sleep_ms(1300);                      /* the refresh is in flight */
	assert_int_equal(httpstub_count(&stub), 2);
	t0 = clock_mono_ms();
	credprov_free(p);
	assert_true(clock_mono_ms() - t0 < 1000);
}

static void
test_start_failure(void **state)
{
	struct credprov *p;

	(void)state;
	atomic_store(&src.fail, 1);
	p = provider(0);
	assert_int_equal(credprov_start(p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "container credentials endpoint"));
	assert_non_null(strstr(err, "answered HTTP 500"));
	assert_int_equal(httpstub_count(&stub), CREDPROV_START_ATTEMPTS);
	assert_int_equal(credprov_failures(p), CREDPROV_START_ATTEMPTS);
	credprov_free(p);
	/* A bad configuration fails before any fetch. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/c", 1);
	assert_null(credprov_new(&(struct credprov_config){ .region = "us-east-1",
	    .sts_url = stub.url }, err, sizeof(err)));
	assert_non_null(strstr(err, "plain http is allowed only"));
}

static void
test_assume_role_on_static_source(void **state)
{
	struct aws_credentials c;
	struct httpstub_req req;
	char path[] = "/tmp/cxb-credprov-conf-XXXXXX", auth[512];
	struct credprov *p;
	int fd = mkstemp(path);
	static const char conf[] = "[profile base]\naws_access_key_id = AKIABASE\n"
	    "aws_secret_access_key = " SECRET_PREFIX "base\n[profile app]\n"
	    "role_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, conf, sizeof(conf) - 1), (ssize_t)sizeof(conf) - 1);
	close(fd);
	setenv("AWS_CONFIG_FILE", path, 1);
	setenv("AWS_PROFILE", "app", 1);
	atomic_store(&src.sts, 1);
	atomic_store(&src.lifetime_s, 900);
	p = provider(0);
	assert_int_equal(credprov_start(p, err, sizeof(err)), 0);
	assert_int_equal(credprov_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAPROV0001");
	assert_string_equal(c.source, "sts-assume-role");
	assert_true(credprov_expiry_s(p) > 890 && credprov_expiry_s(p) <= 900);
	httpstub_request(&stub, 0, &req);
	assert_non_null(httpstub_header(&req, "Authorization", auth, sizeof(auth)));
	assert_non_null(strstr(auth, "Credential=AKIABASE/"));
	credprov_free(p);
	unlink(path);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy), T(test_static_environment),
		T(test_refresh_ahead_never_blocks),
		T(test_failure_expiry_and_recovery), T(test_stop_cancels_a_fetch),
		T(test_start_failure), T(test_assume_role_on_static_source),
	};
	int rc;

	/* The stub may write to a connection a cancelled fetch closed. */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
