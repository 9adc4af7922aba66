/* credproc.c - credentials from a credential_process helper program, as the AWS SDKs run it. */
#include "credproc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* One running helper and what it has written so far. */
struct credproc_child {
	pid_t  pid;
	int    out_fd, err_fd;      /* -1 once at EOF */
	char  *out;                 /* CREDPROC_OUT_MAX + 1 bytes */
	size_t out_len;
	char   errbuf[CREDPROC_ERR_MAX + 1];
	size_t err_len;
	int    too_much;
};

static void credproc_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
credproc_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The child's file actions and attributes; 0 or an errno value. */
static int
credproc_spawn(struct credproc_child *c, const char *command, int out_w,
    int err_w)
{
	char *const argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)command,
	    NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;
	int rc;

	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGCHLD);
	if (posix_spawn_file_actions_init(&fa) != 0)
		return ENOMEM;
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return ENOMEM;
	}
	rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
		    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &dflt);
	if (rc == 0)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (rc == 0)
		rc = posix_spawn(&c->pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Reads what is ready on one pipe; closes it at EOF. */
static void
credproc_drain(struct credproc_child *c, int *fd, int is_out)
{
	char tmp[4096];
	ssize_t n = read(*fd, tmp, sizeof(tmp));
	size_t room, take;

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	room = is_out ? CREDPROC_OUT_MAX - c->out_len :
	    CREDPROC_ERR_MAX - c->err_len;
	take = (size_t)n < room ? (size_t)n : room;
	if (is_out) {
		memcpy(c->out + c->out_len, tmp, take);
		c->out_len += take;
		c->too_much |= (size_t)n > room;
	} else {
		memcpy(c->errbuf + c->err_len, tmp, take);
		c->err_len += take;
	}
	explicit_bzero(tmp, sizeof(tmp));
}

static int
credproc_stopped(const struct credfetch_limits *lim, uint64_t deadline)
{
	return clock_mono_ms() >= deadline ||
	    (lim->cancel != NULL && atomic_load(lim->cancel) != 0);
}

/* Reads both pipes to EOF, then reaps the child; kills its group on the
 * deadline, cancel or too much output.  Returns its wait status, or -1
 * when it was killed (err says why). */
static int
credproc_wait(struct credproc_child *c, const struct credfetch_limits *lim,
    char *err, size_t errlen)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)lim->timeout_ms;
	int status = 0;
	pid_t w = 0;

	while ((c->out_fd != -1 || c->err_fd != -1 || w == 0) && !c->too_much &&
	    !credproc_stopped(lim, deadline)) {
		struct pollfd p[2] = { { c->out_fd, POLLIN, 0 },
		    { c->err_fd, POLLIN, 0 } };

		if (c->out_fd == -1 && c->err_fd == -1) {
			w = waitpid(c->pid, &status, WNOHANG);
			if (w == 0)
				poll(NULL, 0, 20);
			continue;
		}
		if (poll(p, 2, 100) <= 0)
			continue;
		if (c->out_fd != -1 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			credproc_drain(c, &c->out_fd, 1);
		if (c->err_fd != -1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			credproc_drain(c, &c->err_fd, 0);
	}
	if (w > 0)
		return status;
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &status, 0) == -1 && errno == EINTR)
		;
	credproc_err(err, errlen, "credential_process %s",
	    c->too_much ? "wrote more than 64 KiB" :
	    (lim->cancel != NULL && atomic_load(lim->cancel) != 0) ?
	    "cancelled" : "timed out and was killed");
	return -1;
}

/* "exited with status 3: first line of stderr". */
static void
credproc_failed(const struct credproc_child *c, int status, char *err,
    size_t errlen)
{
	char line[CREDPROC_ERR_MAX + 1];
	size_t n = 0;

	for (; n < c->err_len && c->errbuf[n] != '\n'; n++) {
		if (c->errbuf[n] >= 0x20 && c->errbuf[n] < 0x7f)
			line[n] = c->errbuf[n];
		else
			line[n] = '?';
	}
	line[n] = '\0';
	if (WIFEXITED(status))
		credproc_err(err, errlen, "credential_process exited with status "
		    "%d%s%s", WEXITSTATUS(status), n > 0 ? ": " : "", line);
	else
		credproc_err(err, errlen, "credential_process was killed by "
		    "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The SDKs' output format: Version must be 1. */
static int
credproc_parse(const struct credproc_child *c, struct aws_credentials *out,
    char *err, size_t errlen)
{
	json_t *root = json_loadb(c->out, c->out_len, JSON_REJECT_DUPLICATES,
	    NULL);
	json_t *v = json_object_get(root, "Version");
	int ok = json_is_integer(v) && json_integer_value(v) == 1;

	json_decref(root);
	if (!ok) {
		credproc_err(err, errlen, "credential_process: the output is not "
		    "JSON with \"Version\": 1");
		return -1;
	}
	if (credfetch_parse_json(c->out, c->out_len, "SessionToken", 0,
	    "credential_process", out, err, errlen) == -1)
		return -1;
	snprintf(out->source, sizeof(out->source), "process");
	return 0;
}

int
credproc_run(const char *command, const struct credfetch_limits *lim,
    struct aws_credentials *out, char *err, size_t errlen)
{
	struct credproc_child c;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int rc = -1, status;

	creds_clear(out);
	memset(&c, 0, sizeof(c));
	c.out_fd = c.err_fd = -1;
	c.out = malloc(CREDPROC_OUT_MAX + 1);
	if (c.out == NULL || pipe2(outp, O_CLOEXEC) == -1 ||
	    pipe2(errp, O_CLOEXEC) == -1) {
		credproc_err(err, errlen, "credential_process: %s",
		    c.out == NULL ? "out of memory" : strerror(errno));
		for (int i = 0; i < 2; i++)
			if (outp[i] != -1)
				close(outp[i]);
		goto done;
	}
	status = credproc_spawn(&c, command, outp[1], errp[1]);
	close(outp[1]);
	close(errp[1]);
	c.out_fd = outp[0];
	c.err_fd = errp[0];
	if (status != 0) {
		credproc_err(err, errlen, "credential_process: cannot run /bin/sh: "
		    "%s", strerror(status));
		goto done;
	}
	status = credproc_wait(&c, lim, err, errlen);
	if (status == -1)
		goto done;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		credproc_failed(&c, status, err, errlen);
	else
		rc = credproc_parse(&c, out, err, errlen);
done:
	if (c.out_fd != -1)
		close(c.out_fd);
	if (c.err_fd != -1)
		close(c.err_fd);
	if (c.out != NULL)
		explicit_bzero(c.out, CREDPROC_OUT_MAX + 1);
	free(c.out);
	explicit_bzero(&c, sizeof(c));
	return rc;
}
