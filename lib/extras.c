#include "extras.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ssm.h"

void capture_extra_release(struct capture_extra *x)
{
	free(x->tags);
	free(x->labels);
	x->tags = x->labels = NULL;
}

static bool is_gone(const struct err *e)
{
	return strcmp(e->code, "InvalidResourceId") == 0 ||
	       strcmp(e->code, "ParameterNotFound") == 0;
}

static void extra_failed(struct capture_extra *x, const struct err *e)
{
	if (is_gone(e)) {
		x->gone = true;
		return;
	}
	if (!x->failed) {
		x->failed = true;
		x->err = *e;
	}
}

/* GetParameterHistory without values: only the labels are wanted. */
static int prepare_history(struct aws_ctx *ctx, struct aws_call *call,
			   const char *name, const char *token)
{
	json_t *body = json_pack("{s:s, s:b, s:i}", "Name", name,
				 "WithDecryption", 0, "MaxResults", 50);
	if (body && token)
		json_object_set_new(body, "NextToken", json_string(token));
	int rc = ssm_prepare(ctx, call, "GetParameterHistory", body);
	json_decref(body);
	return rc;
}

/* Looks for the version in one page; returns the next token to follow
 * (caller frees) while it is not found. */
static char *labels_from_page(struct capture_extra *x, struct aws_call *call,
			      bool *found)
{
	json_t *root = NULL, *item;
	struct err e = { 0 };
	size_t i;
	if (call->err.kind != ERR_NONE) {
		extra_failed(x, &call->err);
		return NULL;
	}
	if (ssm_parse_answer(call, &root, &e) < 0) {
		extra_failed(x, &e);
		return NULL;
	}
	json_array_foreach(json_object_get(root, "Parameters"), i, item) {
		struct ssm_parameter p;
		if (ssm_parameter_from_json(item, &p) < 0)
			continue;
		if (p.version == x->version) {
			*found = true;
			x->labels = p.labels;
			p.labels = NULL;
		}
		ssm_parameter_release(&p);
	}
	const char *next = json_string_value(json_object_get(root, "NextToken"));
	char *token = !*found && next && *next ? strdup(next) : NULL;
	json_decref(root);
	return token;
}

static void follow_history(struct aws_ctx *ctx, struct capture_extra *x,
			   struct aws_call *first)
{
	bool found = false;
	size_t pages = 1;
	char *token = labels_from_page(x, first, &found);
	while (token && pages++ < SSM_MAX_VERSIONS) {
		struct aws_call next;
		struct err e = { 0 };
		if (prepare_history(ctx, &next, x->name, token) < 0) {
			err_set(&e, ERR_NOMEM, "out of memory");
			extra_failed(x, &e);
			aws_call_release(&next);
			break;
		}
		aws_perform_one(ctx, &next, NULL);
		char *previous = token;
		token = labels_from_page(x, &next, &found);
		aws_call_release(&next);
		if (token && strcmp(token, previous) == 0) {
			err_set(&e, ERR_PARSE, "SSM GetParameterHistory repeats "
				"its NextToken");
			extra_failed(x, &e);
			free(token);
			token = NULL;
		}
		free(previous);
	}
	free(token);
}

void capture_extras(struct aws_ctx *ctx, struct capture_extra *x, size_t n)
{
	struct aws_call *calls = calloc(2 * n + 1, sizeof(*calls));
	struct aws_call **batch = calloc(2 * n + 1, sizeof(*batch));
	struct err e = { 0 };
	size_t k = 0;
	if (!calls || !batch) {
		err_set(&e, ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			extra_failed(&x[i], &e);
		free(calls);
		free(batch);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = ssm_prepare_list_tags(ctx, &calls[2 * i], x[i].name);
		if (x[i].version)
			rc |= prepare_history(ctx, &calls[2 * i + 1], x[i].name, NULL);
		if (rc < 0) {
			err_set(&e, ERR_NOMEM, "out of memory");
			extra_failed(&x[i], &e);
			continue; /* released below, never sent */
		}
		batch[k++] = &calls[2 * i];
		if (x[i].version)
			batch[k++] = &calls[2 * i + 1];
	}
	aws_perform(ctx, batch, k);
	for (size_t i = 0; i < n; i++) {
		struct aws_call *tags = &calls[2 * i];
		bool sent = !x[i].failed;
		if (sent && strcmp(tags->err.code, "AccessDeniedException") == 0)
			x[i].tags_denied = true;
		else if (sent && tags->err.kind != ERR_NONE)
			extra_failed(&x[i], &tags->err);
		else if (sent && ssm_parse_list_tags(tags, &x[i].tags, &e) < 0)
			extra_failed(&x[i], &e);
		aws_call_release(tags);
		if (x[i].version) {
			if (sent)
				follow_history(ctx, &x[i], &calls[2 * i + 1]);
			aws_call_release(&calls[2 * i + 1]);
		}
	}
	free(calls);
	free(batch);
}

/* --- restore --- */

static void target_failed(struct extras_target *t, const struct err *e)
{
	if (!t->failed) {
		t->failed = true;
		t->err = *e;
	}
}

static json_t *tag_list(json_t *obj)
{
	json_t *list = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
		json_array_append_new(list, json_pack("{s:s, s:O}", "Key", k, "Value", v));
	return list;
}

/* What to add (recorded, absent or different now) and remove (now, not
 * recorded), from the current tags' answer. */
static int plan_tags(const struct extras_target *t, const char *now_json,
		     json_t **add, json_t **remove)
{
	json_t *want = json_loads(t->tags, 0, NULL), *now = json_loads(now_json, 0, NULL);
	const char *k;
	json_t *v;
	*add = json_object();
	*remove = json_array();
	int rc = json_is_object(want) && json_is_object(now) && *add && *remove ? 0 : -1;
	if (rc == 0) {
		json_object_foreach(want, k, v)
			if (!json_equal(json_object_get(now, k), v))
				json_object_set(*add, k, v);
		json_object_foreach(now, k, v)
			if (!json_object_get(want, k))
				json_array_append_new(*remove, json_string(k));
	}
	json_decref(want);
	json_decref(now);
	return rc;
}

static int prepare_tag_changes(struct aws_ctx *ctx, struct extras_target *t,
			       const char *now_json, struct aws_call *add_call,
			       struct aws_call *remove_call, bool *adding,
			       bool *removing)
{
	json_t *add = NULL, *remove = NULL;
	int rc = plan_tags(t, now_json, &add, &remove);
	*adding = rc == 0 && json_object_size(add);
	*removing = rc == 0 && json_array_size(remove);
	if (*adding) {
		json_t *body = json_pack("{s:s, s:s, s:o}", "ResourceType", "Parameter",
					 "ResourceId", t->name, "Tags", tag_list(add));
		rc = ssm_prepare(ctx, add_call, "AddTagsToResource", body);
		json_decref(body);
	}
	if (rc == 0 && *removing) {
		json_t *body = json_pack("{s:s, s:s, s:O}", "ResourceType", "Parameter",
					 "ResourceId", t->name, "TagKeys", remove);
		rc = ssm_prepare(ctx, remove_call, "RemoveTagsFromResource", body);
		json_decref(body);
	}
	json_decref(add);
	json_decref(remove);
	return rc;
}

static int prepare_labels(struct aws_ctx *ctx, struct aws_call *call,
			  const struct extras_target *t)
{
	json_t *labels = json_array();
	for (const char *p = t->labels; labels && *p;) {
		size_t len = strcspn(p, ",");
		json_array_append_new(labels, json_stringn(p, len));
		p += len + (p[len] == ',');
	}
	json_t *body = json_pack("{s:s, s:o}", "Name", t->name, "Labels", labels);
	int rc = ssm_prepare(ctx, call, "LabelParameterVersion", body);
	json_decref(body);
	return rc;
}

/* Stage 1: read the current tags. Stage 2: the changes and labels. */
void extras_restore(struct aws_ctx *ctx, struct extras_target *t, size_t n)
{
	struct aws_call *read = calloc(n + 1, sizeof(*read));
	struct aws_call *write = calloc(3 * n + 1, sizeof(*write));
	struct aws_call **batch = calloc(3 * n + 1, sizeof(*batch));
	bool *prepared = calloc(3 * n + 1, sizeof(*prepared));
	struct err e = { 0 };
	size_t k = 0;
	if (!read || !write || !batch || !prepared) {
		err_set(&e, ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			target_failed(&t[i], &e);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (!t[i].tags)
			continue;
		if (ssm_prepare_list_tags(ctx, &read[i], t[i].name) < 0) {
			err_set(&e, ERR_NOMEM, "out of memory");
			target_failed(&t[i], &e);
		} else {
			batch[k++] = &read[i];
		}
	}
	aws_perform(ctx, batch, k);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		char *now = NULL;
		if (t[i].tags && !t[i].failed) {
			if (read[i].err.kind != ERR_NONE)
				target_failed(&t[i], &read[i].err);
			else if (ssm_parse_list_tags(&read[i], &now, &e) < 0)
				target_failed(&t[i], &e);
		}
		bool adding = false, removing = false;
		if (now && prepare_tag_changes(ctx, &t[i], now, &write[3 * i],
					       &write[3 * i + 1], &adding, &removing) < 0) {
			err_set(&e, ERR_PARSE, "the recorded tags of %s are not a "
				"JSON object", t[i].name);
			target_failed(&t[i], &e);
		}
		prepared[3 * i] = adding;
		prepared[3 * i + 1] = removing;
		free(now);
		if (t[i].labels && *t[i].labels && !t[i].failed) {
			prepared[3 * i + 2] = true;
			if (prepare_labels(ctx, &write[3 * i + 2], &t[i]) < 0) {
				err_set(&e, ERR_NOMEM, "out of memory");
				target_failed(&t[i], &e);
			}
		}
		for (int s = 0; s < 3; s++)
			if (prepared[3 * i + s] && !t[i].failed)
				batch[k++] = &write[3 * i + s];
	}
	aws_perform(ctx, batch, k);
	for (size_t i = 0; i < 3 * n; i++)
		if (prepared[i] && write[i].err.kind != ERR_NONE)
			target_failed(&t[i / 3], &write[i].err);
done:
	for (size_t i = 0; read && i < n; i++)
		if (t[i].tags)
			aws_call_release(&read[i]);
	for (size_t i = 0; write && prepared && i < 3 * n; i++)
		if (prepared[i])
			aws_call_release(&write[i]);
	free(read);
	free(write);
	free(batch);
	free(prepared);
}
