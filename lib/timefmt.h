/* Times: the TIME argument users give, the ISO 8601 times AWS sends, and
 * the formats we print. All UTC; pure functions (the clock is a parameter). */
#ifndef SSMBAK_TIMEFMT_H
#define SSMBAK_TIMEFMT_H

#include <time.h>

#include "err.h"

/* "2024-06-13T01:54:26", optional ".fff", optional "Z" or "+02:00"/"-0530";
 * a space may stand for the 'T'. No zone means UTC. */
int time_parse_iso8601(const char *s, double *out);

/* A TIME argument: any form above, "@1718243666", "now", or relative to now
 * "-90s", "-90m", "-36h", "-7d". Fractions of a second are dropped (restore
 * works in whole seconds). A time after now is refused. ERR_INPUT with a
 * message naming the accepted forms. */
int time_parse_arg(const char *s, time_t now, time_t *out, struct err *e);

/* 9999-12-31T23:59:59Z: later is no time anyone means. */
#define TIME_MAX_SECONDS 253402300799LL

#define TIME_ARG_FORMS \
	"YYYY-MM-DDTHH:MM:SS (UTC), with optional .fff, Z or +HH:MM; " \
	"@UNIXSECONDS; now; -90s, -90m, -36h, -7d"
/* The same for -h, in lines that fit 80 columns. */
#define TIME_ARG_HELP \
	"TIME is UTC: YYYY-MM-DDTHH:MM:SS with optional .fff, Z or +HH:MM;\n" \
	"@UNIXSECONDS; now; or back from now: -90s, -90m, -36h, -7d.\n"

/* "2024-06-13 01:54:26+00:00", the Python ssmbak's Modified column. */
void time_format_table(time_t t, char out[32]);
/* "2024-06-13T01:54:26Z" */
void time_format_iso(time_t t, char out[32]);

#endif
