/* test_creds.c - credentials from the environment and the shared files. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"

#define SECRET_A "aSecretThatMustNeverBeLogged/abc+123"
#define SECRET_B "bSecretThatMustNeverBeLogged/xyz+789"

struct fixture {
	char dir[64];
	char cred[128];
	char conf[128];
};

static struct aws_credentials c;
static char err[512];

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
};

/* A clean environment: no AWS_* variables, HOME in a fresh directory, the
 * two file variables pointing into it (files not yet written). */
static int
setup(void **state)
{
	static struct fixture fx;

	strcpy(fx.dir, "/tmp/cxb-creds-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	snprintf(fx.cred, sizeof(fx.cred), "%s/credentials", fx.dir);
	snprintf(fx.conf, sizeof(fx.conf), "%s/config", fx.dir);
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", fx.dir, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", fx.cred, 1);
	setenv("AWS_CONFIG_FILE", fx.conf, 1);
	memset(err, 0, sizeof(err));
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
assert_no_secret(void)
{
	assert_null(strstr(err, SECRET_A));
	assert_null(strstr(err, SECRET_B));
	assert_null(strstr(err, "aSecret"));
}

static void
test_env_only(void **state)
{
	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	setenv("AWS_SESSION_TOKEN", "tok/en==", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIAENV");
	assert_string_equal(c.secret_access_key, SECRET_A);
	assert_string_equal(c.session_token, "tok/en==");
	assert_int_equal(c.expiration, 1893553445);
	assert_string_equal(c.source, "environment");
	setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T05:04:05.123+02:00", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_int_equal(c.expiration, 1893553445);
	setenv("AWS_CREDENTIAL_EXPIRATION", "tomorrow", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	assert_string_equal(c.access_key_id, "");
}

static void
test_env_partial(void **state)
{
	(void)state;
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID is not"));
	assert_no_secret();
	assert_string_equal(c.secret_access_key, "");
	setenv("AWS_ACCESS_KEY_ID", "AKIA ENV", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID holds"));
}

static void
test_file_only(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->cred, "# shared credentials\r\n[default]\r\n"
	    "aws_access_key_id = AKIAFILE\r\n"
	    "aws_secret_access_key=" SECRET_A "   # rotated in May\r\n"
	    "aws_session_token: filetoken\r\n");
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIAFILE");
	assert_string_equal(c.secret_access_key, SECRET_A);
	assert_string_equal(c.session_token, "filetoken");
	assert_int_equal(c.expiration, 0);
	assert_string_equal(c.source, "credentials-file");
}

static void
test_env_wins(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->cred, "[default]\naws_access_key_id=AKIAFILE\n"
	    "aws_secret_access_key=" SECRET_B "\n");
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	assert_int_equal(creds_load("default", &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIAENV");
	assert_string_equal(c.secret_access_key, SECRET_A);
	assert_string_equal(c.session_token, "");
}

static void
test_profile_selection(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->cred, "[default]\naws_access_key_id=AKIADEF\n"
	    "aws_secret_access_key=" SECRET_A "\n\n"
	    "[prod]\n  aws_access_key_id = AKIAPROD\n"
	    "  aws_secret_access_key = " SECRET_B "\n");
	assert_string_equal(creds_profile_name(NULL), "default");
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIADEF");
	assert_int_equal(creds_load("prod", &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIAPROD");
	setenv("AWS_PROFILE", "prod", 1);
	assert_string_equal(creds_profile_name(""), "prod");
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIAPROD");
	/* A name given by the configuration beats AWS_PROFILE. */
	assert_string_equal(creds_profile_name("default"), "default");
	assert_int_equal(creds_load("default", &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIADEF");
}

static void
test_config_file(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->conf, "[default]\nregion = eu-west-1\n"
	    "aws_access_key_id = AKIACONFDEF\naws_secret_access_key = " SECRET_A "\n"
	    "[profile  team ]\nregion = us-west-2\n"
	    "s3 =\n  aws_access_key_id = AKIANESTED\n"
	    "AWS_ACCESS_KEY_ID = AKIATEAM\naws_secret_access_key = " SECRET_B "\n"
	    "[bare]\naws_access_key_id = AKIABARE\naws_secret_access_key = x\n");
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIACONFDEF");
	assert_string_equal(c.source, "config-file");
	assert_int_equal(creds_load("team", &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIATEAM");
	assert_string_equal(c.secret_access_key, SECRET_B);
	/* [bare] in the config file is not a profile: [profile bare] would be. */
	assert_int_equal(creds_load("bare", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"bare\" not found"));
	/* The credentials file wins over the config file. */
	write_file(fx->cred, "[team]\naws_access_key_id=AKIACRED\n"
	    "aws_secret_access_key=" SECRET_A "\n");
	assert_int_equal(creds_load("team", &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIACRED");
}

static void
test_config_value(void **state)
{
	struct fixture *fx = *state;
	char v[64];

	assert_int_equal(creds_config_value(NULL, "region", v, sizeof(v), err,
	    sizeof(err)), CREDS_NOT_FOUND);
	write_file(fx->conf, "[profile default]\nregion = ap-south-1\n"
	    "[profile x]\nRegion: sa-east-1 ; comment\noutput = json\n");
	assert_int_equal(creds_config_value(NULL, "region", v, sizeof(v), err,
	    sizeof(err)), 0);
	assert_string_equal(v, "ap-south-1");
	assert_int_equal(creds_config_value("x", "region", v, sizeof(v), err,
	    sizeof(err)), 0);
	assert_string_equal(v, "sa-east-1");
	assert_int_equal(creds_config_value("x", "nothere", v, sizeof(v), err,
	    sizeof(err)), CREDS_NOT_FOUND);
	assert_int_equal(creds_config_value("y", "region", v, sizeof(v), err,
	    sizeof(err)), CREDS_NOT_FOUND);
	assert_int_equal(creds_config_value("x", "region", v, 5, err,
	    sizeof(err)), -1);
}

static void
test_missing_profile(void **state)
{
	struct fixture *fx = *state;

	/* Nothing anywhere: "not found", so the caller may try IMDS. */
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_NOT_FOUND);
	assert_non_null(strstr(err, "no AWS credentials"));
	assert_non_null(strstr(err, fx->cred));
	assert_non_null(strstr(err, fx->conf));
	/* A profile asked for by name that exists nowhere is an error. */
	setenv("AWS_PROFILE", "nope", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "profile \"nope\" not found"));
	/* A profile with a region but no keys is "not found", not an error. */
	write_file(fx->conf, "[profile nope]\nregion = us-east-1\n");
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_NOT_FOUND);
}

static void
expect_malformed(const char *path, const char *text, const char *want)
{
	write_file(path, text);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_no_secret();
	assert_string_equal(c.access_key_id, "");
}

static void
test_malformed(void **state)
{
	struct fixture *fx = *state;
	char want[160];
	char *big;

	snprintf(want, sizeof(want), "%s:3: malformed", fx->cred);
	expect_malformed(fx->cred, "[default]\naws_access_key_id=AKIA\n"
	    "aws_secret_access_key " SECRET_A "\n", want);
	expect_malformed(fx->cred, "aws_access_key_id=AKIA\n[default]\n",
	    ":1: key outside any [section]");
	expect_malformed(fx->cred, "[default\naws_access_key_id=AKIA\n", ":1: malformed");
	expect_malformed(fx->cred, "[default]\naws_access_key_id=A\n[default]\n",
	    ":3: the profile's section appears twice");
	expect_malformed(fx->cred, "[default]\naws_access_key_id=A\n"
	    "aws_access_key_id=B\n", ":3: key given twice");
	expect_malformed(fx->cred, "[default]\naws_access_key_id=AKIA\n",
	    "no aws_secret_access_key");
	expect_malformed(fx->cred, "[default]\naws_access_key_id=AK-IA\n"
	    "aws_secret_access_key=" SECRET_A "\n", "not allowed");
	/* An error in another file still stops the load. */
	write_file(fx->cred, "[default]\naws_access_key_id=AKIA\n"
	    "aws_secret_access_key=" SECRET_A "\n");
	expect_malformed(fx->conf, "[default]\nregion\n", ":2: malformed");
	unlink(fx->conf);
	/* Over the size cap. */
	big = malloc(CREDS_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', CREDS_FILE_MAX + 1);
	big[CREDS_FILE_MAX + 1] = '\0';
	expect_malformed(fx->cred, big, "larger than");
	free(big);
}

static void
test_unsupported(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->cred, "[default]\naws_access_key_id=AKIA\n"
	    "aws_secret_access_key=" SECRET_A "\n");
	/* role_arn in the config must not be silently replaced by the
	 * profile's static keys: the SDKs would assume the role. */
	expect_malformed(fx->conf, "[default]\nrole_arn = arn:aws:iam::1:role/x\n"
	    "source_profile = default\n", "uses role_arn");
	expect_malformed(fx->conf, "[profile default]\nsso_session = s\n",
	    "uses sso_session");
}

static void
test_home_default_paths(void **state)
{
	struct fixture *fx = *state;
	char path[160];

	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	snprintf(path, sizeof(path), "%s/.aws", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.aws/credentials", fx->dir);
	write_file(path, "[default]\naws_access_key_id=AKIAHOME\n"
	    "aws_secret_access_key=" SECRET_A "\n");
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIAHOME");
	unlink(path);
	/* "~/" in the variable is the home directory, as in the SDKs. */
	write_file(fx->cred, "[default]\naws_access_key_id=AKIATILDE\n"
	    "aws_secret_access_key=" SECRET_A "\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/credentials", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_string_equal(c.access_key_id, "AKIATILDE");
	snprintf(path, sizeof(path), "%s/.aws", fx->dir);
	rmdir(path);
}

static void
test_caps_and_clear(void **state)
{
	static char token[AWS_SESSION_TOKEN_MAX + 2];

	(void)state;
	memset(token, 'T', sizeof(token) - 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	setenv("AWS_SESSION_TOKEN", token, 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AWS_SESSION_TOKEN is longer than 8192"));
	token[AWS_SESSION_TOKEN_MAX] = '\0';
	setenv("AWS_SESSION_TOKEN", token, 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), CREDS_FOUND);
	assert_int_equal(strlen(c.session_token), AWS_SESSION_TOKEN_MAX);
	creds_clear(&c);
	assert_string_equal(c.secret_access_key, "");
	assert_int_equal(c.secret_access_key[5], 0);
	creds_clear(NULL);
	assert_int_equal(creds_load(NULL, &c, NULL, 0), CREDS_FOUND);
}

/* What credchain builds on: fetched keys checked, one profile read. */
static void
test_fill_and_profile_api(void **state)
{
	struct fixture *fx = *state;
	struct creds_profile *p;
	char v[64];
	int rc;

	assert_int_equal(creds_fill(&c, "ASIAX", SECRET_A, "tok", "t", err,
	    sizeof(err)), 0);
	assert_string_equal(c.session_token, "tok");
	assert_int_equal(creds_fill(&c, "AS-IA", SECRET_A, NULL, "imds", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "imds: a key holds a character"));
	assert_string_equal(c.secret_access_key, "");
	assert_int_equal(creds_fill(&c, "ASIAX", "", NULL, "t", err,
	    sizeof(err)), -1);
	assert_no_secret();
	write_file(fx->cred, "[app]\nrole_arn = arn:aws:iam::1:role/from-cred\n");
	write_file(fx->conf, "[profile app]\nrole_arn = arn:aws:iam::1:role/x\n"
	    "source_profile = base\nexternal_id = \n");
	p = creds_profile_load("app", &rc, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(creds_profile_found(p), 1);
	assert_true(creds_profile_has(p, "source_profile"));
	assert_false(creds_profile_has(p, "credential_process"));
	assert_false(creds_profile_has(p, "no_such_key"));
	/* The credentials file wins for a key set in both. */
	assert_int_equal(creds_profile_text(p, "role_arn", v, sizeof(v), err,
	    sizeof(err)), 0);
	assert_string_equal(v, "arn:aws:iam::1:role/from-cred");
	assert_int_equal(creds_profile_text(p, "role_arn", v, 8, err,
	    sizeof(err)), -1);
	assert_int_equal(creds_profile_text(p, "external_id", v, sizeof(v), err,
	    sizeof(err)), -1);
	assert_int_equal(creds_profile_keys(p, &c, err, sizeof(err)),
	    CREDS_NOT_FOUND);
	assert_string_equal(creds_profile_file(p, 1), fx->conf);
	creds_profile_free(p);
	creds_profile_free(NULL);
	/* A profile that needs a fetch is not static keys for creds_load. */
	setenv("AWS_PROFILE", "app", 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "uses role_arn"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_env_only), T(test_env_partial), T(test_file_only),
		T(test_env_wins), T(test_profile_selection), T(test_config_file),
		T(test_config_value), T(test_missing_profile), T(test_malformed),
		T(test_unsupported), T(test_home_default_paths),
		T(test_caps_and_clear), T(test_fill_and_profile_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
