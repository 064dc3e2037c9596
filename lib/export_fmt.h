/* Pure: the formats export writes, and how a parameter's name becomes a
 * variable name (ssmbak-export(1), "NAMES"). Chamber's rule, generalized
 * to trees: the name below PATH, levels joined by '_' for variables. */
#ifndef SSMBAK_EXPORT_FMT_H
#define SSMBAK_EXPORT_FMT_H

#include <stdio.h>

enum export_format { EXPORT_JSON, EXPORT_YAML, EXPORT_DOTENV, EXPORT_SHELL,
		     EXPORT_TFVARS };

/* -1 when s names no format. */
int export_format_parse(const char *s, enum export_format *out);

/* The name of key below scope: "/app/db/url" below "/app/" is "db/url";
 * in key mode (scope is the key) its last level. Caller frees. */
char *export_relative_name(const char *key, const char *scope, int key_mode);

/* The variable name for a relative name: json and yaml keep it; dotenv
 * and shell upper-case it and turn every character outside [A-Z0-9_]
 * into '_'; tfvars keeps the case and turns every character outside
 * [A-Za-z0-9_-] into '_'; a name starting with a digit gets a leading
 * '_'. Caller frees. */
char *export_variable_name(const char *relative, enum export_format f);

struct export_pair {
	const char *name;  /* the variable name */
	const char *value;
};

/* Writes the pairs (already sorted) in the format. -1 out of memory. */
int export_write(FILE *out, enum export_format f, const struct export_pair *p,
		 size_t n);

#endif
