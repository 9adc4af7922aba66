/* cmd_register.c - `cxbridge register`, `unregister` and `webhooks`: this bridge as a CXone webhook target. */
#include "cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "cxone.h"
#include "log.h"

#define REG_REDACTED "<redacted>"
/* "whsec_" + base64 of a key, or "Basic " + base64 of user:password. */
#define REG_VALUE_MAX (16 + 4 * ((CXONE_SECRET_MAX + 2) / 3))

struct reg_opts {
	int dry_run;
	int json;
};

static void
reg_usage(FILE *f, const char *name)
{
	if (strcmp(name, "register") == 0)
		fprintf(f, "usage: cxbridge [-c FILE] register [--dry-run]\n"
		    "  creates this bridge's webhook in CXone, or updates the one "
		    "named [cxone] webhook_name\n"
		    "  --dry-run  print the request (secrets redacted); send "
		    "nothing\n");
	else if (strcmp(name, "unregister") == 0)
		fprintf(f, "usage: cxbridge [-c FILE] unregister\n"
		    "  deletes the webhook named [cxone] webhook_name\n");
	else
		fprintf(f, "usage: cxbridge [-c FILE] webhooks [--json]\n"
		    "  lists the webhooks CXone holds (secrets redacted)\n");
}

/* 0 to go on, 1 after --help, -1 on a usage error. */
static int
reg_options(int argc, char **argv, struct reg_opts *o)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'n' && strcmp(argv[0], "register") == 0) {
			o->dry_run = 1;
		} else if (ch == 'j' && strcmp(argv[0], "webhooks") == 0) {
			o->json = 1;
		} else if (ch == 'h') {
			reg_usage(stdout, argv[0]);
			return 1;
		} else {
			reg_usage(stderr, argv[0]);
			return -1;
		}
	}
	if (optind != argc) {
		reg_usage(stderr, argv[0]);
		return -1;
	}
	return 0;
}

/* The first [cxone] key the command needs that is empty, or NULL. */
static const char *
reg_missing(const struct config *cfg, int registering)
{
	const struct { const char *key, *value; int for_register; } need[] = {
		{ "token_url", cfg->cx_token_url, 0 },
		{ "client_id", cfg->cx_client_id, 0 },
		{ "client_secret_file", cfg->cx_client_secret_file, 0 },
		{ "api_url", cfg->cx_api_url, 0 },
		{ "public_url", cfg->cx_public_url, 1 },
		{ "event_types", cfg->cx_event_types, 1 },
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if ((registering || !need[i].for_register) &&
		    need[i].value[0] == '\0')
			return need[i].key;
	return NULL;
}

/* base + path, with one '/' between them.  0, or -1 if it does not fit. */
static int
reg_join(const char *base, const char *path, char *out, size_t outlen)
{
	size_t blen = strlen(base);
	int n;

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	n = snprintf(out, outlen, "%.*s%s", (int)blen, base, path);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static json_t *
reg_event_types(const char *list)
{
	json_t *arr = json_array();
	size_t len;

	for (const char *p = list + strspn(list, ", \t"); arr != NULL &&
	    *p != '\0'; p += len, p += strspn(p, ", \t")) {
		len = strcspn(p, ", \t");
		if (json_array_append_new(arr, json_stringn(p, len)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

/* value = prefix + base64(data), for the Basic and whsec_ forms. */
static void
reg_b64(const char *prefix, const char *data, size_t len, char *value,
    size_t size)
{
	size_t plen = strlen(prefix);

	if (plen + 4 * ((len + 2) / 3) + 1 > size) {
		value[0] = '\0';
		return;
	}
	memcpy(value, prefix, plen);
	EVP_EncodeBlock((unsigned char *)value + plen,
	    (const unsigned char *)data, (int)len);
}

/*
 * What the sender must add so that this bridge's [auth] accepts it, built
 * from the same secret file: the first secret (the newest, by the rotation
 * rule in docs/cxone.md).  With redact, the secret is replaced by a
 * placeholder.  Returns 0, or -1 with the reason in err.
 */
static int
reg_auth(const struct config *cfg, json_t *spec, int redact, char *err,
    size_t errlen)
{
	char secret[CXONE_SECRET_MAX + 1], value[REG_VALUE_MAX];
	struct auth *a;
	int rc = -1;

	if (cfg->mode == AUTH_NONE)
		return 0;
	/* The daemon's own loader decides whether the file is usable. */
	a = auth_new(cfg->mode, cfg->secret_file,
	    (unsigned)cfg->hmac_tolerance_s, err, errlen);
	if (a == NULL)
		return -1;
	auth_free(a);
	if (cxone_read_secret(cfg->secret_file, secret, sizeof(secret), err,
	    errlen) != 0)
		return -1;
	if (cfg->mode == AUTH_BEARER)
		snprintf(value, sizeof(value), "Bearer %s",
		    redact ? REG_REDACTED : secret);
	else if (cfg->mode == AUTH_BASIC)
		reg_b64("Basic ", secret, strlen(secret), value, sizeof(value));
	else if (strncmp(secret, "whsec_", 6) == 0)
		snprintf(value, sizeof(value), "%s", secret);
	else
		reg_b64("whsec_", secret, strlen(secret), value, sizeof(value));
	if (redact && cfg->mode == AUTH_BASIC)
		snprintf(value, sizeof(value), "Basic " REG_REDACTED);
	else if (redact && cfg->mode == AUTH_HMAC_SHA256)
		snprintf(value, sizeof(value), "whsec_" REG_REDACTED);
	if (cfg->mode == AUTH_HMAC_SHA256)
		rc = json_object_set_new(spec, "signing", json_pack("{s:s,s:s,s:s}",
		    "scheme", "standard-webhooks", "algorithm", "hmac-sha256",
		    "secret", value));
	else
		rc = json_object_set_new(spec, "headers", json_pack("{s:s}",
		    "Authorization", value));
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(value, sizeof(value));
	return rc == 0 ? 0 : -1;
}

/* Overwrites the secret strings of a spec before it is freed. */
static void
reg_spec_free(json_t *spec)
{
	json_t *v[2] = {
		json_object_get(json_object_get(spec, "headers"), "Authorization"),
		json_object_get(json_object_get(spec, "signing"), "secret"),
	};

	for (size_t i = 0; i < 2; i++)
		if (json_is_string(v[i]))
			OPENSSL_cleanse((char *)json_string_value(v[i]),
			    json_string_length(v[i]));
	json_decref(spec);
}

/* The webhook object register sends (docs/cxone.md).  NULL with err. */
static json_t *
reg_spec(const struct config *cfg, int redact, char *err, size_t errlen)
{
	char url[CXONE_URL_MAX + 1];
	json_t *spec, *types = reg_event_types(cfg->cx_event_types);

	if (reg_join(cfg->cx_public_url, cfg->webhook_path, url,
	    sizeof(url)) != 0) {
		json_decref(types);
		snprintf(err, errlen, "[cxone] public_url with [server] "
		    "webhook_path is longer than %d bytes", CXONE_URL_MAX);
		return NULL;
	}
	spec = json_pack("{s:s,s:s,s:o,s:b,s:s}", "name", cfg->cx_webhook_name,
	    "url", url, "eventTypes", types, "enabled", 1, "contentType",
	    "application/json");
	if (spec == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (reg_auth(cfg, spec, redact, err, errlen) != 0) {
		reg_spec_free(spec);
		return NULL;
	}
	return spec;
}

static struct cxone *
reg_client(const struct config *cfg, char *err, size_t errlen)
{
	char secret[CXONE_SECRET_MAX + 1], url[CXONE_URL_MAX + 1];
	struct cxone_config cc = {
		.token_url = cfg->cx_token_url, .token_auth = cfg->cx_token_auth,
		.client_id = cfg->cx_client_id, .client_secret = secret,
		.scopes = cfg->cx_scopes, .webhooks_url = url,
		.timeout_ms = (long)cfg->cx_timeout_ms,
		.max_retry_after_s = (unsigned)cfg->cx_max_retry_after_s,
	};
	struct cxone *c = NULL;

	if (reg_join(cfg->cx_api_url, cfg->cx_webhooks_path, url,
	    sizeof(url)) != 0) {
		snprintf(err, errlen, "[cxone] api_url with webhooks_path is "
		    "longer than %d bytes", CXONE_URL_MAX);
		return NULL;
	}
	if (cxone_read_secret(cfg->cx_client_secret_file, secret,
	    sizeof(secret), err, errlen) == 0)
		c = cxone_new(&cc, err, errlen);
	OPENSSL_cleanse(secret, sizeof(secret));
	return c;
}

/* Options and keys; -1 to go on, else the exit status. */
static int
reg_start(struct config *cfg, int argc, char **argv, struct reg_opts *o,
    int registering)
{
	const char *missing;
	int rc = reg_options(argc, argv, o);

	if (rc != 0)
		return rc > 0 ? CMD_OK : CMD_USAGE;
	missing = reg_missing(cfg, registering);
	if (missing != NULL) {
		fprintf(stderr, "cxbridge %s: %s: [cxone] %s is not set "
		    "(docs/cxone.md)\n", argv[0], cfg->path, missing);
		return CMD_FAILED;
	}
	return -1;
}

/*
 * The id of the one webhook named name: 1 found, 0 none, -1 (err set) when
 * several carry the name or the one found has no usable id.
 */
static int
reg_find(const json_t *list, const char *name, char *id, size_t idlen,
    char *err, size_t errlen)
{
	const json_t *it, *found = NULL;
	size_t i;

	json_array_foreach(list, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));
		if (n == NULL || strcmp(n, name) != 0)
			continue;
		if (found != NULL) {
			snprintf(err, errlen, "several webhooks are named \"%s\"; "
			    "remove the extra ones in CXone first", name);
			return -1;
		}
		found = it;
	}
	if (found == NULL)
		return 0;
	if (cxone_webhook_id(found, id, idlen) != 0) {
		snprintf(err, errlen, "the webhook named \"%s\" has no usable "
		    "\"id\"", name);
		return -1;
	}
	return 1;
}

/* Looks the name up; 1 found, 0 none, -1 failed (err set). */
static int
reg_lookup(struct cxone *c, const char *name, char *id, size_t idlen,
    char *err, size_t errlen)
{
	json_t *list = NULL;
	int rc;

	if (cxone_webhooks_list(c, &list, err, errlen) != 0)
		return -1;
	rc = reg_find(list, name, id, idlen, err, errlen);
	json_decref(list);
	return rc;
}

static void
reg_dry_run(const struct config *cfg, const json_t *spec)
{
	char url[CXONE_URL_MAX + 1];
	char *body = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (reg_join(cfg->cx_api_url, cfg->cx_webhooks_path, url,
	    sizeof(url)) != 0)
		snprintf(url, sizeof(url), "(too long)");
	printf("# dry run: nothing is sent.  register lists the webhooks, then "
	    "sends this\n# as POST %s, or as PUT %s/ID when a webhook named "
	    "\"%s\" exists.\n", url, url, cfg->cx_webhook_name);
	printf("POST %s\nAuthorization: Bearer <token from %s for client "
	    "\"%s\", scopes \"%s\">\nContent-Type: application/json\n\n%s\n",
	    url, cfg->cx_token_url, cfg->cx_client_id, cfg->cx_scopes,
	    body != NULL ? body : "(out of memory)");
	free(body);
}

int
cmd_register(struct config *cfg, int argc, char **argv)
{
	char err[1024], id[CXONE_ID_MAX + 1];
	struct reg_opts o;
	struct cxone *c = NULL;
	json_t *spec, *out = NULL;
	int rc = reg_start(cfg, argc, argv, &o, 1), found;

	if (rc != -1)
		return rc;
	rc = CMD_FAILED;
	spec = reg_spec(cfg, o.dry_run, err, sizeof(err));
	if (spec == NULL)
		goto fail;
	if (o.dry_run) {
		reg_dry_run(cfg, spec);
		rc = CMD_OK;
		goto out;
	}
	c = reg_client(cfg, err, sizeof(err));
	found = c == NULL ? -1 : reg_lookup(c, cfg->cx_webhook_name, id,
	    sizeof(id), err, sizeof(err));
	if (found < 0 || (found ? cxone_webhook_update(c, id, spec, &out, err,
	    sizeof(err)) : cxone_webhook_create(c, spec, &out, err,
	    sizeof(err))) != 0)
		goto fail;
	if (!found && cxone_webhook_id(out, id, sizeof(id)) != 0)
		snprintf(id, sizeof(id), "not returned");
	printf("%s webhook \"%s\" (id %s): %s\n", found ? "updated" : "created",
	    cfg->cx_webhook_name, id,
	    json_string_value(json_object_get(spec, "url")));
	rc = CMD_OK;
	goto out;
fail:
	fprintf(stderr, "cxbridge register: %s\n", err);
out:
	json_decref(out);
	reg_spec_free(spec);
	cxone_free(c);
	return rc;
}

int
cmd_unregister(struct config *cfg, int argc, char **argv)
{
	char err[1024], id[CXONE_ID_MAX + 1];
	struct reg_opts o;
	struct cxone *c;
	int rc = reg_start(cfg, argc, argv, &o, 0), found;

	if (rc != -1)
		return rc;
	c = reg_client(cfg, err, sizeof(err));
	found = c == NULL ? -1 : reg_lookup(c, cfg->cx_webhook_name, id,
	    sizeof(id), err, sizeof(err));
	if (found == 0)
		printf("no webhook named \"%s\": nothing to delete\n",
		    cfg->cx_webhook_name);
	else if (found > 0 && cxone_webhook_delete(c, id, err, sizeof(err)) == 0)
		printf("deleted webhook \"%s\" (id %s)\n", cfg->cx_webhook_name,
		    id);
	else
		found = -1;
	if (found < 0)
		fprintf(stderr, "cxbridge unregister: %s\n", err);
	cxone_free(c);
	return found < 0 ? CMD_FAILED : CMD_OK;
}

/* Names of members whose values may be credentials. */
static int
reg_secretish(const char *key)
{
	static const char *const words[] = { "secret", "password", "token",
	    "authorization", "apikey", "api_key", "credential" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]) != NULL)
			return 1;
	return 0;
}

/* Header values and secret-looking members of one object are replaced;
 * its other containers go on the work list. */
static void
reg_redact_object(json_t *obj, json_t *work)
{
	for (void *it = json_object_iter(obj); it != NULL;
	    it = json_object_iter_next(obj, it)) {
		const char *k = json_object_iter_key(it);
		json_t *x = json_object_iter_value(it);

		if (strcasecmp(k, "headers") == 0 && json_is_object(x)) {
			for (void *h = json_object_iter(x); h != NULL;
			    h = json_object_iter_next(x, h))
				json_object_iter_set_new(x, h,
				    json_string(REG_REDACTED));
		} else if (reg_secretish(k) && !json_is_object(x)) {
			json_object_iter_set_new(obj, it, json_string(REG_REDACTED));
		} else if (json_is_object(x) || json_is_array(x)) {
			json_array_append(work, x);
		}
	}
}

/* Redacts at any depth, with a work list instead of recursion. */
static void
reg_redact(json_t *root)
{
	json_t *work = json_array(), *v, *x;
	size_t i;

	if (work == NULL || json_array_append(work, root) != 0) {
		json_decref(work);
		return;
	}
	while (json_array_size(work) > 0) {
		v = json_incref(json_array_get(work, json_array_size(work) - 1));
		json_array_remove(work, json_array_size(work) - 1);
		if (json_is_object(v)) {
			reg_redact_object(v, work);
		} else {
			json_array_foreach(v, i, x) {
				if (json_is_object(x) || json_is_array(x))
					json_array_append(work, x);
			}
		}
		json_decref(v);
	}
	json_decref(work);
}

/* A field from CXone, with control bytes made harmless for a terminal. */
static void
reg_field(const char *s, int width)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", s != NULL ? s : "-");
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	printf("%-*s", width, buf);
}

static void
reg_print_list(const struct config *cfg, const json_t *list)
{
	const json_t *it, *t;
	size_t i, j;
	char id[CXONE_ID_MAX + 1];

	if (json_array_size(list) == 0)
		printf("no webhooks\n");
	json_array_foreach(list, i, it) {
		const char *name = json_string_value(json_object_get(it, "name"));
		int ours = name != NULL && strcmp(name, cfg->cx_webhook_name) == 0;

		if (cxone_webhook_id(it, id, sizeof(id)) != 0)
			snprintf(id, sizeof(id), "-");
		printf("%s ", ours ? "*" : " ");
		reg_field(id, 20);
		printf(" ");
		reg_field(name, 24);
		printf(" ");
		reg_field(json_string_value(json_object_get(it, "url")), 0);
		json_array_foreach(json_object_get(it, "eventTypes"), j, t) {
			printf("%s", j == 0 ? "  [" : ", ");
			reg_field(json_string_value(t), 0);
		}
		printf("%s\n", json_array_size(json_object_get(it, "eventTypes")) >
		    0 ? "]" : "");
	}
}

int
cmd_webhooks(struct config *cfg, int argc, char **argv)
{
	char err[1024], *text;
	struct reg_opts o;
	struct cxone *c;
	json_t *list = NULL;
	int rc = reg_start(cfg, argc, argv, &o, 0);

	if (rc != -1)
		return rc;
	c = reg_client(cfg, err, sizeof(err));
	if (c == NULL || cxone_webhooks_list(c, &list, err, sizeof(err)) != 0) {
		fprintf(stderr, "cxbridge webhooks: %s\n", err);
		cxone_free(c);
		return CMD_FAILED;
	}
	/* What CXone echoes back may include the headers it sends. */
	reg_redact(list);
	if (o.json) {
		text = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", text != NULL ? text : "[]");
		free(text);
	} else {
		reg_print_list(cfg, list);
	}
	json_decref(list);
	cxone_free(c);
	return CMD_OK;
}
