/* Text from servers and from parameter values, made safe for a terminal.
 *
 * Everything ssmbak prints that it did not write itself (table cells, log
 * and error lines, progress) goes through escape_append first, so that no
 * answer or value can move the cursor, recolour the screen, retitle the
 * window, hide text, or reorder it. The escapes are visible:
 *
 *   \n \r \t  newline, carriage return, tab
 *   \xHH      any other C0 control (ESC is \x1b), DEL, and a byte that is
 *             not UTF-8
 *   \uHHHH    C1 controls (U+0080-U+009F) and the bidirectional overrides
 *             and isolates (U+202A-U+202E, U+2066-U+2069)
 *
 * Valid UTF-8 otherwise passes as it is, backslashes included: escaping
 * escaped text changes nothing, so a line escaped twice (err_line, then
 * die) reads the same. JSON output is not escaped here: JSON's own
 * escaping applies.
 *
 * Display width is counted without the locale (a static binary in an
 * empty container has only "C", where wcwidth(3) knows no UTF-8): code
 * points are decoded here and measured with lib/width_table.h (East Asian
 * Wide and Fullwidth: 2 columns; combining and format characters: 0). */
#ifndef SSMBAK_ESCAPE_H
#define SSMBAK_ESCAPE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/* Appends s[0..len) escaped; -1 when out of memory or over the cap. */
int escape_append(struct buf *out, const char *s, size_t len);
/* A new escaped copy of a C string (caller frees); NULL out of memory. */
char *escape_dup(const char *s);
/* The same into out (size bytes, always NUL-terminated when size > 0); an
 * escape is never cut in half: once one does not fit, nothing after it is
 * written. Returns the length the whole escaped text needs, as snprintf
 * does. (The error line's escaping, err_line.) */
size_t escape_controls(char *out, size_t size, const char *s);
/* escape_dup under the error line's name. */
char *escape_controls_dup(const char *s);

/* fprintf with the formatted text escaped, but for one newline at its end
 * (kept: it ends the line). For lines that carry names, codes or messages
 * from servers and parameters. -1 when out of memory or on a write error. */
int escape_fprintf(FILE *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int escape_vfprintf(FILE *out, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The UTF-8 character at s (len bytes available): its length in bytes
 * (1 for a byte that does not start a valid sequence, *cp then -1). */
size_t utf8_next(const char *s, size_t len, long *cp);
/* Terminal columns of one code point: 0, 1 or 2 (-1 counts as 1). */
int codepoint_width(long cp);
/* Terminal columns of UTF-8 text. */
size_t display_width(const char *s, size_t len);

#endif
