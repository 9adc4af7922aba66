/* awsenv.h - AWS region and service endpoint resolution, as the AWS SDKs do it. */
#ifndef CXB_AWSENV_H
#define CXB_AWSENV_H

#include <stddef.h>

#define AWSENV_REGION_MAX   63     /* bytes in a region name */
#define AWSENV_URL_MAX      2048   /* bytes in an endpoint URL */
#define AWSENV_HOST_MAX     255    /* bytes in a host, brackets included */
#define AWSENV_PATH_MAX     1024   /* bytes in an endpoint's base path */

enum awsenv_service {
	AWSENV_EVENTBRIDGE,
	AWSENV_SQS,
	AWSENV_STS,         /* for role credentials (credprov) */
};

/* The endpoint variants the SDKs offer: FIPS 140 validated, and
 * dual-stack (IPv4 and IPv6). */
struct awsenv_variant {
	int fips;
	int dualstack;
};

/* An endpoint URL split for the HTTP client and the signer. */
struct awsenv_url {
	char     scheme[8];                 /* "http" or "https" */
	char     host[AWSENV_HOST_MAX + 1]; /* lower case; IPv6 keeps its [] */
	unsigned port;                      /* given, else 80 / 443 */
	int      port_given;                /* 1 if the URL named a port */
	char     path[AWSENV_PATH_MAX + 1]; /* "/" when the URL has none */
	/* Host header value: host, plus ":port" unless it is the scheme's
	 * default (what curl sends, so sign this one). */
	char     host_header[AWSENV_HOST_MAX + 7];
};

/* The region: `configured` when non-empty, else $AWS_REGION, else
 * $AWS_DEFAULT_REGION, else "region" in the config-file profile
 * (creds_profile_name(profile)).  It must be 1..AWSENV_REGION_MAX bytes of
 * [a-z0-9-].  Returns 0 with the region in out (outlen bytes), or -1 with a
 * message in err (errlen bytes, may be NULL): none found, invalid, too long,
 * or the config file unreadable. */
int awsenv_region(const char *configured, const char *profile, char *out,
    size_t outlen, char *err, size_t errlen);

/* The endpoint URL for svc: `configured` when non-empty, else
 * $AWS_ENDPOINT_URL_EVENTBRIDGE / $AWS_ENDPOINT_URL_SQS /
 * $AWS_ENDPOINT_URL_STS, else
 * $AWS_ENDPOINT_URL, else https://events.REGION.amazonaws.com or
 * https://sqs.REGION.amazonaws.com, https://sts.REGION.amazonaws.com (the
 * partition's suffix, e.g. ".amazonaws.com.cn" for cn-* regions).
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the variables, as in the
 * SDKs.  The URL is checked with awsenv_url_parse.  Returns 0 with the URL
 * in out (outlen bytes), or -1 with a message in err naming where the URL
 * came from. */
int awsenv_endpoint(enum awsenv_service svc, const char *configured,
    const char *region, char *out, size_t outlen, char *err, size_t errlen);

/* Which variants are on.  Each is on when its [aws] key (cfg_fips,
 * cfg_dualstack) is true; else $AWS_USE_FIPS_ENDPOINT /
 * $AWS_USE_DUALSTACK_ENDPOINT decide when set; else use_fips_endpoint /
 * use_dualstack_endpoint in the profile of the AWS config file; else off.
 * Values are "true" or "false" in any case.  Returns 0 with out filled, or
 * -1 with a message in err: another value, or the config file unreadable. */
int awsenv_variant(int cfg_fips, int cfg_dualstack, const char *profile,
    struct awsenv_variant *out, char *err, size_t errlen);

/* awsenv_endpoint with variants (v may be NULL: none).  They change only
 * the regional default, as in the SDKs (an endpoint URL given by the
 * configuration or a variable is used as it is):
 *   FIPS:       https://SVC-fips.REGION.DNS (GovCloud: SVC.REGION.DNS,
 *               which is FIPS already)
 *   dual-stack: https://SVC.REGION.DUALDNS
 *   both:       https://SVC-fips.REGION.DUALDNS
 * DNS / DUALDNS by partition: aws amazonaws.com / api.aws; aws-cn (cn-*)
 * amazonaws.com.cn / api.amazonwebservices.com.cn; aws-us-gov (us-gov-*)
 * amazonaws.com / api.aws; the ISO partitions (us-iso-*, us-isob-*,
 * eu-isoe-*, us-isof-*) have no dual-stack: -1.  Returns as
 * awsenv_endpoint. */
int awsenv_endpoint_variant(enum awsenv_service svc, const char *configured,
    const char *region, const struct awsenv_variant *v, char *out,
    size_t outlen, char *err, size_t errlen);

/* The SigV4 service name for svc: "events", "sqs" or "sts" (static). */
const char *awsenv_signing_name(enum awsenv_service svc);

/* Splits an http(s) URL of at most AWSENV_URL_MAX bytes.  Refused (-1, with
 * a message in err): other schemes, user info, an empty or malformed host,
 * a port outside 1..65535, a query or fragment, spaces or control bytes.
 * Returns 0 with out filled. */
int awsenv_url_parse(const char *url, struct awsenv_url *out, char *err,
    size_t errlen);

#endif
