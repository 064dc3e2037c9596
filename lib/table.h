/* The box table the Python ssmbak prints (prettytable's look):
 *
 * +------+-------+
 * | Name | Value |
 * +------+-------+
 * | /a   | x     |
 * +------+-------+
 *
 * Left aligned; a cell wider than the wrap width spans several lines.
 * Cells are escaped (lib/escape.h: a newline, tab or ESC in a value shows
 * as \n, \t, \x1b), and widths count terminal columns (East Asian wide
 * characters two, combining marks none), so the box stays aligned. */
#ifndef SSMBAK_TABLE_H
#define SSMBAK_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_WRAP 40

struct table;

struct table *table_new(const char *const *headers, size_t columns);
/* Copies the cells; NULL cells print empty. Returns -1 out of memory. */
int table_add_row(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* Prints nothing when the table has no rows. */
int table_print(const struct table *t, FILE *out, size_t wrap);
void table_free(struct table *t);

#endif
