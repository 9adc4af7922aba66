/* cmd.h - the operator commands beside the daemon: register, unregister, webhooks, redrive. */
#ifndef CXB_CMD_H
#define CXB_CMD_H

#include <stdio.h>

struct config;

/*
 * Each command gets the loaded configuration (borrowed) and its own
 * arguments: argv[0] is the command's name, options follow.  The caller
 * has called curl_global_init.  Each returns the process exit status:
 * CMD_OK, CMD_FAILED (nothing or not everything was done; the reason is on
 * stderr), CMD_USAGE (bad arguments), or, for redrive, CMD_PARTIAL.
 */
#define CMD_OK      0
#define CMD_FAILED  1
#define CMD_USAGE   2
#define CMD_PARTIAL 3   /* redrive: some messages were left in the queue */

int cmd_register(struct config *cfg, int argc, char **argv);
int cmd_unregister(struct config *cfg, int argc, char **argv);
int cmd_webhooks(struct config *cfg, int argc, char **argv);
int cmd_redrive(struct config *cfg, int argc, char **argv);

/*
 * Runs the command named argv[0] (argc >= 1).  Returns its exit status,
 * or -1 when argv[0] names no command (nothing was run or printed).
 */
int cmd_dispatch(struct config *cfg, int argc, char **argv);

/* 1 if name is a command, else 0: lets the caller refuse an unknown word
 * as a usage error before it loads the configuration. */
int cmd_exists(const char *name);

/* Writes the list of commands, for the daemon's usage text. */
void cmd_usage(FILE *f);

#endif
