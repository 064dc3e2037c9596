#include "cmdargs.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "timefmt.h"
#include "util.h"

/* Whether the option word arg consumes the next word as its value, read
 * off the same tables getopt uses. */
static bool takes_next_word(const char *arg, const struct option *longopts,
			    const char *shortopts)
{
	if (arg[1] == '-') {
		const char *name = arg + 2;
		if (strchr(name, '='))
			return false;
		for (const struct option *opt = longopts; opt->name; opt++)
			if (strncmp(opt->name, name, strlen(name)) == 0)
				return opt->has_arg == required_argument;
		return false;
	}
	for (const char *p = arg + 1; *p; p++) {
		const char *spec = strchr(shortopts + (*shortopts == '+'), *p);
		if (spec && spec[1] == ':')
			return p[1] == '\0';
	}
	return false;
}

void cmd_words_split(int argc, char **argv, const struct option *longopts,
		     const char *shortopts, struct cmd_words *w)
{
	w->opts = xcalloc((size_t)argc + 1, sizeof(*w->opts));
	w->pos = xcalloc((size_t)argc + 1, sizeof(*w->pos));
	w->n_opts = w->n_pos = 0;
	w->opts[w->n_opts++] = (char *)progname();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				w->pos[w->n_pos++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] &&
			   !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
			w->opts[w->n_opts++] = argv[i];
			if (takes_next_word(argv[i], longopts, shortopts) &&
			    i + 1 < argc)
				w->opts[w->n_opts++] = argv[++i];
		} else {
			w->pos[w->n_pos++] = argv[i];
		}
	}
}

void cmd_words_release(struct cmd_words *w)
{
	free(w->opts);
	free(w->pos);
	memset(w, 0, sizeof(*w));
}

time_t cmd_time_arg(const char *what, const char *s, const char *usage)
{
	struct err e = { 0 };
	time_t t;
	if (time_parse_arg(s, time(NULL), &t, &e) < 0)
		cli_usage_error(usage, "%s: %s", what, e.message);
	return t;
}
