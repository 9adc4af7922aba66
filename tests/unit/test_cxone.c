/* test_cxone.c - CXone client: token cache and refresh, 401 and 429 handling, parsers. */
#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxone.h"
#include "log.h"

#define TOKEN_URL "https://cxone.test/auth/token"
#define HOOKS_URL "https://api.cxone.test/v1/webhooks"
#define CLIENT_ID "bridge:client"
#define SECRET    "s3cret value&=/"

/* A fake CXone: a token endpoint, a webhooks API, a clock that sleeping
 * advances. */
struct fake {
	uint64_t now_ms;
	uint64_t slept_ms;
	unsigned token_calls, api_calls;
	int      expires_in;            /* 0: leave expires_in out */
	int      token_status;          /* 0: 200 */
	const char *token_retry_after;
	int      api_401;               /* answer 401 to this many API calls */
	int      api_429;               /* answer 429 to this many API calls */
	const char *retry_after;        /* with the 429s */
	const char *list_body;          /* GET answer; NULL: "[]" */
	long     delete_status;
	char     token_body[4096];      /* last token request body */
	char     token_auth[4096];      /* its Authorization line, "" if none */
	char     api_auth[CXONE_TOKEN_MAX + 64];
	char     api_method[8];
	char     api_url[256];
};

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static const char *
header(const struct cxone_http_request *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->n_headers; i++)
		if (strncmp(req->headers[i], name, n) == 0 &&
		    req->headers[i][n] == ':')
			return req->headers[i] + n + 2;
	return NULL;
}

static void
answer(struct cxone_http_response *resp, long status, const char *body)
{
	resp->status = status;
	if (body != NULL) {
		resp->body = xstrdup(body);
		resp->len = strlen(body);
	}
}

static int
fake_token(struct fake *f, const struct cxone_http_request *req,
    struct cxone_http_response *resp)
{
	const char *auth = header(req, "Authorization");
	char body[256];

	f->token_calls++;
	assert_string_equal(req->method, "POST");
	assert_string_equal(header(req, "Content-Type"),
	    "application/x-www-form-urlencoded");
	snprintf(f->token_body, sizeof(f->token_body), "%.*s",
	    (int)req->body_len, req->body);
	snprintf(f->token_auth, sizeof(f->token_auth), "%s",
	    auth != NULL ? auth : "");
	if (f->token_status != 0) {
		answer(resp, f->token_status, "{\"error\":\"temporarily_unavailable\"}");
		snprintf(resp->retry_after, sizeof(resp->retry_after), "%s",
		    f->token_retry_after != NULL ? f->token_retry_after : "");
		return 0;
	}
	if (f->expires_in != 0)
		snprintf(body, sizeof(body), "{\"access_token\":\"tok-%u\","
		    "\"token_type\":\"Bearer\",\"expires_in\":%d}", f->token_calls,
		    f->expires_in);
	else
		snprintf(body, sizeof(body), "{\"access_token\":\"tok-%u\"}",
		    f->token_calls);
	answer(resp, 200, body);
	return 0;
}

static int
fake_transport(void *arg, const struct cxone_http_request *req,
    struct cxone_http_response *resp, char *err, size_t errlen)
{
	struct fake *f = arg;
	const char *auth;

	(void)err;
	(void)errlen;
	memset(resp, 0, sizeof(*resp));
	if (strcmp(req->url, TOKEN_URL) == 0)
		return fake_token(f, req, resp);
	f->api_calls++;
	auth = header(req, "Authorization");
	snprintf(f->api_auth, sizeof(f->api_auth), "%s", auth != NULL ? auth : "");
	snprintf(f->api_method, sizeof(f->api_method), "%s", req->method);
	snprintf(f->api_url, sizeof(f->api_url), "%s", req->url);
	if (f->api_401 > 0) {
		f->api_401--;
		answer(resp, 401, "{\"message\":\"token expired\"}");
	} else if (f->api_429 > 0) {
		f->api_429--;
		answer(resp, 429, NULL);
		snprintf(resp->retry_after, sizeof(resp->retry_after), "%s",
		    f->retry_after != NULL ? f->retry_after : "");
	} else if (strcmp(req->method, "GET") == 0) {
		answer(resp, 200, f->list_body != NULL ? f->list_body : "[]");
	} else if (strcmp(req->method, "DELETE") == 0) {
		answer(resp, f->delete_status != 0 ? f->delete_status : 204, NULL);
	} else {
		answer(resp, 201, "{\"id\":\"wh-1\"}");
	}
	return 0;
}

static uint64_t
fake_clock(void *arg)
{
	return ((struct fake *)arg)->now_ms;
}

static void
fake_sleep(void *arg, uint64_t ms)
{
	struct fake *f = arg;

	f->now_ms += ms;
	f->slept_ms += ms;
}

static struct cxone *
client(struct fake *f, enum cxone_token_auth how, const char *scopes)
{
	struct cxone_config cfg = {
		.token_url = TOKEN_URL, .token_auth = how, .client_id = CLIENT_ID,
		.client_secret = SECRET, .scopes = scopes,
		.webhooks_url = HOOKS_URL, .timeout_ms = 1000,
		.max_retry_after_s = 60, .transport = fake_transport,
		.transport_arg = f, .clock_ms = fake_clock, .sleep_ms = fake_sleep,
		.clock_arg = f,
	};
	char err[256];
	struct cxone *c = cxone_new(&cfg, err, sizeof(err));

	if (c == NULL)
		fail_msg("cxone_new: %s", err);
	return c;
}

static int
list(struct cxone *c, char *err, size_t errlen)
{
	json_t *out = NULL;
	int rc = cxone_webhooks_list(c, &out, err, errlen);

	json_decref(out);
	return rc;
}

/* ---- the token cache -------------------------------------------------- */

static void
test_token_fetched_once_per_lifetime(void **state)
{
	struct fake f = { .now_ms = 1000000, .expires_in = 3600 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(list(c, err, sizeof(err)), 0);
		f.now_ms += 60000;
	}
	assert_int_equal(f.token_calls, 1);
	assert_int_equal(cxone_token_fetches(c), 1);
	assert_int_equal(f.api_calls, 5);
	assert_int_equal(cxone_api_requests(c), 5);
	assert_string_equal(f.api_auth, "Bearer tok-1");
	/* 3600 s tokens are replaced 60 s before they expire, not earlier. */
	f.now_ms = 1000000 + 3540000 - 1;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 1);
	f.now_ms += 1;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 2);
	assert_string_equal(f.api_auth, "Bearer tok-2");
	cxone_free(c);
}

static void
test_short_token_refreshed_at_ninety_percent(void **state)
{
	struct fake f = { .now_ms = 5000, .expires_in = 100 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	f.now_ms = 5000 + 89999;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 1);
	f.now_ms = 5000 + 90000;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 2);
	cxone_free(c);
}

static void
test_no_expires_in_means_default(void **state)
{
	struct fake f = { .now_ms = 0, .expires_in = 0 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];
	uint64_t life = CXONE_DEFAULT_EXPIRES_S * 1000ULL;

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	f.now_ms = life - cxone_refresh_ahead_ms(life) - 1;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 1);
	f.now_ms += 1;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 2);
	cxone_free(c);
}

static void
test_refresh_failure_keeps_a_valid_token(void **state)
{
	struct fake f = { .now_ms = 0, .expires_in = 100 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	f.token_status = 400;
	f.now_ms = 95000;                   /* due for refresh, not expired */
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 2);
	assert_string_equal(f.api_auth, "Bearer tok-1");
	f.now_ms = 100000;                  /* expired: no token to use */
	assert_int_equal(list(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "answered 400"));
	assert_non_null(strstr(err, "temporarily_unavailable"));
	assert_null(strstr(err, SECRET));
	cxone_free(c);
}

/* ---- 401 and 429 ---------------------------------------------------- */

static void
test_401_gets_one_refresh_and_one_retry(void **state)
{
	struct fake f = { .expires_in = 3600, .api_401 = 1 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.token_calls, 2);
	assert_int_equal(f.api_calls, 2);
	assert_string_equal(f.api_auth, "Bearer tok-2");
	/* Refused again after the refresh: give up, do not loop. */
	f.api_401 = 10;
	assert_int_equal(list(c, err, sizeof(err)), -1);
	assert_int_equal(f.token_calls, 3);
	assert_int_equal(f.api_calls, 4);
	assert_non_null(strstr(err, "401"));
	assert_non_null(strstr(err, "token expired"));
	cxone_free(c);
}

static void
test_429_waits_for_retry_after(void **state)
{
	struct fake f = { .expires_in = 3600, .api_429 = 2, .retry_after = "3" };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.api_calls, 3);
	assert_int_equal(f.slept_ms, 6000);
	assert_int_equal(f.token_calls, 1);
	cxone_free(c);
}

/* A long Retry-After can outlast the token: the retry gets a fresh one
 * rather than an expired one and a 401. */
static void
test_429_wait_past_refresh_gets_a_new_token(void **state)
{
	struct fake f = { .expires_in = 10, .api_429 = 1, .retry_after = "9" };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_int_equal(f.api_calls, 2);
	assert_int_equal(f.token_calls, 2);
	assert_string_equal(f.api_auth, "Bearer tok-2");
	cxone_free(c);
}

static void
test_429_too_long_or_forever_fails(void **state)
{
	struct fake f = { .expires_in = 3600, .api_429 = 1, .retry_after = "61" };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), -1);
	assert_int_equal(f.api_calls, 1);
	assert_int_equal(f.slept_ms, 0);
	assert_non_null(strstr(err, "max_retry_after_s"));
	f.api_429 = 100;
	f.retry_after = "";                 /* none: 1, 2, 4, 8 s apart */
	f.api_calls = 0;
	assert_int_equal(list(c, err, sizeof(err)), -1);
	assert_int_equal(f.api_calls, CXONE_MAX_TRIES);
	assert_int_equal(f.slept_ms, (1 + 2 + 4 + 8) * 1000);
	assert_non_null(strstr(err, "on every try"));
	cxone_free(c);
}

static void
test_429_on_the_token_endpoint(void **state)
{
	struct fake f = { .expires_in = 3600, .token_status = 429,
	    .token_retry_after = "2" };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), -1);
	assert_int_equal(f.token_calls, CXONE_MAX_TRIES);
	assert_int_equal(f.slept_ms, 2000 * (CXONE_MAX_TRIES - 1));
	assert_int_equal(f.api_calls, 0);
	cxone_free(c);
}

/* ---- the token request ------------------------------------------------ */

static void
test_client_secret_basic(void **state)
{
	struct fake f = { .expires_in = 60 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "webhooks:write read");
	char err[256];
	/* base64("bridge%3Aclient:s3cret+value%26%3D%2F") */
	const char *want = "Basic YnJpZGdlJTNBY2xpZW50OnMzY3JldCt2YWx1ZSUyNiUzRCUyRg==";

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_string_equal(f.token_auth, want);
	assert_string_equal(f.token_body,
	    "grant_type=client_credentials&scope=webhooks%3Awrite+read");
	cxone_free(c);
}

static void
test_client_secret_post(void **state)
{
	struct fake f = { .expires_in = 60 };
	struct cxone *c = client(&f, CXONE_AUTH_POST, "");
	char err[256];

	(void)state;
	assert_int_equal(list(c, err, sizeof(err)), 0);
	assert_string_equal(f.token_auth, "");
	assert_string_equal(f.token_body, "grant_type=client_credentials"
	    "&client_id=bridge%3Aclient&client_secret=s3cret+value%26%3D%2F");
	cxone_free(c);
}

static void
test_token_parse(void **state)
{
	struct cxone_token t;
	char err[256], big[CXONE_TOKEN_MAX + 64];
	const char *ok1 = "{\"access_token\":\"abc\",\"token_type\":\"bearer\","
	    "\"expires_in\":\"120\"}";
	const char *ok2 = "{\"access_token\":\"abc\",\"expires_in\":999999}";

	(void)state;
	assert_int_equal(cxone_token_parse(ok1, strlen(ok1), 1000, &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.access_token, "abc");
	assert_int_equal(t.expires_ms, 121000);
	assert_int_equal(t.refresh_ms, 121000 - 12000);
	assert_int_equal(cxone_token_parse(ok2, strlen(ok2), 0, &t, err,
	    sizeof(err)), 0);
	assert_int_equal(t.expires_ms, CXONE_MAX_EXPIRES_S * 1000ULL);
	static const char *const bad[] = {
		"", "[]", "{\"token_type\":\"Bearer\"}",
		"{\"access_token\":\"\"}", "{\"access_token\":\"a b\"}",
		"{\"access_token\":\"abc\",\"token_type\":\"MAC\"}",
		"{\"access_token\":\"abc\",\"expires_in\":0}",
		"{\"access_token\":\"abc\",\"expires_in\":-5}",
		"{\"access_token\":\"abc\",\"expires_in\":true}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cxone_token_parse(bad[i], strlen(bad[i]), 0, &t,
		    err, sizeof(err)), -1);
		assert_string_equal(t.access_token, "");
	}
	snprintf(big, sizeof(big), "{\"access_token\":\"%0*d\"}",
	    CXONE_TOKEN_MAX + 1, 7);
	assert_int_equal(cxone_token_parse(big, strlen(big), 0, &t, err,
	    sizeof(err)), -1);
}

static void
test_refresh_ahead(void **state)
{
	(void)state;
	assert_int_equal(cxone_refresh_ahead_ms(3600000), 60000);
	assert_int_equal(cxone_refresh_ahead_ms(600000), 60000);
	assert_int_equal(cxone_refresh_ahead_ms(300000), 30000);
	assert_int_equal(cxone_refresh_ahead_ms(2000), 200);
	assert_int_equal(cxone_refresh_ahead_ms(0), 0);
}

static void
test_retry_after(void **state)
{
	uint64_t s = 99;
	time_t now = 1445412480;        /* Wed, 21 Oct 2015 07:28:00 GMT */

	(void)state;
	assert_int_equal(cxone_retry_after("5", now, &s), 0);
	assert_int_equal(s, 5);
	assert_int_equal(cxone_retry_after(" 0 ", now, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(cxone_retry_after("99999999999999", now, &s), 0);
	assert_true(s >= 100000000);
	assert_int_equal(cxone_retry_after("Wed, 21 Oct 2015 07:28:30 GMT",
	    now, &s), 0);
	assert_int_equal(s, 30);
	assert_int_equal(cxone_retry_after("Wed, 21 Oct 2015 07:00:00 GMT",
	    now, &s), 0);
	assert_int_equal(s, 0);
	s = 99;
	assert_int_equal(cxone_retry_after("", now, &s), -1);
	assert_int_equal(cxone_retry_after("-1", now, &s), -1);
	assert_int_equal(cxone_retry_after("1.5", now, &s), -1);
	assert_int_equal(cxone_retry_after("soon", now, &s), -1);
	assert_int_equal(cxone_retry_after(NULL, now, &s), -1);
	assert_int_equal(s, 99);
}

static void
test_form_encode(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(cxone_form_encode("a b&c=d/\xc3\xa9~*-._", out,
	    sizeof(out)), 27);
	assert_string_equal(out, "a+b%26c%3Dd%2F%C3%A9%7E*-._");
	assert_int_equal(cxone_form_encode("", out, sizeof(out)), 0);
	assert_int_equal(cxone_form_encode("////", out, 12), -1);
	assert_int_equal(cxone_form_encode("////", out, 13), 12);
}

/* ---- the webhooks API -------------------------------------------------- */

static void
test_list_shapes(void **state)
{
	struct fake f = { .expires_in = 3600 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	char err[256], id[64];
	json_t *out;

	(void)state;
	f.list_body = "{\"items\":[{\"id\":7,\"name\":\"a\"}],\"next\":null}";
	assert_int_equal(cxone_webhooks_list(c, &out, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(out), 1);
	assert_int_equal(cxone_webhook_id(json_array_get(out, 0), id,
	    sizeof(id)), 0);
	assert_string_equal(id, "7");
	json_decref(out);
	f.list_body = "{\"webhooks\":[{\"id\":\"x/y\"}]}";
	assert_int_equal(cxone_webhooks_list(c, &out, err, sizeof(err)), 0);
	assert_int_equal(cxone_webhook_id(json_array_get(out, 0), id,
	    sizeof(id)), 0);
	assert_string_equal(id, "x/y");
	json_decref(out);
	f.list_body = "{\"count\":1}";
	assert_int_equal(cxone_webhooks_list(c, &out, err, sizeof(err)), -1);
	assert_null(out);
	f.list_body = "[1,2]";
	assert_int_equal(cxone_webhooks_list(c, &out, err, sizeof(err)), -1);
	cxone_free(c);
}

static void
test_create_update_delete(void **state)
{
	struct fake f = { .expires_in = 3600, .delete_status = 404 };
	struct cxone *c = client(&f, CXONE_AUTH_BASIC, "");
	json_t *spec = json_pack("{s:s}", "name", "cxbridge"), *out = NULL;
	char err[256], id[64];

	(void)state;
	assert_int_equal(cxone_webhook_create(c, spec, &out, err, sizeof(err)), 0);
	assert_string_equal(f.api_method, "POST");
	assert_string_equal(f.api_url, HOOKS_URL);
	assert_int_equal(cxone_webhook_id(out, id, sizeof(id)), 0);
	assert_string_equal(id, "wh-1");
	json_decref(out);
	assert_int_equal(cxone_webhook_update(c, "a b/c", spec, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(f.api_method, "PUT");
	assert_string_equal(f.api_url, HOOKS_URL "/a%20b%2Fc");
	/* Already gone counts as deleted. */
	assert_int_equal(cxone_webhook_delete(c, "wh-1", err, sizeof(err)), 0);
	assert_string_equal(f.api_method, "DELETE");
	f.delete_status = 500;
	assert_int_equal(cxone_webhook_delete(c, "wh-1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "answered 500"));
	assert_int_equal(f.token_calls, 1);
	json_decref(spec);
	cxone_free(c);
}

static void
test_webhook_id(void **state)
{
	json_t *w = json_pack("{s:b}", "id", 1);
	char id[8];

	(void)state;
	assert_int_equal(cxone_webhook_id(w, id, sizeof(id)), -1);
	json_object_set_new(w, "id", json_string("12345678"));
	assert_int_equal(cxone_webhook_id(w, id, sizeof(id)), -1);  /* too long */
	json_object_set_new(w, "id", json_string("a b"));
	assert_int_equal(cxone_webhook_id(w, id, sizeof(id)), -1);  /* blank */
	json_object_del(w, "id");
	assert_int_equal(cxone_webhook_id(w, id, sizeof(id)), -1);
	json_decref(w);
}

/* ---- configuration checks ---------------------------------------------- */

static void
test_url_allowed(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(cxone_url_allowed("https://cxone.example/t", err,
	    sizeof(err)), 0);
	assert_int_equal(cxone_url_allowed("http://127.0.0.1:9/t", err,
	    sizeof(err)), 0);
	assert_int_equal(cxone_url_allowed("http://localhost/t", err,
	    sizeof(err)), 0);
	assert_int_equal(cxone_url_allowed("http://[::1]:80/", err,
	    sizeof(err)), 0);
	assert_int_equal(cxone_url_allowed("http://cxone.example/t", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "https://"));
	assert_int_equal(cxone_url_allowed("ftp://cxone.example/", err,
	    sizeof(err)), -1);
	assert_int_equal(cxone_url_allowed("not a url", err, sizeof(err)), -1);
}

static void
test_new_refuses(void **state)
{
	struct cxone_config cfg = { .token_url = TOKEN_URL,
	    .client_id = CLIENT_ID, .client_secret = "",
	    .webhooks_url = HOOKS_URL };
	char err[256];

	(void)state;
	assert_null(cxone_new(&cfg, err, sizeof(err)));
	cfg.client_secret = SECRET;
	cfg.webhooks_url = "http://api.example/hooks";
	assert_null(cxone_new(&cfg, err, sizeof(err)));
	assert_null(strstr(err, SECRET));
	cxone_free(NULL);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_read_secret(void **state)
{
	char dir[] = "/tmp/cxb-test-cxone-XXXXXX", path[64], out[CXONE_SECRET_MAX + 1];
	char err[256], *big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	write_file(path, "# comment\n\n first-not-this\n");
	assert_int_equal(cxone_read_secret(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, ":3:"));
	assert_null(strstr(err, "first-not-this"));
	write_file(path, "# comment\n\nthe-secret \t\r\nsecond\n");
	assert_int_equal(cxone_read_secret(path, out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_string_equal(out, "the-secret");
	write_file(path, "# only a comment\n");
	assert_int_equal(cxone_read_secret(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no secret"));
	big = malloc(CXONE_SECRET_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', CXONE_SECRET_MAX + 1);
	big[CXONE_SECRET_MAX + 1] = '\0';
	write_file(path, big);
	assert_int_equal(cxone_read_secret(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	big[CXONE_SECRET_MAX] = '\0';
	write_file(path, big);
	assert_int_equal(cxone_read_secret(path, out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(out), CXONE_SECRET_MAX);
	free(big);
	unlink(path);
	assert_int_equal(cxone_read_secret(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_fetched_once_per_lifetime),
		cmocka_unit_test(test_short_token_refreshed_at_ninety_percent),
		cmocka_unit_test(test_no_expires_in_means_default),
		cmocka_unit_test(test_refresh_failure_keeps_a_valid_token),
		cmocka_unit_test(test_401_gets_one_refresh_and_one_retry),
		cmocka_unit_test(test_429_waits_for_retry_after),
		cmocka_unit_test(test_429_wait_past_refresh_gets_a_new_token),
		cmocka_unit_test(test_429_too_long_or_forever_fails),
		cmocka_unit_test(test_429_on_the_token_endpoint),
		cmocka_unit_test(test_client_secret_basic),
		cmocka_unit_test(test_client_secret_post),
		cmocka_unit_test(test_token_parse),
		cmocka_unit_test(test_refresh_ahead),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_form_encode),
		cmocka_unit_test(test_list_shapes),
		cmocka_unit_test(test_create_update_delete),
		cmocka_unit_test(test_webhook_id),
		cmocka_unit_test(test_url_allowed),
		cmocka_unit_test(test_new_refuses),
		cmocka_unit_test(test_read_secret),
	};

	/* The client logs its retries; keep the test output readable. */
	log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
