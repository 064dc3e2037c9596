/* Every command: int cmd_NAME(int argc, char **argv), argv[0] being the
 * command's own name. Each returns its exit status (lib/exitcode.h). */
#ifndef SSMBAK_COMMANDS_H
#define SSMBAK_COMMANDS_H

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* The table in ssmbak.c; NULL-terminated. */
extern const struct command ssmbak_commands[];
const struct command *command_find(const char *name);

int cmd_preview(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_backfill(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stack(int argc, char **argv);
int cmd_backup_lambda(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
