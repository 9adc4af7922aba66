/* fuzz_sts.c - libFuzzer target: xmlscan_text and credsts_parse on STS answers. */
#include "fuzzutil.h"

#include "creds.h"
#include "credsts.h"
#include "xmlscan.h"

#define FUZZ_TEXT_MAX 512
#define FUZZ_SECRET_MIN 8   /* shorter ones could match by coincidence */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/*
 * One path, read into a roomy buffer and into a small one: the results
 * must agree (same text when it fits, -1 when it does not), and out is ""
 * unless the element was found.
 */
static void
fuzz_xml_path(const char *xml, size_t len, const char *path)
{
	char big[FUZZ_TEXT_MAX], small[8];
	int rc_big, rc_small;

	memset(big, 0x5a, sizeof(big));
	memset(small, 0x5a, sizeof(small));
	rc_big = xmlscan_text(xml, len, path, big, sizeof(big));
	rc_small = xmlscan_text(xml, len, path, small, sizeof(small));
	FUZZ_CHECK(rc_big >= -1 && rc_big <= 1);
	FUZZ_CHECK(rc_small >= -1 && rc_small <= 1);
	if (rc_big != 0)
		FUZZ_CHECK(big[0] == '\0');
	if (rc_small != 0)
		FUZZ_CHECK(small[0] == '\0');
	if (rc_small == 0)
		FUZZ_CHECK(rc_big == 0 && strcmp(small, big) == 0);
	/* The cap applies to the text before its surrounding whitespace is
	 * dropped (include/xmlscan.h), so text that fits only once trimmed
	 * may still be refused; text too long even trimmed never passes. */
	if (rc_big == 0 && strlen(big) >= sizeof(small))
		FUZZ_CHECK(rc_small == -1);
	if (rc_big == 1)
		FUZZ_CHECK(rc_small == 1);
}

/* What STS calls the secret parts, read with the scanner, must never be
 * in credsts_parse's error message. */
static void
fuzz_no_secret_in(const char *err, const char *xml, size_t len,
    const char *action, const char *name)
{
	char path[160], *v = malloc(AWS_SESSION_TOKEN_MAX + 1);

	if (v == NULL)
		return;
	snprintf(path, sizeof(path), "%sResponse/%sResult/Credentials/%s",
	    action, action, name);
	if (xmlscan_text(xml, len, path, v, AWS_SESSION_TOKEN_MAX + 1) == 0 &&
	    strlen(v) >= FUZZ_SECRET_MIN)
		FUZZ_CHECK(strstr(err, v) == NULL);
	free(v);
}

static void
fuzz_sts_parse(const char *xml, size_t len, const char *action)
{
	struct aws_credentials out;
	char err[512];

	memset(&out, 0x5a, sizeof(out));
	memset(err, 0, sizeof(err));
	if (credsts_parse(xml, len, action, &out, err, sizeof(err)) == 0) {
		FUZZ_CHECK(out.access_key_id[0] != '\0');
		FUZZ_CHECK(out.secret_access_key[0] != '\0');
		FUZZ_CHECK(out.expiration > 0);
		creds_clear(&out);
		return;
	}
	FUZZ_CHECK(out.access_key_id[0] == '\0' &&
	    out.secret_access_key[0] == '\0' && out.session_token[0] == '\0');
	FUZZ_CHECK_TERMINATED(err);
	FUZZ_CHECK(err[0] != '\0');
	fuzz_no_secret_in(err, xml, len, action, "SecretAccessKey");
	fuzz_no_secret_in(err, xml, len, action, "SessionToken");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"AssumeRoleResponse/AssumeRoleResult/Credentials/AccessKeyId",
		"ErrorResponse/Error/Code",
		"ErrorResponse/Error/Message",
		"a",
		"a/b/c",
	};
	struct fuzz_input in;
	const char *xml;
	size_t len;

	fuzz_input_init(&in, data, size);
	xml = fuzz_input_rest(&in, &len);
	if (xml == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		fuzz_xml_path(xml, len, paths[i]);
	fuzz_sts_parse(xml, len, "AssumeRole");
	fuzz_sts_parse(xml, len, "AssumeRoleWithWebIdentity");
	fuzz_input_fini(&in);
	return 0;
}
