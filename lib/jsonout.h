/* What every command's --output json shares (ssmbak(1) CONVENTIONS). */
#ifndef SSMBAK_JSONOUT_H
#define SSMBAK_JSONOUT_H

#include <jansson.h>

/* obj[key] = value, the member left out when value is NULL (no such field).
 * 0, or -1 when it could not be set (out of memory, value not UTF-8). */
int json_set_string_if(json_t *obj, const char *key, const char *value);

/* Prints arr on stdout, indented, non-ASCII escaped, and takes it (NULL
 * counts as out of memory). 0, or -1 when it could not be made. */
int json_print_array(json_t *arr);

#endif
