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
		if (sent && tags->err.kind != ERR_NONE)
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
