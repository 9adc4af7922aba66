/* config.h - the INI configuration file: key table, parsing, validation. */
#ifndef CXB_CONFIG_H
#define CXB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE_MAX (1024 * 1024)  /* bytes in a configuration file */
#define CONFIG_LINE_MAX 4096           /* bytes in a line, without CR/LF */

enum auth_mode { AUTH_NONE, AUTH_BEARER, AUTH_BASIC, AUTH_HMAC_SHA256 };
enum order_policy { ORDER_DLQ, ORDER_REJECT, ORDER_ACCEPT };
/* How `cxbridge register` presents its client credentials (RFC 6749 2.3.1). */
enum cxone_token_auth { CXONE_AUTH_BASIC, CXONE_AUTH_POST };

/*
 * Every value the daemon reads from its file.  Strings are owned by the
 * struct (freed by config_free); an empty optional string is "" never NULL.
 * Defaults are in the key table in config.c and in conf/cxbridge.conf.
 */
struct config {
	char     *path;                /* file it was read from */

	/* [server] */
	char     *listen;              /* "0.0.0.0:8080" */
	char     *webhook_path;        /* "/webhook/routing-events" */
	uint64_t  max_body_bytes;      /* 262144 */
	uint64_t  max_header_bytes;    /* 16384: request line + headers */
	uint64_t  max_connections;     /* 4096 */
	uint64_t  idle_timeout_s;      /* 30: idle or slow connection closed */
	uint64_t  threads;             /* 2: HTTP worker threads */
	uint64_t  max_json_depth;      /* 32 */
	uint64_t  retry_after_s;       /* 1: Retry-After on 429/503 */

	/* [auth] */
	enum auth_mode mode;           /* no default: must be set */
	char     *secret_file;         /* one secret / token / user:pass per line */
	bool      allow_unauthenticated; /* false */
	uint64_t  hmac_tolerance_s;    /* 300: replay window */

	/* [validation] */
	char     *schema_file;         /* /etc/cxbridge/schemas/cxone-routing-event.json */
	uint64_t  max_future_s;        /* 300: how far ahead a timestamp may be */
	uint64_t  max_entry_bytes;     /* 262144: PutEvents request size limit */

	/* [eventbridge] */
	char     *bus;                 /* "default" */
	char     *source;              /* "nice.cxone.routing" */
	char     *detail_type;         /* "" = the event's eventType */
	char     *eb_endpoint;         /* "" = regional endpoint */
	bool      enrich;              /* false */
	uint64_t  batch_linger_ms;     /* 5 */
	uint64_t  delivery_timeout_ms; /* 10000 */
	uint64_t  max_inflight_batches;/* 16 */
	uint64_t  request_timeout_ms;  /* 5000 */
	uint64_t  connect_timeout_ms;  /* 2000 */
	uint64_t  retry_base_ms;       /* 50 */
	uint64_t  retry_max_backoff_ms;/* 5000 */
	uint64_t  max_attempts;        /* 8 */
	uint64_t  breaker_failures;    /* 5 consecutive failed calls open it */
	uint64_t  breaker_cooldown_ms; /* 10000 */

	/* [dlq] */
	char     *queue_url;           /* required: main refuses to start without it */
	char     *dlq_endpoint;        /* "" = from the queue URL's region */
	uint64_t  max_message_bytes;   /* 262144 */

	/* [aws] */
	char     *region;              /* "" = AWS_REGION / AWS_DEFAULT_REGION */
	char     *profile;             /* "" = AWS_PROFILE or "default" */
	bool      use_fips_endpoint;   /* false: AWS_USE_FIPS_ENDPOINT decides */
	bool      use_dualstack_endpoint; /* false: AWS_USE_DUALSTACK_ENDPOINT */

	/* [queue] */
	uint64_t  queue_capacity;      /* 10000 events waiting for delivery */

	/* [dedupe] */
	char     *dedupe_key;          /* "/id" */
	uint64_t  dedupe_ttl_s;        /* 3600 */
	uint64_t  dedupe_capacity;     /* 1000000 */

	/* [ordering] */
	char     *order_key;           /* "/routingContext/queueId"; "" = off */
	uint64_t  order_tolerance_ms;  /* 0 */
	enum order_policy order_policy;/* ORDER_DLQ */
	uint64_t  order_capacity;      /* 100000 keys remembered */

	/* [log] */
	int       log_level;           /* enum log_level, LOGL_INFO */

	/* [cxone]: only `cxbridge register`, `unregister` and `webhooks` read
	 * these; "" means unset, and those commands say which key is missing. */
	char     *cx_token_url;        /* "" */
	enum cxone_token_auth cx_token_auth; /* CXONE_AUTH_BASIC */
	char     *cx_client_id;        /* "" */
	char     *cx_client_secret_file; /* "" */
	char     *cx_scopes;           /* "": space-separated */
	char     *cx_api_url;          /* "" */
	char     *cx_webhooks_path;    /* "/webhooks" */
	char     *cx_webhook_name;     /* "cxbridge" */
	char     *cx_public_url;       /* "": the bridge as CXone reaches it */
	char     *cx_event_types;      /* "": comma-separated */
	uint64_t  cx_timeout_ms;       /* 10000 */
	uint64_t  cx_max_retry_after_s;/* 60 */
};

/*
 * Reads and validates FILE.  On success returns a new config (caller frees
 * with config_free).  On failure returns NULL and writes "file:line: reason"
 * (or "file: reason") into err.
 */
struct config *config_load(const char *file, char *err, size_t errlen);

/* Same from a string; name is used in messages. */
struct config *config_parse(const char *name, const char *text, char *err,
    size_t errlen);

void config_free(struct config *cfg);      /* NULL ok */

/*
 * Sets one key as if it appeared in the file (the command line's -l sets
 * [server] listen).  The key's own checks run; the cross-key checks done at
 * load do not.  Returns 0, or -1 with cfg unchanged and the reason in err
 * ("[server] listen: ..." or "unknown key ...").
 */
int config_set(struct config *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen);

/* One row of the key table, for listings and the docs check.  All static. */
struct config_key_info {
	const char *section;
	const char *key;
	const char *type;          /* string path uint duration_ms duration_s
				      bool enum */
	const char *default_text;  /* NULL: no default, the key is required */
	uint64_t    min, max;      /* uint and durations; 0 otherwise */
	const char *choices;       /* enum: "a, b, c"; NULL otherwise */
};

/* Fills out with row i of the key table.  Returns 0, or -1 past the end. */
int config_key_at(size_t i, struct config_key_info *out);

const char *auth_mode_name(enum auth_mode mode);
const char *order_policy_name(enum order_policy policy);
const char *cxone_token_auth_name(enum cxone_token_auth a);

#endif
