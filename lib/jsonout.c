#include "jsonout.h"

#include <stdio.h>
#include <stdlib.h>

int json_set_string_if(json_t *obj, const char *key, const char *value)
{
	return value ? json_object_set_new(obj, key, json_string(value)) : 0;
}

int json_print_array(json_t *arr)
{
	char *text = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(arr);
	if (!text)
		return -1;
	puts(text);
	free(text);
	return 0;
}
