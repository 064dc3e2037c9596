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

/* The latest LastModifiedDate taken for a time (the year 3000): further
 * is no time SSM gives, and would not fit a time_t once converted. */
#define SSM_TIME_MAX 32503680000.0

/* A member that is absent, or a string; anything else is a wrong answer. */
static char *json_dup_string(json_t *obj, const char *key, bool *ok)
{
	json_t *v = json_object_get(obj, key);
	if (v && !json_is_string(v))
		*ok = false;
	return dup_field(json_string_value(v), ok);
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
	json_t *version = json_object_get(obj, "Version");
	json_t *modified = json_object_get(obj, "LastModifiedDate");
	/* Version is a long, LastModifiedDate epoch seconds (a JSON number):
	 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Parameter.html */
	if ((version && (!json_is_integer(version) ||
			 json_integer_value(version) < 0)) ||
	    (modified && (!json_is_number(modified) ||
			  !(json_number_value(modified) >= 0 &&
			    json_number_value(modified) <= SSM_TIME_MAX))))
		ok = false;
	out->version = json_integer_value(version);
	out->last_modified = json_number_value(modified);
	if (!ok || !out->name || !*out->name) {
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
	char *endpoint = aws_endpoint(ctx, &aws_ssm, &custom);
	int set = endpoint ? aws_request_set_target(req, endpoint, "/") : -1;
	free(endpoint);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = set == 0 && text &&
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
		err_set_answer(e, aws_ssm.label, call->req.operation,
			       "the answer is not a JSON object");
		return -1;
	}
	return 0;
}

/* The array an answer must have under key: an answer without it says
 * nothing, which is not the same as an empty list. */
static json_t *required_array(json_t *root, const char *key,
			      const char *operation, struct err *e)
{
	json_t *arr = json_object_get(root, key);
	if (!json_is_array(arr)) {
		err_set_answer(e, aws_ssm.label, operation,
			       "the answer has %s %s", key,
			       arr ? "that is not a list" : "missing");
		return NULL;
	}
	return arr;
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

/* Appends every item of arr; an item of the wrong shape, or one without a
 * member in must_have ("Value", or NULL), fails the whole answer. */
static int append_parameters(json_t *arr, const char *must_have,
			     struct ssm_parameter_list *out,
			     const char *operation, struct err *e)
{
	size_t i;
	json_t *item;
	json_array_foreach(arr, i, item) {
		struct ssm_parameter *p = ssm_parameter_list_add(out);
		if (!p) {
			err_set(e, ERR_NOMEM, "out of memory");
			return -1;
		}
		if (ssm_parameter_from_json(item, p) < 0 ||
		    !p->type || (must_have && !json_is_string(json_object_get(
						      item, must_have)))) {
			ssm_parameter_release(p);
			out->n--;
			err_set_answer(e, aws_ssm.label, operation,
				       "entry %zu of the answer's Parameters "
				       "lacks Name, Type%s%s or has a member "
				       "of the wrong type",
				       i, must_have ? " or " : "",
				       must_have ? must_have : "");
			return -1;
		}
	}
	return 0;
}

/* How many different names the request asked for (its Names member), or
 * -1 when the request is not at hand to tell. */
static long names_asked(const struct aws_call *call)
{
	json_t *req = json_loadb(buf_str(&call->req.body), call->req.body.len,
				 0, NULL);
	json_t *names = json_object_get(req, "Names");
	long n = -1;
	if (json_is_array(names)) {
		n = 0;
		for (size_t i = 0; i < json_array_size(names); i++) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = json_equal(json_array_get(names, i),
						  json_array_get(names, j));
			n += !seen;
		}
	}
	json_decref(req);
	return n;
}

int ssm_parse_get_parameters(const struct aws_call *call,
			     struct ssm_parameter_list *found,
			     struct ssm_parameter_list *missing, struct err *e)
{
	static const char op[] = "GetParameters";
	json_t *root;
	if (ssm_parse_answer(call, &root, e) < 0)
		return -1;
	size_t had = found->n, had_missing = missing ? missing->n : 0;
	json_t *params = required_array(root, "Parameters", op, e);
	json_t *invalid = json_object_get(root, "InvalidParameters");
	int rc = params ? append_parameters(params, "Value", found, op, e) : -1;
	if (rc == 0 && invalid && !json_is_array(invalid)) {
		err_set_answer(e, aws_ssm.label, op,
			       "the answer has InvalidParameters that is not a list");
		rc = -1;
	}
	/* Every name asked for is either found or invalid, once. */
	long asked = names_asked(call);
	size_t answered = json_array_size(params) + json_array_size(invalid);
	if (rc == 0 && asked >= 0 && answered != (size_t)asked) {
		err_set_answer(e, aws_ssm.label, op,
			       "the answer accounts for %zu names of the %ld "
			       "asked for", answered, asked);
		rc = -1;
	}
	size_t i;
	json_t *name;
	json_array_foreach(rc == 0 ? invalid : NULL, i, name) {
		if (!json_is_string(name) || !*json_string_value(name)) {
			err_set_answer(e, aws_ssm.label, op,
				       "entry %zu of the answer's "
				       "InvalidParameters is not a name", i);
			rc = -1;
			break;
		}
		struct ssm_parameter *p =
			missing ? ssm_parameter_list_add(missing) : NULL;
		if (missing && (!p || !(p->name = strdup(json_string_value(name))))) {
			err_set(e, ERR_NOMEM, "out of memory");
			rc = -1;
			break;
		}
	}
	json_decref(root);
	/* A failed answer adds nothing: no half-read list to act on. */
	while (rc < 0 && found->n > had)
		ssm_parameter_release(&found->items[--found->n]);
	while (rc < 0 && missing && missing->n > had_missing)
		ssm_parameter_release(&missing->items[--missing->n]);
	return rc;
}

static void set_if(json_t *obj, const char *key, const char *value)
{
	if (value && *value)
		json_object_set_new(obj, key, json_string(value));
}

static void set_given(json_t *obj, const char *key, const char *value)
{
	if (value)
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
	/* An empty Description or AllowedPattern removes it; an absent one
	 * keeps the parameter's. */
	set_given(body, "Description", p->description);
	if (p->type && strcmp(p->type, "SecureString") == 0)
		set_if(body, "KeyId", p->key_id);
	set_if(body, "Tier", p->tier);
	set_if(body, "DataType", p->data_type);
	set_given(body, "AllowedPattern", p->allowed_pattern);
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

/* Whether token is one of the n seen before. */
static bool token_seen(char *const *seen, size_t n, const char *token)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(seen[i], token) == 0)
			return true;
	return false;
}

static int remember(char ***seen, size_t *n, const char *token)
{
	char **grown = realloc(*seen, (*n + 1) * sizeof(**seen));
	if (!grown)
		return -1;
	*seen = grown;
	if (!(grown[*n] = strdup(token)))
		return -1;
	(*n)++;
	return 0;
}

/* The answer's NextToken: *next NULL at the end (absent or empty); -1
 * when it is not a string. */
static int next_token(json_t *root, const char *operation, const char **next,
		      struct err *e)
{
	json_t *token = json_object_get(root, "NextToken");
	*next = json_string_value(token);
	if (token && !json_is_string(token)) {
		err_set_answer(e, aws_ssm.label, operation,
			       "the answer has a NextToken that is not a string");
		return -1;
	}
	if (!*next || !**next)
		*next = NULL;
	return 0;
}

bool ssm_token_progresses(const char *previous, const char *next,
			  size_t versions_read)
{
	return strcmp(previous, next) != 0 && versions_read <= SSM_MAX_VERSIONS;
}

/* What the listings read per operation: the array's name and the member
 * each item must have besides Name and Type. */
static const char *must_have_for(const char *operation)
{
	return strcmp(operation, "DescribeParameters") == 0 ? NULL : "Value";
}

int ssm_parse_parameters_page(const struct aws_call *call,
			      struct ssm_parameter_list *out, char **next,
			      struct err *e)
{
	const char *operation = call->req.operation;
	json_t *root = NULL, *items = NULL;
	const char *token = NULL;
	size_t had = out->n;
	*next = NULL;
	int rc = ssm_parse_answer(call, &root, e);
	if (rc == 0 && !(items = required_array(root, "Parameters", operation, e)))
		rc = -1;
	if (rc == 0)
		rc = append_parameters(items, must_have_for(operation), out,
				       operation, e);
	/* ParameterMetadata has no Value: one in the answer is not read, so
	 * that metadata never carries a value a caller does not expect.
	 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterMetadata.html */
	for (size_t i = had; rc == 0 && !must_have_for(operation) && i < out->n; i++) {
		free_secret(out->items[i].value);
		out->items[i].value = NULL;
	}
	if (rc == 0)
		rc = next_token(root, operation, &token, e);
	if (rc == 0 && token && !(*next = strdup(token))) {
		err_set(e, ERR_NOMEM, "out of memory");
		rc = -1;
	}
	json_decref(root);
	while (rc < 0 && out->n > had)
		ssm_parameter_release(&out->items[--out->n]);
	return rc;
}

/* Runs a paginated operation: body gets NextToken set per page, and the
 * Parameters of each answer are appended to out. */
static int paginate(struct aws_ctx *ctx, const char *operation, json_t *body,
		    struct ssm_parameter_list *out, struct err *e)
{
	char **seen = NULL;
	size_t n_seen = 0;
	int rc = 0;
	for (;;) {
		struct aws_call call;
		char *next = NULL;
		rc = ssm_prepare(ctx, &call, operation, body);
		if (rc < 0)
			err_set(e, ERR_NOMEM, "out of memory");
		if (rc == 0)
			rc = aws_perform_one(ctx, &call, e);
		if (rc == 0)
			rc = ssm_parse_parameters_page(&call, out, &next, e);
		aws_call_release(&call);
		if (rc == 0 && next && token_seen(seen, n_seen, next)) {
			err_set_answer(e, aws_ssm.label, operation,
				       "the answer repeats a NextToken it gave "
				       "before (page %zu): the listing would "
				       "never end", n_seen + 1);
			rc = -1;
		} else if (rc == 0 && next && n_seen + 1 >= SSM_MAX_PAGES) {
			err_set_answer(e, aws_ssm.label, operation,
				       "more than %d pages of answers: giving up",
				       SSM_MAX_PAGES);
			rc = -1;
		}
		if (rc == 0 && next && remember(&seen, &n_seen, next) < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			rc = -1;
		}
		bool more = rc == 0 && next;
		if (more)
			json_object_set_new(body, "NextToken", json_string(next));
		free(next);
		if (!more)
			break;
	}
	for (size_t i = 0; i < n_seen; i++)
		free(seen[i]);
	free(seen);
	return rc;
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
	int rc = paginate(ctx, "GetParameterHistory", body, out, e);
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
	int rc = paginate(ctx, "DescribeParameters", body, out, e);
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
	json_t *param = rc == 0 ? json_object_get(root, "Parameter") : NULL;
	if (rc == 0 && (ssm_parameter_from_json(param, out) < 0 || !out->type ||
			!json_is_string(json_object_get(param, "Value")))) {
		err_set_answer(e, aws_ssm.label, "GetParameter",
			       "the answer has no Parameter with Name, Type "
			       "and Value");
		rc = -1;
	}
	json_decref(root);
	aws_call_release(&call);
	return rc;
}
