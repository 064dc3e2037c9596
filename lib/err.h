/* The error value library code hands back: enough to print one clear line
 * (service, operation, code, message, request id) and for a command to pick
 * its exit code. Fixed size, so it never needs freeing. */
#ifndef SSMBAK_ERR_H
#define SSMBAK_ERR_H

#include <stdbool.h>
#include <stddef.h>

enum err_kind {
	ERR_NONE = 0,
	ERR_AWS,      /* the service answered with an error */
	ERR_NETWORK,  /* no answer: connect, TLS, timeout, reset */
	ERR_CONFIG,   /* no credentials, region, bucket; bad config file */
	ERR_INPUT,    /* bad input from the user */
	ERR_PARSE,    /* an answer we could not understand */
	ERR_NOMEM,
	ERR_SYSTEM,   /* a local system call failed */
	ERR_BUSY,     /* held by another run (a restore lease): exit 1 */
};

struct err {
	enum err_kind kind;
	bool retryable;
	long http_status;
	char service[32];
	char operation[48];
	char code[64];
	char request_id[80];
	char message[512];
};

void err_clear(struct err *e);
void err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void err_set_aws(struct err *e, const char *service, const char *operation,
		 long status, const char *code, const char *message,
		 const char *request_id);
/* An answer that does not have the shape the operation promises: ERR_PARSE
 * with service and operation set, whatever e held before, so the line
 * reads "S3 ListObjectVersions: the answer ...". */
void err_set_answer(struct err *e, const char *service, const char *operation,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Tags an error with where it happened, if not already known. */
void err_context(struct err *e, const char *service, const char *operation);
/* One line, no newline, server text escaped (escape.h): "SSM GetParameter:
 * ParameterNotFound: ... (request
 * id ...)". Returns out. */
const char *err_line(const struct err *e, char *out, size_t size);
/* The exit code this error deserves under the documented table. */
int err_exit_code(const struct err *e);

#define ERR_LINE_MAX 800

#endif
