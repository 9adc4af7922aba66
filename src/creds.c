/* creds.c - AWS credentials from the environment and the shared credentials/config files. */
#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CREDS_MAX_KEYS 16

/* What one file says about one profile: spans into text, which it owns. */
struct creds_ini {
	char       *text;
	const char *path;
	const char *const *keys;  /* wanted, at most CREDS_MAX_KEYS */
	size_t      nkeys;
	int         section_found;
	const char *val[CREDS_MAX_KEYS];
	size_t      len[CREDS_MAX_KEYS];
};

/* The keys looked up in a profile.  The SSO ones name a source that needs
 * a browser login; cxbridge refuses them rather than fall through to other
 * credentials that might belong to someone else. */
enum {
	K_ID, K_SECRET, K_TOKEN, K_LEGACY_TOKEN, K_ROLE_ARN, K_SOURCE_PROFILE,
	K_CREDENTIAL_SOURCE, K_PROCESS, K_WEB_TOKEN_FILE, K_SESSION_NAME,
	K_EXTERNAL_ID, K_DURATION, K_MFA_SERIAL, K_SSO_START_URL, K_SSO_SESSION,
	K_COUNT
};
_Static_assert(K_COUNT <= CREDS_MAX_KEYS, "creds_ini holds every key");
static const char *const creds_keys[K_COUNT] = {
	"aws_access_key_id", "aws_secret_access_key", "aws_session_token",
	"aws_security_token", "role_arn", "source_profile", "credential_source",
	"credential_process", "web_identity_token_file", "role_session_name",
	"external_id", "duration_seconds", "mfa_serial", "sso_start_url",
	"sso_session",
};

static void creds_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
creds_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
creds_clear(struct aws_credentials *c)
{
	if (c != NULL)
		explicit_bzero(c, sizeof(*c));
}

const char *
creds_profile_name(const char *given)
{
	const char *env;

	if (given != NULL && *given != '\0')
		return given;
	env = getenv("AWS_PROFILE");
	if (env != NULL && *env != '\0')
		return env;
	return "default";
}

/* Copies a credential value, refusing what does not fit or what could not
 * be a key: printable ASCII without spaces (only letters and digits for an
 * access key id).  `what` names the source in the message, never the value. */
static int
creds_set(char *dst, size_t size, const char *src, size_t len, int alnum,
    const char *what, char *err, size_t errlen)
{
	if (len >= size) {
		creds_err(err, errlen, "%s is longer than %zu bytes", what, size - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		int ok = alnum ? ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9')) : (c > 0x20 && c < 0x7f);

		if (!ok) {
			creds_err(err, errlen, "%s holds a character not allowed there",
			    what);
			return -1;
		}
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int
creds_fill(struct aws_credentials *out, const char *id, const char *secret,
    const char *token, const char *what, char *err, size_t errlen)
{
	char w[192];

	creds_clear(out);
	if (id == NULL || secret == NULL || *id == '\0' || *secret == '\0') {
		creds_err(err, errlen, "%s: the access key id or the secret is "
		    "missing or empty", what);
		return -1;
	}
	snprintf(w, sizeof(w), "%s: a key", what);
	if (creds_set(out->access_key_id, sizeof(out->access_key_id), id,
	    strlen(id), 1, w, err, errlen) == -1 ||
	    creds_set(out->secret_access_key, sizeof(out->secret_access_key),
	    secret, strlen(secret), 0, w, err, errlen) == -1 ||
	    (token != NULL && creds_set(out->session_token,
	    sizeof(out->session_token), token, strlen(token), 0, w, err,
	    errlen) == -1)) {
		creds_clear(out);
		return -1;
	}
	return 0;
}

/* Two ASCII digits as a number, or -1.  sscanf's %2d would also take a
 * sign or a leading space, so "+-1:30" passed as an offset. */
static int
creds_two_digits(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* RFC 3339 time ("2024-05-01T12:00:00Z", fractions and offsets allowed). */
static int
creds_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	int64_t off = 0;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (*end == 'Z' || *end == 'z') {
		end++;
	} else if (*end == '+' || *end == '-') {
		int hh = creds_two_digits(end + 1), mm;

		/* end[3] is only read once end[1] and end[2] are digits. */
		if (hh < 0 || hh > 23 || end[3] != ':')
			return -1;
		mm = creds_two_digits(end + 4);
		if (mm < 0 || mm > 59)
			return -1;
		off = (int64_t)(hh * 3600 + mm * 60) * (*end == '-' ? -1 : 1);
		end += 6;
	} else {
		return -1;
	}
	if (*end != '\0')
		return -1;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

static const char *
creds_env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

int
creds_from_env(struct aws_credentials *out, char *err, size_t errlen)
{
	const char *id = creds_env("AWS_ACCESS_KEY_ID");
	const char *secret = creds_env("AWS_SECRET_ACCESS_KEY");
	const char *token = creds_env("AWS_SESSION_TOKEN");
	const char *exp = creds_env("AWS_CREDENTIAL_EXPIRATION");

	if (id == NULL && secret == NULL)
		return CREDS_NOT_FOUND;
	if (id == NULL || secret == NULL) {
		creds_err(err, errlen, "%s is set but %s is not",
		    id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -1;
	}
	if (token == NULL)
		token = creds_env("AWS_SECURITY_TOKEN"); /* older SDKs' name */
	if (creds_set(out->access_key_id, sizeof(out->access_key_id), id,
	    strlen(id), 1, "AWS_ACCESS_KEY_ID", err, errlen) == -1 ||
	    creds_set(out->secret_access_key, sizeof(out->secret_access_key),
	    secret, strlen(secret), 0, "AWS_SECRET_ACCESS_KEY", err, errlen) == -1 ||
	    (token != NULL && creds_set(out->session_token,
	    sizeof(out->session_token), token, strlen(token), 0,
	    "AWS_SESSION_TOKEN", err, errlen) == -1))
		return -1;
	if (exp != NULL && creds_parse_time(exp, &out->expiration) == -1) {
		creds_err(err, errlen, "AWS_CREDENTIAL_EXPIRATION is not an "
		    "RFC 3339 time");
		return -1;
	}
	snprintf(out->source, sizeof(out->source), "environment");
	return CREDS_FOUND;
}

static int
creds_home(char *buf, size_t len)
{
	const char *home = creds_env("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[4096];

	if (home == NULL && getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf),
	    &res) == 0 && res != NULL && res->pw_dir[0] != '\0')
		home = res->pw_dir;
	if (home == NULL)
		return -1;
	return snprintf(buf, len, "%s", home) < (int)len ? 0 : -1;
}

/* The file named by envname (a leading "~/" expanded, as the SDKs do), else
 * ~/.aws/leaf.  Returns 0, or -1 when there is no home to resolve. */
static int
creds_file_path(const char *envname, const char *leaf, char *out, size_t len)
{
	const char *v = creds_env(envname);
	char home[CREDS_PATH_MAX];
	int n;

	if (v != NULL && strncmp(v, "~/", 2) != 0)
		return snprintf(out, len, "%s", v) < (int)len ? 0 : -1;
	if (creds_home(home, sizeof(home)) == -1)
		return -1;
	if (v != NULL)
		n = snprintf(out, len, "%s%s", home, v + 1);
	else
		n = snprintf(out, len, "%s/.aws/%s", home, leaf);
	return n >= 0 && n < (int)len ? 0 : -1;
}

/* The whole file, NUL-terminated, into *text.  Returns 0, CREDS_NOT_FOUND
 * when it does not exist, or -1. */
static int
creds_read_file(const char *path, char **text, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 && (errno == ENOENT || errno == ENOTDIR))
		return CREDS_NOT_FOUND;
	if (fd == -1 || fstat(fd, &st) == -1) {
		creds_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		creds_err(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > (off_t)CREDS_FILE_MAX) {
		creds_err(err, errlen, "%s: larger than %d bytes", path,
		    CREDS_FILE_MAX);
		goto fail;
	}
	buf = malloc(CREDS_FILE_MAX + 1);
	if (buf == NULL) {
		creds_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, CREDS_FILE_MAX + 1 - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			creds_err(err, errlen, "%s: read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)CREDS_FILE_MAX) {
			creds_err(err, errlen, "%s: larger than %d bytes", path,
			    CREDS_FILE_MAX);
			goto fail;
		}
	}
	if (memchr(buf, '\0', got) != NULL) {
		creds_err(err, errlen, "%s: holds a NUL byte", path);
		goto fail;
	}
	buf[got] = '\0';
	close(fd);
	*text = buf;
	return 0;
fail:
	if (buf != NULL)
		explicit_bzero(buf, got);
	free(buf);
	if (fd != -1)
		close(fd);
	return -1;
}

static void
creds_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* Whether a section name selects the profile: [NAME] in the credentials
 * file; [profile NAME] in the config file, where [default] also names the
 * default profile. */
static int
creds_section_matches(const char *name, size_t len, int is_config,
    const char *profile)
{
	size_t plen = strlen(profile);

	if (is_config && len > 7 && strncmp(name, "profile", 7) == 0 &&
	    (name[7] == ' ' || name[7] == '\t')) {
		name += 8;
		len -= 8;
		creds_trim(&name, &len);
	} else if (is_config && !(len == 7 && strncmp(name, "default", 7) == 0)) {
		return 0;
	}
	return len == plen && strncmp(name, profile, plen) == 0;
}

/* "[name]", optionally followed by a comment.  Returns 1 if it selects the
 * profile, 0 if not, -1 if malformed. */
static int
creds_ini_section(const char *s, size_t len, int is_config, const char *profile)
{
	const char *close = NULL, *name, *tail;
	size_t nlen, tlen;

	for (size_t i = 1; i < len; i++)
		if (s[i] == ']')
			close = s + i;
	if (close == NULL)
		return -1;
	tail = close + 1;
	tlen = len - (size_t)(tail - s);
	creds_trim(&tail, &tlen);
	if (tlen > 0 && tail[0] != '#' && tail[0] != ';')
		return -1;
	name = s + 1;
	nlen = (size_t)(close - name);
	creds_trim(&name, &nlen);
	if (nlen == 0)
		return -1;
	return creds_section_matches(name, nlen, is_config, profile);
}

/* "key = value" or "key: value".  A value's trailing " # comment" or
 * " ; comment" is dropped: no credential or region holds whitespace. */
static int
creds_ini_option(struct creds_ini *ini, int wanted, const char *s, size_t len)
{
	const char *delim = NULL, *key = s, *val;
	size_t klen, vlen;

	for (size_t i = 0; i < len && delim == NULL; i++)
		if (s[i] == '=' || s[i] == ':')
			delim = s + i;
	if (delim == NULL || delim == s)
		return -1;
	klen = (size_t)(delim - s);
	creds_trim(&key, &klen);
	val = delim + 1;
	vlen = len - (size_t)(val - s);
	for (size_t i = 1; i < vlen; i++) {
		if ((val[i] == '#' || val[i] == ';') &&
		    (val[i - 1] == ' ' || val[i - 1] == '\t')) {
			vlen = i;
			break;
		}
	}
	creds_trim(&val, &vlen);
	if (klen == 0)
		return -1;
	for (size_t k = 0; wanted && k < ini->nkeys; k++) {
		if (strlen(ini->keys[k]) != klen ||
		    strncasecmp(ini->keys[k], key, klen) != 0)
			continue;
		if (ini->val[k] != NULL)
			return -2;
		ini->val[k] = val;
		ini->len[k] = vlen;
	}
	return 0;
}

struct creds_parse {
	int  in_section;
	int  in_wanted;
	long last_indent;  /* indent of the last option; -1 after a header */
};

static int
creds_ini_line(struct creds_ini *ini, struct creds_parse *st, int is_config,
    const char *profile, const char *line, size_t len)
{
	size_t indent = strspn(line, " \t");
	int rc;

	if (indent > len)
		indent = len;
	line += indent;
	len -= indent;
	if (len == 0 || line[0] == '#' || line[0] == ';')
		return 0;
	/* Deeper-indented lines continue the previous value (the SDKs'
	 * nested "s3 =" style); nothing this module reads is nested. */
	if (st->last_indent >= 0 && (long)indent > st->last_indent)
		return 0;
	if (line[0] == '[') {
		rc = creds_ini_section(line, len, is_config, profile);
		if (rc == -1)
			return -1;
		if (rc == 1 && ini->section_found)
			return -3;
		st->in_section = 1;
		st->in_wanted = rc;
		ini->section_found |= rc;
		st->last_indent = -1;
		return 0;
	}
	if (!st->in_section)
		return -4;
	st->last_indent = (long)indent;
	return creds_ini_option(ini, st->in_wanted, line, len);
}

static void
creds_ini_error(const char *path, int lineno, int rc, char *err, size_t errlen)
{
	const char *why = rc == -2 ? "key given twice in the profile" :
	    rc == -3 ? "the profile's section appears twice" :
	    rc == -4 ? "key outside any [section]" :
	    "malformed line (expected [section], key = value or a # comment)";

	creds_err(err, errlen, "%s:%d: %s", path, lineno, why);
}

static void
creds_ini_free(struct creds_ini *ini)
{
	if (ini->text != NULL) {
		explicit_bzero(ini->text, strlen(ini->text));
		free(ini->text);
	}
	memset(ini, 0, sizeof(*ini));
}

/* Reads path and finds the profile's values of keys[] (val[i] is keys[i]).
 * Returns 0 (ini filled, free it with creds_ini_free; the section may still
 * be absent), CREDS_NOT_FOUND if there is no such file, or -1. */
static int
creds_ini_load(struct creds_ini *ini, const char *path, int is_config,
    const char *profile, const char *const *keys, size_t nkeys, char *err,
    size_t errlen)
{
	struct creds_parse st = { 0, 0, -1 };
	char *p;
	int lineno = 0, rc;

	memset(ini, 0, sizeof(*ini));
	ini->path = path;
	ini->keys = keys;
	ini->nkeys = nkeys < CREDS_MAX_KEYS ? nkeys : CREDS_MAX_KEYS;
	rc = creds_read_file(path, &ini->text, err, errlen);
	if (rc != 0)
		return rc;
	for (p = ini->text; *p != '\0';) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		lineno++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		rc = creds_ini_line(ini, &st, is_config, profile, p, len);
		if (rc < 0) {
			creds_ini_error(path, lineno, rc, err, errlen);
			creds_ini_free(ini);
			return -1;
		}
		p = nl ? nl + 1 : p + len;
	}
	return 0;
}

/* Static keys from a parsed profile.  CREDS_NOT_FOUND when it has no
 * aws_access_key_id. */
static int
creds_from_ini(const struct creds_ini *ini, int is_config, const char *profile,
    struct aws_credentials *out, char *err, size_t errlen)
{
	char what[CREDS_PATH_MAX + 256];
	int k_token = ini->val[K_TOKEN] ? K_TOKEN : K_LEGACY_TOKEN;

	if (ini->val[K_ID] == NULL)
		return CREDS_NOT_FOUND;
	if (ini->val[K_SECRET] == NULL) {
		creds_err(err, errlen, "%s: profile \"%s\" has aws_access_key_id "
		    "but no aws_secret_access_key", ini->path, profile);
		return -1;
	}
	snprintf(what, sizeof(what), "%s: profile \"%s\": a key", ini->path,
	    profile);
	if (creds_set(out->access_key_id, sizeof(out->access_key_id),
	    ini->val[K_ID], ini->len[K_ID], 1, what, err, errlen) == -1 ||
	    creds_set(out->secret_access_key, sizeof(out->secret_access_key),
	    ini->val[K_SECRET], ini->len[K_SECRET], 0, what, err, errlen) == -1 ||
	    (ini->val[k_token] != NULL && creds_set(out->session_token,
	    sizeof(out->session_token), ini->val[k_token], ini->len[k_token], 0,
	    what, err, errlen) == -1))
		return -1;
	if (ini->len[K_ID] == 0 || ini->len[K_SECRET] == 0) {
		creds_err(err, errlen, "%s: profile \"%s\" has an empty key",
		    ini->path, profile);
		return -1;
	}
	snprintf(out->source, sizeof(out->source), "%s",
	    is_config ? "config-file" : "credentials-file");
	return CREDS_FOUND;
}

/* One profile as the two files give it. */
struct creds_profile {
	char             name[CREDS_PROFILE_MAX + 1];
	struct creds_ini cred, conf;
	char             cpath[CREDS_PATH_MAX], fpath[CREDS_PATH_MAX];
};

void
creds_profile_free(struct creds_profile *p)
{
	if (p == NULL)
		return;
	creds_ini_free(&p->cred);
	creds_ini_free(&p->conf);
	free(p);
}

struct creds_profile *
creds_profile_load(const char *name, int *rc, char *err, size_t errlen)
{
	struct creds_profile *p;

	*rc = -1;
	if (name == NULL || strlen(name) > CREDS_PROFILE_MAX) {
		creds_err(err, errlen, "AWS profile name longer than %d bytes",
		    CREDS_PROFILE_MAX);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		creds_err(err, errlen, "%s: out of memory", __func__);
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (creds_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials",
	    p->cpath, sizeof(p->cpath)) == -1 || creds_file_path(
	    "AWS_CONFIG_FILE", "config", p->fpath, sizeof(p->fpath)) == -1) {
		creds_err(err, errlen, "no AWS credentials: AWS_ACCESS_KEY_ID is "
		    "not set and there is no home directory for ~/.aws");
		*rc = CREDS_NOT_FOUND;
		free(p);
		return NULL;
	}
	if (creds_ini_load(&p->cred, p->cpath, 0, name, creds_keys, K_COUNT,
	    err, errlen) == -1 || creds_ini_load(&p->conf, p->fpath, 1, name,
	    creds_keys, K_COUNT, err, errlen) == -1) {
		creds_profile_free(p);
		return NULL;
	}
	*rc = 0;
	return p;
}

static int
creds_key_index(const char *key)
{
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(creds_keys[k], key) == 0)
			return k;
	return -1;
}

/* The profile's value of key k: the credentials file's, else the config
 * file's (the SDKs' precedence); NULL when neither sets it. */
static const char *
creds_profile_val(const struct creds_profile *p, int k, size_t *len,
    const char **path)
{
	const struct creds_ini *ini = p->cred.val[k] != NULL ? &p->cred : &p->conf;

	*len = ini->len[k];
	*path = ini->path;
	return ini->val[k];
}

int
creds_profile_has(const struct creds_profile *p, const char *key)
{
	int k = creds_key_index(key);

	return k >= 0 && (p->cred.val[k] != NULL || p->conf.val[k] != NULL);
}

int
creds_profile_found(const struct creds_profile *p)
{
	return p->cred.section_found || p->conf.section_found;
}

const char *
creds_profile_file(const struct creds_profile *p, int config)
{
	return config ? p->fpath : p->cpath;
}

int
creds_text_copy(char *dst, size_t size, const char *src, size_t len,
    const char *what, char *err, size_t errlen)
{
	if (size == 0)
		return -1;
	dst[0] = '\0';
	if (len == 0 || len >= size) {
		creds_err(err, errlen, "%s is empty or longer than %zu bytes", what,
		    size - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
			creds_err(err, errlen, "%s holds a control character", what);
			return -1;
		}
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int
creds_profile_text(const struct creds_profile *p, const char *key, char *dst,
    size_t size, char *err, size_t errlen)
{
	char what[CREDS_PATH_MAX + 256];
	const char *path, *v;
	int k = creds_key_index(key);
	size_t len;

	if (size == 0 || k < 0)
		return -1;
	dst[0] = '\0';
	v = creds_profile_val(p, k, &len, &path);
	if (v == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s: profile \"%s\": %s", path, p->name,
	    key);
	return creds_text_copy(dst, size, v, len, what, err, errlen);
}

int
creds_profile_keys(const struct creds_profile *p, struct aws_credentials *out,
    char *err, size_t errlen)
{
	int rc;

	creds_clear(out);
	rc = creds_from_ini(&p->cred, 0, p->name, out, err, errlen);
	if (rc == CREDS_NOT_FOUND)
		rc = creds_from_ini(&p->conf, 1, p->name, out, err, errlen);
	if (rc != CREDS_FOUND)
		creds_clear(out);
	return rc;
}

int
creds_profile_unsupported(const struct creds_profile *p, char *err,
    size_t errlen)
{
	static const char *const sso[] = { "sso_start_url", "sso_session" };

	for (size_t i = 0; i < sizeof(sso) / sizeof(sso[0]); i++) {
		if (!creds_profile_has(p, sso[i]))
			continue;
		creds_err(err, errlen, "profile \"%s\" uses %s, which cxbridge "
		    "does not support (SSO needs an interactive login); give a "
		    "role, static keys, the environment or an instance/task role",
		    p->name, sso[i]);
		return -1;
	}
	if (creds_profile_has(p, "mfa_serial")) {
		creds_err(err, errlen, "profile \"%s\" uses mfa_serial, which "
		    "cxbridge does not support: a daemon cannot prompt for an "
		    "MFA code", p->name);
		return -1;
	}
	return 0;
}

/* The profile's static keys; one that needs a fetch is an error here. */
static int
creds_load_files(const char *profile, int explicit_profile,
    struct aws_credentials *out, char *err, size_t errlen)
{
	struct creds_profile *p;
	int rc;

	p = creds_profile_load(profile, &rc, err, errlen);
	if (p == NULL)
		return rc;
	rc = -1;
	if (creds_profile_unsupported(p, err, errlen) == -1)
		goto done;
	if (creds_profile_has(p, "role_arn")) {
		creds_err(err, errlen, "profile \"%s\" uses role_arn: its "
		    "credentials come from STS, which the provider fetches",
		    profile);
		goto done;
	}
	rc = creds_profile_keys(p, out, err, errlen);
	if (rc != CREDS_NOT_FOUND)
		goto done;
	if (creds_profile_has(p, "credential_process")) {
		creds_err(err, errlen, "profile \"%s\" uses credential_process: "
		    "the provider runs it", profile);
		rc = -1;
	} else if (explicit_profile && !creds_profile_found(p)) {
		creds_err(err, errlen, "AWS profile \"%s\" not found in %s or %s",
		    profile, p->cpath, p->fpath);
		rc = -1;
	} else {
		creds_err(err, errlen, "no AWS credentials: AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY are not set, and profile \"%s\" has no "
		    "aws_access_key_id in %s or %s", profile, p->cpath, p->fpath);
	}
done:
	creds_profile_free(p);
	return rc;
}

int
creds_load(const char *profile, struct aws_credentials *out, char *err,
    size_t errlen)
{
	int explicit_profile = (profile != NULL && *profile != '\0') ||
	    creds_env("AWS_PROFILE") != NULL;
	const char *name = creds_profile_name(profile);
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		return -1;
	creds_clear(out);
	if (strlen(name) > CREDS_PROFILE_MAX) {
		creds_err(err, errlen, "AWS profile name longer than %d bytes",
		    CREDS_PROFILE_MAX);
		return -1;
	}
	rc = creds_from_env(out, err, errlen);
	if (rc == CREDS_NOT_FOUND)
		rc = creds_load_files(name, explicit_profile, out, err, errlen);
	if (rc != CREDS_FOUND)
		creds_clear(out);
	return rc;
}

int
creds_config_value(const char *profile, const char *key, char *out,
    size_t outlen, char *err, size_t errlen)
{
	const char *name = creds_profile_name(profile);
	const char *const keys[1] = { key };
	char fpath[CREDS_PATH_MAX];
	struct creds_ini conf;
	int rc;

	if (out == NULL || outlen == 0 || key == NULL)
		return -1;
	out[0] = '\0';
	if (strlen(name) > CREDS_PROFILE_MAX ||
	    creds_file_path("AWS_CONFIG_FILE", "config", fpath, sizeof(fpath)) == -1)
		return CREDS_NOT_FOUND;
	rc = creds_ini_load(&conf, fpath, 1, name, keys, 1, err, errlen);
	if (rc != 0)
		return rc;
	rc = CREDS_NOT_FOUND;
	if (conf.val[0] != NULL && conf.len[0] >= outlen) {
		creds_err(err, errlen, "%s: profile \"%s\": %s is longer than %zu "
		    "bytes", fpath, name, key, outlen - 1);
		rc = -1;
	} else if (conf.val[0] != NULL) {
		memcpy(out, conf.val[0], conf.len[0]);
		out[conf.len[0]] = '\0';
		rc = 0;
	}
	creds_ini_free(&conf);
	return rc;
}
