/* fuzz_awsskew.c - libFuzzer target: awsskew_detect on AWS error codes and messages. */
#include "fuzzutil.h"

#include "awsproto.h"
#include "awsskew.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
fuzz_detect(const struct aws_error *e)
{
	long skew = 12345;
	int rc = awsskew_detect(e, &skew);

	FUZZ_CHECK(rc >= 0 && rc <= 2);
	/* The skew is only set when both times were read. */
	if (rc != 2)
		FUZZ_CHECK(skew == 12345);
	FUZZ_CHECK(awsskew_detect(e, NULL) == rc);
}

/*
 * Input: an error code, a NUL, then the message (as aws_error_parse leaves
 * them, cut to their fields); the whole input also goes through
 * aws_error_parse as a response body, as the delivery thread does.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct aws_error e;
	const char *code, *msg;
	size_t clen = 0, mlen = 0;

	fuzz_input_init(&in, data, size);
	code = fuzz_input_field(&in, '\0', &clen);
	msg = fuzz_input_field(&in, '\0', &mlen);
	memset(&e, 0, sizeof(e));
	if (code != NULL)
		memcpy(e.code, code, clen < sizeof(e.code) ? clen :
		    sizeof(e.code) - 1);
	if (msg != NULL)
		memcpy(e.message, msg, mlen < sizeof(e.message) ? mlen :
		    sizeof(e.message) - 1);
	fuzz_detect(&e);
	fuzz_input_fini(&in);

	aws_error_parse(403, (const char *)data, size, NULL, NULL, &e);
	fuzz_detect(&e);
	return 0;
}
