/* aws.h - signed AWS JSON-protocol calls, many in flight, over libcurl multi. */
#ifndef CXB_AWS_H
#define CXB_AWS_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct aws_credentials;
struct sigv4_signer;

#define AWS_HOST_MAX 256

/* One AWS service endpoint: where calls go and how they are signed. */
struct aws_service {
	char                 url[512];          /* e.g. https://events.us-east-1.amazonaws.com/ */
	char                 host[AWS_HOST_MAX]; /* Host header: host[:port] */
	char                 path[256];         /* path part of url, "/" if none */
	const char          *content_type;      /* application/x-amz-json-1.x */
	struct sigv4_signer *signer;            /* owned by the service */
};

/* Fills svc from an endpoint URL.  0, or -1 with a reason in err. */
int  aws_service_init(struct aws_service *svc, const char *url,
         const char *region, const char *signing_name,
         const char *content_type, char *err, size_t errlen);
void aws_service_fini(struct aws_service *svc);

/*
 * One call.  The caller fills the request part, submits, and gets done()
 * from inside aws_client_run with the response part filled.  body is owned
 * by the call and freed by aws_call_fini, as is resp.
 */
struct aws_call {
	const struct aws_service *svc;
	const char   *target;              /* X-Amz-Target */
	char         *body;
	size_t        body_len;

	long          status;              /* HTTP status, 0 on a transport error */
	CURLcode      curl_code;
	char         *resp;                /* NUL-terminated, at most AWS_RESP_MAX */
	size_t        resp_len;
	char          query_error[128];    /* x-amzn-query-error */
	char          error_type[128];     /* x-amzn-ErrorType */
	double        seconds;             /* latency */

	void        (*done)(struct aws_call *call, void *arg);
	void         *arg;

	/* Private. */
	CURL              *easy;
	struct curl_slist *headers;
	uint64_t           started_us;
	size_t             resp_cap;
	struct aws_call   *prev, *next;   /* the client's calls in flight */
};

#define AWS_RESP_MAX ((size_t)1024 * 1024)

struct aws_client;

struct aws_client *aws_client_new(long connect_timeout_ms, long request_timeout_ms);
void aws_client_free(struct aws_client *c);   /* NULL ok; aborts calls without done() */

/* Signs and starts the call.  0, or -1 (nothing started, done() never called). */
int  aws_client_submit(struct aws_client *c, struct aws_call *call,
         const struct aws_credentials *creds, time_t now);

/* Runs transfers, waiting at most timeout_ms for activity; calls done() for
 * each finished call.  Returns the number of calls still in flight. */
int  aws_client_run(struct aws_client *c, int timeout_ms);

/* Ends every call to svc now: done() runs for each with status 0 and
 * curl_code CURLE_ABORTED_BY_CALLBACK.  The caller's thread only. */
void aws_client_abort(struct aws_client *c, const struct aws_service *svc);

/* Makes a waiting aws_client_run return early.  Any thread. */
void aws_client_wakeup(struct aws_client *c);

/* Frees body, resp and headers; the call can be reused. */
void aws_call_fini(struct aws_call *call);

#endif
