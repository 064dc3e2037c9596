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

static int escape_byte(struct buf *out, unsigned char c)
{
	switch (c) {
	case '\\': return buf_puts(out, "\\\\");
	case 0x1B: return buf_puts(out, "\\e");
	case '\r': return buf_puts(out, "\\r");
	case '\n': return buf_puts(out, "\\n");
	case '\t': return buf_puts(out, "\\t");
	default: return buf_printf(out, "\\x%02x", c);
	}
}

int escape_append(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		long cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		int rc;
		if (cp < 0 || c < 0x20 || c == 0x7F || c == '\\')
			rc = escape_byte(out, c);
		else if (escaped_codepoint(cp))
			rc = buf_printf(out, "\\u%04lx", cp);
		else
			rc = buf_append(out, s + i, n);
		if (rc < 0)
			return -1;
		i += n;
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
