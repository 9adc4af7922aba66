/* watchdog.c - proves the daemon makes progress before systemd is told so. */
#include "watchdog.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "log.h"

struct watchdog {
	CURL *easy;     /* kept, so the check reuses one connection */
};

static size_t
watchdog_discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

struct watchdog *
watchdog_new(const char *url, long timeout_ms)
{
	struct watchdog *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->easy = curl_easy_init();
	if (w->easy == NULL) {
		free(w);
		return NULL;
	}
	curl_easy_setopt(w->easy, CURLOPT_URL, url);
	curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->easy, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, watchdog_discard);
	return w;
}

void
watchdog_free(struct watchdog *w)
{
	if (w == NULL)
		return;
	curl_easy_cleanup(w->easy);
	free(w);
}

int
watchdog_check(struct watchdog *w)
{
	long status = 0;
	CURLcode rc = curl_easy_perform(w->easy);

	if (rc == CURLE_OK)
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return 0;
	log_warnx("watchdog: /health check failed (%s, status %ld): not "
	    "telling systemd we are alive", curl_easy_strerror(rc), status);
	return -1;
}

uint64_t
watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec / 2000;
}
