#include "progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "verbosity.h"

static double monotonic_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init_to(struct progress *p, const char *what, FILE *out,
		      bool plain)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
	p->plain = plain;
	p->what = what;
}

void progress_init(struct progress *p, const char *what)
{
	/* A dumb terminal (Emacs shell buffers, some CI logs) shows \r and
	 * escape sequences as text. */
	const char *term = getenv("TERM");
	bool on = isatty(STDERR_FILENO) && !verbosity_quiet();
	progress_init_to(p, what, on ? stderr : NULL,
			 term && strcmp(term, "dumb") == 0);
}

bool progress_due(const struct progress *p, double now, bool final)
{
	if (!p->out)
		return false;
	/* The final count matters where lines stay (TERM=dumb); on a
	 * terminal the line is cleared at once anyway. */
	if (!p->shown || (final && p->plain))
		return true;
	double interval = p->plain ? 1.0 : 1.0 / PROGRESS_PER_SECOND;
	return now - p->last >= interval;
}

static void show_line(struct progress *p, double now, const char *line)
{
	if (p->plain)
		fprintf(p->out, "%s: %s\n", progname(), line);
	else
		fprintf(p->out, "\r%s: %s\033[K", progname(), line);
	fflush(p->out);
	p->last = now;
	p->shown = true;
}

void progress_count(struct progress *p, size_t done, size_t total)
{
	double now = p->out ? monotonic_seconds() : 0;
	if (!progress_due(p, now, done == total && total > 1))
		return;
	char line[160];
	snprintf(line, sizeof(line), "%s %zu/%zu", p->what, done, total);
	show_line(p, now, line);
}

void progress_show(struct progress *p, const char *fmt, ...)
{
	double now = p->out ? monotonic_seconds() : 0;
	if (!progress_due(p, now, false))
		return;
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	show_line(p, now, line);
}

void progress_end(struct progress *p)
{
	if (p->out && p->shown && !p->plain) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
	}
	p->shown = false;
}

static void on_batch_progress(size_t done, size_t total, void *user)
{
	progress_count(user, done, total);
}

void progress_attach(struct progress *p, struct http_client *c,
		     const char *what)
{
	progress_init(p, what);
	http_client_set_progress(c, p->out ? on_batch_progress : NULL, p);
}

void progress_detach(struct progress *p, struct http_client *c)
{
	http_client_set_progress(c, NULL, NULL);
	progress_end(p);
}
