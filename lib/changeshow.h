/* Printing changes (history, log): the box table or JSON, values masked
 * as preview masks them. */
#ifndef SSMBAK_CHANGESHOW_H
#define SSMBAK_CHANGESHOW_H

#include <stdbool.h>

#include "changelog.h"
#include "cli.h"

#define SECURE_MASK "********"

struct changeshow_opts {
	enum cli_output output;
	bool with_names;   /* log: a Name column */
	bool with_values;  /* history --show-values */
	bool show_secure;
	bool with_details; /* history: type, description, labels */
};

/* Prints r's rows in their order; nothing (table) or [] (JSON) for none.
 * Returns -1 out of memory. */
int changeshow_print(const struct change_rows *r, const struct changeshow_opts *o);

#endif
