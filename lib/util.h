/* Helpers for command code only: x-prefixed calls succeed or end the
 * program with one line on stderr, and the log goes to stderr. Library code
 * must not use the x* helpers or die(). */
#ifndef SSMBAK_UTIL_H
#define SSMBAK_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The name messages start with, e.g. "ssmbak preview". */
void set_progname(const char *name);
const char *progname(void);

void log_set_level(enum log_level level);
/* LOGLEVEL as Lambda users write it: DEBUG, INFO, WARNING, ERROR. */
void log_set_level_name(const char *name);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

_Noreturn void die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
_Noreturn void die_err(const struct err *e);
/* A usage error: the message, a pointer to --help, exit 2. */
_Noreturn void die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
