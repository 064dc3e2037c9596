#include "table.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"

struct table {
	size_t columns;
	char **headers;
	char **cells; /* rows * columns */
	size_t rows;
	size_t cap;
};

/* Cells hold text from servers and parameters: escaped (lib/escape.h),
 * so a cell is one line of printable characters that can be measured. */
static char *dup_cell(const char *s)
{
	return escape_dup(s ? s : "");
}

struct table *table_new(const char *const *headers, size_t columns)
{
	struct table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->columns = columns;
	t->headers = calloc(columns, sizeof(*t->headers));
	for (size_t i = 0; t->headers && i < columns; i++)
		if (!(t->headers[i] = dup_cell(headers[i]))) {
			table_free(t);
			return NULL;
		}
	if (!t->headers) {
		table_free(t);
		return NULL;
	}
	return t;
}

int table_add_row(struct table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **grown = realloc(t->cells, cap * t->columns * sizeof(*grown));
		if (!grown)
			return -1;
		t->cells = grown;
		t->cap = cap;
	}
	char **row = t->cells + t->rows * t->columns;
	for (size_t i = 0; i < t->columns; i++) {
		if (!(row[i] = dup_cell(cells[i]))) {
			while (i--)
				free(row[i]);
			return -1;
		}
	}
	t->rows++;
	return 0;
}

size_t table_rows(const struct table *t)
{
	return t->rows;
}

/* Bytes of the next display line of s: up to wrap terminal columns (a
 * wide character that would pass the edge starts the next line; zero
 * width characters stay with the one they follow). *next is where the
 * following line starts; *width the line's columns. */
static size_t line_bytes(const char *s, size_t wrap, const char **next,
			 size_t *width)
{
	size_t i = 0, n = 0, len = strlen(s);
	while (i < len) {
		long cp;
		size_t b = utf8_next(s + i, len - i, &cp);
		size_t w = (size_t)codepoint_width(cp);
		if (n > 0 && w > 0 && n + w > wrap)
			break;
		n += w;
		i += b;
	}
	*next = s + i;
	*width = n;
	return i;
}

static size_t cell_lines(const char *s, size_t wrap, size_t *width)
{
	size_t lines = 0;
	const char *p = s, *next;
	do {
		size_t w;
		line_bytes(p, wrap, &next, &w);
		if (w > *width)
			*width = w;
		lines++;
		p = next;
	} while (*p);
	return lines;
}

static void print_rule(FILE *out, const size_t *widths, size_t columns)
{
	for (size_t i = 0; i < columns; i++) {
		fputc('+', out);
		for (size_t k = 0; k < widths[i] + 2; k++)
			fputc('-', out);
	}
	fputs("+\n", out);
}

static void print_row(FILE *out, char *const *cells, const size_t *widths,
		      size_t columns, size_t wrap)
{
	const char *pos[64];
	size_t height = 1;
	for (size_t i = 0; i < columns; i++) {
		size_t unused = 0;
		size_t h = cell_lines(cells[i], wrap, &unused);
		if (h > height)
			height = h;
		pos[i] = cells[i];
	}
	for (size_t line = 0; line < height; line++) {
		for (size_t i = 0; i < columns; i++) {
			const char *next;
			size_t w;
			size_t b = line_bytes(pos[i], wrap, &next, &w);
			fprintf(out, "| %.*s", (int)b, pos[i]);
			for (size_t k = w; k < widths[i] + 1; k++)
				fputc(' ', out);
			pos[i] = next;
		}
		fputs("|\n", out);
	}
}

int table_print(const struct table *t, FILE *out, size_t wrap)
{
	if (t->rows == 0)
		return 0;
	if (t->columns > 64)
		return -1;
	size_t *widths = calloc(t->columns, sizeof(*widths));
	if (!widths)
		return -1;
	for (size_t i = 0; i < t->columns; i++) {
		cell_lines(t->headers[i], (size_t)-1, &widths[i]);
		for (size_t r = 0; r < t->rows; r++)
			cell_lines(t->cells[r * t->columns + i], wrap, &widths[i]);
	}
	print_rule(out, widths, t->columns);
	print_row(out, t->headers, widths, t->columns, (size_t)-1);
	print_rule(out, widths, t->columns);
	for (size_t r = 0; r < t->rows; r++)
		print_row(out, t->cells + r * t->columns, widths, t->columns,
			  wrap);
	print_rule(out, widths, t->columns);
	free(widths);
	return 0;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->headers && i < t->columns; i++)
		free(t->headers[i]);
	for (size_t i = 0; i < t->rows * t->columns; i++)
		free(t->cells[i]);
	free(t->headers);
	free(t->cells);
	free(t);
}
