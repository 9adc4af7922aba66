/* test_awsenv.c - region and endpoint resolution, endpoint URL parsing. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awsenv.h"

static char conf_path[64];
static char out[AWSENV_URL_MAX + 1];
static char err[512];

static const char *const aws_vars[] = {
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SQS",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ENDPOINT_URL_STS",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
};

static int
setup(void **state)
{
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	strcpy(conf_path, "/tmp/cxb-awsenv-XXXXXX");
	fd = mkstemp(conf_path);
	if (fd == -1)
		return -1;
	close(fd);
	unlink(conf_path);  /* no config file unless a test writes one */
	setenv("AWS_CONFIG_FILE", conf_path, 1);
	memset(out, 0, sizeof(out));
	memset(err, 0, sizeof(err));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return 0;
}

static void
write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
test_region_order(void **state)
{
	(void)state;
	write_conf("[default]\nregion = ap-northeast-1\n[profile p]\nregion = sa-east-1\n");
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), 0);
	assert_string_equal(out, "ap-northeast-1");
	assert_int_equal(awsenv_region("", "p", out, 64, err, sizeof(err)), 0);
	assert_string_equal(out, "sa-east-1");
	setenv("AWS_PROFILE", "p", 1);
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), 0);
	assert_string_equal(out, "sa-east-1");
	setenv("AWS_DEFAULT_REGION", "eu-north-1", 1);
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), 0);
	assert_string_equal(out, "eu-north-1");
	setenv("AWS_REGION", "us-west-2", 1);
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), 0);
	assert_string_equal(out, "us-west-2");
	assert_int_equal(awsenv_region("eu-west-3", NULL, out, 64, err,
	    sizeof(err)), 0);
	assert_string_equal(out, "eu-west-3");
}

static void
test_region_errors(void **state)
{
	(void)state;
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no AWS region"));
	setenv("AWS_REGION", "US East", 1);
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_REGION is not a valid region"));
	assert_int_equal(awsenv_region("us-east-1", NULL, out, 9, err,
	    sizeof(err)), -1);
	unsetenv("AWS_REGION");
	write_conf("[default]\nregion\n");
	assert_int_equal(awsenv_region(NULL, NULL, out, 64, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: malformed"));
}

static void
check_endpoint(enum awsenv_service svc, const char *configured,
    const char *region, const char *want)
{
	assert_int_equal(awsenv_endpoint(svc, configured, region, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, want);
}

static void
test_endpoint_order(void **state)
{
	(void)state;
	check_endpoint(AWSENV_EVENTBRIDGE, NULL, "us-east-1",
	    "https://events.us-east-1.amazonaws.com");
	check_endpoint(AWSENV_SQS, "", "eu-west-1",
	    "https://sqs.eu-west-1.amazonaws.com");
	check_endpoint(AWSENV_SQS, NULL, "cn-north-1",
	    "https://sqs.cn-north-1.amazonaws.com.cn");
	check_endpoint(AWSENV_EVENTBRIDGE, NULL, "cn-northwest-1",
	    "https://events.cn-northwest-1.amazonaws.com.cn");
	setenv("AWS_ENDPOINT_URL", "http://localhost:4566", 1);
	check_endpoint(AWSENV_SQS, NULL, "us-east-1", "http://localhost:4566");
	setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://eb.local:9000/", 1);
	check_endpoint(AWSENV_EVENTBRIDGE, NULL, "us-east-1",
	    "http://eb.local:9000/");
	check_endpoint(AWSENV_SQS, NULL, "us-east-1", "http://localhost:4566");
	setenv("AWS_ENDPOINT_URL_SQS", "http://sqs.local", 1);
	check_endpoint(AWSENV_SQS, NULL, "us-east-1", "http://sqs.local");
	check_endpoint(AWSENV_SQS, "https://vpce-1.sqs.us-east-1.vpce.amazonaws.com",
	    "us-east-1", "https://vpce-1.sqs.us-east-1.vpce.amazonaws.com");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	check_endpoint(AWSENV_SQS, NULL, "us-east-1",
	    "https://sqs.us-east-1.amazonaws.com");
	check_endpoint(AWSENV_SQS, "http://still.config", "us-east-1",
	    "http://still.config");
	assert_string_equal(awsenv_signing_name(AWSENV_EVENTBRIDGE), "events");
	assert_string_equal(awsenv_signing_name(AWSENV_SQS), "sqs");
}

static void
test_endpoint_errors(void **state)
{
	char small[16];

	(void)state;
	assert_int_equal(awsenv_endpoint(AWSENV_SQS, NULL, NULL, out,
	    sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no valid region"));
	assert_int_equal(awsenv_endpoint(AWSENV_SQS, NULL, "us-east-1", small,
	    sizeof(small), err, sizeof(err)), -1);
	setenv("AWS_ENDPOINT_URL_SQS", "ftp://x", 1);
	assert_int_equal(awsenv_endpoint(AWSENV_SQS, NULL, "us-east-1", out,
	    sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "from AWS_ENDPOINT_URL_SQS"));
	assert_string_equal(out, "");
}

static void
check_url(const char *url, const char *scheme, const char *host,
    unsigned port, const char *path, const char *host_header)
{
	struct awsenv_url u;

	assert_int_equal(awsenv_url_parse(url, &u, err, sizeof(err)), 0);
	assert_string_equal(u.scheme, scheme);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_string_equal(u.path, path);
	assert_string_equal(u.host_header, host_header);
}

static void
test_url_parse(void **state)
{
	struct awsenv_url u;

	(void)state;
	check_url("https://events.us-east-1.amazonaws.com", "https",
	    "events.us-east-1.amazonaws.com", 443, "/",
	    "events.us-east-1.amazonaws.com");
	check_url("HTTPS://SQS.Eu-West-1.amazonaws.com:443/", "https",
	    "sqs.eu-west-1.amazonaws.com", 443, "/", "sqs.eu-west-1.amazonaws.com");
	check_url("http://localhost:4566", "http", "localhost", 4566, "/",
	    "localhost:4566");
	check_url("http://my_stack:80/base/path", "http", "my_stack", 80,
	    "/base/path", "my_stack");
	check_url("http://[::1]:8080/x", "http", "[::1]", 8080, "/x", "[::1]:8080");
	check_url("https://10.0.0.2", "https", "10.0.0.2", 443, "/", "10.0.0.2");
	check_url("http://ab", "http", "ab", 80, "/", "ab");
	assert_int_equal(awsenv_url_parse("http://h:443", &u, err, sizeof(err)), 0);
	assert_int_equal(u.port_given, 1);
	assert_string_equal(u.host_header, "h:443");
}

static void
test_url_refused(void **state)
{
	static const char *const bad[] = {
		"", "ftp://h", "h:80", "http://", "http:///x", "http://u:p@h",
		"http://h:0", "http://h:65536", "http://h:", "http://h:8a",
		"http://h?x=1", "http://h/#f", "http://h h", "http://h\n",
		"http://[::1", "http://[]", "http://h%41", "http://h:123456",
		"http://\xc3\xa9.com",
	};
	struct awsenv_url u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (awsenv_url_parse(bad[i], &u, err, sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_string_equal(u.host, "");
	}
	assert_int_equal(awsenv_url_parse(NULL, &u, NULL, 0), -1);
}

static void
check_variant(enum awsenv_service svc, const char *region, int fips, int dual,
    const char *want)
{
	struct awsenv_variant v = { fips, dual };

	if (awsenv_endpoint_variant(svc, NULL, region, &v, out, sizeof(out), err,
	    sizeof(err)) != 0)
		fail_msg("%s fips=%d dual=%d: %s", region, fips, dual, err);
	assert_string_equal(out, want);
}

static void
test_endpoint_variants(void **state)
{
	struct awsenv_variant v = { 1, 1 };

	(void)state;
	check_variant(AWSENV_EVENTBRIDGE, "us-east-1", 0, 0,
	    "https://events.us-east-1.amazonaws.com");
	check_variant(AWSENV_EVENTBRIDGE, "us-east-1", 1, 0,
	    "https://events-fips.us-east-1.amazonaws.com");
	check_variant(AWSENV_SQS, "eu-west-1", 0, 1,
	    "https://sqs.eu-west-1.api.aws");
	check_variant(AWSENV_SQS, "us-west-2", 1, 1,
	    "https://sqs-fips.us-west-2.api.aws");
	check_variant(AWSENV_STS, "ap-south-1", 0, 0,
	    "https://sts.ap-south-1.amazonaws.com");
	check_variant(AWSENV_STS, "us-east-2", 1, 0,
	    "https://sts-fips.us-east-2.amazonaws.com");
	/* China: its own suffixes. */
	check_variant(AWSENV_EVENTBRIDGE, "cn-north-1", 0, 0,
	    "https://events.cn-north-1.amazonaws.com.cn");
	check_variant(AWSENV_SQS, "cn-northwest-1", 0, 1,
	    "https://sqs.cn-northwest-1.api.amazonwebservices.com.cn");
	/* GovCloud: the regional host is the FIPS one. */
	check_variant(AWSENV_EVENTBRIDGE, "us-gov-west-1", 1, 0,
	    "https://events.us-gov-west-1.amazonaws.com");
	check_variant(AWSENV_SQS, "us-gov-east-1", 1, 1,
	    "https://sqs-fips.us-gov-east-1.api.aws");
	/* ISO partitions: their suffix, no dual-stack. */
	check_variant(AWSENV_SQS, "us-iso-east-1", 0, 0,
	    "https://sqs.us-iso-east-1.c2s.ic.gov");
	check_variant(AWSENV_SQS, "us-isob-east-1", 1, 0,
	    "https://sqs-fips.us-isob-east-1.sc2s.sgov.gov");
	assert_int_equal(awsenv_endpoint_variant(AWSENV_SQS, NULL, "us-iso-east-1",
	    &v, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no dual-stack"));
	assert_string_equal(out, "");
	/* An endpoint URL is used as given: the variants do not touch it. */
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9/", 1);
	assert_int_equal(awsenv_endpoint_variant(AWSENV_STS, NULL, "us-east-1", &v,
	    out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "http://127.0.0.1:9/");
	setenv("AWS_ENDPOINT_URL", "http://all.local", 1);
	unsetenv("AWS_ENDPOINT_URL_STS");
	assert_int_equal(awsenv_endpoint_variant(AWSENV_STS, NULL, "us-east-1", &v,
	    out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "http://all.local");
	assert_string_equal(awsenv_signing_name(AWSENV_STS), "sts");
}

static void
test_variant_sources(void **state)
{
	struct awsenv_variant v;

	(void)state;
	assert_int_equal(awsenv_variant(0, 0, NULL, &v, err, sizeof(err)), 0);
	assert_int_equal(v.fips + v.dualstack, 0);
	/* The profile's keys, then the variables over them, then the
	 * configuration's true over both. */
	write_conf("[default]\nuse_fips_endpoint = true\n"
	    "use_dualstack_endpoint = TRUE\n");
	assert_int_equal(awsenv_variant(0, 0, NULL, &v, err, sizeof(err)), 0);
	assert_int_equal(v.fips, 1);
	assert_int_equal(v.dualstack, 1);
	setenv("AWS_USE_FIPS_ENDPOINT", "false", 1);
	assert_int_equal(awsenv_variant(0, 0, NULL, &v, err, sizeof(err)), 0);
	assert_int_equal(v.fips, 0);
	assert_int_equal(v.dualstack, 1);
	assert_int_equal(awsenv_variant(1, 0, NULL, &v, err, sizeof(err)), 0);
	assert_int_equal(v.fips, 1);
	setenv("AWS_USE_DUALSTACK_ENDPOINT", "yes", 1);
	assert_int_equal(awsenv_variant(0, 0, NULL, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_USE_DUALSTACK_ENDPOINT must be true or "
	    "false"));
	unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
	write_conf("[default]\nuse_dualstack_endpoint = 1\n");
	assert_int_equal(awsenv_variant(0, 0, NULL, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "use_dualstack_endpoint must be"));
	assert_int_equal(awsenv_variant(0, 1, NULL, &v, err, sizeof(err)), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_region_order), T(test_region_errors),
		T(test_endpoint_order), T(test_endpoint_errors),
		T(test_url_parse), T(test_url_refused),
		T(test_endpoint_variants), T(test_variant_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
