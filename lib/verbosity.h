/* What -q, -v and -vv show, the same in every command (ssmbak(1),
 * VERBOSITY): -q results and errors only; the default adds warnings; -v
 * adds what was chosen (credentials, region, bucket, key prefix, counts);
 * -vv adds one line per AWS request. */
#ifndef SSMBAK_VERBOSITY_H
#define SSMBAK_VERBOSITY_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* verbose: the number of -v; quiet: -q given. Sets the log level. */
void verbosity_set(int verbose, bool quiet);
/* -q was given: no warnings, no progress. */
bool verbosity_quiet(void);

/* One request's line, as -vv prints it:
 * "SSM GetParameter: HTTP 200, 12 ms" (", 2 retries", ", failed").
 * Pure: writes at most size bytes to out. Never a value or a header. */
void verbosity_request_line(char *out, size_t size,
			    const struct http_call_report *r);
/* An http_trace_fn logging that line at LOG_DEBUG. */
void verbosity_trace_request(const struct http_call_report *r, void *user);

struct scope;
/* What a PATH that matched no backed-up key gets (even without -v: a typo
 * must not look like "nothing changed"): one line naming the path, the
 * bucket and what to check. Pure; writes at most size bytes. */
void verbosity_no_keys_line(char *out, size_t size, const struct scope *s,
			    const char *bucket, const char *key_prefix);
/* Logs that line as a warning when n_keys is 0. */
void verbosity_warn_if_no_keys(size_t n_keys, const struct scope *s,
			       const char *bucket, const char *key_prefix);

#endif
