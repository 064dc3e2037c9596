#include "changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"

static const char *const op_names[] = { "Create", "Update", "Delete",
					"Backfill", "Gap", "Repair" };

const char *record_op_name(enum record_op op)
{
	return op_names[op];
}

int record_op_parse(const char *s, enum record_op *op)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(s, op_names[i]) == 0) {
			*op = (enum record_op)i;
			return 0;
		}
	return -1;
}

void change_entry_release(struct change_entry *c)
{
	free(c->version_id);
	memset(c, 0, sizeof(*c));
}

int change_entry_copy(struct change_entry *dst, const struct change_entry *src)
{
	*dst = *src;
	dst->version_id = src->version_id ? strdup(src->version_id) : NULL;
	return src->version_id && !dst->version_id ? -1 : 0;
}

static bool prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	       c == '/';
}

char *changes_normalize_prefix(const char *prefix)
{
	if (!prefix)
		return strdup("");
	while (*prefix == '/')
		prefix++;
	size_t len = strlen(prefix);
	while (len && prefix[len - 1] == '/')
		len--;
	for (size_t i = 0; i < len; i++)
		if (!prefix_char(prefix[i]) ||
		    (prefix[i] == '/' && prefix[i + 1] == '/'))
			return NULL;
	return strndup(prefix, len);
}

char *changes_data_key(const char *prefix, const char *param_key)
{
	char *key = NULL;
	if (asprintf(&key, "%s%s", prefix ? prefix : "", param_key) < 0)
		return NULL;
	return key;
}

char *changes_root(const char *prefix)
{
	char *root = NULL;
	if (asprintf(&root, CHANGES_ROOT "%s%s", prefix && *prefix ? "@" : "",
		     prefix ? prefix : "") < 0)
		return NULL;
	return root;
}

char *changes_entry_key(const char *prefix, const char *param_key,
			const struct change_entry *c)
{
	char *root = changes_root(prefix);
	char *vid = c->version_id ? aws_uri_encode(c->version_id, false) : NULL;
	char *key = NULL;
	if (root && vid &&
	    asprintf(&key, "%s%s%c%lld.%lld.%s.%lld.%s", root, param_key,
		     CHANGES_SEPARATOR, (long long)c->event_time, c->ssm_version,
		     c->op == RECORD_DELETE && c->approximate
			     ? CHANGES_OP_DELETE_NOTICED
			     : record_op_name(c->op),
		     c->modified_ms, vid) >= 0 &&
	    strlen(key) > S3_KEY_MAX) {
		free(key);
		key = NULL;
	}
	free(root);
	free(vid);
	return key;
}

/* A decimal number of at most 18 digits followed by '.'; advances *p. */
static int take_number(const char **p, long long *out)
{
	const char *s = *p;
	long long v = 0;
	size_t digits = 0;
	while (*s >= '0' && *s <= '9' && digits < 18) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (!digits || *s != '.')
		return -1;
	*out = v;
	*p = s + 1;
	return 0;
}

static int take_op(const char **p, enum record_op *op, bool *approximate)
{
	const char *dot = strchr(*p, '.');
	char name[16];
	if (!dot || (size_t)(dot - *p) >= sizeof(name))
		return -1;
	memcpy(name, *p, (size_t)(dot - *p));
	name[dot - *p] = '\0';
	*approximate = strcmp(name, CHANGES_OP_DELETE_NOTICED) == 0;
	if (*approximate)
		*op = RECORD_DELETE;
	else if (record_op_parse(name, op) < 0)
		return -1;
	*p = dot + 1;
	return 0;
}

int changes_parse_key(const char *key, const char *root, char **param_key,
		      struct change_entry *out)
{
	size_t root_len = strlen(root);
	memset(out, 0, sizeof(*out));
	*param_key = NULL;
	if (strncmp(key, root, root_len) != 0 || key[root_len] != '/')
		return -1;
	const char *sep = strrchr(key + root_len, CHANGES_SEPARATOR);
	/* the parameter key: a slash and at least one character */
	if (!sep || sep - (key + root_len) < 2)
		return -1;
	const char *p = sep + 1;
	long long event_time, version, modified;
	if (take_number(&p, &event_time) < 0 || take_number(&p, &version) < 0 ||
	    take_op(&p, &out->op, &out->approximate) < 0 || take_number(&p, &modified) < 0 || !*p ||
	    strchr(p, '/'))
		return -1;
	out->event_time = (time_t)event_time;
	out->ssm_version = version;
	out->modified_ms = modified;
	out->version_id = aws_uri_decode(p, false);
	*param_key = strndup(key + root_len, (size_t)(sep - key - root_len));
	if (!out->version_id || !*param_key) {
		change_entry_release(out);
		free(*param_key);
		*param_key = NULL;
		return -1;
	}
	return 0;
}
