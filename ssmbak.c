/* ssmbak: one binary, many commands. The command is the basename of argv[0]
 * (ssmbak-all, ssmbak-stack, bootstrap) or, for "ssmbak", its first word.
 *
 * usage: ssmbak COMMAND [ARGS...]
 *        ssmbak help [COMMAND] | --help | --version
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "lib/exitcode.h"
#include "lib/harden.h"
#include "lib/util.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

const struct command ssmbak_commands[] = {
	{ "preview", cmd_preview, "show what a restore to TIME would change" },
	{ "restore", cmd_restore, "put parameters back as they were at TIME" },
	{ "history", cmd_history, "every recorded change of one parameter" },
	{ "log", cmd_log, "every change under a path in a time window" },
	{ "diff", cmd_diff, "what differs between a tree at two times" },
	{ "export", cmd_export, "a tree at TIME as JSON, YAML, dotenv, shell or tfvars" },
	{ "backfill", cmd_backfill, "back up every parameter's current value (seed)" },
	{ "reindex", cmd_reindex, "write the change index entries versions lack" },
	{ "verify", cmd_verify, "check the bucket against SSM; --repair what it lacks" },
	{ "stack", cmd_stack, "deploy the backup pipeline (CloudFormation stack)" },
	{ "backup-lambda", cmd_backup_lambda,
	  "the Lambda that records every change (runs as bootstrap)" },
	{ "help", cmd_help, "show help for ssmbak or one command" },
	{ "version", cmd_version, "print the version" },
	{ NULL, NULL, NULL },
};

/* Names the binary answers to when called through a link or copy. */
static const struct {
	const char *argv0;
	const char *command;
} aliases[] = {
	{ "ssmbak-all", "backfill" },
	{ "ssmbak-stack", "stack" },
	{ "bootstrap", "backup-lambda" },
};

const struct command *command_find(const char *name)
{
	for (const struct command *c = ssmbak_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_overview(FILE *out)
{
	fprintf(out,
		"usage: ssmbak COMMAND [ARGS...]\n"
		"\n"
		"Point-in-time backup and restore for AWS SSM Parameter Store.\n"
		"\n"
		"Commands:\n");
	for (const struct command *c = ssmbak_commands; c->name; c++)
		fprintf(out, "  %-14s %s\n", c->name, c->summary);
	fprintf(out,
		"\n"
		"Run 'ssmbak COMMAND --help' for a command's options; "
		"man ssmbak for more.\n"
		"Exit status: 0 ok, 1 failure, 2 usage error, "
		"3 configuration error.\n"
		"'ssmbak -V' or 'ssmbak --version' prints the version.\n");
}

static int cmd_version(int argc, char **argv)
{
	printf("ssmbak %s\n", SSMBAK_VERSION);
	return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		print_overview(stdout);
		return EXIT_OK;
	}
	const struct command *c = command_find(argv[1]);
	if (!c)
		die_usage("no such command: '%s'", argv[1]);
	char *help_argv[] = { (char *)c->name, "--help", NULL };
	char name[64];
	snprintf(name, sizeof(name), "ssmbak %s", c->name);
	set_progname(name);
	return c->run(2, help_argv);
}

static int run_command(const struct command *c, int argc, char **argv,
		       const char *shown_as)
{
	set_progname(shown_as);
	/* getopt names argv[0] in its messages: "ssmbak stack: unrecognized
	 * option", not "stack: ...". */
	argv[0] = (char *)shown_as;
	return c->run(argc, argv);
}

int main(int argc, char **argv)
{
	/* Before anything is read: SecureString values are held decrypted. */
	struct err e = { 0 };
	if (harden_process(&e) < 0)
		die_err(&e);

	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : (argc > 0 ? argv[0] : "ssmbak");

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		const struct command *c = command_find(aliases[i].command);
		if (c && strcmp(base, aliases[i].argv0) == 0)
			return run_command(c, argc, argv, aliases[i].argv0);
	}

	if (argc < 2) {
		print_overview(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv + 1);

	const struct command *c = command_find(argv[1]);
	if (!c) {
		fprintf(stderr, "ssmbak: unknown command '%s'\n\n", argv[1]);
		print_overview(stderr);
		return EXIT_USAGE;
	}
	char name[64];
	snprintf(name, sizeof(name), "ssmbak %s", c->name);
	return run_command(c, argc - 1, argv + 1, name);
}
