/* log.h - JSON-lines logging on stderr, one line per record, with levels. */
#ifndef CXB_LOG_H
#define CXB_LOG_H

#include <jansson.h>

enum log_level { LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

/* Records below the level are dropped.  Safe to call from any thread. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error".  Returns 0, or -1 if unknown. */
int  log_level_parse(const char *name, enum log_level *out);
int  log_enabled(enum log_level level);

/* Redirects output (tests); fd -1 restores stderr. */
void log_set_fd(int fd);

/* printf-style message.  log_warn/log_error append strerror(errno). */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOGL_INFO, __VA_ARGS__)
#define log_warnx(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_errorx(...) log_msg(LOGL_ERROR, __VA_ARGS__)

/* Structured record: "ts" and "level" are added to fields, which is consumed
 * (its reference is stolen, NULL is ignored).  Never put secrets in fields. */
void log_json(enum log_level level, json_t *fields);

#endif
