/* fuzz_awsproto.c - libFuzzer target: PutEvents, SendMessageBatch and error responses from AWS. */
#include "fuzzutil.h"

#include <jansson.h>

#include "awsproto.h"
#include "jsonscan.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* A result string: terminated inside its field and cut at a UTF-8
 * character boundary ("strings truncated at a UTF-8 boundary"). */
static void
fuzz_check_text(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);

	FUZZ_CHECK(nul != NULL);
	FUZZ_CHECK(jsonscan_check(s, (size_t)(nul - s), (unsigned)size,
	    NULL) == 0);
}

/* How many results the body holds, so that the parsers also see the n
 * they would be called with for it; 1..AWSPROTO_MAX_ENTRIES. */
static size_t
fuzz_count(const char *body, size_t len, const char *const *keys)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	size_t n = 0;

	for (; keys != NULL && *keys != NULL; keys++)
		n += json_array_size(json_object_get(root, *keys));
	json_decref(root);
	if (n == 0)
		return 1;
	return n > AWSPROTO_MAX_ENTRIES ? AWSPROTO_MAX_ENTRIES : n;
}

static void
fuzz_putevents(const char *body, size_t len, size_t n)
{
	struct putevents_result out[AWSPROTO_MAX_ENTRIES];

	memset(out, 0x5a, sizeof(out));
	if (putevents_parse(body, len, n, out) != 0) {
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(out[i].ok == 0 &&
			    out[i].error_code[0] == '\0');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fuzz_check_text(out[i].event_id, sizeof(out[i].event_id));
		fuzz_check_text(out[i].error_code, sizeof(out[i].error_code));
		fuzz_check_text(out[i].error_message,
		    sizeof(out[i].error_message));
		/* Either an EventId or an error code, never neither. */
		FUZZ_CHECK(out[i].ok == 1 || out[i].error_code[0] != '\0');
		(void)aws_error_retryable(out[i].error_code, 200);
	}
}

static void
fuzz_sqs(const char *body, size_t len, size_t n)
{
	struct sqs_result out[AWSPROTO_MAX_ENTRIES];

	memset(out, 0x5a, sizeof(out));
	if (sqs_batch_parse(body, len, n, out) != 0) {
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(out[i].ok == 0 &&
			    out[i].error_code[0] == '\0');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fuzz_check_text(out[i].message_id, sizeof(out[i].message_id));
		fuzz_check_text(out[i].error_code, sizeof(out[i].error_code));
		fuzz_check_text(out[i].error_message,
		    sizeof(out[i].error_message));
		FUZZ_CHECK(out[i].ok == 1 || out[i].error_code[0] != '\0');
	}
}

static void
fuzz_error(long status, const char *body, size_t len, const char *query_err,
    const char *type_err)
{
	struct aws_error e;
	int rc;

	memset(&e, 0x5a, sizeof(e));
	rc = aws_error_parse(status, body, len, query_err, type_err, &e);
	FUZZ_CHECK(rc == 0 || rc == 1);
	fuzz_check_text(e.code, sizeof(e.code));
	fuzz_check_text(e.message, sizeof(e.message));
	FUZZ_CHECK(e.code[0] != '\0');    /* "never empty" */
	(void)aws_error_retryable(e.code, status);
}

/*
 * Input: the response body, then optionally a NUL and the
 * x-amzn-query-error header value, then a NUL and x-amzn-ErrorType.  The
 * body goes to all three parsers; the headers only matter for errors.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pe_keys[] = { "Entries", NULL };
	static const char *const sqs_keys[] = { "Successful", "Failed", NULL };
	struct fuzz_input in;
	const char *query_err, *type_err;
	char *body;
	size_t len;

	fuzz_input_init(&in, data, size);
	body = fuzz_input_bytes(&in, '\0', &len);
	if (body == NULL)
		goto out;
	query_err = fuzz_input_field(&in, '\0', NULL);
	type_err = fuzz_input_field(&in, '\0', NULL);

	fuzz_putevents(body, len, fuzz_count(body, len, pe_keys));
	fuzz_putevents(body, len, AWSPROTO_MAX_ENTRIES);
	fuzz_sqs(body, len, fuzz_count(body, len, sqs_keys));
	fuzz_sqs(body, len, 1);
	fuzz_error(400 + (long)(len % 200), body, len, query_err, type_err);
	fuzz_error(503, NULL, 0, query_err, type_err);
out:
	fuzz_input_fini(&in);
	return 0;
}
