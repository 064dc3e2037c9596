#include "escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The escape for the character at s (its length in *used), or NULL when
 * it prints as it is. */
static const char *escape_of(const unsigned char *s, size_t *used,
			     char tmp[8])
{
	*used = 1;
	switch (s[0]) {
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: break;
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		snprintf(tmp, 8, "\\x%02x", s[0]);
		return tmp;
	}
	/* U+0080..U+009F in UTF-8: C2 80..C2 9F. */
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
		*used = 2;
		snprintf(tmp, 8, "\\u%04x", s[1]);
		return tmp;
	}
	return NULL;
}

size_t escape_controls(char *out, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t need = 0, written = 0;
	bool room = size > 0;
	while (*p) {
		char tmp[8];
		size_t used;
		const char *esc = escape_of(p, &used, tmp);
		size_t len = esc ? strlen(esc) : used;
		/* Once something does not fit, nothing after it is written. */
		room = room && written + len < size;
		if (room) {
			memcpy(out + written, esc ? esc : (const char *)p, len);
			written += len;
		}
		need += len;
		p += used;
	}
	if (size)
		out[written] = '\0';
	return need;
}

char *escape_controls_dup(const char *s)
{
	size_t need = escape_controls(NULL, 0, s);
	char *out = malloc(need + 1);
	if (out)
		escape_controls(out, need + 1, s);
	return out;
}
