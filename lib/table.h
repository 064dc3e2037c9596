/* The box table the Python ssmbak prints (prettytable's look):
 *
 * +------+-------+
 * | Name | Value |
 * +------+-------+
 * | /a   | x     |
 * +------+-------+
 *
 * Left aligned; a cell longer than the wrap width, or holding newlines,
 * spans several lines. Widths count characters, not bytes. */
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
