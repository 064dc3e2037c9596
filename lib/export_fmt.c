#include "export_fmt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const names[] = { "json", "yaml", "dotenv", "shell", "tfvars" };

int export_format_parse(const char *s, enum export_format *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum export_format)i;
			return 0;
		}
	return -1;
}

char *export_relative_name(const char *key, const char *scope, int key_mode)
{
	if (key_mode) {
		const char *last = strrchr(key, '/');
		return strdup(last ? last + 1 : key);
	}
	size_t len = strlen(scope);
	return strdup(strncmp(key, scope, len) == 0 ? key + len : key);
}

char *export_variable_name(const char *relative, enum export_format f)
{
	size_t len = strlen(relative);
	char *out = malloc(len + 2), *w = out;
	if (!out)
		return NULL;
	if (f != EXPORT_JSON && f != EXPORT_YAML && isdigit((unsigned char)*relative))
		*w++ = '_';
	for (const char *p = relative; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (f == EXPORT_JSON || f == EXPORT_YAML)
			*w++ = (char)c;
		else if (f == EXPORT_TFVARS)
			*w++ = isalnum(c) || c == '_' || c == '-' ? (char)c : '_';
		else
			*w++ = isalnum(c) ? (char)toupper(c) : '_';
	}
	*w = '\0';
	return out;
}

/* A JSON string literal: also a YAML double-quoted scalar. */
static int put_json_string(FILE *out, const char *s)
{
	json_t *j = json_string(s);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	if (!text)
		return -1;
	fputs(text, out);
	free(text);
	return 0;
}

/* dotenv's double quotes, as chamber writes them: backslash before
 * \ " ! $ ` and \n, \r for newlines. */
static void put_dotenv(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\r')
			fputs("\\r", out);
		else {
			if (strchr("\\\"!$`", *s))
				fputc('\\', out);
			fputc(*s, out);
		}
	}
	fputc('"', out);
}

/* POSIX shell: single quotes keep everything but a single quote, which
 * closes, is escaped and reopens. */
static void put_shell(FILE *out, const char *s)
{
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

/* HCL quoted strings: \\ \" \n \r \t, and ${ %{ doubled so they are
 * not templates.
 * https://developer.hashicorp.com/terraform/language/expressions/strings */
static void put_hcl(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", out); break;
		case '"': fputs("\\\"", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		case '$':
		case '%':
			fputc(*s, out);
			if (s[1] == '{')
				fputc(*s, out);
			break;
		default: fputc(*s, out);
		}
	}
	fputc('"', out);
}

int export_write(FILE *out, enum export_format f, const struct export_pair *p,
		 size_t n)
{
	if (f == EXPORT_JSON) {
		json_t *obj = json_object();
		for (size_t i = 0; obj && i < n; i++)
			if (json_object_set_new(obj, p[i].name, json_string(p[i].value)) < 0) {
				json_decref(obj);
				return -1;
			}
		char *text = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS |
							JSON_ENSURE_ASCII)
				 : NULL;
		json_decref(obj);
		if (!text)
			return -1;
		puts(text);
		free(text);
		return 0;
	}
	if (f == EXPORT_YAML && n == 0)
		fputs("{}\n", out);
	for (size_t i = 0; i < n; i++) {
		switch (f) {
		case EXPORT_YAML:
			if (put_json_string(out, p[i].name) < 0)
				return -1;
			fputs(": ", out);
			if (put_json_string(out, p[i].value) < 0)
				return -1;
			break;
		case EXPORT_DOTENV:
			fprintf(out, "%s=", p[i].name);
			put_dotenv(out, p[i].value);
			break;
		case EXPORT_SHELL:
			fprintf(out, "export %s=", p[i].name);
			put_shell(out, p[i].value);
			break;
		case EXPORT_TFVARS:
			fprintf(out, "%s = ", p[i].name);
			put_hcl(out, p[i].value);
			break;
		case EXPORT_JSON:
			break;
		}
		fputc('\n', out);
	}
	return 0;
}
