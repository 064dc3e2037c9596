#include "changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "buf.h"

static const char *const op_names[] = { "Create", "Update", "Delete",
					"Backfill", "Gap", "Label", "Repair" };

const char *record_op_name(enum record_op op)
{
	return op_names[op];
}

static int op_by_name(const char *s, enum record_op *op)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(s, op_names[i]) == 0) {
			*op = (enum record_op)i;
			return 0;
		}
	return -1;
}

int record_op_parse(const char *s, enum record_op *op)
{
	/* The "Parameter Store Change" event's operation for a label change
	 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html */
	if (strcmp(s, "LabelParameterVersion") == 0) {
		*op = RECORD_LABEL;
		return 0;
	}
	return op_by_name(s, op);
}

void change_entry_release(struct change_entry *c)
{
	free(c->version_id);
	free(c->user);
	free(c->type);
	free(c->labels);
	free(c->description);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s, bool *ok)
{
	char *d = s ? strdup(s) : NULL;
	*ok = *ok && (!s || d);
	return d;
}

int change_entry_copy(struct change_entry *dst, const struct change_entry *src)
{
	bool ok = true;
	*dst = *src;
	dst->version_id = dup_or_null(src->version_id, &ok);
	dst->user = dup_or_null(src->user, &ok);
	dst->type = dup_or_null(src->type, &ok);
	dst->labels = dup_or_null(src->labels, &ok);
	dst->description = dup_or_null(src->description, &ok);
	if (!ok)
		change_entry_release(dst);
	return ok ? 0 : -1;
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

/* The optional fields after the version id, each ",NAME=VALUE" with the
 * value percent-encoded (so it holds no ',', '!' or '/'), in this order;
 * when the key would pass S3's limit they are left out from the last one
 * on, and ",p" says so. */
struct entry_field {
	char name;
	const char *value;
};

static int append_fields(struct buf *b, const struct entry_field *f, size_t n,
			 size_t keep, bool partial)
{
	for (size_t i = 0; i < keep && i < n; i++) {
		if (!f[i].value)
			continue;
		char *v = aws_uri_encode(f[i].value, false);
		int rc = v ? buf_printf(b, ",%c=%s", f[i].name, v) : -1;
		free(v);
		if (rc < 0)
			return -1;
	}
	return partial ? buf_printf(b, ",p") : 0;
}

static const char *entry_op_name(const struct change_entry *c)
{
	return c->op == RECORD_DELETE && c->approximate
		       ? CHANGES_OP_DELETE_NOTICED
		       : record_op_name(c->op);
}

/* head + tail; NULL when even without fields it passes S3_KEY_MAX. */
static char *entry_key_from(const char *head, const struct change_entry *c)
{
	char *vid = c->version_id ? aws_uri_encode(c->version_id, false) : NULL;
	const struct entry_field f[] = { { 't', c->type }, { 'u', c->user },
					 { 'l', c->labels },
					 { 'd', c->description } };
	size_t n = sizeof(f) / sizeof(f[0]);
	char *key = NULL;
	for (size_t keep = n + 1; vid && keep-- > 0 && !key;) {
		bool partial = c->partial;
		for (size_t i = keep; i < n; i++)
			partial = partial || f[i].value;
		struct buf b = BUF_INIT;
		if (buf_printf(&b, "%s%lld.%lld.%s.%lld.%s", head,
			       (long long)c->event_time, c->ssm_version,
			       entry_op_name(c), c->modified_ms, vid) < 0 ||
		    append_fields(&b, f, n, keep, partial) < 0) {
			buf_release(&b);
			break;
		}
		if (b.len <= S3_KEY_MAX)
			key = buf_detach(&b);
		else
			buf_release(&b);
	}
	free(vid);
	return key;
}

char *changes_entry_key(const char *prefix, const char *param_key,
			const struct change_entry *c)
{
	char *root = changes_root(prefix), *head = NULL, *key = NULL;
	if (root && asprintf(&head, "%s%s%c", root, param_key,
			     CHANGES_SEPARATOR) >= 0)
		key = entry_key_from(head, c);
	free(root);
	free(head);
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
	else if (op_by_name(name, op) < 0) /* entries carry "Label" only */
		return -1;
	*p = dot + 1;
	return 0;
}

static char **field_slot(struct change_entry *c, char name)
{
	switch (name) {
	case 't': return &c->type;
	case 'u': return &c->user;
	case 'l': return &c->labels;
	case 'd': return &c->description;
	default: return NULL;
	}
}

/* ",t=...,u=...,p" after the version id. Unknown names are skipped, so a
 * later writer may add fields. */
static int take_fields(const char *p, struct change_entry *out)
{
	while (*p == ',') {
		const char *end = strchr(p + 1, ',');
		size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
		if (len == 1 && p[1] == 'p') {
			out->partial = true;
		} else if (len >= 2 && p[2] == '=') {
			char **slot = field_slot(out, p[1]);
			char *raw = strndup(p + 3, len - 2);
			char *v = raw ? aws_uri_decode(raw, false) : NULL;
			free(raw);
			if (!v)
				return -1;
			if (slot && !*slot)
				*slot = v;
			else
				free(v);
		} else {
			return -1;
		}
		p += 1 + len;
	}
	return *p ? -1 : 0;
}

/* "/app/x!TIME.VERSION.OP.MODIFIED.VERSIONID[,FIELDS]" */
static int parse_after_root(const char *rest, char **param_key,
			    struct change_entry *out)
{
	memset(out, 0, sizeof(*out));
	*param_key = NULL;
	if (rest[0] != '/')
		return -1;
	const char *sep = strrchr(rest, CHANGES_SEPARATOR);
	/* the parameter key: a slash and at least one character */
	if (!sep || sep - rest < 2)
		return -1;
	const char *p = sep + 1;
	long long event_time, version, modified;
	if (take_number(&p, &event_time) < 0 || take_number(&p, &version) < 0 ||
	    take_op(&p, &out->op, &out->approximate) < 0 ||
	    take_number(&p, &modified) < 0 || !*p ||
	    *p == ',' || strchr(p, '/'))
		return -1;
	out->event_time = (time_t)event_time;
	out->ssm_version = version;
	out->modified_ms = modified;
	size_t vid_len = strcspn(p, ",");
	char *vid = strndup(p, vid_len);
	out->version_id = vid ? aws_uri_decode(vid, false) : NULL;
	free(vid);
	*param_key = strndup(rest, (size_t)(sep - rest));
	if (!out->version_id || !*param_key || take_fields(p + vid_len, out) < 0) {
		change_entry_release(out);
		free(*param_key);
		*param_key = NULL;
		return -1;
	}
	return 0;
}

int changes_parse_key(const char *key, const char *root, char **param_key,
		      struct change_entry *out)
{
	size_t root_len = strlen(root);
	memset(out, 0, sizeof(*out));
	*param_key = NULL;
	if (strncmp(key, root, root_len) != 0)
		return -1;
	return parse_after_root(key + root_len, param_key, out);
}

/* --- the log --- */

char *changes_log_hour_prefix(const char *prefix, time_t hour_start)
{
	struct tm tm;
	char hour[16], *out = NULL;
	if (!gmtime_r(&hour_start, &tm) ||
	    strftime(hour, sizeof(hour), "%Y%m%d%H", &tm) == 0)
		return NULL;
	if (asprintf(&out, LOG_ROOT "%s%s/%s/", prefix && *prefix ? "@" : "",
		     prefix ? prefix : "", hour) < 0)
		return NULL;
	return out;
}

#define LOG_TIME_DIGITS 10

char *changes_log_key(const char *prefix, const char *param_key,
		      const struct change_entry *c)
{
	char *hour = changes_log_hour_prefix(prefix, c->event_time);
	char *head = NULL, *key = NULL;
	if (hour && asprintf(&head, "%s%0*lld%s%c", hour, LOG_TIME_DIGITS,
			     (long long)c->event_time, param_key,
			     CHANGES_SEPARATOR) >= 0)
		key = entry_key_from(head, c);
	free(hour);
	free(head);
	return key;
}

int changes_parse_log_key(const char *key, const char *hour_prefix,
			  char **param_key, struct change_entry *out)
{
	size_t len = strlen(hour_prefix);
	memset(out, 0, sizeof(*out));
	*param_key = NULL;
	if (strncmp(key, hour_prefix, len) != 0)
		return -1;
	const char *p = key + len;
	for (int i = 0; i < LOG_TIME_DIGITS; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	long long sorted_time = strtoll(p, NULL, 10);
	if (parse_after_root(p + LOG_TIME_DIGITS, param_key, out) < 0)
		return -1;
	if (out->event_time != (time_t)sorted_time) {
		change_entry_release(out);
		free(*param_key);
		*param_key = NULL;
		return -1;
	}
	return 0;
}
