#include "escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "width_table.h"

size_t utf8_next(const char *s, size_t len, long *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;
	long min, c;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	} else if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		n = 2, min = 0x80, c = u[0] & 0x1F;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		n = 3, min = 0x800, c = u[0] & 0x0F;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		n = 4, min = 0x10000, c = u[0] & 0x07;
	} else {
		*cp = -1;
		return 1;
	}
	if (len < n)
		goto invalid;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto invalid;
		c = (c << 6) | (u[i] & 0x3F);
	}
	/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF are not
	 * UTF-8 (RFC 3629, section 3). */
	if (c < min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		goto invalid;
	*cp = c;
	return n;
invalid:
	*cp = -1;
	return 1;
}

static bool in_ranges(const struct width_range *r, size_t n, long cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((unsigned long)cp < r[mid].first)
			hi = mid;
		else if ((unsigned long)cp > r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

int codepoint_width(long cp)
{
	if (cp < 0x300)
		return 1;
	if (in_ranges(zero_width, sizeof(zero_width) / sizeof(zero_width[0]), cp))
		return 0;
	if (in_ranges(double_width,
		      sizeof(double_width) / sizeof(double_width[0]), cp))
		return 2;
	return 1;
}

size_t display_width(const char *s, size_t len)
{
	size_t width = 0;
	for (size_t i = 0; i < len;) {
		long cp;
		i += utf8_next(s + i, len - i, &cp);
		width += (size_t)codepoint_width(cp);
	}
	return width;
}

/* C1 controls and the bidirectional embeddings, overrides and isolates
 * ("Trojan Source", CVE-2021-42574): shown, not obeyed. */
static bool escaped_codepoint(long cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* The character at s (len bytes left): how many bytes it takes (*used),
 * and its escape in tmp, or NULL when it prints as it is. */
static const char *escape_of(const char *s, size_t len, size_t *used,
			     char tmp[16])
{
	unsigned char c = (unsigned char)s[0];
	long cp;
	*used = utf8_next(s, len, &cp);
	switch (c) {
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: break;
	}
	if (cp < 0 || c < 0x20 || c == 0x7F) {
		snprintf(tmp, 16, "\\x%02x", c);
		return tmp;
	}
	if (escaped_codepoint(cp)) {
		snprintf(tmp, 16, "\\u%04x", (unsigned)cp);
		return tmp;
	}
	return NULL;
}

int escape_append(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		char tmp[16];
		size_t used;
		const char *esc = escape_of(s + i, len - i, &used, tmp);
		if ((esc ? buf_puts(out, esc) : buf_append(out, s + i, used)) < 0)
			return -1;
		i += used;
	}
	return 0;
}

char *escape_dup(const char *s)
{
	struct buf out = BUF_INIT;
	if (escape_append(&out, s, strlen(s)) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out);
}

size_t escape_controls(char *out, size_t size, const char *s)
{
	s = s ? s : "";
	size_t len = strlen(s), need = 0, written = 0;
	bool room = size > 0;
	for (size_t i = 0; i < len;) {
		char tmp[16];
		size_t used;
		const char *esc = escape_of(s + i, len - i, &used, tmp);
		size_t n = esc ? strlen(esc) : used;
		/* Once something does not fit, nothing after it is written. */
		room = room && written + n < size;
		if (room) {
			memcpy(out + written, esc ? esc : s + i, n);
			written += n;
		}
		need += n;
		i += used;
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

int escape_vfprintf(FILE *out, const char *fmt, va_list ap)
{
	struct buf raw = BUF_INIT, line = BUF_INIT;
	int rc = buf_vprintf(&raw, fmt, ap);
	bool newline = rc == 0 && raw.len && raw.data[raw.len - 1] == '\n';
	if (rc == 0)
		rc = escape_append(&line, buf_str(&raw), raw.len - newline);
	if (rc == 0 && newline)
		rc = buf_putc(&line, '\n');
	if (rc == 0 && fwrite(buf_str(&line), 1, line.len, out) != line.len)
		rc = -1;
	buf_release(&raw);
	buf_release(&line);
	return rc;
}

int escape_fprintf(FILE *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = escape_vfprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}
