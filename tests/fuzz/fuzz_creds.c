/* fuzz_creds.c - libFuzzer target: credentials answers of IMDS, the container endpoint and credential_process. */
#include "fuzzutil.h"

#include <jansson.h>

#include "credfetch.h"
#include "creds.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Secrets shorter than this could appear in a message by coincidence. */
#define FUZZ_SECRET_MIN 8

/*
 * A byte the fixed text of credfetch's and creds' messages can hold
 * (words, field names, numbers, punctuation).  A secret made only of such
 * bytes can be a piece of that text ("piration" is in "Expiration"), so
 * finding it in a message proves nothing; one with any other byte ('/',
 * '+', '=' as in real AWS secrets, or anything else) cannot.
 */
static int
fuzz_template_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr(" .,:_\"()-", c) != NULL;
}

/* "err never holds a secret or a token": the values the answer carries
 * must not show up in the message, however malformed the rest is. */
static void
fuzz_no_secret_in(const char *err, const json_t *root, const char *key)
{
	const char *v = json_string_value(json_object_get(root, key));
	int telling = 0;

	if (v == NULL || strlen(v) < FUZZ_SECRET_MIN)
		return;
	for (const char *p = v; *p != '\0'; p++)
		if (!fuzz_template_byte((unsigned char)*p))
			telling = 1;
	if (telling)
		FUZZ_CHECK(strstr(err, v) == NULL);
}

static void
fuzz_creds_one(const char *body, size_t len, const json_t *root,
    const char *token_key, int need_expiration)
{
	struct aws_credentials out;
	char err[512];

	memset(&out, 0x5a, sizeof(out));
	memset(err, 0, sizeof(err));
	if (credfetch_parse_json(body, len, token_key, need_expiration, "fuzz",
	    &out, err, sizeof(err)) == 0) {
		FUZZ_CHECK(out.access_key_id[0] != '\0');
		FUZZ_CHECK(out.secret_access_key[0] != '\0');
		FUZZ_CHECK_TERMINATED(out.session_token);
		FUZZ_CHECK(!need_expiration || out.expiration > 0);
		creds_clear(&out);
		return;
	}
	/* "out cleared" */
	FUZZ_CHECK(out.access_key_id[0] == '\0' &&
	    out.secret_access_key[0] == '\0' && out.session_token[0] == '\0');
	FUZZ_CHECK_TERMINATED(err);
	fuzz_no_secret_in(err, root, "SecretAccessKey");
	fuzz_no_secret_in(err, root, token_key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	const char *body;
	json_t *root;
	size_t len;

	fuzz_input_init(&in, data, size);
	body = fuzz_input_rest(&in, &len);
	if (body == NULL)
		return 0;
	root = json_loadb(body, len, 0, NULL);
	/* IMDS and the container endpoint; credential_process. */
	fuzz_creds_one(body, len, root, "Token", 1);
	fuzz_creds_one(body, len, root, "SessionToken", 0);
	json_decref(root);
	fuzz_input_fini(&in);
	return 0;
}
