/* credproc.h - credentials from a credential_process helper program, as the AWS SDKs run it. */
#ifndef CXB_CREDPROC_H
#define CXB_CREDPROC_H

#include <stddef.h>

#include "credfetch.h"
#include "creds.h"

#define CREDPROC_OUT_MAX ((size_t)64 * 1024)  /* bytes read from stdout */
#define CREDPROC_ERR_MAX 512                  /* stderr kept for the log */

/*
 * Runs command with /bin/sh -c (as the Go and Java SDKs do on Unix):
 * stdin is /dev/null, the child gets its own process group, an empty
 * signal mask and default signal actions.  It is killed (the whole group)
 * when lim->timeout_ms passes or lim->cancel is set.  Blocks: call it from
 * credprov's refresh thread or at start-up only.  stdout, at most
 * CREDPROC_OUT_MAX bytes, must be the SDKs' JSON: {"Version": 1,
 * "AccessKeyId", "SecretAccessKey", optional "SessionToken" and
 * "Expiration" (none: the keys do not expire)}.  Returns 0 with out filled
 * (source "process"), or -1 with out cleared and err saying why: the exit
 * status and the first line of stderr (printable bytes only), a timeout,
 * too much output, or a malformed answer.  Never the output itself.
 */
int credproc_run(const char *command, const struct credfetch_limits *lim,
    struct aws_credentials *out, char *err, size_t errlen);

#endif
