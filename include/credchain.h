/* credchain.h - the AWS SDKs' credentials chain, resolved to a plan without network I/O. */
#ifndef CXB_CREDCHAIN_H
#define CXB_CREDCHAIN_H

#include <stddef.h>

#include "creds.h"

/*
 * A plan says where the first credentials come from (the base) and which
 * roles are then assumed one after another with them.  Fetching is
 * credprov's job; this module only reads the environment and the files.
 */
#define CREDCHAIN_ROLE_ARN_MAX     2048  /* STS RoleArn limit */
#define CREDCHAIN_SESSION_NAME_MAX 64    /* STS RoleSessionName limit */
#define CREDCHAIN_EXTERNAL_ID_MAX  1224  /* STS ExternalId limit */
#define CREDCHAIN_COMMAND_MAX      4096  /* bytes in a credential_process line */
#define CREDCHAIN_ROLES_MAX        4     /* roles assumed in a row */

enum credchain_base {
	CREDCHAIN_STATIC,       /* keys in hand: plan.keys */
	CREDCHAIN_PROCESS,      /* run plan.process (credential_process) */
	CREDCHAIN_WEB_IDENTITY, /* STS AssumeRoleWithWebIdentity for
	                         * plan.web_role, token in plan.token_file */
	CREDCHAIN_CONTAINER,    /* ECS / EKS Pod Identity endpoint
	                         * (AWS_CONTAINER_CREDENTIALS_*) */
	CREDCHAIN_IMDS,         /* EC2 instance metadata (IMDSv2) */
};

/* A role to assume with STS.  "" and 0 mean "let the provider choose". */
struct credchain_role {
	char     arn[CREDCHAIN_ROLE_ARN_MAX + 1];
	char     session_name[CREDCHAIN_SESSION_NAME_MAX + 1];
	char     external_id[CREDCHAIN_EXTERNAL_ID_MAX + 1];
	unsigned duration_s;     /* 900..43200; 0: STS's default (1 hour) */
};

/* Where the chain lands.  Holds secrets (keys): wipe it with
 * credchain_plan_clear.  About 25 KiB: keep it off small stacks. */
struct credchain_plan {
	enum credchain_base    base;
	struct aws_credentials keys;                  /* CREDCHAIN_STATIC */
	char                   process[CREDCHAIN_COMMAND_MAX + 1];
	char                   token_file[CREDS_PATH_MAX + 1];
	struct credchain_role  web_role;              /* CREDCHAIN_WEB_IDENTITY */
	size_t                 n_roles;
	struct credchain_role  roles[CREDCHAIN_ROLES_MAX]; /* in this order */
	char                   describe[256];  /* for the log; never secret */
};

/*
 * Resolves the chain in the SDKs' order, stopping at the first source that
 * is configured:
 *  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (creds_from_env): static;
 *  2. the profile (creds_profile_name(profile)) in the two shared files
 *     (a profile given as the argument, i.e. by [aws] profile, comes
 *     before step 1, as the CLI's --profile does; AWS_PROFILE does not):
 *     role_arn + web_identity_token_file: web identity;
 *     role_arn + source_profile (chains of up to CREDCHAIN_ROLES_MAX roles;
 *     a profile naming itself uses its own keys) or + credential_source
 *     (Environment, Ec2InstanceMetadata, EcsContainer): that base + roles;
 *     else static keys; else credential_process;
 *  3. AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME);
 *  4. AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI: container;
 *  5. EC2 instance metadata, unless AWS_EC2_METADATA_DISABLED=true.
 * Returns CREDS_FOUND (plan filled), CREDS_NOT_FOUND (nothing configured
 * and instance metadata disabled; err says what was looked at) or -1 (err
 * says why: a malformed file, a named profile that exists nowhere, a
 * half-configured source, an unsupported one such as SSO or mfa_serial, a
 * source_profile loop).  err (errlen bytes, may be NULL) never holds a
 * secret.  plan is cleared first, and again on failure.
 */
int credchain_resolve(const char *profile, struct credchain_plan *plan,
    char *err, size_t errlen);

/* Wipes the whole plan, keys included.  NULL ok. */
void credchain_plan_clear(struct credchain_plan *plan);

/* 1 if s is a valid RoleSessionName: 2..64 of [A-Za-z0-9+=,.@_-]. */
int credchain_session_name_ok(const char *s);

#endif
