/* cmd.c - picks the operator command by name. */
#include "cmd.h"

#include <getopt.h>
#include <string.h>

struct cmd {
	const char *name;
	int       (*run)(struct config *cfg, int argc, char **argv);
	const char *summary;
};

static const struct cmd cmd_table[] = {
	{ "register", cmd_register,
	    "create or update this bridge's webhook in CXone" },
	{ "unregister", cmd_unregister, "delete this bridge's webhook in CXone" },
	{ "webhooks", cmd_webhooks, "list the webhooks CXone holds" },
	{ "redrive", cmd_redrive,
	    "republish events from the dead-letter queue to EventBridge" },
};

int
cmd_exists(const char *name)
{
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++)
		if (strcmp(name, cmd_table[i].name) == 0)
			return 1;
	return 0;
}

int
cmd_dispatch(struct config *cfg, int argc, char **argv)
{
	if (argc < 1 || argv[0] == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
		if (strcmp(argv[0], cmd_table[i].name) != 0)
			continue;
		/* Each command parses its own options from argv[1] on. */
		optind = 0;
		return cmd_table[i].run(cfg, argc, argv);
	}
	return -1;
}

void
cmd_usage(FILE *f)
{
	fprintf(f, "commands (cxbridge [-c FILE] COMMAND --help for options):\n");
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++)
		fprintf(f, "  %-16s %s\n", cmd_table[i].name, cmd_table[i].summary);
}
