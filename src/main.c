/* main.c - cxbridge: wires the modules together and runs until stopped. */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "auth.h"
#include "awsenv.h"
#include "batcher.h"
#include "clock.h"
#include "cmd.h"
#include "config.h"
#include "creds.h"
#include "credprov.h"
#include "dedupe.h"
#include "failalloc.h"
#include "http.h"
#include "ingest.h"
#include "jsonmem.h"
#include "log.h"
#include "metrics.h"
#include "order.h"
#include "queue.h"
#include "schema.h"
#include "stats.h"
#include "watchdog.h"

#define DEFAULT_CONFIG "/etc/cxbridge/cxbridge.conf"
/* Queue use above which /ready says there is no headroom. */
#define READY_QUEUE_PERCENT 90
/* The delivery thread must go round its loop at least this often. */
#define ALIVE_MAX_MS 5000
/* The watchdog's own round trip through the listener must finish by then. */
#define WATCHDOG_TIMEOUT_MS 2000

/* Everything the daemon holds; main owns it all. */
struct daemon {
	struct config         *cfg;
	struct metrics        *metrics;
	struct stats          *stats;
	struct schema         *schema;
	struct auth           *auth;
	struct dedupe         *dedupe;
	struct order          *order;
	struct queue          *queue;
	struct batcher        *batcher;
	struct ingest         *ingest;
	struct http           *http;
	struct watchdog       *watchdog;
	int                    listen_fd;       /* from systemd, or -1 */
	/* The credentials chain with its refresh thread; daemon_metrics hands
	 * &creds to gauge_credentials_expiry. */
	struct credprov       *creds;
	char                   region[64];
	char                   instance[256];   /* host name, for enrichment */
	char                   eb_url[512], sqs_url[512];
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: cxbridge [-c FILE] [-l ADDR:PORT] [-n|--check-config] "
	    "[-V] [-h]\n"
	    "  -c FILE          configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -l ADDR:PORT     listen here instead of [server] listen\n"
	    "  -n, --check-config  validate the configuration and exit\n"
	    "  -V, --version    print the version and exit\n"
	    "  -h, --help       this text\n");
	cmd_usage(f);
}

struct options {
	const char *config;
	const char *listen;
	int         check_only;
	int         cmd_argc;      /* COMMAND and its options, if given */
	char      **cmd_argv;
};

/* Returns 0 to go on, 1 to exit successfully, -1 on a usage error. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->config = DEFAULT_CONFIG;
	for (ch = getopt_long(argc, argv, "+c:l:nVh", longopts, NULL); ch != -1;
	    ch = getopt_long(argc, argv, "+c:l:nVh", longopts, NULL)) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'n': o->check_only = 1; break;
		case 'V': printf("cxbridge %s\n", CXB_VERSION); return 1;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc && !cmd_exists(argv[optind])) {
		usage(stderr);
		return -1;
	}
	o->cmd_argc = argc - optind;
	o->cmd_argv = argv + optind;
	return 0;
}

/* Loads what the configuration names: schema and secrets.  Logs errors. */
static int
daemon_load_inputs(struct daemon *d)
{
	char err[512];

	if (d->cfg->queue_url[0] == '\0') {
		log_errorx("%s: [dlq] queue_url is required: events EventBridge "
		    "refuses need somewhere durable to go", d->cfg->path);
		return -1;
	}
	d->schema = schema_load(d->cfg->schema_file, err, sizeof(err));
	if (d->schema == NULL) {
		log_errorx("%s", err);
		return -1;
	}
	d->auth = auth_new(d->cfg->mode, d->cfg->secret_file,
	    (unsigned)d->cfg->hmac_tolerance_s, err, sizeof(err));
	if (d->auth == NULL) {
		log_errorx("%s", err);
		return -1;
	}
	if (d->cfg->mode == AUTH_NONE)
		log_warnx("webhook authentication is off (allow_unauthenticated)");
	return 0;
}

/* Region, endpoints and credentials, as the AWS SDKs find them. */
static int
daemon_load_aws(struct daemon *d)
{
	char err[1024], sts_url[512];
	const char *profile = d->cfg->profile[0] != '\0' ? d->cfg->profile : NULL;
	struct credprov_config cc = { .profile = profile, .region = d->region,
	    .sts_url = sts_url };
	struct awsenv_variant v;
	json_t *rec;
	double left;

	if (awsenv_region(d->cfg->region, profile, d->region,
	    sizeof(d->region), err, sizeof(err)) != 0 ||
	    awsenv_variant(d->cfg->use_fips_endpoint,
	    d->cfg->use_dualstack_endpoint, profile, &v, err, sizeof(err)) != 0 ||
	    awsenv_endpoint_variant(AWSENV_EVENTBRIDGE, d->cfg->eb_endpoint,
	    d->region, &v, d->eb_url, sizeof(d->eb_url), err, sizeof(err)) != 0 ||
	    awsenv_endpoint_variant(AWSENV_SQS, d->cfg->dlq_endpoint, d->region,
	    &v, d->sqs_url, sizeof(d->sqs_url), err, sizeof(err)) != 0 ||
	    awsenv_endpoint_variant(AWSENV_STS, NULL, d->region, &v, sts_url,
	    sizeof(sts_url), err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		return -1;
	}
	/* The first fetch happens here, before any listener: no traffic is
	 * taken without credentials. */
	d->creds = credprov_new(&cc, err, sizeof(err));
	if (d->creds == NULL || credprov_start(d->creds, err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		return -1;
	}
	rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "msg", "aws", "region",
	    d->region, "eventbridge", d->eb_url, "sqs", d->sqs_url, "sts",
	    sts_url, "credentials", credprov_describe(d->creds));
	left = credprov_expiry_s(d->creds);
	if (rec != NULL && isfinite(left))
		json_object_set_new(rec, "credentials_expire_in_s", json_real(left));
	log_json(LOGL_INFO, rec);
	return 0;
}

static double
gauge_queue_depth(void *arg)
{
	return (double)queue_outstanding(arg);
}

static double
gauge_queue_capacity(void *arg)
{
	return (double)queue_capacity(arg);
}

static double
gauge_dedupe_size(void *arg)
{
	return (double)dedupe_size(arg);
}

static uint64_t
counter_dedupe_evictions(void *arg)
{
	return dedupe_evictions(arg);
}

static double
gauge_order_keys(void *arg)
{
	return (double)order_size(arg);
}

/* Seconds until the held credentials expire; +Inf for long-term keys.
 * arg is &d->creds: the provider exists before the metrics do. */
static double
gauge_credentials_expiry(void *arg)
{
	struct credprov *const *p = arg;

	return *p != NULL ? credprov_expiry_s(*p) : 0;
}

static int
daemon_metrics(struct daemon *d)
{
	d->metrics = metrics_new();
	d->stats = stats_new(d->metrics, CXB_VERSION);
	if (d->stats == NULL ||
	    metrics_gauge_func(d->metrics, "cxbridge_queue_depth",
	    "Events accepted and not yet delivered.", gauge_queue_depth,
	    d->queue) != 0 ||
	    metrics_gauge_func(d->metrics, "cxbridge_queue_capacity",
	    "Most events that may be outstanding at once.",
	    gauge_queue_capacity, d->queue) != 0 ||
	    metrics_gauge_func(d->metrics, "cxbridge_dedupe_entries",
	    "Event ids in the duplicate table, in flight or delivered.",
	    gauge_dedupe_size, d->dedupe) != 0 ||
	    metrics_counter_func(d->metrics, "cxbridge_dedupe_evictions_total",
	    "Delivered ids dropped before their TTL to make room.",
	    counter_dedupe_evictions, d->dedupe) != 0 ||
	    metrics_gauge_func(d->metrics, "cxbridge_ordering_keys",
	    "Ordering keys whose newest timestamp is remembered.",
	    gauge_order_keys, d->order) != 0 ||
	    metrics_gauge_func(d->metrics, "cxbridge_credentials_expiry_seconds",
	    "Seconds until the AWS credentials expire (+Inf: they do not).",
	    gauge_credentials_expiry, &d->creds) != 0)
		return -1;
	return 0;
}

/* A copy of the provider's current credentials: never blocks on a fetch
 * and never hands out expired ones (the refresh thread runs ahead). */
static int
daemon_credentials(void *arg, struct aws_credentials *out)
{
	const struct daemon *d = arg;

	return credprov_get(d->creds, out);
}

static int
daemon_healthy(void *arg)
{
	struct daemon *d = arg;

	return batcher_alive(d->batcher, ALIVE_MAX_MS);
}

static int
daemon_ready(void *arg, const char **why)
{
	struct daemon *d = arg;

	if (ingest_draining(d->ingest)) {
		*why = "draining";
		return 0;
	}
	if (queue_outstanding(d->queue) * 100 >=
	    queue_capacity(d->queue) * READY_QUEUE_PERCENT) {
		*why = "the delivery queue has no headroom";
		return 0;
	}
	if (!credprov_ready(d->creds, why))
		return 0;
	return batcher_ready(d->batcher, why);
}

static char *
daemon_render_metrics(void *arg, size_t *len)
{
	struct daemon *d = arg;

	return metrics_render(d->metrics, len);
}

/* The socket systemd passed (cxbridge.socket), or -1 to bind [server] listen. */
static int
daemon_listen_fd(void)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return -1;
	if (n > 1)
		log_warnx("systemd passed %d sockets; listening on the first", n);
	log_info("listening on the socket systemd passed; [server] listen ignored");
	return SD_LISTEN_FDS_START;
}

static int
daemon_build(struct daemon *d)
{
	const struct config *c = d->cfg;
	char err[512];

	d->listen_fd = daemon_listen_fd();
	d->dedupe = dedupe_new(c->dedupe_capacity, (unsigned)c->dedupe_ttl_s);
	d->order = order_new(c->order_capacity, c->order_tolerance_ms);
	d->queue = queue_new(c->queue_capacity);
	if (d->dedupe == NULL || d->order == NULL || d->queue == NULL ||
	    daemon_metrics(d) != 0) {
		log_errorx("%s: out of memory", __func__);
		return -1;
	}
	struct batcher_config bc;

	batcher_config_from(&bc, c);
	bc.region = d->region;
	bc.eventbridge_url = d->eb_url;
	bc.sqs_url = d->sqs_url;
	bc.get_credentials = daemon_credentials;
	bc.credentials_arg = d;
	d->batcher = batcher_new(&bc, d->queue, d->stats, err, sizeof(err));
	if (d->batcher == NULL) {
		log_errorx("%s", err);
		return -1;
	}
	struct ingest_config ic = {
		.event = {
			.schema = d->schema, .max_depth = (unsigned)c->max_json_depth,
			.max_future_ms = (int64_t)c->max_future_s * 1000,
			.max_entry_bytes = c->max_entry_bytes,
			.max_message_bytes = c->max_message_bytes,
			.dedupe_key = c->dedupe_key, .order_key = c->order_key,
			.bus = c->bus, .source = c->source,
			.detail_type = c->detail_type, .enrich = c->enrich,
			.instance = d->instance,
		},
		.order_policy = c->order_policy,
		.retry_after_s = (unsigned)c->retry_after_s,
	};
	d->ingest = ingest_new(&ic, d->auth, d->dedupe,
	    c->order_key[0] != '\0' ? d->order : NULL, d->queue, d->stats);
	struct http_config hc = {
		.listen = c->listen,
		.webhook_path = c->webhook_path,
		.max_body_bytes = c->max_body_bytes,
		.max_header_bytes = c->max_header_bytes,
		.max_connections = (unsigned)c->max_connections,
		.idle_timeout_s = (unsigned)c->idle_timeout_s,
		.threads = (unsigned)c->threads,
		.retry_after_s = (unsigned)c->retry_after_s,
		.listen_fd = d->listen_fd,
	};
	struct http_probes probes = { daemon_healthy, daemon_ready,
	    daemon_render_metrics, d };
	d->http = d->ingest == NULL ? NULL : http_new(&hc, d->ingest, &probes,
	    d->stats);
	return d->http == NULL ? -1 : 0;
}

static void
daemon_free(struct daemon *d)
{
	watchdog_free(d->watchdog);
	http_free(d->http);
	batcher_free(d->batcher);
	ingest_free(d->ingest);
	queue_free(d->queue);
	order_free(d->order);
	dedupe_free(d->dedupe);
	stats_free(d->stats);
	metrics_free(d->metrics);
	auth_free(d->auth);
	schema_free(d->schema);
	credprov_free(d->creds);    /* stops its thread; after the batcher */
	config_free(d->cfg);
}

/* How often STATUS= is refreshed when systemd is not asking for more. */
#define STATUS_INTERVAL_MS 5000

static void
signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Waits up to ms for one of our signals; 0 if none came. */
static int
signal_wait(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	sigset_t set;
	int sig;

	signal_set(&set);
	sig = sigtimedwait(&set, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

/*
 * SIGHUP: what can change live is the log level, the secrets and the schema.
 * The new file is checked whole first; if anything is wrong the old
 * configuration stays and the log says why.
 */
static void
daemon_reload(struct daemon *d)
{
	struct config *nc;
	struct schema *schema = NULL;
	struct auth *auth = NULL;
	char err[512];

	nc = config_load(d->cfg->path, err, sizeof(err));
	if (nc != NULL) {
		schema = schema_load(nc->schema_file, err, sizeof(err));
		if (schema != NULL)
			auth = auth_new(nc->mode, nc->secret_file,
			    (unsigned)nc->hmac_tolerance_s, err, sizeof(err));
	}
	if (auth == NULL) {
		log_errorx("reload refused, the old configuration stays: %s", err);
		schema_free(schema);
		config_free(nc);
		return;
	}
	d->auth = auth;
	d->schema = schema;
	ingest_swap(d->ingest, &auth, &schema);
	auth_free(auth);          /* the old ones, no longer used */
	schema_free(schema);
	log_set_level((enum log_level)nc->log_level);
	log_info("reloaded %s: log level, secrets and schema; other keys "
	    "take effect on restart", nc->path);
	config_free(nc);
}

static void
daemon_status(struct daemon *d)
{
	const char *why = "ready";
	int ready = daemon_ready(d, &why);

	sd_notifyf(0, "STATUS=%s; %zu of %zu events outstanding; %zu ids "
	    "remembered", ready ? "ready" : why, queue_outstanding(d->queue),
	    queue_capacity(d->queue), dedupe_size(d->dedupe));
}

/* Runs until SIGTERM or SIGINT: reloads, status and watchdog on the way. */
static void
daemon_wait(struct daemon *d)
{
	uint64_t wd_ms = watchdog_interval_ms();
	uint64_t tick = wd_ms != 0 && wd_ms < STATUS_INTERVAL_MS ? wd_ms :
	    STATUS_INTERVAL_MS;
	int sig;

	for (;;) {
		sig = signal_wait(tick);
		if (sig == SIGTERM || sig == SIGINT)
			return;
		if (sig == SIGHUP) {
			sd_notify(0, "RELOADING=1");
			daemon_reload(d);
			sd_notify(0, "READY=1");
		}
		if (wd_ms != 0 && d->watchdog != NULL &&
		    watchdog_check(d->watchdog) == 0)
			sd_notify(0, "WATCHDOG=1");
		daemon_status(d);
	}
}

/*
 * Drain: /ready fails and new webhooks get 503 at once, in-flight events
 * have delivery_timeout_ms, what is left goes to the DLQ; a second signal
 * moves that deadline to now.
 */
static void
daemon_stop(struct daemon *d)
{
	uint64_t stop_ms = d->cfg->delivery_timeout_ms;

	sd_notify(0, "STOPPING=1\nSTATUS=draining");
	log_info("draining: new webhooks get 503, in-flight events have %llu ms",
	    (unsigned long long)stop_ms);
	ingest_set_draining(d->ingest);
	queue_close(d->queue);
	batcher_drain_begin(d->batcher, stop_ms);
	while (!batcher_drained(d->batcher)) {
		int sig = signal_wait(50);
		if (sig == SIGTERM || sig == SIGINT) {
			log_warnx("second signal: spilling what is left to the DLQ now");
			batcher_drain_now(d->batcher);
		}
	}
	batcher_drain(d->batcher, 0);
	/* Every waiting request has its answer; give them a moment to go out. */
	for (int i = 0; i < 50 && http_active(d->http) > 0; i++)
		signal_wait(20);
	log_info("stopped");
}

static int
daemon_run(struct daemon *d)
{
	char url[128];
	sigset_t set;

	/* Threads inherit the mask, so only sigtimedwait sees these. */
	signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (daemon_build(d) != 0 || batcher_start(d->batcher) != 0)
		return -1;
	if (http_start(d->http) != 0) {
		batcher_drain(d->batcher, 0);
		return -1;
	}
	log_json(LOGL_INFO, json_pack("{s:s,s:s,s:i,s:s}", "msg", "listening",
	    "listen", d->listen_fd >= 0 ? "socket from systemd" : d->cfg->listen,
	    "port", (int)http_port(d->http), "version", CXB_VERSION));
	/* Its curl handle is only worth holding when systemd watches us. */
	if (watchdog_interval_ms() != 0 &&
	    http_health_url(d->http, url, sizeof(url)) == 0)
		d->watchdog = watchdog_new(url, WATCHDOG_TIMEOUT_MS);
	sd_notifyf(0, "READY=1\nSTATUS=listening on port %u",
	    (unsigned)http_port(d->http));
	failalloc_arm();
	daemon_wait(d);
	daemon_stop(d);
	return 0;
}

int
main(int argc, char **argv)
{
	struct daemon d;
	struct options o = { 0 };
	char err[1024];
	int rc;

	memset(&d, 0, sizeof(d));
	rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	d.cfg = config_load(o.config, err, sizeof(err));
	if (d.cfg != NULL && o.listen != NULL && config_set(d.cfg, "server",
	    "listen", o.listen, err, sizeof(err)) != 0) {
		config_free(d.cfg);
		d.cfg = NULL;
	}
	if (d.cfg == NULL) {
		fprintf(stderr, "cxbridge: %s\n", err);
		return 1;
	}
	log_set_level((enum log_level)d.cfg->log_level);
	if (gethostname(d.instance, sizeof(d.instance) - 1) != 0)
		snprintf(d.instance, sizeof(d.instance), "unknown");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	jsonmem_init();
	if (o.cmd_argc > 0) {
		rc = cmd_dispatch(d.cfg, o.cmd_argc, o.cmd_argv);
		config_free(d.cfg);
		curl_global_cleanup();
		return rc;
	}
	rc = daemon_load_inputs(&d);
	if (rc == 0 && o.check_only) {
		printf("%s: configuration OK\n", o.config);
	} else if (rc == 0) {
		rc = daemon_load_aws(&d);
		if (rc == 0)
			rc = daemon_run(&d);
	}
	daemon_free(&d);
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}
