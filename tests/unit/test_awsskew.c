/* test_awsskew.c - telling AWS's "your clock is off" answers apart, counting and logging them. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awsproto.h"
#include "awsskew.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"

static struct aws_error
aerr(const char *code, const char *message)
{
	struct aws_error e;

	memset(&e, 0, sizeof(e));
	snprintf(e.code, sizeof(e.code), "%s", code);
	snprintf(e.message, sizeof(e.message), "%s", message);
	return e;
}

static void
test_detect(void **state)
{
	struct aws_error e;
	long skew = 0;

	(void)state;
	/* EventBridge: this host is 10 minutes behind AWS. */
	e = aerr("InvalidSignatureException", "Signature expired: "
	    "20240101T001000Z is now earlier than 20240101T001500Z "
	    "(20240101T002000Z - 5 min.)");
	assert_int_equal(awsskew_detect(&e, &skew), 2);
	assert_int_equal(skew, -600);
	/* ...or 7 minutes ahead. */
	e = aerr("InvalidSignatureException", "Signature not yet current: "
	    "20240101T001700Z is still later than 20240101T001500Z "
	    "(20240101T001000Z + 5 min.)");
	assert_int_equal(awsskew_detect(&e, &skew), 2);
	assert_int_equal(skew, 420);
	/* SQS, either protocol's code; the text decides. */
	e = aerr("SignatureDoesNotMatch", "Signature expired: 20240101T001000Z is "
	    "now earlier than 20240101T001500Z (20240101T002000Z - 5 min.)");
	assert_int_equal(awsskew_detect(&e, NULL), 2);
	/* Codes that say it whatever the message, times or not. */
	e = aerr("RequestTimeTooSkewed", "The difference between the request time "
	    "and the current time is too large.");
	assert_int_equal(awsskew_detect(&e, NULL), 1);
	e = aerr("RequestExpired", "Request has expired.");
	assert_int_equal(awsskew_detect(&e, NULL), 1);
	/* A wrong secret is not a clock problem, nor is throttling, nor the
	 * phrase under an unrelated code. */
	e = aerr("InvalidSignatureException", "The request signature we calculated "
	    "does not match the signature you provided.");
	assert_int_equal(awsskew_detect(&e, NULL), 0);
	e = aerr("SignatureDoesNotMatch", "");
	assert_int_equal(awsskew_detect(&e, NULL), 0);
	e = aerr("ThrottlingException", "Signature expired: but not really");
	assert_int_equal(awsskew_detect(&e, NULL), 0);
	e = aerr("ExpiredTokenException", "The security token included in the "
	    "request is expired");
	assert_int_equal(awsskew_detect(&e, NULL), 0);
	assert_int_equal(awsskew_detect(NULL, NULL), 0);
	/* Garbled times: still a skew error, offset unknown. */
	e = aerr("InvalidSignatureException", "Signature expired: soon is now "
	    "earlier than later (20240101T002000Z - 5 min.)");
	assert_int_equal(awsskew_detect(&e, NULL), 1);
}

/* The error-code path: aws_error_parse on real answers, then detect. */
static void
test_from_answers(void **state)
{
	static const char eb[] = "{\"__type\":\"InvalidSignatureException\","
	    "\"message\":\"Signature expired: 20240101T001000Z is now earlier than "
	    "20240101T001500Z (20240101T002000Z - 5 min.)\"}";
	static const char sqs[] = "{\"__type\":\"com.amazon.coral.service#"
	    "SignatureDoesNotMatch\",\"message\":\"Signature not yet current: "
	    "20240101T003000Z is still later than 20240101T002500Z "
	    "(20240101T002000Z + 5 min.)\"}";
	struct aws_error e;
	long skew;

	(void)state;
	aws_error_parse(400, eb, strlen(eb), NULL, NULL, &e);
	assert_int_equal(awsskew_detect(&e, &skew), 2);
	assert_int_equal(skew, -600);
	aws_error_parse(400, sqs, strlen(sqs), "SignatureDoesNotMatch;Sender",
	    NULL, &e);
	assert_int_equal(awsskew_detect(&e, &skew), 2);
	assert_int_equal(skew, 600);
}

static void
test_check_counts_and_logs_once(void **state)
{
	struct metrics *m = metrics_new();
	struct stats *st = stats_new(m, "test");
	struct aws_error skewed = aerr("InvalidSignatureException", "Signature "
	    "expired: 20240101T001000Z is now earlier than 20240101T001500Z "
	    "(20240101T002000Z - 5 min.)");
	struct aws_error other = aerr("ThrottlingException", "Rate exceeded");
	char path[] = "/tmp/cxb-skew-log-XXXXXX", buf[4096];
	int fd = mkstemp(path);
	ssize_t n;
	size_t len;
	char *text;

	(void)state;
	assert_non_null(st);
	assert_true(fd >= 0);
	log_set_fd(fd);
	assert_int_equal(awsskew_check(st, "PutEvents", &other), 0);
	assert_int_equal(awsskew_check(st, "PutEvents", &skewed), 1);
	assert_int_equal(awsskew_check(st, "SendMessageBatch", &skewed), 1);
	assert_int_equal(awsskew_check(NULL, "PutEvents", &skewed), 1);
	log_set_fd(-1);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	/* One plain line for the burst, naming the cause and the offset. */
	assert_non_null(strstr(buf, "this host's clock is off"));
	assert_non_null(strstr(buf, "\"operation\":\"PutEvents\""));
	assert_non_null(strstr(buf, "\"clock_ahead_s\":-600"));
	assert_null(strstr(strstr(buf, "clock is off") + 1, "clock is off"));
	text = metrics_render(m, &len);
	assert_non_null(text);
	assert_non_null(strstr(text, "\ncxbridge_clock_skew_errors_total 2\n"));
	free(text);
	close(fd);
	unlink(path);
	stats_free(st);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect), cmocka_unit_test(test_from_answers),
		cmocka_unit_test(test_check_counts_and_logs_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
