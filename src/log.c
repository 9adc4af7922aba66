/* log.c - JSON-lines logging on stderr. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level_now = LOGL_INFO;
static atomic_int log_fd = STDERR_FILENO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level level)
{
	atomic_store(&log_level_now, (int)level);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level_now);
}

int
log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&log_level_now);
}

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_set_fd(int fd)
{
	atomic_store(&log_fd, fd < 0 ? STDERR_FILENO : fd);
}

static void
log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* One write(2) per record, so lines from several threads never interleave. */
static void
log_write_line(const char *line)
{
	size_t len = strlen(line);
	char buf[8192];

	if (len + 1 < sizeof(buf)) {
		/* A line, not a C string: it ends in '\n', no NUL is needed. */
		memcpy(buf, line, len);   /* NOLINT(bugprone-not-null-terminated-result) */
		buf[len] = '\n';
		(void)!write(atomic_load(&log_fd), buf, len + 1);
		return;
	}
	(void)!write(atomic_load(&log_fd), line, len);
	(void)!write(atomic_load(&log_fd), "\n", 1);
}

void
log_json(enum log_level level, json_t *fields)
{
	char ts[64];
	json_t *rec;
	char *line;

	if (!log_enabled(level)) {
		json_decref(fields);
		return;
	}
	log_timestamp(ts, sizeof(ts));
	rec = json_object();
	if (rec == NULL) {
		json_decref(fields);
		return;
	}
	json_object_set_new(rec, "ts", json_string(ts));
	json_object_set_new(rec, "level", json_string(log_names[level]));
	if (fields != NULL)
		json_object_update(rec, fields);
	json_decref(fields);
	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(rec);
	if (line == NULL)
		return;
	log_write_line(line);
	free(line);
}

static void
log_vmsg(enum log_level level, const char *errtext, const char *fmt,
    va_list ap)
{
	char msg[2048];
	size_t n;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (errtext != NULL && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", errtext);
	/* A message with invalid UTF-8 would make json_string fail. */
	json_t *m = json_stringn_nocheck(msg, strlen(msg));
	log_json(level, json_pack("{s:o}", "msg", m));
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOGL_WARN, err, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOGL_ERROR, err, fmt, ap);
	va_end(ap);
}
