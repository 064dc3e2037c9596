#include "changeshow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonout.h"
#include "table.h"
#include "timefmt.h"

static bool is_secure(const struct change_row *r)
{
	return r->c.type && strcmp(r->c.type, "SecureString") == 0;
}

static const char *shown_value(const struct change_row *r, bool show_secure)
{
	if (r->gap || r->c.op == RECORD_DELETE || !r->value)
		return NULL;
	return is_secure(r) && !show_secure ? SECURE_MASK : r->value;
}

static const char *operation(const struct change_row *r)
{
	return r->gap ? "(gap)" : record_op_name(r->c.op);
}

static void version_text(const struct change_row *r, char out[48])
{
	if (r->gap && r->gap_from != r->gap_to)
		snprintf(out, 48, "%lld-%lld", r->gap_from, r->gap_to);
	else if (r->gap)
		snprintf(out, 48, "%lld", r->gap_from);
	else if (r->c.ssm_version)
		snprintf(out, 48, "%lld", r->c.ssm_version);
	else
		out[0] = '\0';
}

static int print_table(const struct change_rows *r, const struct changeshow_opts *o)
{
	const char *headers[9];
	size_t columns = 0;
	headers[columns++] = "Time";
	if (o->with_names)
		headers[columns++] = "Name";
	headers[columns++] = "Operation";
	headers[columns++] = "Version";
	headers[columns++] = "User";
	if (o->with_details) {
		headers[columns++] = "Type";
		headers[columns++] = "Description";
		headers[columns++] = "Labels";
	}
	if (o->with_values)
		headers[columns++] = "Value";
	struct table *t = table_new(headers, columns);
	int rc = t ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		const struct change_row *row = &r->items[i];
		char when[32], version[48];
		const char *cells[9];
		size_t c = 0;
		time_format_table(row->c.event_time, when);
		version_text(row, version);
		cells[c++] = when;
		if (o->with_names)
			cells[c++] = row->key;
		cells[c++] = operation(row);
		cells[c++] = version;
		cells[c++] = row->gap ? "(versions not recorded)" : row->c.user;
		if (o->with_details) {
			cells[c++] = row->gap ? NULL : row->c.type;
			cells[c++] = row->gap ? NULL : row->c.description;
			cells[c++] = row->gap ? NULL : row->c.labels;
		}
		if (o->with_values)
			cells[c++] = shown_value(row, o->show_secure);
		rc = table_add_row(t, cells);
	}
	if (rc == 0)
		rc = table_print(t, stdout, TABLE_WRAP);
	table_free(t);
	return rc;
}

static json_t *labels_array(const char *labels)
{
	json_t *arr = json_array();
	for (const char *p = labels; p && *p;) {
		size_t len = strcspn(p, ",");
		json_array_append_new(arr, json_stringn(p, len));
		p += len + (p[len] == ',');
	}
	return arr;
}

static json_t *row_json(const struct change_row *row, const struct changeshow_opts *o)
{
	json_t *obj = json_object();
	char when[32];
	time_format_iso(row->c.event_time, when);
	json_set_string_if(obj, "name", row->key);
	json_set_string_if(obj, "event_time", when);
	json_set_string_if(obj, "operation", operation(row));
	json_object_set_new(obj, "gap", json_boolean(row->gap));
	if (row->gap) {
		json_object_set_new(obj, "missing_versions",
				    json_pack("[I,I]", row->gap_from, row->gap_to));
		return obj;
	}
	if (row->c.ssm_version)
		json_object_set_new(obj, "version", json_integer(row->c.ssm_version));
	json_set_string_if(obj, "user", row->c.user);
	if (o->with_details) {
		json_set_string_if(obj, "type", row->c.type);
		json_set_string_if(obj, "description", row->c.description);
		json_object_set_new(obj, "labels", labels_array(row->c.labels));
	}
	/* JSON leaves a masked value out rather than printing the mask */
	if (o->with_values && (!is_secure(row) || o->show_secure))
		json_set_string_if(obj, "value", shown_value(row, true));
	return obj;
}

int changeshow_print(const struct change_rows *r, const struct changeshow_opts *o)
{
	if (o->output == CLI_OUTPUT_TABLE)
		return print_table(r, o);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < r->n; i++)
		json_array_append_new(arr, row_json(&r->items[i], o));
	return json_print_array(arr);
}
