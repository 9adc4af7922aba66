/* test_credproc.c - running credential_process helpers: output, failures, timeouts, caps. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "credproc.h"

#define SECRET "procSecret/0123456789+abc"

static struct aws_credentials c;
static char err[512];
static const struct credfetch_limits lim = { 1000, 5000, NULL };

static int
run(const char *cmd)
{
	memset(err, 0, sizeof(err));
	return credproc_run(cmd, &lim, &c, err, sizeof(err));
}

static void
assert_err(const char *want)
{
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_null(strstr(err, SECRET));
	assert_string_equal(c.access_key_id, "");
}

static void
test_output(void **state)
{
	(void)state;
	assert_int_equal(run("printf '%s' '{\"Version\": 1, \"AccessKeyId\": "
	    "\"AKIAPROC\", \"SecretAccessKey\": \"" SECRET "\", \"SessionToken\": "
	    "\"tok\", \"Expiration\": \"2030-01-01T00:00:00Z\"}'"), 0);
	assert_string_equal(c.access_key_id, "AKIAPROC");
	assert_string_equal(c.secret_access_key, SECRET);
	assert_string_equal(c.session_token, "tok");
	assert_int_equal(c.expiration, 1893456000);
	assert_string_equal(c.source, "process");
	/* No Expiration: keys that do not expire.  stderr is not the answer,
	 * and stdin is /dev/null, so a helper that reads it does not hang. */
	assert_int_equal(run("cat; echo noise >&2; echo '{\"Version\":1,"
	    "\"AccessKeyId\":\"AKIAX\",\"SecretAccessKey\":\"s\"}'"), 0);
	assert_int_equal(c.expiration, 0);
	assert_string_equal(c.session_token, "");
}

static void
test_failures(void **state)
{
	(void)state;
	assert_int_equal(run("echo '{\"Version\":2,\"AccessKeyId\":\"AKIAX\","
	    "\"SecretAccessKey\":\"" SECRET "\"}'"), -1);
	assert_err("\"Version\": 1");
	assert_int_equal(run("echo 'run aws sso login first' >&2; "
	    "echo second line >&2; exit 3"), -1);
	assert_err("exited with status 3: run aws sso login first");
	assert_null(strstr(err, "second line"));
	assert_int_equal(run("kill -TERM $$"), -1);
	assert_err("killed by signal 15");
	assert_int_equal(run("echo '{\"Version\":1,\"AccessKeyId\":\"AK IA\","
	    "\"SecretAccessKey\":\"" SECRET "\"}'"), -1);
	assert_err("not allowed");
	assert_int_equal(run("/nonexistent/helper"), -1);
	assert_err("exited with status 127");
}

static void
test_timeout_and_caps(void **state)
{
	struct credfetch_limits quick = { 1000, 300, NULL };
	atomic_int cancel = 1;
	struct credfetch_limits cancelled = { 1000, 5000, &cancel };
	uint64_t t0;

	(void)state;
	/* A helper that hangs is killed, with what it started. */
	t0 = clock_mono_ms();
	assert_int_equal(credproc_run("sleep 30 & sleep 30", &quick, &c, err,
	    sizeof(err)), -1);
	assert_err("timed out and was killed");
	assert_true(clock_mono_ms() - t0 < 2000);
	/* Cancelled (the daemon is stopping). */
	t0 = clock_mono_ms();
	assert_int_equal(credproc_run("sleep 30", &cancelled, &c, err,
	    sizeof(err)), -1);
	assert_err("cancelled");
	assert_true(clock_mono_ms() - t0 < 2000);
	/* Output over the cap. */
	assert_int_equal(run("head -c 100000 /dev/zero | tr '\\0' x"), -1);
	assert_err("more than 64 KiB");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output), cmocka_unit_test(test_failures),
		cmocka_unit_test(test_timeout_and_caps),
	};

	/* As in the daemon: SIGPIPE ignored, which the helper must not
	 * inherit. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
