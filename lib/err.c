#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "exitcode.h"

static void copy_field(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void err_clear(struct err *e)
{
	memset(e, 0, sizeof(*e));
}

void err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	char service[sizeof(e->service)], operation[sizeof(e->operation)];
	copy_field(service, sizeof(service), e->service);
	copy_field(operation, sizeof(operation), e->operation);
	err_clear(e);
	copy_field(e->service, sizeof(e->service), service);
	copy_field(e->operation, sizeof(e->operation), operation);
	e->kind = kind;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

void err_set_aws(struct err *e, const char *service, const char *operation,
		 long status, const char *code, const char *message,
		 const char *request_id)
{
	err_clear(e);
	e->kind = ERR_AWS;
	e->http_status = status;
	copy_field(e->service, sizeof(e->service), service);
	copy_field(e->operation, sizeof(e->operation), operation);
	copy_field(e->code, sizeof(e->code), code);
	copy_field(e->message, sizeof(e->message), message);
	copy_field(e->request_id, sizeof(e->request_id), request_id);
}

void err_set_answer(struct err *e, const char *service, const char *operation,
		    const char *fmt, ...)
{
	err_clear(e);
	e->kind = ERR_PARSE;
	copy_field(e->service, sizeof(e->service), service);
	copy_field(e->operation, sizeof(e->operation), operation);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

void err_context(struct err *e, const char *service, const char *operation)
{
	if (!e->service[0])
		copy_field(e->service, sizeof(e->service), service);
	if (!e->operation[0])
		copy_field(e->operation, sizeof(e->operation), operation);
}

/* Appends text to out at *n, with what a server sent escaped: the line
 * stays one line and no escape sequence reaches the terminal. */
static void put_escaped(char *out, size_t size, size_t *n, const char *text)
{
	size_t at = *n < size ? *n : size - 1;
	*n += escape_controls(out + at, size - at, text);
}

const char *err_line(const struct err *e, char *out, size_t size)
{
	size_t n = 0;
	char status[32];
	if (!size)
		return out;
	out[0] = '\0';
	if (e->service[0]) {
		put_escaped(out, size, &n, e->service);
		put_escaped(out, size, &n, " ");
		put_escaped(out, size, &n, e->operation);
		put_escaped(out, size, &n, ": ");
	}
	if (e->code[0]) {
		put_escaped(out, size, &n, e->code);
		put_escaped(out, size, &n, ": ");
	} else if (e->http_status) {
		snprintf(status, sizeof(status), "HTTP %ld: ", e->http_status);
		put_escaped(out, size, &n, status);
	}
	put_escaped(out, size, &n, e->message[0] ? e->message : "(no message)");
	if (e->request_id[0]) {
		put_escaped(out, size, &n, " (request id ");
		put_escaped(out, size, &n, e->request_id);
		put_escaped(out, size, &n, ")");
	}
	return out;
}

int err_exit_code(const struct err *e)
{
	switch (e->kind) {
	case ERR_NONE:
		return EXIT_OK;
	case ERR_CONFIG:
		return EXIT_CONFIG;
	case ERR_INPUT:
		return EXIT_USAGE;
	default:
		return EXIT_FAILURE_RUN;
	}
}
