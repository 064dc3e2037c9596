/* The AWS Lambda Runtime API, for a custom runtime (provided.al2023):
 * wait for the next event, then answer it or report its error.
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html */
#ifndef SSMBAK_LAMBDA_RUNTIME_H
#define SSMBAK_LAMBDA_RUNTIME_H

#include "buf.h"
#include "err.h"

struct lambda_runtime;

struct lambda_invocation {
	char request_id[128];
	long long deadline_ms;
	struct buf event;
};

/* From AWS_LAMBDA_RUNTIME_API ("host:port"). */
struct lambda_runtime *lambda_runtime_new(const char *api, struct err *e);
void lambda_runtime_free(struct lambda_runtime *rt);
/* Blocks until Lambda hands over the next event (no timeout: Lambda freezes
 * the process between events). */
int lambda_next(struct lambda_runtime *rt, struct lambda_invocation *inv,
		struct err *e);
int lambda_respond(struct lambda_runtime *rt, const char *request_id,
		   const char *body, struct err *e);
int lambda_fail(struct lambda_runtime *rt, const char *request_id,
		const char *error_type, const char *message, struct err *e);
/* A broken configuration, before any event: Lambda shows it and stops. */
int lambda_init_error(struct lambda_runtime *rt, const char *error_type,
		      const char *message, struct err *e);
void lambda_invocation_release(struct lambda_invocation *inv);

#endif
