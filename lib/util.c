#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "exitcode.h"

/* Copied, so callers may pass a temporary. */
static char the_progname[64] = "ssmbak";
static enum log_level the_level = LOG_WARN;

void set_progname(const char *name)
{
	snprintf(the_progname, sizeof(the_progname), "%s", name);
}

const char *progname(void)
{
	return the_progname;
}

void log_set_level(enum log_level level)
{
	the_level = level;
}

void log_set_level_name(const char *name)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "DEBUG", LOG_DEBUG }, { "INFO", LOG_INFO },
		{ "WARNING", LOG_WARN }, { "WARN", LOG_WARN },
		{ "ERROR", LOG_ERROR }, { "CRITICAL", LOG_ERROR },
	};
	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			the_level = names[i].level;
}

bool log_enabled(enum log_level level)
{
	return level <= the_level;
}

/* One line on stderr: messages carry names, codes and messages from
 * servers and parameters, escaped (lib/escape.h) so that none of them can
 * break the line or drive the terminal. */
static void print_line(const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void print_line(const char *suffix, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", the_progname);
	if (escape_vfprintf(stderr, fmt, ap) < 0)
		fputs("(message lost: out of memory)", stderr);
	fprintf(stderr, "%s\n", suffix);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	print_line("", fmt, ap);
	va_end(ap);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	print_line("", fmt, ap);
	va_end(ap);
	exit(code);
}

void die_err(const struct err *e)
{
	char line[ERR_LINE_MAX];
	die(err_exit_code(e), "%s", err_line(e, line, sizeof(line)));
}

void die_usage(const char *fmt, ...)
{
	char suffix[96];
	snprintf(suffix, sizeof(suffix), " (see '%s --help')", the_progname);
	va_list ap;
	va_start(ap, fmt);
	print_line(suffix, fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

static void *checked(void *p)
{
	if (!p)
		die(EXIT_FAILURE_RUN, "out of memory");
	return p;
}

void *xmalloc(size_t size)
{
	return checked(malloc(size ? size : 1));
}

void *xcalloc(size_t n, size_t size)
{
	return checked(calloc(n ? n : 1, size ? size : 1));
}

void *xrealloc(void *p, size_t size)
{
	return checked(realloc(p, size ? size : 1));
}

char *xstrdup(const char *s)
{
	return checked(strdup(s));
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	return s;
}
