#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

void err_context(struct err *e, const char *service, const char *operation)
{
	if (!e->service[0])
		copy_field(e->service, sizeof(e->service), service);
	if (!e->operation[0])
		copy_field(e->operation, sizeof(e->operation), operation);
}

const char *err_line(const struct err *e, char *out, size_t size)
{
	size_t n = 0;
#define PUT(...) \
	(n += (size_t)snprintf(out + (n < size ? n : size), \
			       n < size ? size - n : 0, __VA_ARGS__))
	out[0] = '\0';
	if (e->service[0])
		PUT("%s %s: ", e->service, e->operation);
	if (e->code[0])
		PUT("%s: ", e->code);
	else if (e->http_status)
		PUT("HTTP %ld: ", e->http_status);
	PUT("%s", e->message[0] ? e->message : "(no message)");
	if (e->request_id[0])
		PUT(" (request id %s)", e->request_id);
#undef PUT
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
