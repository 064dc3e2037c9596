#include "ssm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void ssm_parameter_release(struct ssm_parameter *p)
{
	free(p->name);
	free(p->type);
	free_secret(p->value);
	free(p->description);
	free(p->key_id);
	free(p->tier);
	free(p->data_type);
	free(p->allowed_pattern);
	memset(p, 0, sizeof(*p));
}

static char *dup_field(const char *s, bool *ok)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	*ok = *ok && d;
	return d;
}

int ssm_parameter_copy(struct ssm_parameter *dst,
		       const struct ssm_parameter *src)
{
	bool ok = true;
	*dst = (struct ssm_parameter){
		.name = dup_field(src->name, &ok),
		.type = dup_field(src->type, &ok),
		.value = dup_field(src->value, &ok),
		.version = src->version,
		.last_modified = src->last_modified,
		.description = dup_field(src->description, &ok),
		.key_id = dup_field(src->key_id, &ok),
		.tier = dup_field(src->tier, &ok),
		.data_type = dup_field(src->data_type, &ok),
		.allowed_pattern = dup_field(src->allowed_pattern, &ok),
	};
	if (!ok)
		ssm_parameter_release(dst);
	return ok ? 0 : -1;
}

void ssm_parameter_list_release(struct ssm_parameter_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		ssm_parameter_release(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

struct ssm_parameter *ssm_parameter_list_add(struct ssm_parameter_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ssm_parameter *items =
			realloc(l->items, cap * sizeof(*items));
		if (!items)
			return NULL;
		l->items = items;
		l->cap = cap;
	}
	struct ssm_parameter *p = &l->items[l->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static char *json_dup_string(json_t *obj, const char *key, bool *ok)
{
	return dup_field(json_string_value(json_object_get(obj, key)), ok);
}

int ssm_parameter_from_json(json_t *obj, struct ssm_parameter *out)
{
	bool ok = json_is_object(obj);
	memset(out, 0, sizeof(*out));
	out->name = json_dup_string(obj, "Name", &ok);
	out->type = json_dup_string(obj, "Type", &ok);
	out->value = json_dup_string(obj, "Value", &ok);
	out->description = json_dup_string(obj, "Description", &ok);
	out->key_id = json_dup_string(obj, "KeyId", &ok);
	out->tier = json_dup_string(obj, "Tier", &ok);
	out->data_type = json_dup_string(obj, "DataType", &ok);
	out->allowed_pattern = json_dup_string(obj, "AllowedPattern", &ok);
	out->version = json_integer_value(json_object_get(obj, "Version"));
	out->last_modified =
		json_number_value(json_object_get(obj, "LastModifiedDate"));
	if (!ok || !out->name) {
		ssm_parameter_release(out);
		return -1;
	}
	return 0;
}

int ssm_prepare(struct aws_ctx *ctx, struct aws_call *call,
		const char *operation, json_t *body)
{
	aws_call_init(call, &aws_ssm, operation, "POST");
	struct aws_request *req = &call->req;
	bool custom;
	char target[96];
	snprintf(target, sizeof(target), "AmazonSSM.%s", operation);
	req->origin = aws_endpoint(ctx, &aws_ssm, &custom);
	req->path = strdup("/");
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = req->origin && req->path && text &&
				 buf_puts(&req->body, text) == 0 &&
				 aws_headers_add(&req->headers, "Content-Type",
						 "application/x-amz-json-1.1") == 0 &&
				 aws_headers_add(&req->headers, "X-Amz-Target",
						 target) == 0
			 ? 0
			 : -1;
	free_secret(text);
	return rc;
}

int ssm_parse_answer(const struct aws_call *call, json_t **out, struct err *e)
{
	json_error_t jerr;
	*out = json_loadb(buf_str(&call->resp.body), call->resp.body.len, 0,
			  &jerr);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		err_set(e, ERR_PARSE, "SSM %s answer is not a JSON object",
			call->req.operation);
		return -1;
	}
	return 0;
}

static json_t *names_array(const char *const *names, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_string(names[i]));
	return arr;
}

int ssm_prepare_get_parameters(struct aws_ctx *ctx, struct aws_call *call,
			       const char *const *names, size_t n)
{
	json_t *body = json_pack("{s:o, s:b}", "Names", names_array(names, n),
				 "WithDecryption", 1);
	int rc = ssm_prepare(ctx, call, "GetParameters", body);
	json_decref(body);
	return rc;
}

static int append_parameters(json_t *arr, struct ssm_parameter_list *out)
{
	size_t i;
	json_t *item;
	json_array_foreach(arr, i, item) {
		struct ssm_parameter *p = ssm_parameter_list_add(out);
		if (!p || ssm_parameter_from_json(item, p) < 0) {
			if (p)
				out->n--;
			return -1;
		}
	}
	return 0;
}

int ssm_parse_get_parameters(const struct aws_call *call,
			     struct ssm_parameter_list *found,
			     struct ssm_parameter_list *missing, struct err *e)
{
	json_t *root;
	if (ssm_parse_answer(call, &root, e) < 0)
		return -1;
	int rc = append_parameters(json_object_get(root, "Parameters"), found);
	size_t i;
	json_t *name;
	json_array_foreach(json_object_get(root, "InvalidParameters"), i, name) {
		struct ssm_parameter *p =
			missing ? ssm_parameter_list_add(missing) : NULL;
		if (p && !(p->name = strdup(json_string_value(name) ?
						    json_string_value(name) : "")))
			rc = -1;
	}
	json_decref(root);
	if (rc < 0)
		err_set(e, ERR_PARSE, "SSM GetParameters answer has a bad entry");
	return rc;
}

static void set_if(json_t *obj, const char *key, const char *value)
{
	if (value && *value)
		json_object_set_new(obj, key, json_string(value));
}

int ssm_prepare_put_parameter(struct aws_ctx *ctx, struct aws_call *call,
			      const struct ssm_parameter *p)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:b}", "Name", p->name,
				 "Value", p->value ? p->value : "", "Type",
				 p->type ? p->type : "String", "Overwrite", 1);
	/* body is NULL when the value is not UTF-8 text: ssm_prepare then
	 * fails, and jansson's setters and getters take NULL. */
	set_if(body, "Description", p->description);
	if (p->type && strcmp(p->type, "SecureString") == 0)
		set_if(body, "KeyId", p->key_id);
	set_if(body, "Tier", p->tier);
	set_if(body, "DataType", p->data_type);
	set_if(body, "AllowedPattern", p->allowed_pattern);
	int rc = ssm_prepare(ctx, call, "PutParameter", body);
	/* The body held the value: wipe jansson's copy too. */
	json_t *value = json_object_get(body, "Value");
	if (value)
		json_string_set(value, "");
	json_decref(body);
	return rc;
}

int ssm_prepare_delete_parameters(struct aws_ctx *ctx, struct aws_call *call,
				  const char *const *names, size_t n)
{
	json_t *body = json_pack("{s:o}", "Names", names_array(names, n));
	int rc = ssm_prepare(ctx, call, "DeleteParameters", body);
	json_decref(body);
	return rc;
}

/* Runs a paginated operation: body gets NextToken set per page, and
 * list_key's array of each answer is appended to out. */
static int paginate(struct aws_ctx *ctx, const char *operation, json_t *body,
		    const char *list_key, struct ssm_parameter_list *out,
		    struct err *e)
{
	int rc = 0;
	for (;;) {
		struct aws_call call;
		json_t *root = NULL;
		rc = ssm_prepare(ctx, &call, operation, body);
		if (rc < 0)
			err_set(e, ERR_NOMEM, "out of memory");
		if (rc == 0)
			rc = aws_perform_one(ctx, &call, e);
		if (rc == 0)
			rc = ssm_parse_answer(&call, &root, e);
		if (rc == 0 &&
		    append_parameters(json_object_get(root, list_key), out) < 0) {
			err_set(e, ERR_PARSE, "SSM %s answer has a bad entry",
				operation);
			rc = -1;
		}
		aws_call_release(&call);
		const char *next =
			json_string_value(json_object_get(root, "NextToken"));
		if (rc < 0 || !next || !*next) {
			json_decref(root);
			return rc;
		}
		json_object_set_new(body, "NextToken", json_string(next));
		json_decref(root);
	}
}

int ssm_get_parameter_history(struct aws_ctx *ctx, const char *name,
			      struct ssm_parameter_list *out, struct err *e)
{
	json_t *body = json_pack("{s:s, s:b, s:i}", "Name", name,
				 "WithDecryption", 1, "MaxResults", 50);
	if (!body) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	int rc = paginate(ctx, "GetParameterHistory", body, "Parameters", out,
			  e);
	json_decref(body);
	/* History entries carry no Name in some answers: fill it in. */
	for (size_t i = 0; rc == 0 && i < out->n; i++)
		if (!out->items[i].name && !(out->items[i].name = strdup(name)))
			rc = -1;
	return rc;
}

int ssm_describe_parameters(struct aws_ctx *ctx, json_t *filters,
			    struct ssm_parameter_list *out, struct err *e)
{
	json_t *body = json_pack("{s:i}", "MaxResults", 50);
	if (!body) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	if (filters)
		json_object_set(body, "ParameterFilters", filters);
	int rc = paginate(ctx, "DescribeParameters", body, "Parameters", out, e);
	json_decref(body);
	return rc;
}

int ssm_get_parameter(struct aws_ctx *ctx, const char *name,
		      struct ssm_parameter *out, struct err *e)
{
	struct aws_call call;
	json_t *body = json_pack("{s:s, s:b}", "Name", name, "WithDecryption", 1);
	json_t *root = NULL;
	int rc = ssm_prepare(ctx, &call, "GetParameter", body);
	json_decref(body);
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = aws_perform_one(ctx, &call, e);
	if (rc == 0)
		rc = ssm_parse_answer(&call, &root, e);
	if (rc == 0 &&
	    ssm_parameter_from_json(json_object_get(root, "Parameter"), out) < 0) {
		err_set(e, ERR_PARSE, "SSM GetParameter answer has no Parameter");
		rc = -1;
	}
	json_decref(root);
	aws_call_release(&call);
	return rc;
}
