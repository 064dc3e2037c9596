/* Progress on stderr for the long commands (preview, restore, backfill,
 * reindex), the same everywhere: only when stderr is a terminal and -q was
 * not given; the first update at once, then at most PROGRESS_PER_SECOND a
 * second (one a second under TERM=dumb); on a terminal one line repainted
 * with \r and cleared at the end; under TERM=dumb whole lines, no control
 * sequences. */
#ifndef SSMBAK_PROGRESS_H
#define SSMBAK_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "http.h"

#define PROGRESS_PER_SECOND 4

struct progress {
	FILE *out;        /* NULL: no progress shown */
	bool plain;       /* TERM=dumb: a line per update, no repaint */
	const char *what; /* "reading", "writing" */
	double last;      /* monotonic seconds of the last update shown */
	bool shown;       /* an update was shown (a line to clear) */
};

/* Decides from stderr, TERM and -q. what: static text. */
void progress_init(struct progress *p, const char *what);
/* The same with the choices given (for tests): out NULL for none. */
void progress_init_to(struct progress *p, const char *what, FILE *out,
		      bool plain);
/* Whether an update at now (monotonic seconds) is shown: the first one,
 * under TERM=dumb the final one, else when the interval since the last one
 * passed. Pure. */
bool progress_due(const struct progress *p, double now, bool final);
/* "ssmbak restore: writing 12/400", if due (done == total > 1 is final). */
void progress_count(struct progress *p, size_t done, size_t total);
/* A free-form update (what is not used), if due. */
void progress_show(struct progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Clears the line, on a terminal, so what follows starts clean. */
void progress_end(struct progress *p);

/* Reports each batch of requests of c as "what done/total" until
 * progress_detach (which also ends the line). */
void progress_attach(struct progress *p, struct http_client *c,
		     const char *what);
void progress_detach(struct progress *p, struct http_client *c);

#endif
