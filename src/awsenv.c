/* awsenv.c - AWS region and service endpoint resolution, as the AWS SDKs do it. */
#include "awsenv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds.h"

struct awsenv_svc_info {
	const char *signing_name;
	const char *host_prefix;
	const char *env_var;
};

static const struct awsenv_svc_info awsenv_services[] = {
	[AWSENV_EVENTBRIDGE] = { "events", "events", "AWS_ENDPOINT_URL_EVENTBRIDGE" },
	[AWSENV_SQS]         = { "sqs", "sqs", "AWS_ENDPOINT_URL_SQS" },
	[AWSENV_STS]         = { "sts", "sts", "AWS_ENDPOINT_URL_STS" },
};

/* The partitions, matched on the region's prefix; the last one matches
 * every region.  gov_fips_plain: the plain regional host is the FIPS one
 * (GovCloud), so FIPS without dual-stack does not add "-fips". */
struct awsenv_partition {
	const char *prefix;
	const char *name;
	const char *dns;
	const char *dual_dns;       /* NULL: no dual-stack endpoints */
	int         gov_fips_plain;
};

static const struct awsenv_partition awsenv_partitions[] = {
	{ "cn-", "aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn", 0 },
	{ "us-gov-", "aws-us-gov", "amazonaws.com", "api.aws", 1 },
	{ "us-iso-", "aws-iso", "c2s.ic.gov", NULL, 0 },
	{ "us-isob-", "aws-iso-b", "sc2s.sgov.gov", NULL, 0 },
	{ "eu-isoe-", "aws-iso-e", "cloud.adc-e.uk", NULL, 0 },
	{ "us-isof-", "aws-iso-f", "csp.hci.ic.gov", NULL, 0 },
	{ "", "aws", "amazonaws.com", "api.aws", 0 },
};

static void awsenv_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
awsenv_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *
awsenv_getenv(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

static int
awsenv_region_valid(const char *r)
{
	size_t len = strnlen(r, AWSENV_REGION_MAX + 1);

	if (len == 0 || len > AWSENV_REGION_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') ||
		    r[i] == '-'))
			return 0;
	return 1;
}

int
awsenv_region(const char *configured, const char *profile, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char fromfile[AWSENV_REGION_MAX + 2];
	const char *v = NULL, *src = NULL;
	int rc;

	if (configured != NULL && *configured != '\0') {
		v = configured;
		src = "[aws] region";
	} else if ((v = awsenv_getenv("AWS_REGION")) != NULL) {
		src = "AWS_REGION";
	} else if ((v = awsenv_getenv("AWS_DEFAULT_REGION")) != NULL) {
		src = "AWS_DEFAULT_REGION";
	} else {
		rc = creds_config_value(profile, "region", fromfile,
		    sizeof(fromfile), err, errlen);
		if (rc == -1)
			return -1;
		if (rc == CREDS_NOT_FOUND) {
			awsenv_err(err, errlen, "no AWS region: set [aws] region, "
			    "AWS_REGION or AWS_DEFAULT_REGION, or region in profile "
			    "\"%s\" of the AWS config file", creds_profile_name(profile));
			return -1;
		}
		v = fromfile;
		src = "the AWS config file";
	}
	if (!awsenv_region_valid(v) || strlen(v) >= outlen) {
		awsenv_err(err, errlen, "region from %s is not a valid region name "
		    "(1-%d characters of a-z, 0-9 and -)", src, AWSENV_REGION_MAX);
		return -1;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

const char *
awsenv_signing_name(enum awsenv_service svc)
{
	return awsenv_services[svc].signing_name;
}

/* The scheme, lower-cased, and where the authority starts. */
static const char *
awsenv_url_scheme(const char *url, struct awsenv_url *out)
{
	if (strncasecmp(url, "https://", 8) == 0) {
		strcpy(out->scheme, "https");
		out->port = 443;
		return url + 8;
	}
	if (strncasecmp(url, "http://", 7) == 0) {
		strcpy(out->scheme, "http");
		out->port = 80;
		return url + 7;
	}
	return NULL;
}

static int
awsenv_host_char(char c, int bracketed)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.')
		return 1;
	return bracketed ? c == ':' : c == '_';
}

/* host[:port] of len bytes into out.  Returns 0 or -1. */
static int
awsenv_url_authority(const char *a, size_t len, struct awsenv_url *out)
{
	size_t hlen, i = 0;
	int bracketed = len > 0 && a[0] == '[';

	if (bracketed) {
		const char *close = memchr(a, ']', len);

		if (close == NULL)
			return -1;
		for (i = 1; a + i < close; i++)
			if (!awsenv_host_char(a[i], 1))
				return -1;
		hlen = (size_t)(close - a) + 1;
	} else {
		while (i < len && a[i] != ':' && awsenv_host_char(a[i], 0))
			i++;
		hlen = i;
	}
	if (hlen == 0 || (bracketed && hlen == 2) || hlen > AWSENV_HOST_MAX)
		return -1;
	for (i = 0; i < hlen; i++)
		out->host[i] = (char)((a[i] >= 'A' && a[i] <= 'Z') ?
		    a[i] + 32 : a[i]);
	out->host[hlen] = '\0';
	if (hlen == len)
		return 0;
	if (a[hlen] != ':' || hlen + 1 == len || len - hlen - 1 > 5)
		return -1;
	out->port = 0;
	for (i = hlen + 1; i < len; i++) {
		if (a[i] < '0' || a[i] > '9')
			return -1;
		out->port = out->port * 10 + (unsigned)(a[i] - '0');
	}
	out->port_given = 1;
	return out->port >= 1 && out->port <= 65535 ? 0 : -1;
}

int
awsenv_url_parse(const char *url, struct awsenv_url *out, char *err,
    size_t errlen)
{
	const char *auth, *path;
	size_t alen, plen, len;
	unsigned dflt;

	memset(out, 0, sizeof(*out));
	len = url ? strnlen(url, AWSENV_URL_MAX + 1) : 0;
	if (len == 0 || len > AWSENV_URL_MAX) {
		awsenv_err(err, errlen, "endpoint URL empty or over %d bytes",
		    AWSENV_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f ||
		    url[i] == '?' || url[i] == '#' || url[i] == '@') {
			awsenv_err(err, errlen, "endpoint URL holds a space, control "
			    "byte, non-ASCII byte, query, fragment or user info");
			return -1;
		}
	}
	auth = awsenv_url_scheme(url, out);
	if (auth == NULL) {
		awsenv_err(err, errlen, "endpoint URL must start with http:// or "
		    "https://");
		return -1;
	}
	dflt = out->port;
	path = strchr(auth, '/');
	alen = path ? (size_t)(path - auth) : strlen(auth);
	plen = path ? strlen(path) : 0;
	if (awsenv_url_authority(auth, alen, out) == -1 || plen > AWSENV_PATH_MAX) {
		awsenv_err(err, errlen, "endpoint URL has a malformed host or port, "
		    "or a path over %d bytes", AWSENV_PATH_MAX);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	memcpy(out->path, plen ? path : "/", plen ? plen + 1 : 2);
	if (out->port_given && out->port != dflt)
		snprintf(out->host_header, sizeof(out->host_header), "%s:%u",
		    out->host, out->port);
	else
		snprintf(out->host_header, sizeof(out->host_header), "%s", out->host);
	return 0;
}

/* The URL the SDKs would pick before falling back to the regional one. */
static const char *
awsenv_endpoint_override(const struct awsenv_svc_info *info,
    const char *configured, const char **from)
{
	const char *ignore = awsenv_getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	const char *v;

	if (configured != NULL && *configured != '\0') {
		*from = "config";
		return configured;
	}
	if (ignore != NULL && strcasecmp(ignore, "true") == 0)
		return NULL;
	v = awsenv_getenv(info->env_var);
	if (v != NULL) {
		*from = info->env_var;
		return v;
	}
	v = awsenv_getenv("AWS_ENDPOINT_URL");
	if (v != NULL)
		*from = "AWS_ENDPOINT_URL";
	return v;
}

static const struct awsenv_partition *
awsenv_partition_of(const char *region)
{
	size_t n = sizeof(awsenv_partitions) / sizeof(awsenv_partitions[0]);

	for (size_t i = 0; i + 1 < n; i++)
		if (strncmp(region, awsenv_partitions[i].prefix,
		    strlen(awsenv_partitions[i].prefix)) == 0)
			return &awsenv_partitions[i];
	return &awsenv_partitions[n - 1];
}

/* The regional default, with the variants applied. */
static int
awsenv_regional(const struct awsenv_svc_info *info, const char *region,
    const struct awsenv_variant *v, char *out, size_t outlen, char *err,
    size_t errlen)
{
	const struct awsenv_partition *part = awsenv_partition_of(region);
	int fips = v != NULL && v->fips, dual = v != NULL && v->dualstack;
	const char *dns = part->dns, *suffix = "";

	if (dual && part->dual_dns == NULL) {
		awsenv_err(err, errlen, "%s endpoint: partition %s (region %s) has "
		    "no dual-stack endpoints; turn use_dualstack_endpoint off",
		    info->signing_name, part->name, region);
		return -1;
	}
	if (dual)
		dns = part->dual_dns;
	if (fips && (dual || !part->gov_fips_plain))
		suffix = "-fips";
	return snprintf(out, outlen, "https://%s%s.%s.%s", info->host_prefix,
	    suffix, region, dns);
}

int
awsenv_endpoint_variant(enum awsenv_service svc, const char *configured,
    const char *region, const struct awsenv_variant *v, char *out,
    size_t outlen, char *err, size_t errlen)
{
	const struct awsenv_svc_info *info;
	const char *src = "default", *url;
	struct awsenv_url parsed;
	char err2[160];
	int n;

	if ((unsigned)svc >= sizeof(awsenv_services) / sizeof(awsenv_services[0]) ||
	    out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	info = &awsenv_services[svc];
	url = awsenv_endpoint_override(info, configured, &src);
	if (url != NULL) {
		n = snprintf(out, outlen, "%s", url);
	} else if (region == NULL || !awsenv_region_valid(region)) {
		awsenv_err(err, errlen, "no valid region for the %s endpoint",
		    info->signing_name);
		return -1;
	} else {
		n = awsenv_regional(info, region, v, out, outlen, err, errlen);
		if (n == -1)
			return -1;
	}
	if (n < 0 || (size_t)n >= outlen) {
		awsenv_err(err, errlen, "%s endpoint from %s: longer than %zu bytes",
		    info->signing_name, src, outlen - 1);
		out[0] = '\0';
		return -1;
	}
	if (awsenv_url_parse(out, &parsed, err2, sizeof(err2)) == -1) {
		awsenv_err(err, errlen, "%s endpoint from %s: %s",
		    info->signing_name, src, err2);
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
awsenv_endpoint(enum awsenv_service svc, const char *configured,
    const char *region, char *out, size_t outlen, char *err, size_t errlen)
{
	return awsenv_endpoint_variant(svc, configured, region, NULL, out,
	    outlen, err, errlen);
}

/* One variant: the configuration's true, else the variable, else the
 * profile's key, else off. */
static int
awsenv_variant_one(int cfg, const char *env_name, const char *key,
    const char *profile, int *out, char *err, size_t errlen)
{
	char fromfile[16];
	const char *v = awsenv_getenv(env_name), *src = env_name;
	int rc;

	*out = 0;
	if (cfg) {
		*out = 1;
		return 0;
	}
	if (v == NULL) {
		rc = creds_config_value(profile, key, fromfile, sizeof(fromfile),
		    err, errlen);
		if (rc == CREDS_NOT_FOUND)
			return 0;
		if (rc == -1)
			return -1;
		v = fromfile;
		src = key;
	}
	if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) {
		*out = strcasecmp(v, "true") == 0;
		return 0;
	}
	awsenv_err(err, errlen, "%s must be true or false", src);
	return -1;
}

int
awsenv_variant(int cfg_fips, int cfg_dualstack, const char *profile,
    struct awsenv_variant *out, char *err, size_t errlen)
{
	if (awsenv_variant_one(cfg_fips, "AWS_USE_FIPS_ENDPOINT",
	    "use_fips_endpoint", profile, &out->fips, err, errlen) == -1 ||
	    awsenv_variant_one(cfg_dualstack, "AWS_USE_DUALSTACK_ENDPOINT",
	    "use_dualstack_endpoint", profile, &out->dualstack, err,
	    errlen) == -1)
		return -1;
	return 0;
}
