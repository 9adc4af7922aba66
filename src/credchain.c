/* credchain.c - the AWS SDKs' credentials chain, resolved to a plan without network I/O. */
#include "credchain.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A walk through profiles linked by source_profile. */
struct credchain_walk {
	struct credchain_plan *plan;
	char                   seen[CREDCHAIN_ROLES_MAX + 1][CREDS_PROFILE_MAX + 1];
	size_t                 n_seen;
	struct credchain_role  roles[CREDCHAIN_ROLES_MAX + 1]; /* outermost first */
	size_t                 n_roles;
	int                    section_found;  /* of the first profile */
	char                   cpath[CREDS_PATH_MAX], fpath[CREDS_PATH_MAX];
	char                  *err;
	size_t                 errlen;
};

static void credchain_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
credchain_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *
credchain_env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

void
credchain_plan_clear(struct credchain_plan *plan)
{
	if (plan != NULL)
		explicit_bzero(plan, sizeof(*plan));
}

int
credchain_session_name_ok(const char *s)
{
	size_t len = strnlen(s, CREDCHAIN_SESSION_NAME_MAX + 1);

	if (len < 2 || len > CREDCHAIN_SESSION_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("+=,.@_-", s[i]) == NULL)
			return 0;
	return 1;
}

static int
credchain_role_check(const struct credchain_role *r, const char *where,
    char *err, size_t errlen)
{
	if (strncmp(r->arn, "arn:", 4) != 0 || strlen(r->arn) < 20) {
		credchain_err(err, errlen, "%s: the role ARN is not an ARN", where);
		return -1;
	}
	if (r->session_name[0] != '\0' &&
	    !credchain_session_name_ok(r->session_name)) {
		credchain_err(err, errlen, "%s: the role session name must be "
		    "2-%d characters of A-Z a-z 0-9 +=,.@_-", where,
		    CREDCHAIN_SESSION_NAME_MAX);
		return -1;
	}
	return 0;
}

/* role_arn and the settings that go with it. */
static int
credchain_profile_role(const struct creds_profile *p, const char *name,
    struct credchain_role *r, char *err, size_t errlen)
{
	char dur[16], where[CREDS_PROFILE_MAX + 16];
	char *end = NULL;
	unsigned long v;

	memset(r, 0, sizeof(*r));
	if (creds_profile_text(p, "role_arn", r->arn, sizeof(r->arn), err,
	    errlen) == -1 || creds_profile_text(p, "role_session_name",
	    r->session_name, sizeof(r->session_name), err, errlen) == -1 ||
	    creds_profile_text(p, "external_id", r->external_id,
	    sizeof(r->external_id), err, errlen) == -1 ||
	    creds_profile_text(p, "duration_seconds", dur, sizeof(dur), err,
	    errlen) == -1)
		return -1;
	snprintf(where, sizeof(where), "profile \"%s\"", name);
	if (credchain_role_check(r, where, err, errlen) == -1)
		return -1;
	if (dur[0] == '\0')
		return 0;
	errno = 0;
	v = strtoul(dur, &end, 10);
	if (!isdigit((unsigned char)dur[0]) || *end != '\0' || errno != 0 ||
	    v < 900 || v > 43200) {
		credchain_err(err, errlen, "%s: duration_seconds must be "
		    "900..43200", where);
		return -1;
	}
	r->duration_s = (unsigned)v;
	return 0;
}

/* What step returns when the walk goes on to the source profile. */
#define CREDCHAIN_NEXT 2

/* credential_source: where a role's source credentials come from when no
 * profile holds them. */
static int
credchain_credential_source(struct credchain_walk *w,
    const struct creds_profile *p, const char *name)
{
	struct credchain_plan *plan = w->plan;
	char cs[32];
	int rc;

	if (creds_profile_text(p, "credential_source", cs, sizeof(cs), w->err,
	    w->errlen) == -1)
		return -1;
	if (strcmp(cs, "Environment") == 0) {
		plan->base = CREDCHAIN_STATIC;
		rc = creds_from_env(&plan->keys, w->err, w->errlen);
		if (rc == CREDS_NOT_FOUND)
			credchain_err(w->err, w->errlen, "profile \"%s\": "
			    "credential_source Environment, but AWS_ACCESS_KEY_ID "
			    "is not set", name);
		return rc == CREDS_FOUND ? CREDS_FOUND : -1;
	}
	if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
		plan->base = CREDCHAIN_IMDS;
		return CREDS_FOUND;
	}
	if (strcmp(cs, "EcsContainer") == 0) {
		plan->base = CREDCHAIN_CONTAINER;
		return CREDS_FOUND;
	}
	credchain_err(w->err, w->errlen, "profile \"%s\": credential_source "
	    "must be Environment, Ec2InstanceMetadata or EcsContainer", name);
	return -1;
}

/* source_profile: CREDCHAIN_NEXT with the profile to read next, or this
 * profile's own keys when it names itself (as the SDKs allow). */
static int
credchain_source_profile(struct credchain_walk *w,
    const struct creds_profile *p, const char *name,
    char next[CREDS_PROFILE_MAX + 1])
{
	int rc;

	if (creds_profile_text(p, "source_profile", next, CREDS_PROFILE_MAX + 1,
	    w->err, w->errlen) == -1)
		return -1;
	if (strcmp(next, name) == 0) {
		w->plan->base = CREDCHAIN_STATIC;
		rc = creds_profile_keys(p, &w->plan->keys, w->err, w->errlen);
		if (rc == CREDS_NOT_FOUND)
			credchain_err(w->err, w->errlen, "profile \"%s\" is its own "
			    "source_profile but has no aws_access_key_id", name);
		return rc == CREDS_FOUND ? CREDS_FOUND : -1;
	}
	for (size_t i = 0; i < w->n_seen; i++) {
		if (strcmp(w->seen[i], next) == 0) {
			credchain_err(w->err, w->errlen, "profile \"%s\": "
			    "source_profile \"%s\" leads back to itself", name, next);
			return -1;
		}
	}
	return CREDCHAIN_NEXT;
}

/* A profile with role_arn: its role is remembered, then the base comes
 * from the web identity file, credential_source or the source profile. */
static int
credchain_step_role(struct credchain_walk *w, const struct creds_profile *p,
    const char *name, char next[CREDS_PROFILE_MAX + 1])
{
	struct credchain_plan *plan = w->plan;
	struct credchain_role *role = &w->roles[w->n_roles];

	if (credchain_profile_role(p, name, role, w->err, w->errlen) == -1)
		return -1;
	if (creds_profile_has(p, "web_identity_token_file")) {
		plan->base = CREDCHAIN_WEB_IDENTITY;
		plan->web_role = *role;
		return creds_profile_text(p, "web_identity_token_file",
		    plan->token_file, sizeof(plan->token_file), w->err,
		    w->errlen) == -1 ? -1 : CREDS_FOUND;
	}
	if (creds_profile_has(p, "source_profile") &&
	    creds_profile_has(p, "credential_source")) {
		credchain_err(w->err, w->errlen, "profile \"%s\" sets both "
		    "source_profile and credential_source", name);
		return -1;
	}
	if (w->n_roles >= CREDCHAIN_ROLES_MAX) {
		credchain_err(w->err, w->errlen, "profile \"%s\": more than %d "
		    "roles in a row", name, CREDCHAIN_ROLES_MAX);
		return -1;
	}
	w->n_roles++;
	if (creds_profile_has(p, "credential_source"))
		return credchain_credential_source(w, p, name);
	if (creds_profile_has(p, "source_profile"))
		return credchain_source_profile(w, p, name, next);
	credchain_err(w->err, w->errlen, "profile \"%s\" has role_arn but no "
	    "source_profile, credential_source or web_identity_token_file", name);
	return -1;
}

/* One profile, in botocore's order: a role first, then static keys, then
 * credential_process.  CREDS_FOUND, CREDCHAIN_NEXT, CREDS_NOT_FOUND or -1. */
static int
credchain_step(struct credchain_walk *w, const struct creds_profile *p,
    const char *name, char next[CREDS_PROFILE_MAX + 1])
{
	struct credchain_plan *plan = w->plan;
	int rc;

	if (creds_profile_unsupported(p, w->err, w->errlen) == -1)
		return -1;
	if (creds_profile_has(p, "role_arn"))
		return credchain_step_role(w, p, name, next);
	plan->base = CREDCHAIN_STATIC;
	rc = creds_profile_keys(p, &plan->keys, w->err, w->errlen);
	if (rc != CREDS_NOT_FOUND)
		return rc;
	if (creds_profile_has(p, "credential_process")) {
		plan->base = CREDCHAIN_PROCESS;
		return creds_profile_text(p, "credential_process", plan->process,
		    sizeof(plan->process), w->err, w->errlen) == -1 ? -1 :
		    CREDS_FOUND;
	}
	if (creds_profile_has(p, "web_identity_token_file")) {
		credchain_err(w->err, w->errlen, "profile \"%s\" has "
		    "web_identity_token_file but no role_arn", name);
		return -1;
	}
	return CREDS_NOT_FOUND;
}

/* Follows source_profile links from `name` (a loop, not recursion: each
 * link adds a role, and the roles are capped). */
static int
credchain_walk_profiles(struct credchain_walk *w, const char *name)
{
	char cur[CREDS_PROFILE_MAX + 1], next[CREDS_PROFILE_MAX + 1] = "";
	struct creds_profile *p;
	int rc = CREDCHAIN_NEXT;

	snprintf(cur, sizeof(cur), "%s", name);
	while (rc == CREDCHAIN_NEXT && w->n_seen <= CREDCHAIN_ROLES_MAX) {
		snprintf(w->seen[w->n_seen++], sizeof(w->seen[0]), "%s", cur);
		p = creds_profile_load(cur, &rc, w->err, w->errlen);
		if (p == NULL)
			return rc;
		if (w->n_seen == 1) {
			w->section_found = creds_profile_found(p);
			snprintf(w->cpath, sizeof(w->cpath), "%s",
			    creds_profile_file(p, 0));
			snprintf(w->fpath, sizeof(w->fpath), "%s",
			    creds_profile_file(p, 1));
		}
		rc = credchain_step(w, p, cur, next);
		creds_profile_free(p);
		memcpy(cur, next, sizeof(cur));
	}
	if (rc == CREDS_NOT_FOUND && w->n_seen > 1) {
		credchain_err(w->err, w->errlen, "profile \"%s\": source_profile "
		    "\"%s\" has no credentials", w->seen[w->n_seen - 2],
		    w->seen[w->n_seen - 1]);
		return -1;
	}
	if (rc != CREDS_FOUND)
		return rc == CREDCHAIN_NEXT ? -1 : rc;
	/* Assumed from the source outwards: the last profile read first. */
	w->plan->n_roles = w->n_roles;
	for (size_t i = 0; i < w->n_roles; i++)
		w->plan->roles[i] = w->roles[w->n_roles - 1 - i];
	return CREDS_FOUND;
}

/* Step 2; CREDS_NOT_FOUND gets a message naming the files. */
static int
credchain_walk(struct credchain_plan *plan, const char *name,
    int explicit_profile, char *err, size_t errlen)
{
	struct credchain_walk *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL) {
		credchain_err(err, errlen, "%s: out of memory", __func__);
		return -1;
	}
	w->plan = plan;
	w->err = err;
	w->errlen = errlen;
	rc = credchain_walk_profiles(w, name);
	if (rc == CREDS_NOT_FOUND && w->cpath[0] != '\0') {
		if (explicit_profile && !w->section_found) {
			credchain_err(err, errlen, "AWS profile \"%s\" not found in "
			    "%s or %s", name, w->cpath, w->fpath);
			rc = -1;
		} else {
			credchain_err(err, errlen, "no AWS credentials: "
			    "AWS_ACCESS_KEY_ID is not set, and profile \"%s\" has "
			    "no credentials in %s or %s", name, w->cpath, w->fpath);
		}
	}
	free(w);
	return rc;
}

/* AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, the EKS (IRSA) way. */
static int
credchain_env_web_identity(struct credchain_plan *plan, char *err,
    size_t errlen)
{
	const char *file = credchain_env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *arn = credchain_env("AWS_ROLE_ARN");
	const char *session = credchain_env("AWS_ROLE_SESSION_NAME");
	struct credchain_role *r = &plan->web_role;

	if (file == NULL)
		return CREDS_NOT_FOUND;
	if (arn == NULL) {
		credchain_err(err, errlen, "AWS_WEB_IDENTITY_TOKEN_FILE is set but "
		    "AWS_ROLE_ARN is not");
		return -1;
	}
	if (creds_text_copy(plan->token_file, sizeof(plan->token_file), file,
	    strlen(file), "AWS_WEB_IDENTITY_TOKEN_FILE", err, errlen) == -1 ||
	    creds_text_copy(r->arn, sizeof(r->arn), arn, strlen(arn),
	    "AWS_ROLE_ARN", err, errlen) == -1 ||
	    (session != NULL && creds_text_copy(r->session_name,
	    sizeof(r->session_name), session, strlen(session),
	    "AWS_ROLE_SESSION_NAME", err, errlen) == -1) ||
	    credchain_role_check(r, "AWS_ROLE_ARN / AWS_ROLE_SESSION_NAME", err,
	    errlen) == -1)
		return -1;
	plan->base = CREDCHAIN_WEB_IDENTITY;
	return CREDS_FOUND;
}

/* Steps 3 to 5, once neither the environment's keys nor the profile gave
 * anything; err holds what step 2 looked at. */
static int
credchain_rest(struct credchain_plan *plan, char *err, size_t errlen)
{
	const char *off = credchain_env("AWS_EC2_METADATA_DISABLED");
	char why[1024];
	int rc;

	snprintf(why, sizeof(why), "%s", err != NULL ? err : "");
	rc = credchain_env_web_identity(plan, err, errlen);
	if (rc != CREDS_NOT_FOUND)
		return rc;
	if (credchain_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
	    credchain_env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL) {
		plan->base = CREDCHAIN_CONTAINER;
		return CREDS_FOUND;
	}
	if (off == NULL || strcasecmp(off, "true") != 0) {
		plan->base = CREDCHAIN_IMDS;
		return CREDS_FOUND;
	}
	credchain_err(err, errlen, "%s; AWS_WEB_IDENTITY_TOKEN_FILE and "
	    "AWS_CONTAINER_CREDENTIALS_* are not set, and "
	    "AWS_EC2_METADATA_DISABLED is true", why);
	return CREDS_NOT_FOUND;
}

/* The plan's one-line description, for the start-up log. */
static void
credchain_describe(struct credchain_plan *plan, const char *profile,
    int from_profile)
{
	static const char *const bases[] = {
		[CREDCHAIN_STATIC] = "static keys",
		[CREDCHAIN_PROCESS] = "credential_process",
		[CREDCHAIN_WEB_IDENTITY] = "web identity (AssumeRoleWithWebIdentity)",
		[CREDCHAIN_CONTAINER] = "container credentials endpoint",
		[CREDCHAIN_IMDS] = "EC2 instance metadata (IMDSv2)",
	};
	char where[CREDS_PROFILE_MAX + 16] = "";
	int n;

	if (from_profile)
		snprintf(where, sizeof(where), "profile \"%s\": ", profile);
	else if (plan->base == CREDCHAIN_STATIC)
		snprintf(where, sizeof(where), "environment: ");
	n = snprintf(plan->describe, sizeof(plan->describe), "%s%s", where,
	    bases[plan->base]);
	if (plan->n_roles > 0 && n > 0 && (size_t)n < sizeof(plan->describe))
		snprintf(plan->describe + n, sizeof(plan->describe) - (size_t)n,
		    ", then %zu role%s (STS AssumeRole)", plan->n_roles,
		    plan->n_roles == 1 ? "" : "s");
}

int
credchain_resolve(const char *profile, struct credchain_plan *plan,
    char *err, size_t errlen)
{
	int configured = profile != NULL && *profile != '\0';
	int explicit_profile = configured || credchain_env("AWS_PROFILE") != NULL;
	const char *name = creds_profile_name(profile);
	int rc, from_profile = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (plan == NULL)
		return -1;
	credchain_plan_clear(plan);
	if (configured) {
		rc = credchain_walk(plan, name, 1, err, errlen);
		from_profile = rc == CREDS_FOUND;
		if (rc == CREDS_NOT_FOUND)
			rc = creds_from_env(&plan->keys, err, errlen);
	} else {
		rc = creds_from_env(&plan->keys, err, errlen);
		if (rc == CREDS_NOT_FOUND) {
			rc = credchain_walk(plan, name, explicit_profile, err, errlen);
			from_profile = rc == CREDS_FOUND;
		}
	}
	if (rc == CREDS_NOT_FOUND)
		rc = credchain_rest(plan, err, errlen);
	if (rc != CREDS_FOUND) {
		credchain_plan_clear(plan);
		return rc;
	}
	credchain_describe(plan, name, from_profile);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return CREDS_FOUND;
}
