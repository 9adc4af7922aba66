/* test_credchain.c - the credentials chain and the profile-file matrix, resolved without network I/O. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credchain.h"

#define SECRET_A "aChainSecretNeverLogged/abc+123"
#define ROLE     "arn:aws:iam::123456789012:role/"

static struct credchain_plan plan;
static char err[1024];
static char dir[64], cred_path[128], conf_path[128];

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED",
};

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/cxb-chain-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cred_path, sizeof(cred_path), "%s/credentials", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/config", dir);
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", dir, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred_path, 1);
	setenv("AWS_CONFIG_FILE", conf_path, 1);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
resolve(const char *profile)
{
	memset(err, 0, sizeof(err));
	return credchain_resolve(profile, &plan, err, sizeof(err));
}

/* The profile must fail to resolve, saying want, and leave nothing. */
static void
expect_error(const char *profile, const char *want)
{
	assert_int_equal(resolve(profile), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_null(strstr(err, SECRET_A));
	assert_string_equal(plan.keys.secret_access_key, "");
	assert_int_equal(plan.n_roles, 0);
}

static void
test_order_env_profile_rest(void **state)
{
	(void)state;
	write_file(cred_path, "[default]\naws_access_key_id = AKIAFILE\n"
	    "aws_secret_access_key = " SECRET_A "\n[other]\n"
	    "aws_access_key_id = AKIAOTHER\naws_secret_access_key = x\n");
	/* 1. The environment's keys win over the default profile... */
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_STATIC);
	assert_string_equal(plan.keys.access_key_id, "AKIAENV");
	assert_string_equal(plan.describe, "environment: static keys");
	/* ...and over AWS_PROFILE (botocore's rule)... */
	setenv("AWS_PROFILE", "other", 1);
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_string_equal(plan.keys.access_key_id, "AKIAENV");
	/* ...but a profile named by the configuration comes first, as the
	 * CLI's --profile does. */
	assert_int_equal(resolve("other"), CREDS_FOUND);
	assert_string_equal(plan.keys.access_key_id, "AKIAOTHER");
	assert_string_equal(plan.describe, "profile \"other\": static keys");
	/* 2. The profile. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_PROFILE");
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_string_equal(plan.keys.access_key_id, "AKIAFILE");
	assert_string_equal(plan.keys.source, "credentials-file");
	/* 3. Web identity from the environment (EKS IRSA). */
	unlink(cred_path);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token", 1);
	setenv("AWS_ROLE_ARN", ROLE "irsa", 1);
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_WEB_IDENTITY);
	assert_string_equal(plan.token_file, "/var/run/secrets/token");
	assert_string_equal(plan.web_role.arn, ROLE "irsa");
	assert_string_equal(plan.web_role.session_name, "");
	setenv("AWS_ROLE_SESSION_NAME", "bad name!", 1);
	expect_error(NULL, "role session name");
	setenv("AWS_ROLE_SESSION_NAME", "cxb@pod-1", 1);
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_string_equal(plan.web_role.session_name, "cxb@pod-1");
	unsetenv("AWS_ROLE_ARN");
	expect_error(NULL, "AWS_ROLE_ARN is not");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	/* 4. The container endpoint, 5. instance metadata, or nothing. */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x", 1);
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_CONTAINER);
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	assert_int_equal(resolve(NULL), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_IMDS);
	assert_string_equal(plan.describe, "EC2 instance metadata (IMDSv2)");
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	assert_int_equal(resolve(NULL), CREDS_NOT_FOUND);
	assert_non_null(strstr(err, "AWS_EC2_METADATA_DISABLED is true"));
	assert_non_null(strstr(err, conf_path));
}

static void
test_roles(void **state)
{
	(void)state;
	write_file(cred_path, "[base]\naws_access_key_id = AKIABASE\n"
	    "aws_secret_access_key = " SECRET_A "\n");
	write_file(conf_path,
	    "[profile r1]\nrole_arn = " ROLE "one\nsource_profile = base\n"
	    "role_session_name = cxb-1\nexternal_id = ext-1\nduration_seconds = 900\n"
	    "[profile r2]\nrole_arn = " ROLE "two\nsource_profile = r1\n"
	    "[profile r3]\nrole_arn = " ROLE "three\nsource_profile = r2\n"
	    "[profile r4]\nrole_arn = " ROLE "four\nsource_profile = r3\n"
	    "[profile r5]\nrole_arn = " ROLE "five\nsource_profile = r4\n"
	    "[profile self]\nrole_arn = " ROLE "self\nsource_profile = self\n"
	    "aws_access_key_id = AKIASELF\naws_secret_access_key = x\n"
	    "[profile web]\nrole_arn = " ROLE "web\n"
	    "web_identity_token_file = /tok\nsource_profile = base\n"
	    "[profile onweb]\nrole_arn = " ROLE "onweb\nsource_profile = web\n"
	    "[profile proc]\ncredential_process = /usr/bin/helper --x \"a b\"\n"
	    "[profile onproc]\nrole_arn = " ROLE "onproc\nsource_profile = proc\n");
	assert_int_equal(resolve("r1"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_STATIC);
	assert_string_equal(plan.keys.access_key_id, "AKIABASE");
	assert_int_equal(plan.n_roles, 1);
	assert_string_equal(plan.roles[0].arn, ROLE "one");
	assert_string_equal(plan.roles[0].session_name, "cxb-1");
	assert_string_equal(plan.roles[0].external_id, "ext-1");
	assert_int_equal(plan.roles[0].duration_s, 900);
	assert_string_equal(plan.describe,
	    "profile \"r1\": static keys, then 1 role (STS AssumeRole)");
	/* Chains are assumed from the source outwards; four at most. */
	assert_int_equal(resolve("r4"), CREDS_FOUND);
	assert_int_equal(plan.n_roles, 4);
	assert_string_equal(plan.roles[0].arn, ROLE "one");
	assert_string_equal(plan.roles[3].arn, ROLE "four");
	expect_error("r5", "more than 4");
	/* A profile that is its own source uses its own keys. */
	assert_int_equal(resolve("self"), CREDS_FOUND);
	assert_string_equal(plan.keys.access_key_id, "AKIASELF");
	assert_int_equal(plan.n_roles, 1);
	/* web_identity_token_file wins over source_profile, and can be a
	 * source itself. */
	assert_int_equal(resolve("web"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_WEB_IDENTITY);
	assert_string_equal(plan.token_file, "/tok");
	assert_int_equal(plan.n_roles, 0);
	assert_int_equal(resolve("onweb"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_WEB_IDENTITY);
	assert_string_equal(plan.roles[0].arn, ROLE "onweb");
	/* credential_process, alone or as a source. */
	assert_int_equal(resolve("proc"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_PROCESS);
	assert_string_equal(plan.process, "/usr/bin/helper --x \"a b\"");
	assert_int_equal(resolve("onproc"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_PROCESS);
	assert_int_equal(plan.n_roles, 1);
}

static void
test_credential_source(void **state)
{
	(void)state;
	write_file(conf_path,
	    "[profile env]\nrole_arn = " ROLE "e\ncredential_source = Environment\n"
	    "[profile ec2]\nrole_arn = " ROLE "i\ncredential_source = Ec2InstanceMetadata\n"
	    "[profile ecs]\nrole_arn = " ROLE "c\ncredential_source = EcsContainer\n"
	    "[profile bogus]\nrole_arn = " ROLE "b\ncredential_source = Floppy\n"
	    "[profile both]\nrole_arn = " ROLE "b\ncredential_source = Environment\n"
	    "source_profile = env\n");
	expect_error("env", "AWS_ACCESS_KEY_ID is not set");
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	assert_int_equal(resolve("env"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_STATIC);
	assert_string_equal(plan.keys.access_key_id, "AKIAENV");
	assert_string_equal(plan.roles[0].arn, ROLE "e");
	assert_int_equal(resolve("ec2"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_IMDS);
	assert_int_equal(plan.n_roles, 1);
	assert_int_equal(resolve("ecs"), CREDS_FOUND);
	assert_int_equal(plan.base, CREDCHAIN_CONTAINER);
	expect_error("bogus", "must be Environment, Ec2InstanceMetadata or "
	    "EcsContainer");
	expect_error("both", "sets both source_profile and credential_source");
}

/* The refusals: each names the profile and the reason. */
static void
test_profile_errors(void **state)
{
	(void)state;
	write_file(cred_path, "[halfkey]\naws_access_key_id = AKIAHALF\n");
	write_file(conf_path,
	    "[profile nosrc]\nrole_arn = " ROLE "x\n"
	    "[profile loop1]\nrole_arn = " ROLE "1\nsource_profile = loop2\n"
	    "[profile loop2]\nrole_arn = " ROLE "2\nsource_profile = loop1\n"
	    "[profile missing]\nrole_arn = " ROLE "m\nsource_profile = ghost\n"
	    "[profile empty]\nregion = us-east-1\n"
	    "[profile onempty]\nrole_arn = " ROLE "e\nsource_profile = empty\n"
	    "[profile sso]\nsso_start_url = https://x.awsapps.com/start\n"
	    "[profile ssos]\nsso_session = corp\n"
	    "[profile mfa]\nrole_arn = " ROLE "m\nsource_profile = nosrc\n"
	    "mfa_serial = arn:aws:iam::1:mfa/u\n"
	    "[profile badarn]\nrole_arn = role/x\nsource_profile = nosrc\n"
	    "[profile baddur]\nrole_arn = " ROLE "d\nsource_profile = nosrc\n"
	    "duration_seconds = 60\n"
	    "[profile badsess]\nrole_arn = " ROLE "s\nsource_profile = nosrc\n"
	    "role_session_name = a b\n"
	    "[profile webnorole]\nweb_identity_token_file = /tok\n"
	    "[profile selfnokeys]\nrole_arn = " ROLE "s\nsource_profile = selfnokeys\n"
	    "[profile onhalf]\nrole_arn = " ROLE "h\nsource_profile = halfkey\n");
	expect_error("nosrc", "has role_arn but no source_profile");
	expect_error("loop1", "leads back to itself");
	expect_error("missing", "source_profile \"ghost\" has no credentials");
	expect_error("onempty", "source_profile \"empty\" has no credentials");
	expect_error("sso", "uses sso_start_url");
	expect_error("ssos", "uses sso_session");
	expect_error("mfa", "uses mfa_serial");
	expect_error("badarn", "not an ARN");
	expect_error("baddur", "duration_seconds must be 900..43200");
	expect_error("badsess", "role session name");
	expect_error("webnorole", "web_identity_token_file but no role_arn");
	expect_error("selfnokeys", "its own source_profile but has no");
	expect_error("onhalf", "no aws_secret_access_key");
	expect_error("nowhere", "profile \"nowhere\" not found");
	/* A profile with only a region falls through to the rest of the
	 * chain, unless it was named and exists nowhere. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(resolve("empty"), CREDS_NOT_FOUND);
	assert_non_null(strstr(err, "profile \"empty\" has no credentials"));
	setenv("AWS_PROFILE", "nowhere", 1);
	expect_error(NULL, "profile \"nowhere\" not found");
	/* A malformed file is an error wherever the profile is. */
	write_file(cred_path, "[default\n");
	expect_error("sso", ":1: malformed");
}

static void
test_session_name(void **state)
{
	(void)state;
	assert_true(credchain_session_name_ok("ab"));
	assert_true(credchain_session_name_ok("cxbridge-1700000000"));
	assert_true(credchain_session_name_ok("a+=,.@_-Z9"));
	assert_false(credchain_session_name_ok("a"));
	assert_false(credchain_session_name_ok("a b"));
	assert_false(credchain_session_name_ok("a/b"));
	assert_false(credchain_session_name_ok(
	    "12345678901234567890123456789012345678901234567890123456789012345"));
	credchain_plan_clear(NULL);
	assert_int_equal(credchain_resolve(NULL, NULL, err, sizeof(err)), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order_env_profile_rest), T(test_roles),
		T(test_credential_source), T(test_profile_errors),
		T(test_session_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
