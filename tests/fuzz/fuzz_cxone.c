/* fuzz_cxone.c - libFuzzer target: CXone API answers (token, Retry-After, webhook id). */
#include "fuzzutil.h"

#include <jansson.h>

#include "cxone.h"
#include "log.h"

#define FUZZ_NOW_MS UINT64_C(1700000000000)
#define FUZZ_NOW    ((time_t)1700000000)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOGL_ERROR);
	return 0;
}

static void
fuzz_token(const char *body, size_t len)
{
	struct cxone_token *t = malloc(sizeof(*t));
	char err[256];

	if (t == NULL)
		return;
	memset(err, 0, sizeof(err));
	if (cxone_token_parse(body, len, FUZZ_NOW_MS, t, err,
	    sizeof(err)) == 0) {
		size_t n = strlen(t->access_token);

		FUZZ_CHECK(n > 0 && n <= CXONE_TOKEN_MAX);
		/* Renewed before it expires, and it expires in the future
		 * but no later than the cap. */
		FUZZ_CHECK(t->refresh_ms <= t->expires_ms);
		FUZZ_CHECK(t->expires_ms > FUZZ_NOW_MS);
		FUZZ_CHECK(t->expires_ms <= FUZZ_NOW_MS +
		    (uint64_t)CXONE_MAX_EXPIRES_S * 1000);
		/* A token never ends up in an error message. */
		FUZZ_CHECK(err[0] == '\0');
	} else {
		FUZZ_CHECK_TERMINATED(err);
		FUZZ_CHECK(err[0] != '\0');
	}
	free(t);
}

/* The webhook list answer's ids, as cxone_webhooks_list's callers read
 * them. */
static void
fuzz_webhook_ids(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	char id[CXONE_ID_MAX + 1];
	size_t i;
	json_t *v;

	if (json_is_object(root)) {
		if (cxone_webhook_id(root, id, sizeof(id)) == 0)
			FUZZ_CHECK(id[0] != '\0' && strlen(id) <= CXONE_ID_MAX);
	} else if (json_is_array(root)) {
		json_array_foreach(root, i, v) {
			if (cxone_webhook_id(v, id, sizeof(id)) == 0)
				FUZZ_CHECK(strlen(id) > 0);
		}
	}
	json_decref(root);
}

/* Input: the token answer, then optionally a NUL and a Retry-After value. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	const char *body, *retry;
	uint64_t secs = UINT64_MAX;
	size_t len;

	fuzz_input_init(&in, data, size);
	body = fuzz_input_bytes(&in, '\0', &len);
	if (body == NULL)
		goto out;
	retry = fuzz_input_field(&in, '\0', NULL);
	fuzz_token(body, len);
	fuzz_webhook_ids(body, len);
	if (retry != NULL && cxone_retry_after(retry, FUZZ_NOW, &secs) == 0) {
		const char *first = retry + strspn(retry, " \t");

		/* Delta-seconds are clamped rather than overflowing. */
		if (*first >= '0' && *first <= '9')
			FUZZ_CHECK(secs <= UINT32_MAX);
	}
out:
	fuzz_input_fini(&in);
	return 0;
}
