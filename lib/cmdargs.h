/* The command lines of the commands that read the bucket (history, log,
 * diff, export): preview's conventions, so "-90m" is a TIME and options
 * may follow the arguments ("PATH TIME --recursive", as the Python tool
 * took them). Usage errors exit 2, as lib/cli.c's do. PATH arguments:
 * cli_path_argument, and lib/scope for which keys they mean. */
#ifndef SSMBAK_CMDARGS_H
#define SSMBAK_CMDARGS_H

#include <getopt.h>
#include <time.h>

struct cmd_words {
	char **opts;  /* opts[0] the program name, then options for getopt */
	int n_opts;
	char **pos;   /* the positional words */
	int n_pos;
};

/* Splits argv: a word starting with '-' and not a digit is an option
 * (with its value when longopts/shortopts say it takes one), "--" ends
 * the options. */
void cmd_words_split(int argc, char **argv, const struct option *longopts,
		     const char *shortopts, struct cmd_words *w);
void cmd_words_release(struct cmd_words *w);

/* A TIME argument (lib/timefmt's forms); a bad one is a usage error
 * naming what. */
time_t cmd_time_arg(const char *what, const char *s, const char *usage);

#endif
