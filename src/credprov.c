/* credprov.c - the daemon's AWS credentials: the SDKs' chain, refreshed ahead of expiry by a thread. */
#include "credprov.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "credchain.h"
#include "credfetch.h"
#include "credproc.h"
#include "creds.h"
#include "credsts.h"
#include "log.h"
#include "rfc3339.h"

#define CREDPROV_HTTP_CONNECT_MS 1000
#define CREDPROV_HTTP_TIMEOUT_MS 5000
#define CREDPROV_PROCESS_MS      60000
#define CREDPROV_WAIT_MAX_MS     60000   /* notice wall-clock jumps */
#define CREDPROV_ERR_MAX         512

/* What the provider is in, for /ready and for logging each change once. */
enum credprov_state {
	CREDPROV_NONE,      /* nothing fetched yet */
	CREDPROV_OK,        /* valid, last refresh worked */
	CREDPROV_FAILING,   /* valid, but refreshing fails */
	CREDPROV_EXPIRED,   /* held ones past their margin, refresh failing */
};

/* A state change to log once the mutex is released. */
struct credprov_note {
	enum credprov_state from, to;
	char                err[CREDPROV_ERR_MAX];
	char                source[64];
	int64_t             expires_ms;
	int64_t             now_ms;
	int64_t             retry_ms;
	unsigned            failures;
};

struct credprov {
	pthread_mutex_t         mu;
	pthread_cond_t          cond;          /* on CLOCK_MONOTONIC */
	pthread_t               thread;
	int                     thread_started;
	atomic_int              stop;
	_Atomic uint64_t        n_fetch, n_fail;

	/* Under mu. */
	struct aws_credentials  cur;
	int                     have;
	int64_t                 expires_ms;    /* 0: they do not expire */
	int64_t                 usable_ms;     /* 0: forever */
	int64_t                 refresh_ms;    /* next attempt; INT64_MAX: none */
	unsigned                fail_streak;
	enum credprov_state     logged;        /* last state logged */
	char                    last_err[CREDPROV_ERR_MAX];

	/* The fetching thread's own (credprov_start's before it runs). */
	struct credchain_plan   plan;
	struct credfetch_imds   imds;
	struct credfetch_container container;
	struct aws_credentials  fresh, hop;
	struct credfetch_limits http_lim, proc_lim;
	char                    region[64];
	char                    sts_url[CREDFETCH_URL_MAX];
	unsigned                seed;
	int64_t                 retry_max_ms;  /* 0: the defaults */
};

static void credprov_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
credprov_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int64_t
credprov_refresh_at(int64_t fetched_ms, int64_t expires_ms)
{
	int64_t life = expires_ms - fetched_ms, lead, floor_lead, at;

	if (life <= 0)
		return fetched_ms + CREDPROV_MIN_REFRESH_MS;
	lead = life / 5;
	floor_lead = life / 2 < CREDPROV_LEAD_MAX_MS ? life / 2 :
	    CREDPROV_LEAD_MAX_MS;
	if (lead < floor_lead)
		lead = floor_lead;
	at = expires_ms - lead;
	return at > fetched_ms + CREDPROV_MIN_REFRESH_MS ? at :
	    fetched_ms + CREDPROV_MIN_REFRESH_MS;
}

int64_t
credprov_usable_until(int64_t fetched_ms, int64_t expires_ms)
{
	int64_t margin = (expires_ms - fetched_ms) / 10;

	if (margin < 0)
		margin = 0;
	if (margin > CREDPROV_MARGIN_MAX_MS)
		margin = CREDPROV_MARGIN_MAX_MS;
	return expires_ms - margin;
}

uint64_t
credprov_retry_ms(unsigned n, double jitter)
{
	uint64_t d = CREDPROV_RETRY_BASE_MS;

	for (unsigned i = 1; i < n && d < CREDPROV_RETRY_MAX_MS; i++)
		d *= 2;
	if (d > CREDPROV_RETRY_MAX_MS)
		d = CREDPROV_RETRY_MAX_MS;
	if (!(jitter > 0))
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	return d - (uint64_t)((double)d / 2 * jitter);
}

/* ------------------------------------------------------------- fetching */

static int
credprov_fetch_base(struct credprov *p, struct aws_credentials *out,
    char *err, size_t errlen)
{
	const struct credchain_plan *plan = &p->plan;

	switch (plan->base) {
	case CREDCHAIN_STATIC:
		*out = plan->keys;
		return 0;
	case CREDCHAIN_PROCESS:
		return credproc_run(plan->process, &p->proc_lim, out, err, errlen);
	case CREDCHAIN_WEB_IDENTITY:
		return credsts_web_identity(p->sts_url, &plan->web_role,
		    plan->token_file, &p->http_lim, out, err, errlen);
	case CREDCHAIN_CONTAINER:
		return credfetch_container(&p->container, &p->http_lim, out, err,
		    errlen);
	case CREDCHAIN_IMDS:
		return credfetch_imds(&p->imds, &p->http_lim, out, err, errlen);
	}
	credprov_errf(err, errlen, "unknown credentials source");
	return -1;
}

/* The whole plan: the base, then each role assumed with the previous
 * credentials.  The result is in p->fresh.  Blocks; no lock held. */
static int
credprov_fetch(struct credprov *p, char *err, size_t errlen)
{
	int rc = credprov_fetch_base(p, &p->fresh, err, errlen);

	for (size_t i = 0; rc == 0 && i < p->plan.n_roles; i++) {
		p->hop = p->fresh;
		rc = credsts_assume_role(p->sts_url, p->region, &p->plan.roles[i],
		    &p->hop, &p->http_lim, &p->fresh, err, errlen);
	}
	creds_clear(&p->hop);
	if (rc != 0)
		creds_clear(&p->fresh);
	atomic_fetch_add(rc == 0 ? &p->n_fetch : &p->n_fail, 1);
	return rc;
}

/* Installs p->fresh (under mu).  -1 when it is unusable already. */
static int
credprov_install(struct credprov *p, int64_t now, char *err, size_t errlen)
{
	int64_t exp = p->fresh.expiration * 1000;
	char when[RFC3339_FORMAT_SIZE];

	if (p->fresh.expiration != 0 && credprov_usable_until(now, exp) <= now) {
		rfc3339_format_ms(exp, when);
		credprov_errf(err, errlen, "the fetched credentials expire at %s, "
		    "which is already past (is this host's clock right?)", when);
		creds_clear(&p->fresh);
		return -1;
	}
	p->cur = p->fresh;
	creds_clear(&p->fresh);
	p->have = 1;
	p->expires_ms = p->cur.expiration != 0 ? exp : 0;
	p->usable_ms = p->cur.expiration != 0 ? credprov_usable_until(now, exp) : 0;
	p->refresh_ms = p->cur.expiration != 0 ? credprov_refresh_at(now, exp) :
	    INT64_MAX;
	p->fail_streak = 0;
	p->last_err[0] = '\0';
	return 0;
}

/* A failed refresh (under mu): the next try, sooner than the backoff if
 * the held credentials would lapse first. */
static void
credprov_failed(struct credprov *p, int64_t now, const char *err)
{
	double jitter = (double)rand_r(&p->seed) / RAND_MAX;
	int64_t d = (int64_t)credprov_retry_ms(++p->fail_streak, jitter);
	int64_t left = p->have && p->usable_ms != 0 ? p->usable_ms - now : 0;

	if (left / 2 >= 500 && d > left / 2)
		d = left / 2;
	/* Without valid credentials nothing gets delivered: keep trying. */
	if (left <= 0 && d > CREDPROV_RETRY_NONE_MAX_MS)
		d = CREDPROV_RETRY_NONE_MAX_MS;
	if (p->retry_max_ms > 0 && d > p->retry_max_ms)
		d = p->retry_max_ms;
	p->refresh_ms = now + d;
	snprintf(p->last_err, sizeof(p->last_err), "%s", err);
}

/* ---------------------------------------------------------------- state */

static enum credprov_state
credprov_state_now(const struct credprov *p, int64_t now)
{
	if (!p->have)
		return CREDPROV_NONE;
	if (p->usable_ms != 0 && now >= p->usable_ms)
		return CREDPROV_EXPIRED;
	return p->fail_streak > 0 ? CREDPROV_FAILING : CREDPROV_OK;
}

/* Fills note when the state changed since the last log (under mu).
 * Returns 1 if there is something to log. */
static int
credprov_transition(struct credprov *p, int64_t now, struct credprov_note *n)
{
	enum credprov_state s = credprov_state_now(p, now);

	if (s == p->logged && s != CREDPROV_OK)
		return 0;
	n->from = p->logged;
	n->to = s;
	n->now_ms = now;
	n->expires_ms = p->expires_ms;
	n->retry_ms = p->refresh_ms == INT64_MAX ? -1 : p->refresh_ms - now;
	n->failures = p->fail_streak;
	snprintf(n->err, sizeof(n->err), "%s", p->last_err);
	snprintf(n->source, sizeof(n->source), "%s", p->cur.source);
	p->logged = s;
	return 1;
}

static void
credprov_log(const struct credprov_note *n)
{
	char when[RFC3339_FORMAT_SIZE] = "never";
	double left = n->expires_ms != 0 ?
	    (double)(n->expires_ms - n->now_ms) / 1e3 : INFINITY;

	if (n->expires_ms != 0)
		rfc3339_format_ms(n->expires_ms, when);
	if (n->to == CREDPROV_OK)
		log_json(n->from == CREDPROV_OK ? LOGL_DEBUG : LOGL_INFO,
		    json_pack("{s:s,s:s,s:s,s:i}", "msg",
		    n->from == CREDPROV_OK ? "AWS credentials refreshed" :
		    "AWS credentials refreshed again", "source", n->source,
		    "expires", when, "failed_attempts", (int)n->failures));
	else if (n->to == CREDPROV_FAILING)
		log_json(LOGL_WARN, json_pack("{s:s,s:s,s:f,s:I}", "msg",
		    "AWS credentials refresh failed; retrying with backoff while "
		    "the current ones last", "error", n->err, "valid_for_s", left,
		    "retry_in_ms", (json_int_t)n->retry_ms));
	else if (n->to == CREDPROV_EXPIRED)
		log_json(LOGL_ERROR, json_pack("{s:s,s:s,s:s}", "msg",
		    "AWS credentials expired and could not be refreshed: AWS calls "
		    "fail and /ready answers 503 until a refresh works", "error",
		    n->err[0] != '\0' ? n->err : "the source cannot refresh them",
		    "expired", when));
}

/* After one fetch: install or schedule a retry, then log a change. */
static void
credprov_after_fetch(struct credprov *p, int rc, char *err, size_t errlen)
{
	struct credprov_note note;
	int64_t now = clock_wall_ms();
	int tell;

	pthread_mutex_lock(&p->mu);
	if (rc == 0)
		rc = credprov_install(p, now, err, errlen);
	if (rc != 0)
		credprov_failed(p, now, err);
	tell = credprov_transition(p, now, &note);
	pthread_mutex_unlock(&p->mu);
	if (tell)
		credprov_log(&note);
}

/* -------------------------------------------------------------- thread */

static void
credprov_timedwait(struct credprov *p, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->cond, &p->mu, &ts);
}

/* Sleeps until the next refresh is due, waking when the held credentials
 * lapse so that the change is logged.  Returns 1 when told to stop. */
static int
credprov_sleep(struct credprov *p)
{
	struct credprov_note note;
	int stop;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		int64_t now = clock_wall_ms(), wait;

		if (atomic_load(&p->stop) || now >= p->refresh_ms)
			break;
		if (credprov_state_now(p, now) != p->logged &&
		    credprov_transition(p, now, &note)) {
			pthread_mutex_unlock(&p->mu);
			credprov_log(&note);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		wait = p->refresh_ms - now;
		if (p->usable_ms > now && p->usable_ms - now < wait)
			wait = p->usable_ms - now;
		if (wait > CREDPROV_WAIT_MAX_MS)
			wait = CREDPROV_WAIT_MAX_MS;
		credprov_timedwait(p, wait);
	}
	stop = atomic_load(&p->stop);
	pthread_mutex_unlock(&p->mu);
	return stop;
}

static void *
credprov_main(void *arg)
{
	struct credprov *p = arg;
	char err[CREDPROV_ERR_MAX];

	while (credprov_sleep(p) == 0) {
		err[0] = '\0';
		credprov_after_fetch(p, credprov_fetch(p, err, sizeof(err)), err,
		    sizeof(err));
	}
	return NULL;
}

/* ----------------------------------------------------------- lifecycle */

static int
credprov_prepare(struct credprov *p, char *err, size_t errlen)
{
	char why[CREDPROV_ERR_MAX];
	int rc = 0;

	if (p->plan.base == CREDCHAIN_CONTAINER)
		rc = credfetch_container_init(&p->container, why, sizeof(why));
	else if (p->plan.base == CREDCHAIN_IMDS)
		rc = credfetch_imds_init(&p->imds, why, sizeof(why));
	if (rc != 0)
		credprov_errf(err, errlen, "AWS credentials (%s): %s",
		    p->plan.describe, why);
	return rc;
}

struct credprov *
credprov_new(const struct credprov_config *cfg, char *err, size_t errlen)
{
	struct credprov *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	char why[CREDPROV_ERR_MAX];
	int rc;

	if (p == NULL) {
		credprov_errf(err, errlen, "%s: out of memory", __func__);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->refresh_ms = INT64_MAX;
	p->seed = (unsigned)clock_mono_us();
	snprintf(p->region, sizeof(p->region), "%s", cfg->region ? cfg->region : "");
	snprintf(p->sts_url, sizeof(p->sts_url), "%s", cfg->sts_url ? cfg->sts_url : "");
	p->http_lim.connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : CREDPROV_HTTP_CONNECT_MS;
	p->http_lim.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms :
	    CREDPROV_HTTP_TIMEOUT_MS;
	p->http_lim.cancel = &p->stop;
	p->proc_lim = p->http_lim;
	p->retry_max_ms = cfg->retry_max_ms > 0 ? cfg->retry_max_ms : 0;
	p->proc_lim.timeout_ms = cfg->process_timeout_ms > 0 ?
	    cfg->process_timeout_ms : CREDPROV_PROCESS_MS;
	rc = credchain_resolve(cfg->profile, &p->plan, why, sizeof(why));
	if (rc != CREDS_FOUND) {
		credprov_errf(err, errlen, "AWS credentials: %s", why);
		credprov_free(p);
		return NULL;
	}
	if (credprov_prepare(p, err, errlen) != 0) {
		credprov_free(p);
		return NULL;
	}
	return p;
}

/* The refresh thread, with every signal blocked: main waits for them. */
static int
credprov_spawn(struct credprov *p)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, credprov_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	p->thread_started = 1;
	return 0;
}

int
credprov_start(struct credprov *p, char *err, size_t errlen)
{
	int local = p->plan.base == CREDCHAIN_STATIC && p->plan.n_roles == 0;
	char why[CREDPROV_ERR_MAX] = "";
	int rc = -1;

	for (unsigned i = 0; i < CREDPROV_START_ATTEMPTS && rc != 0; i++) {
		if (i > 0) {
			struct timespec ts = { 0, (long)(250u << i) * 1000000L };

			if (local || p->plan.base == CREDCHAIN_PROCESS)
				break;
			nanosleep(&ts, NULL);
		}
		rc = credprov_fetch(p, why, sizeof(why));
		pthread_mutex_lock(&p->mu);
		if (rc == 0)
			rc = credprov_install(p, clock_wall_ms(), why, sizeof(why));
		p->logged = rc == 0 ? CREDPROV_OK : CREDPROV_NONE;
		pthread_mutex_unlock(&p->mu);
	}
	if (rc != 0) {
		credprov_errf(err, errlen, "AWS credentials (%s): %s",
		    p->plan.describe, why);
		return -1;
	}
	/* Static keys cannot be refreshed (the environment and the file
	 * were read once), so they get no thread; /ready tells their expiry. */
	if (!local && p->refresh_ms != INT64_MAX && credprov_spawn(p) != 0) {
		credprov_errf(err, errlen, "AWS credentials: cannot start the "
		    "refresh thread");
		return -1;
	}
	return 0;
}

void
credprov_free(struct credprov *p)
{
	if (p == NULL)
		return;
	if (p->thread_started) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->stop, 1);
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	credfetch_imds_fini(&p->imds);
	credfetch_container_fini(&p->container);
	credchain_plan_clear(&p->plan);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

int
credprov_get(struct credprov *p, struct aws_credentials *out)
{
	int64_t now = clock_wall_ms();
	int ok;

	pthread_mutex_lock(&p->mu);
	ok = p->have && (p->usable_ms == 0 || now < p->usable_ms);
	if (ok)
		*out = p->cur;
	pthread_mutex_unlock(&p->mu);
	return ok ? 0 : -1;
}

double
credprov_expiry_s(struct credprov *p)
{
	double left;

	pthread_mutex_lock(&p->mu);
	if (!p->have)
		left = 0;
	else if (p->expires_ms == 0)
		left = INFINITY;
	else
		left = (double)(p->expires_ms - clock_wall_ms()) / 1e3;
	pthread_mutex_unlock(&p->mu);
	return left;
}

int
credprov_ready(struct credprov *p, const char **why)
{
	enum credprov_state s;

	pthread_mutex_lock(&p->mu);
	s = credprov_state_now(p, clock_wall_ms());
	pthread_mutex_unlock(&p->mu);
	if (s == CREDPROV_NONE)
		*why = "no AWS credentials yet";
	else if (s == CREDPROV_EXPIRED)
		*why = "the AWS credentials have expired and refreshing them fails";
	return s == CREDPROV_OK || s == CREDPROV_FAILING;
}

const char *
credprov_describe(const struct credprov *p)
{
	return p->plan.describe;
}

uint64_t
credprov_fetches(struct credprov *p)
{
	return atomic_load(&p->n_fetch);
}

uint64_t
credprov_failures(struct credprov *p)
{
	return atomic_load(&p->n_fail);
}
