#include "cmdargs.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ssm_name.h"
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

char *cmd_path_arg(const char *path, const char *usage)
{
	if (!*path)
		cli_usage_error(usage, "PATH is empty; give a key like /app/db/url "
				       "or a path like /app/");
	const char *why = ssm_name_problem(path, SSM_NAME_PATH, NULL);
	if (why)
		cli_usage_error(usage, "PATH '%s' %s", cli_shown_arg(path), why);
	return xasprintf("%s%s", path[0] == '/' ? "" : "/", path);
}

time_t cmd_time_arg(const char *what, const char *s, const char *usage)
{
	struct err e = { 0 };
	time_t t;
	if (time_parse_arg(s, time(NULL), &t, &e) < 0)
		cli_usage_error(usage, "%s: %s", what, e.message);
	return t;
}

static size_t count_slashes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '/';
	return n;
}

bool cmd_in_scope(const char *key, const char *scope, bool key_mode,
		  bool recursive)
{
	if (key_mode)
		return strcmp(key, scope) == 0;
	size_t len = strlen(scope);
	if (strncmp(key, scope, len) != 0 || !key[len])
		return false;
	return recursive || count_slashes(key) == count_slashes(scope);
}
