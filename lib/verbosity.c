#include "verbosity.h"

#include <stdio.h>

#include "scope.h"
#include "util.h"

static bool quiet;

void verbosity_set(int verbose, bool q)
{
	quiet = q;
	if (q)
		log_set_level(LOG_ERROR);
	else if (verbose > 1)
		log_set_level(LOG_DEBUG);
	else if (verbose == 1)
		log_set_level(LOG_INFO);
}

bool verbosity_quiet(void)
{
	return quiet;
}

void verbosity_request_line(char *out, size_t size,
			    const struct http_call_report *r)
{
	int n;
	if (r->status)
		n = snprintf(out, size, "%s %s: HTTP %ld, %.0f ms", r->service,
			     r->operation, r->status, r->seconds * 1000);
	else
		n = snprintf(out, size, "%s %s: no answer, %.0f ms", r->service,
			     r->operation, r->seconds * 1000);
	if (n < 0 || (size_t)n >= size)
		return;
	if (r->retries)
		n += snprintf(out + n, size - (size_t)n, ", %d %s", r->retries,
			      r->retries == 1 ? "retry" : "retries");
	if (r->failed && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, ", failed");
}

void verbosity_trace_request(const struct http_call_report *r, void *user)
{
	(void)user;
	char line[200];
	verbosity_request_line(line, sizeof(line), r);
	log_msg(LOG_DEBUG, "%s", line);
}

void verbosity_no_keys_line(char *out, size_t size, const struct scope *s,
			    const char *bucket, const char *key_prefix)
{
	bool prefixed = key_prefix && *key_prefix;
	snprintf(out, size,
		 "no backed-up key %s %s in s3://%s%s%s%s: check PATH%s%s",
		 s->recursive ? "under" : "directly under", s->prefix, bucket,
		 prefixed ? " (key prefix " : "", prefixed ? key_prefix : "",
		 prefixed ? ")" : "", prefixed ? " and --key-prefix" : "",
		 s->recursive ? "" : ", or add -R for the whole tree");
}

void verbosity_warn_if_no_keys(size_t n_keys, const struct scope *s,
			       const char *bucket, const char *key_prefix)
{
	if (n_keys)
		return;
	char line[1400];
	verbosity_no_keys_line(line, sizeof(line), s, bucket, key_prefix);
	log_msg(LOG_WARN, "%s", line);
}
