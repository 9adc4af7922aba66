/* cmd_redrive.c - `cxbridge redrive`: republish events from the SQS dead-letter queue to EventBridge. */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "awsenv.h"
#include "awsproto.h"
#include "batcher.h"
#include "clock.h"
#include "config.h"
#include "creds.h"
#include "entry.h"
#include "log.h"
#include "queue.h"
#include "sqsproto.h"

#define RD_MAX_EVENT_TYPES  16        /* --event-type options */
#define RD_SEEN_MAX         1000000   /* message ids remembered in one run */
#define RD_FAILURES_MAX     100       /* failures listed in the summary */
#define RD_CALL_TRIES       4         /* sends of one retryable SQS call */
#define RD_PROGRESS_MS      500       /* progress line refresh */
#define RD_ATTRS_MS         5000      /* queue size refresh, on a terminal */
#define RD_DEFAULT_WAIT_S   5

static volatile sig_atomic_t rd_signals;

struct rd_opts {
	bool        dry_run, json, include_stale;
	uint64_t    max;                  /* 0: no limit */
	unsigned    wait_s;
	unsigned    visibility_s;         /* 0: computed */
	int64_t     min_age_ms, max_age_ms;   /* -1: no bound */
	unsigned    reason_mask;          /* 1 << enum dlq_reason; 0: any */
	const char *event_types[RD_MAX_EVENT_TYPES];
	size_t      n_event_types;
};

struct rd_counts {
	uint64_t received, selected, republished, deleted, failed,
	    delete_failed, filtered, stale, invalid, over_max, seen_again,
	    overflows, late_deletes;
};

/* A message on its way through the batcher; freed by the main thread. */
struct rd_msg {
	struct redrive *r;
	char           *receipt;
	char            message_id[128];
	char            event_id[256];
	enum entry_dest dest;
	char            error_code[64];
	uint64_t        hidden_until_ms;  /* monotonic: visibility timeout end */
	struct rd_msg  *next;
};

_Static_assert(sizeof(((struct rd_msg *)0)->message_id) ==
    sizeof(((struct sqs_message *)0)->message_id), "message id sizes");
_Static_assert(sizeof(((struct rd_msg *)0)->event_id) ==
    sizeof(((struct dlq_message *)0)->event_id), "event id sizes");

/* Message ids seen in this run: 64-bit hashes, open addressing. */
struct rd_seen {
	uint64_t *slot;
	size_t    cap, n;
};

struct redrive {
	struct config        *cfg;
	struct rd_opts        o;
	struct rd_counts      n;
	char                  region[AWSENV_REGION_MAX + 1];
	char                  eb_url[AWSENV_URL_MAX + 1];
	char                  sqs_url[AWSENV_URL_MAX + 1];
	struct aws_credentials creds;
	struct aws_service    sqs;
	bool                  sqs_ready;
	struct aws_client    *client;
	struct queue         *queue;
	struct batcher       *batcher;
	bool                  started;

	pthread_mutex_t       lock;
	pthread_cond_t        cond;
	struct rd_msg        *done;            /* guarded by lock */

	size_t                inflight, inflight_max;
	unsigned              batch_max;       /* MaxNumberOfMessages */
	struct rd_seen        seen;
	uint64_t              started_ms, progress_ms, attrs_ms;
	int64_t               approx_visible;  /* -1 unknown */
	uint64_t              received_then;   /* n.received when it was read */
	uint64_t              received_at_ms;  /* monotonic: the last receive */
	bool                  tty, fatal;
	const char           *stopped;         /* why receiving ended */
	json_t               *failures;
};

static void
rd_signal(int sig)
{
	(void)sig;
	rd_signals++;
}

static void
rd_usage(FILE *f)
{
	fprintf(f, "usage: cxbridge [-c FILE] redrive [options]\n"
	    "  --dry-run            read and filter, publish and delete nothing\n"
	    "  --max N              republish at most N events\n"
	    "  --reason R[,R...]    only these reasons (eventbridge_error, "
	    "non_retryable,\n"
	    "                       out_of_order, deadline, circuit_open, "
	    "shutdown)\n"
	    "  --event-type T       only this eventType (a trailing * matches "
	    "a prefix;\n"
	    "                       repeatable)\n"
	    "  --min-age D          only messages in the queue at least D "
	    "(s, m, h or d)\n"
	    "  --max-age D          only messages in the queue at most D\n"
	    "  --include-stale      also republish out_of_order events\n"
	    "  --wait S             long-poll seconds per receive, 0-20 "
	    "(default %d)\n"
	    "  --visibility S       seconds a received message stays hidden\n"
	    "  --json               summary as one JSON object on stdout\n",
	    RD_DEFAULT_WAIT_S);
}

/* "90", "90s", "15m", "2h", "7d" in ms; -1 if not that. */
static int64_t
rd_duration_ms(const char *s)
{
	char *end;
	unsigned long long v;
	int64_t unit = 1000;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > 100ULL * 365 * 86400)
		return -1;
	if (*end == 'm')
		unit = 60000;
	else if (*end == 'h')
		unit = 3600000;
	else if (*end == 'd')
		unit = 86400000;
	else if (*end != 's' && *end != '\0')
		return -1;
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return (int64_t)v * unit;
}

static int
rd_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max ? 0 : -1;
}

static int
rd_reasons(const char *list, unsigned *mask)
{
	char buf[256], *save = NULL, *tok;
	enum dlq_reason r;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -1;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (dlq_reason_parse(tok, &r) != 0)
			return -1;
		*mask |= 1u << r;
	}
	return 0;
}

/* One option; 0, or -1 on a bad value. */
static int
rd_option(struct rd_opts *o, int ch, const char *arg)
{
	uint64_t v;

	switch (ch) {
	case 'n': o->dry_run = true; return 0;
	case 'j': o->json = true; return 0;
	case 's': o->include_stale = true; return 0;
	case 'm': return rd_uint(arg, UINT64_MAX / 2, &o->max);
	case 'r': return rd_reasons(arg, &o->reason_mask);
	case 'a': o->min_age_ms = rd_duration_ms(arg); return o->min_age_ms < 0 ? -1 : 0;
	case 'A': o->max_age_ms = rd_duration_ms(arg); return o->max_age_ms < 0 ? -1 : 0;
	case 'w':
		if (rd_uint(arg, SQSPROTO_MAX_WAIT_S, &v) != 0)
			return -1;
		o->wait_s = (unsigned)v;
		return 0;
	case 'v':
		if (rd_uint(arg, SQSPROTO_MAX_VISIBILITY_S, &v) != 0 || v == 0)
			return -1;
		o->visibility_s = (unsigned)v;
		return 0;
	case 't':
		if (o->n_event_types == RD_MAX_EVENT_TYPES || arg[0] == '\0')
			return -1;
		o->event_types[o->n_event_types++] = arg;
		return 0;
	default:
		return -1;
	}
}

/* 0 to go on, 1 after --help, -1 on a usage error (said on stderr). */
static int
rd_options(int argc, char **argv, struct rd_opts *o)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "include-stale", no_argument, NULL, 's' },
		{ "max", required_argument, NULL, 'm' },
		{ "reason", required_argument, NULL, 'r' },
		{ "event-type", required_argument, NULL, 't' },
		{ "min-age", required_argument, NULL, 'a' },
		{ "max-age", required_argument, NULL, 'A' },
		{ "wait", required_argument, NULL, 'w' },
		{ "visibility", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = 0;

	memset(o, 0, sizeof(*o));
	o->wait_s = RD_DEFAULT_WAIT_S;
	o->min_age_ms = o->max_age_ms = -1;
	while ((ch = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		if (ch == 'h') {
			rd_usage(stdout);
			return 1;
		}
		if (ch == '?' || rd_option(o, ch, optarg) != 0) {
			if (ch != '?')
				fprintf(stderr, "cxbridge redrive: bad value for "
				    "--%s: %s\n", longopts[idx].name, optarg);
			rd_usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		rd_usage(stderr);
		return -1;
	}
	return 0;
}

/* ---- the seen set ----------------------------------------------------- */

static uint64_t
rd_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;     /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h == 0 ? 1 : h;
}

static int
rd_seen_grow(struct rd_seen *s)
{
	size_t cap = s->cap == 0 ? 4096 : s->cap * 2;
	uint64_t *slot = calloc(cap, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j = s->slot[i] & (cap - 1);
		if (s->slot[i] == 0)
			continue;
		while (slot[j] != 0)
			j = (j + 1) & (cap - 1);
		slot[j] = s->slot[i];
	}
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

/* 1 if id is new (now remembered), 0 if seen before, -1 if full. */
static int
rd_seen_add(struct rd_seen *s, const char *id)
{
	uint64_t h = rd_hash(id);
	size_t j;

	if (s->n >= RD_SEEN_MAX || ((s->n + 1) * 2 > s->cap &&
	    rd_seen_grow(s) != 0))
		return -1;
	for (j = h & (s->cap - 1); s->slot[j] != 0; j = (j + 1) & (s->cap - 1))
		if (s->slot[j] == h)
			return 0;
	s->slot[j] = h;
	s->n++;
	return 1;
}

/* ---- AWS set-up ------------------------------------------------------- */

/* The credentials loaded at start; refused once they have expired. */
static int
rd_credentials(void *arg, struct aws_credentials *out)
{
	const struct redrive *r = arg;

	if (r->creds.expiration != 0 &&
	    r->creds.expiration <= clock_wall_ms() / 1000)
		return -1;
	*out = r->creds;
	return 0;
}

/* Region, endpoints, credentials, the SQS signer: as the daemon finds them. */
static int
rd_aws(struct redrive *r)
{
	const struct config *c = r->cfg;
	const char *profile = c->profile[0] != '\0' ? c->profile : NULL;
	char err[512];

	if (c->queue_url[0] == '\0') {
		log_errorx("%s: [dlq] queue_url is not set", c->path);
		return -1;
	}
	if (awsenv_region(c->region, profile, r->region, sizeof(r->region),
	    err, sizeof(err)) != 0 ||
	    awsenv_endpoint(AWSENV_EVENTBRIDGE, c->eb_endpoint, r->region,
	    r->eb_url, sizeof(r->eb_url), err, sizeof(err)) != 0 ||
	    awsenv_endpoint(AWSENV_SQS, c->dlq_endpoint, r->region, r->sqs_url,
	    sizeof(r->sqs_url), err, sizeof(err)) != 0 ||
	    aws_service_init(&r->sqs, r->sqs_url, r->region,
	    awsenv_signing_name(AWSENV_SQS), AWSPROTO_SQS_CTYPE, err,
	    sizeof(err)) != 0) {
		log_errorx("%s", err);
		return -1;
	}
	r->sqs_ready = true;
	if (creds_load(profile, &r->creds, err, sizeof(err)) != CREDS_FOUND) {
		log_errorx("AWS credentials: %s", err);
		return -1;
	}
	/* A long poll must end before the call's own timeout. */
	r->client = aws_client_new((long)c->connect_timeout_ms,
	    (long)(c->request_timeout_ms + 1000ULL * r->o.wait_s));
	if (r->client == NULL) {
		log_errorx("%s: out of memory", __func__);
		return -1;
	}
	return 0;
}

/* The republishing side: a batcher like the daemon's, minus the DLQ. */
static int
rd_batcher(struct redrive *r)
{
	const struct config *c = r->cfg;
	char err[512];
	struct batcher_config bc;
	sigset_t set, old;
	int rc;

	batcher_config_from(&bc, c);
	bc.region = r->region;
	bc.eventbridge_url = r->eb_url;
	bc.sqs_url = r->sqs_url;
	bc.no_dlq = 1;      /* failures stay in the queue they came from */
	bc.get_credentials = rd_credentials;
	bc.credentials_arg = r;
	r->queue = queue_new(r->inflight_max);
	if (r->queue == NULL)
		return -1;
	r->batcher = batcher_new(&bc, r->queue, NULL, err, sizeof(err));
	if (r->batcher == NULL) {
		log_errorx("%s", err);
		return -1;
	}
	/* Signals are for the main thread, which decides how to stop. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	rc = batcher_start(r->batcher);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	r->started = rc == 0;
	return rc;
}

/* ---- SQS calls -------------------------------------------------------- */

static void
rd_call_done(struct aws_call *call, void *arg)
{
	(void)call;
	*(bool *)arg = true;
}

/*
 * One signed SQS call, waited for (bounded by the client's timeouts).
 * body is taken.  Returns 0 with the answer in call (status 0: transport
 * error), or -1 when it could not be sent.  The caller calls aws_call_fini.
 */
static int
rd_call_once(struct redrive *r, const char *target, char *body, size_t len,
    struct aws_call *call)
{
	bool done = false;
	struct aws_credentials creds;

	memset(call, 0, sizeof(*call));
	call->svc = &r->sqs;
	call->target = target;
	call->body = body;
	call->body_len = len;
	call->done = rd_call_done;
	call->arg = &done;
	if (rd_credentials(r, &creds) != 0 ||
	    aws_client_submit(r->client, call, &creds, time(NULL)) != 0) {
		creds_clear(&creds);
		call->arg = NULL;
		return -1;
	}
	creds_clear(&creds);
	while (!done)
		aws_client_run(r->client, 100);
	call->arg = NULL;           /* done lives on this stack frame */
	return 0;
}

static void
rd_call_error(const struct aws_call *call, struct aws_error *err)
{
	if (call->status == 0) {
		snprintf(err->code, sizeof(err->code), "Transport");
		snprintf(err->message, sizeof(err->message), "%s",
		    curl_easy_strerror(call->curl_code));
		return;
	}
	aws_error_parse(call->status, call->resp, call->resp_len,
	    call->query_error, call->error_type, err);
}

/*
 * A call retried on throttling and transient errors.  Returns 0 with a 200
 * answer in call, or -1 with the last error in err (call finished).  A
 * response over the client's cap is not retried: it is "Overflow".
 */
static int
rd_call(struct redrive *r, const char *target, const char *body, size_t len,
    struct aws_call *call, struct aws_error *err)
{
	for (unsigned attempt = 1;; attempt++) {
		char *copy = strdup(body);
		struct timespec ts = { 0, 100000000L << (attempt - 1) };
		long status;

		memset(err, 0, sizeof(*err));
		memset(call, 0, sizeof(*call));
		if (copy == NULL || rd_call_once(r, target, copy, len, call) != 0) {
			aws_call_fini(call);
			snprintf(err->code, sizeof(err->code), "ClientError");
			snprintf(err->message, sizeof(err->message), "could not "
			    "sign or send the request");
			return -1;
		}
		if (call->status == 200)
			return 0;
		rd_call_error(call, err);
		status = call->status;
		if (status == 0 && call->curl_code == CURLE_WRITE_ERROR)
			snprintf(err->code, sizeof(err->code), "Overflow");
		aws_call_fini(call);
		if (strcmp(err->code, "Overflow") == 0 ||
		    attempt >= RD_CALL_TRIES || !aws_error_retryable(err->code,
		    status))
			return -1;
		nanosleep(&ts, NULL);
	}
}

/* ---- choosing --------------------------------------------------------- */

static void
rd_note(struct redrive *r, const char *what, const char *message_id,
    const char *event_id, const char *code)
{
	log_json(LOGL_WARN, json_pack("{s:s,s:s,s:s,s:s}", "msg", what,
	    "messageId", message_id, "id", event_id, "errorCode", code));
	if (json_array_size(r->failures) < RD_FAILURES_MAX)
		json_array_append_new(r->failures, json_pack("{s:s,s:s,s:s,s:s}",
		    "what", what, "messageId", message_id, "id", event_id,
		    "errorCode", code));
}

static bool
rd_type_matches(const struct rd_opts *o, const char *type)
{
	if (o->n_event_types == 0)
		return true;
	for (size_t i = 0; i < o->n_event_types; i++) {
		const char *p = o->event_types[i];
		size_t n = strlen(p);

		if (p[n - 1] == '*' ? strncmp(type, p, n - 1) == 0 :
		    strcmp(type, p) == 0)
			return true;
	}
	return false;
}

enum rd_verdict { RD_TAKE, RD_FILTERED, RD_STALE };

/* Age is time in the DLQ: SentTimestamp, else the envelope's receivedAt. */
static enum rd_verdict
rd_verdict(const struct redrive *r, const struct sqs_message *m,
    const struct dlq_message *d, int64_t now_ms)
{
	const struct rd_opts *o = &r->o;
	int64_t since = m->sent_ms >= 0 ? m->sent_ms : d->received_ms;
	int64_t age = since >= 0 ? now_ms - since : -1;
	enum dlq_reason reason = d->reason;
	const char *type = d->event_type[0] != '\0' ? d->event_type :
	    m->event_type;

	if (reason == DLQ_NONE && dlq_reason_parse(m->reason, &reason) != 0)
		reason = DLQ_NONE;
	if ((o->reason_mask != 0 && (o->reason_mask & (1u << reason)) == 0) ||
	    !rd_type_matches(o, type) ||
	    (o->min_age_ms >= 0 && (age < 0 || age < o->min_age_ms)) ||
	    (o->max_age_ms >= 0 && (age < 0 || age > o->max_age_ms)))
		return RD_FILTERED;
	/* Republishing a stale event is a choice the operator makes. */
	if (reason == DLQ_OUT_OF_ORDER && !o->include_stale &&
	    (o->reason_mask & (1u << DLQ_OUT_OF_ORDER)) == 0)
		return RD_STALE;
	return RD_TAKE;
}

static void
rd_msg_free(struct rd_msg *m)
{
	if (m == NULL)
		return;
	free(m->receipt);
	free(m);
}

/* Runs on the delivery thread: hands the outcome to the main thread. */
static void
rd_entry_done(struct entry *e, void *arg)
{
	struct rd_msg *m = arg;
	struct redrive *r = m->r;

	m->dest = e->dest;
	snprintf(m->error_code, sizeof(m->error_code), "%s",
	    e->error_code[0] != '\0' ? e->error_code : "NotPublished");
	entry_free(e);
	pthread_mutex_lock(&r->lock);
	m->next = r->done;
	r->done = m;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Hands the envelope's entry to the batcher; the message rides along. */
static void
rd_publish(struct redrive *r, const struct sqs_message *m,
    struct dlq_message *d)
{
	struct rd_msg *rm = calloc(1, sizeof(*rm));
	struct entry *e;

	if (rm != NULL)
		rm->receipt = strdup(m->receipt_handle);
	if (rm == NULL || rm->receipt == NULL) {
		rd_msg_free(rm);
		r->n.failed++;
		rd_note(r, "not republished", m->message_id, d->event_id,
		    "OutOfMemory");
		return;
	}
	rm->r = r;
	rm->hidden_until_ms = r->received_at_ms + 1000ULL * r->o.visibility_s;
	memcpy(rm->message_id, m->message_id, sizeof(rm->message_id));
	memcpy(rm->event_id, d->event_id, sizeof(rm->event_id));
	e = dlq_message_take(d);
	e->done = rd_entry_done;
	e->done_arg = rm;
	if (queue_push(r->queue, e) != 0) {
		entry_free(e);
		rd_msg_free(rm);
		r->n.failed++;
		rd_note(r, "not republished", m->message_id, d->event_id,
		    "QueueFull");
		return;
	}
	r->inflight++;
}

static void
rd_dry_line(const struct redrive *r, const struct sqs_message *m,
    const struct dlq_message *d, int64_t now_ms)
{
	int64_t since = m->sent_ms >= 0 ? m->sent_ms : d->received_ms;

	if (r->o.json)
		return;
	printf("would republish %s id=%s reason=%s eventType=%s age=%llds\n",
	    m->message_id, d->event_id[0] != '\0' ? d->event_id : "-",
	    d->reason_text[0] != '\0' ? d->reason_text : "-",
	    d->event_type[0] != '\0' ? d->event_type : "-",
	    since >= 0 ? (long long)((now_ms - since) / 1000) : -1LL);
}

static void
rd_message(struct redrive *r, const struct sqs_message *m, int64_t now_ms)
{
	struct dlq_message d;
	char err[128];
	int seen = rd_seen_add(&r->seen, m->message_id);

	if (seen <= 0) {
		r->n.seen_again += seen == 0;
		if (seen < 0)
			r->stopped = "too many messages for one run";
		return;
	}
	if (m->md5_ok == 0 ||
	    dlq_envelope_parse(m->body, m->body_len, &d, err, sizeof(err)) != 0) {
		r->n.invalid++;
		rd_note(r, "unreadable", m->message_id, "", m->md5_ok == 0 ?
		    "MD5OfBody does not match" : err);
		return;
	}
	switch (rd_verdict(r, m, &d, now_ms)) {
	case RD_FILTERED:
		r->n.filtered++;
		break;
	case RD_STALE:
		r->n.stale++;
		break;
	case RD_TAKE:
		if (r->o.max > 0 && r->n.selected >= r->o.max) {
			r->n.over_max++;
			break;
		}
		r->n.selected++;
		if (r->o.dry_run)
			rd_dry_line(r, m, &d, now_ms);
		else
			rd_publish(r, m, &d);
		break;
	}
	dlq_message_fini(&d);
}

/* ---- receiving -------------------------------------------------------- */

/*
 * Receives one batch, waiting up to wait_s for one, and handles every
 * message in it.  Returns the number received (0: the queue had none
 * visible), or -1 on an error that ends the run.  An answer over the client's cap cannot be read: its messages stay
 * hidden until the visibility timeout, and one message at a time is asked
 * for from then on.
 */
static int
rd_receive(struct redrive *r, unsigned wait_s)
{
	struct sqs_message msgs[AWSPROTO_MAX_ENTRIES];
	struct aws_call call;
	struct aws_error err;
	unsigned want = r->batch_max;
	size_t n = 0, len = 0;
	uint64_t before = r->n.seen_again;
	char *body;
	int rc;

	if (r->o.max > 0 && r->o.max - r->n.selected < want)
		want = (unsigned)(r->o.max - r->n.selected);
	body = sqs_receive_body(r->cfg->queue_url, want, wait_s,
	    r->o.visibility_s, &len);
	if (body == NULL)
		return -1;
	/* The timeout runs from the request, so count from before it. */
	r->received_at_ms = clock_mono_ms();
	rc = rd_call(r, SQSPROTO_RECEIVE_TARGET, body, len, &call, &err);
	free(body);
	if (rc != 0 && strcmp(err.code, "Overflow") == 0 && r->batch_max > 1) {
		r->n.overflows++;
		r->batch_max = 1;
		log_warnx("a ReceiveMessage answer was over %zu bytes: its "
		    "messages stay hidden for %u s; reading one at a time now",
		    AWS_RESP_MAX, r->o.visibility_s);
		return (int)want;
	}
	if (rc != 0) {
		log_errorx("SQS ReceiveMessage failed: %s %s", err.code,
		    err.message);
		return -1;
	}
	rc = sqs_receive_parse(call.resp, call.resp_len, msgs, want, &n);
	aws_call_fini(&call);
	if (rc != 0) {
		log_errorx("SQS ReceiveMessage: the answer could not be read");
		return -1;
	}
	r->n.received += n;
	for (size_t i = 0; i < n; i++) {
		rd_message(r, &msgs[i], clock_wall_ms());
		sqs_message_fini(&msgs[i]);
	}
	/* Everything came round again: the whole queue has been looked at. */
	if (n > 0 && r->n.seen_again - before == n && r->stopped == NULL)
		r->stopped = "every message left was seen earlier in this run";
	return (int)n;
}

/* ---- deleting what was published --------------------------------------- */

/* One DeleteMessageBatch; *retry gets the entries worth sending again. */
static void
rd_delete_once(struct redrive *r, struct rd_msg **msgs, size_t n,
    struct rd_msg **retry, size_t *nretry, bool last)
{
	const char *handles[AWSPROTO_MAX_ENTRIES] = { NULL };
	struct sqs_result res[AWSPROTO_MAX_ENTRIES];
	struct aws_call call;
	struct aws_error err;
	size_t len = 0;
	char *body;
	int rc = -1;

	memset(&err, 0, sizeof(err));
	snprintf(err.code, sizeof(err.code), "ClientError");
	for (size_t i = 0; i < n; i++) {
		handles[i] = msgs[i]->receipt;
		/* SQS may then "delete" by a stale handle and keep the message. */
		if (retry != NULL && clock_mono_ms() >= msgs[i]->hidden_until_ms) {
			r->n.late_deletes++;
			log_json(LOGL_WARN, json_pack("{s:s,s:s,s:s}", "msg",
			    "deleted after its visibility timeout: it may be "
			    "received and republished again", "messageId",
			    msgs[i]->message_id, "id", msgs[i]->event_id));
		}
	}
	body = sqs_delete_body(r->cfg->queue_url, handles, n, &len);
	if (body != NULL) {
		rc = rd_call(r, SQSPROTO_DELETE_TARGET, body, len, &call, &err);
		free(body);
	}
	if (rc == 0) {
		if (sqs_batch_parse(call.resp, call.resp_len, n, res) != 0) {
			rc = -1;
			snprintf(err.code, sizeof(err.code), "MalformedResponse");
		}
		aws_call_fini(&call);
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && res[i].ok) {
			r->n.deleted++;
			rd_msg_free(msgs[i]);
		} else if (!last && rc == 0 && !res[i].sender_fault) {
			retry[(*nretry)++] = msgs[i];
		} else {
			r->n.delete_failed++;
			rd_note(r, "republished, not deleted", msgs[i]->message_id,
			    msgs[i]->event_id, rc == 0 ? res[i].error_code : err.code);
			rd_msg_free(msgs[i]);
		}
	}
}

/* Deletes published messages; failed entries are sent once more unless
 * SQS says they are at fault.  Frees every message. */
static void
rd_delete(struct redrive *r, struct rd_msg **msgs, size_t n)
{
	struct rd_msg *retry[AWSPROTO_MAX_ENTRIES];
	size_t nretry = 0;

	rd_delete_once(r, msgs, n, retry, &nretry, false);
	if (nretry > 0)
		rd_delete_once(r, retry, nretry, NULL, &nretry, true);
}

/* Takes what the delivery thread finished: deletes the published ones. */
static void
rd_collect(struct redrive *r)
{
	struct rd_msg *list, *m, *next, *del[AWSPROTO_MAX_ENTRIES];
	size_t ndel = 0;

	pthread_mutex_lock(&r->lock);
	list = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	for (m = list; m != NULL; m = next) {
		next = m->next;
		r->inflight--;
		if (m->dest != DEST_EVENTBRIDGE) {
			/* Left in the queue: visible again after the timeout. */
			r->n.failed++;
			rd_note(r, "not republished", m->message_id, m->event_id,
			    m->error_code);
			rd_msg_free(m);
			continue;
		}
		r->n.republished++;
		del[ndel++] = m;
		if (ndel == AWSPROTO_MAX_ENTRIES) {
			rd_delete(r, del, ndel);
			ndel = 0;
		}
	}
	if (ndel > 0)
		rd_delete(r, del, ndel);
}

static void
rd_wait(struct redrive *r, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	if (r->done == NULL)
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	pthread_mutex_unlock(&r->lock);
}

/* ---- progress and the summary ------------------------------------------ */

static void
rd_queue_size(struct redrive *r)
{
	struct aws_call call;
	struct aws_error err;
	int64_t visible, hidden;
	size_t len = 0;
	char *body = sqs_attributes_body(r->cfg->queue_url, &len);

	if (body == NULL)
		return;
	if (rd_call(r, SQSPROTO_ATTRS_TARGET, body, len, &call, &err) == 0) {
		if (sqs_attributes_parse(call.resp, call.resp_len, &visible,
		    &hidden) == 0) {
			r->approx_visible = visible;
			r->received_then = r->n.received;
		}
		aws_call_fini(&call);
	}
	free(body);
	r->attrs_ms = clock_mono_ms();
}

static uint64_t
rd_left(const struct rd_counts *n)
{
	return n->failed + n->delete_failed + n->filtered + n->stale +
	    n->invalid + n->over_max;
}

/* One line on a terminal: counts, rate, and what is left to do. */
static void
rd_progress(struct redrive *r, bool final)
{
	uint64_t now = clock_mono_ms();
	uint64_t done = r->o.dry_run ? r->n.selected : r->n.republished;
	double secs = (double)(now - r->started_ms) / 1e3;
	double rate = secs > 0 ? (double)done / secs : 0;
	int64_t rem;

	if (!r->tty || (!final && now - r->progress_ms < RD_PROGRESS_MS))
		return;
	if (!final && now - r->attrs_ms >= RD_ATTRS_MS)
		rd_queue_size(r);
	r->progress_ms = now;
	/* The queue's count, less what was taken since it was read. */
	rem = r->approx_visible;
	if (rem >= 0)
		rem = (uint64_t)rem > r->n.received - r->received_then ?
		    rem - (int64_t)(r->n.received - r->received_then) : 0;
	if (r->o.max > 0 && (rem < 0 || (uint64_t)rem > r->o.max - r->n.selected))
		rem = (int64_t)(r->o.max - r->n.selected);
	fprintf(stderr, "\r\033[Kredrive: %llu received, %llu %s, %llu deleted, "
	    "%llu left in the queue | %.1f/s", (unsigned long long)r->n.received,
	    (unsigned long long)done, r->o.dry_run ? "selected" : "republished",
	    (unsigned long long)r->n.deleted,
	    (unsigned long long)rd_left(&r->n), rate);
	if (!final && rem >= 0 && rate > 0)
		fprintf(stderr, " | ~%lld to go, ~%.0f s", (long long)rem,
		    (double)rem / rate);
	else if (!final && rem >= 0)
		fprintf(stderr, " | ~%lld to go", (long long)rem);
	fputs(final ? "\n" : "", stderr);
	fflush(stderr);
}

static void
rd_report(const struct redrive *r, double secs)
{
	const struct rd_counts *n = &r->n;
	json_t *j;
	char *text;

	if (!r->o.json) {
		printf("redrive%s: %llu received, %llu %s, %llu deleted (%.1f s)\n",
		    r->o.dry_run ? " (dry run)" : "",
		    (unsigned long long)n->received,
		    (unsigned long long)(r->o.dry_run ? n->selected : n->republished),
		    r->o.dry_run ? "would be republished" : "republished",
		    (unsigned long long)n->deleted, secs);
		printf("left in the queue: %llu not republished, %llu republished "
		    "but not deleted, %llu filtered out, %llu stale (out_of_order), "
		    "%llu unreadable, %llu over --max\nstopped: %s\n",
		    (unsigned long long)n->failed,
		    (unsigned long long)n->delete_failed,
		    (unsigned long long)n->filtered, (unsigned long long)n->stale,
		    (unsigned long long)n->invalid,
		    (unsigned long long)n->over_max, r->stopped);
		return;
	}
	j = json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
	    "s:I,s:I,s:f,s:O}", "dryRun", r->o.dry_run, "stopped", r->stopped,
	    "received", (json_int_t)n->received,
	    "selected", (json_int_t)n->selected,
	    "republished", (json_int_t)n->republished,
	    "deleted", (json_int_t)n->deleted, "failed", (json_int_t)n->failed,
	    "deleteFailed", (json_int_t)n->delete_failed,
	    "filtered", (json_int_t)n->filtered, "stale", (json_int_t)n->stale,
	    "unreadable", (json_int_t)n->invalid,
	    "overMax", (json_int_t)n->over_max,
	    "seenAgain", (json_int_t)n->seen_again,
	    "oversizedReceives", (json_int_t)n->overflows,
	    "lateDeletes", (json_int_t)n->late_deletes, "seconds", secs,
	    "failures", r->failures);
	text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	printf("%s\n", text != NULL ? text : "{}");
	free(text);
	json_decref(j);
}

/* ---- the run ------------------------------------------------------------ */

/*
 * While events are in flight, receive without waiting: a long poll would
 * hold back their deletes, perhaps past the visibility timeout.  The run
 * ends on an empty long poll with nothing in flight.
 */
static void
rd_receive_step(struct redrive *r)
{
	unsigned wait_s = r->inflight > 0 ? 0 : r->o.wait_s;
	int got = rd_receive(r, wait_s);

	if (got < 0) {
		r->fatal = true;
		r->stopped = "error";
	} else if (got == 0 && r->inflight == 0 && wait_s == r->o.wait_s &&
	    r->stopped == NULL) {
		r->stopped = "no more messages";
	} else if (got == 0) {
		rd_wait(r, 200);
	}
}

static void
rd_loop(struct redrive *r)
{
	while (r->stopped == NULL) {
		rd_collect(r);
		rd_progress(r, false);
		if (rd_signals > 0) {
			r->stopped = "interrupted";
		} else if (r->o.max > 0 && r->n.selected >= r->o.max) {
			r->stopped = "--max reached";
		} else if (r->inflight + r->batch_max > r->inflight_max) {
			rd_wait(r, 200);
		} else {
			rd_receive_step(r);
		}
	}
}

/* Waits for what is being published and deletes it; a second signal stops
 * the wait, and what is unfinished then stays in the queue. */
static void
rd_finish(struct redrive *r)
{
	uint64_t limit = clock_mono_ms() + r->cfg->delivery_timeout_ms +
	    2 * r->cfg->request_timeout_ms + 5000;

	while (r->inflight > 0 && clock_mono_ms() < limit && rd_signals < 2) {
		rd_wait(r, 100);
		rd_collect(r);
		rd_progress(r, false);
	}
	if (r->started) {
		queue_close(r->queue);
		batcher_drain(r->batcher, 0);
		r->started = false;
	}
	rd_collect(r);
}

static int
rd_init(struct redrive *r, struct config *cfg)
{
	pthread_condattr_t ca;
	uint64_t vis;

	r->cfg = cfg;
	r->approx_visible = -1;
	r->batch_max = AWSPROTO_MAX_ENTRIES;
	r->inflight_max = 10 * (size_t)cfg->max_inflight_batches;
	if (r->inflight_max > 1000)
		r->inflight_max = 1000;
	r->tty = isatty(STDERR_FILENO) == 1;
	r->stopped = NULL;
	r->started_ms = clock_mono_ms();
	/* Long enough to publish, retry and delete before it shows again. */
	vis = (cfg->delivery_timeout_ms + 2 * cfg->request_timeout_ms) / 1000 +
	    r->o.wait_s + 30;
	if (r->o.visibility_s == 0)
		r->o.visibility_s = vis > SQSPROTO_MAX_VISIBILITY_S ?
		    SQSPROTO_MAX_VISIBILITY_S : (unsigned)vis;
	r->failures = json_array();
	if (r->failures == NULL || pthread_mutex_init(&r->lock, NULL) != 0)
		return -1;
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&r->cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return -1;
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

static void
rd_free(struct redrive *r)
{
	if (r->started) {
		queue_close(r->queue);
		batcher_drain(r->batcher, 0);
	}
	batcher_free(r->batcher);
	queue_free(r->queue);
	aws_client_free(r->client);
	if (r->sqs_ready)
		aws_service_fini(&r->sqs);
	creds_clear(&r->creds);
	free(r->seen.slot);
	json_decref(r->failures);
	while (r->done != NULL) {
		struct rd_msg *m = r->done;
		r->done = m->next;
		rd_msg_free(m);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int
cmd_redrive(struct config *cfg, int argc, char **argv)
{
	struct sigaction sa, old_int, old_term;
	struct redrive *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		fprintf(stderr, "cxbridge redrive: out of memory\n");
		return CMD_FAILED;
	}
	rc = rd_options(argc, argv, &r->o);
	if (rc != 0) {
		free(r);
		return rc > 0 ? CMD_OK : CMD_USAGE;
	}
	if (rd_init(r, cfg) != 0 || rd_aws(r) != 0 ||
	    (!r->o.dry_run && rd_batcher(r) != 0)) {
		rd_free(r);
		return CMD_FAILED;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rd_signal;      /* no SA_RESTART: waits end early */
	sigemptyset(&sa.sa_mask);
	rd_signals = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);
	if (r->tty)
		rd_queue_size(r);
	rd_loop(r);
	rd_finish(r);
	rd_progress(r, true);
	rd_report(r, (double)(clock_mono_ms() - r->started_ms) / 1e3);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	rc = r->fatal ? CMD_FAILED : r->n.failed + r->n.delete_failed +
	    r->n.invalid > 0 ? CMD_PARTIAL : CMD_OK;
	rd_free(r);
	return rc;
}
