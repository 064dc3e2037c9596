/* Text from a server, made safe to print on one line: control characters
 * (C0, DEL and the C1 range U+0080..U+009F, which terminals also obey) are
 * written as visible escapes, so an error code, message or request id can
 * neither break a line nor send a terminal an escape sequence. */
#ifndef SSMBAK_ESCAPE_H
#define SSMBAK_ESCAPE_H

#include <stddef.h>

/* Writes s to out (size bytes, always NUL-terminated when size > 0) with
 * "\n", "\r", "\t" for those three, "\xHH" for other C0 bytes and DEL,
 * "\u00HH" for C1 characters; an escape is never cut in half. Returns the
 * length the whole escaped text needs, as snprintf does. */
size_t escape_controls(char *out, size_t size, const char *s);
/* The same into a new string (caller frees); NULL when out of memory. */
char *escape_controls_dup(const char *s);

#endif
