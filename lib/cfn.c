#include "cfn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "timefmt.h"
#include "xml.h"

#define CFN_VERSION "2010-05-15"

int cfn_pairs_set(struct cfn_pairs *l, const char *key, const char *value,
		  bool use_previous)
{
	struct cfn_pair *p = NULL;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			p = &l->items[i];
	char *v = value ? strdup(value) : NULL;
	if (value && !v)
		return -1;
	if (p) {
		free(p->value);
		p->value = v;
		p->use_previous = use_previous;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct cfn_pair *items = realloc(l->items, cap * sizeof(*items));
		if (!items) {
			free(v);
			return -1;
		}
		l->items = items;
		l->cap = cap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return -1;
	}
	l->items[l->n++] = (struct cfn_pair){ k, v, use_previous };
	return 0;
}

const char *cfn_pairs_get(const struct cfn_pairs *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

void cfn_pairs_release(struct cfn_pairs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void cfn_stack_release(struct cfn_stack *s)
{
	free(s->name);
	free(s->id);
	free(s->status);
	free(s->status_reason);
	cfn_pairs_release(&s->parameters);
	cfn_pairs_release(&s->outputs);
	cfn_pairs_release(&s->tags);
	memset(s, 0, sizeof(*s));
}

static void event_release(struct cfn_event *ev)
{
	free(ev->id);
	free(ev->logical_id);
	free(ev->physical_id);
	free(ev->type);
	free(ev->status);
	free(ev->reason);
}

void cfn_event_list_release(struct cfn_event_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		event_release(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

bool cfn_status_in_progress(const char *status)
{
	size_t n = status ? strlen(status) : 0;
	return n > 12 && strcmp(status + n - 12, "_IN_PROGRESS") == 0;
}

/* https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes */
bool cfn_status_failed(const char *status)
{
	size_t n = status ? strlen(status) : 0;
	if (n > 7 && strcmp(status + n - 7, "_FAILED") == 0)
		return true;
	return status && strstr(status, "ROLLBACK_COMPLETE") != NULL;
}

/* --- requests --- */

static int put_param(struct buf *b, const char *name, const char *value)
{
	char *enc = aws_uri_encode(value, false);
	if (!enc)
		return -1;
	int rc = buf_printf(b, "&%s=%s", name, enc);
	free(enc);
	return rc;
}

static int prepare(struct aws_ctx *ctx, struct aws_call *call,
		   const char *action)
{
	bool custom;
	aws_call_init(call, &aws_cloudformation, action, "POST");
	char *endpoint = aws_endpoint(ctx, &aws_cloudformation, &custom);
	int target = endpoint ? aws_request_set_target(&call->req, endpoint, "/")
			      : -1;
	free(endpoint);
	if (target < 0 ||
	    buf_printf(&call->req.body, "Action=%s&Version=" CFN_VERSION,
		       action) < 0 ||
	    aws_headers_add(&call->req.headers, "Content-Type",
			    "application/x-www-form-urlencoded; "
			    "charset=utf-8") < 0)
		return -1;
	return 0;
}

/* One field of a list member, as the query protocol writes lists:
 * &Parameters.member.1.ParameterKey=... (1-based). */
static int put_member(struct buf *b, const char *list, size_t index,
		      const char *field, const char *value)
{
	char name[96];
	snprintf(name, sizeof(name), "%s.member.%zu%s%s", list, index + 1,
		 field ? "." : "", field ? field : "");
	return put_param(b, name, value);
}

static int put_stack_input(struct buf *b, const struct cfn_stack_input *in)
{
	if (put_param(b, "StackName", in->name) < 0 ||
	    put_param(b, "TemplateBody", in->template_body) < 0)
		return -1;
	if (in->capability_named_iam &&
	    put_member(b, "Capabilities", 0, NULL, "CAPABILITY_NAMED_IAM") < 0)
		return -1;
	if (in->role_arn && put_param(b, "RoleARN", in->role_arn) < 0)
		return -1;
	for (size_t i = 0; in->parameters && i < in->parameters->n; i++) {
		const struct cfn_pair *p = &in->parameters->items[i];
		if (put_member(b, "Parameters", i, "ParameterKey", p->key) < 0)
			return -1;
		if (p->use_previous ? put_member(b, "Parameters", i,
						 "UsePreviousValue", "true")
				    : put_member(b, "Parameters", i,
						 "ParameterValue",
						 p->value ? p->value : "") < 0)
			return -1;
	}
	for (size_t i = 0; in->tags && i < in->tags->n; i++) {
		const struct cfn_pair *t = &in->tags->items[i];
		if (put_member(b, "Tags", i, "Key", t->key) < 0 ||
		    put_member(b, "Tags", i, "Value", t->value ? t->value : "") < 0)
			return -1;
	}
	return 0;
}

static char *stack_id_of(const struct aws_response *resp)
{
	char id[1024] = "";
	struct xml_doc *doc = xml_parse(buf_str(&resp->body), resp->body.len);
	xml_copy_first(doc, "StackId", id, sizeof(id));
	xml_free(doc);
	return *id ? strdup(id) : NULL;
}

static int stack_call(struct aws_ctx *ctx, const char *action,
		      const struct cfn_stack_input *in, char **stack_id,
		      struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*stack_id = NULL;
	if (prepare(ctx, &call, action) < 0 ||
	    put_stack_input(&call.req.body, in) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		*stack_id = stack_id_of(&call.resp);
		rc = 0;
		if (!*stack_id) {
			err_set(e, ERR_PARSE, "no StackId in the answer");
			err_context(e, aws_cloudformation.label, action);
			rc = -1;
		}
	}
	aws_call_release(&call);
	return rc;
}

int cfn_create_stack(struct aws_ctx *ctx, const struct cfn_stack_input *in,
		     char **stack_id, struct err *e)
{
	return stack_call(ctx, "CreateStack", in, stack_id, e);
}

/* "No updates are to be performed." is how UpdateStack says the stack
 * already is what was asked for (a ValidationError).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html */
int cfn_update_stack(struct aws_ctx *ctx, const struct cfn_stack_input *in,
		     char **stack_id, bool *no_updates, struct err *e)
{
	*no_updates = false;
	struct err mine = { 0 };
	if (stack_call(ctx, "UpdateStack", in, stack_id, &mine) == 0)
		return 0;
	if (strcmp(mine.code, "ValidationError") == 0 &&
	    strstr(mine.message, "No updates are to be performed")) {
		*no_updates = true;
		return 0;
	}
	*e = mine;
	return -1;
}

int cfn_delete_stack(struct aws_ctx *ctx, const char *name, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	if (prepare(ctx, &call, "DeleteStack") < 0 ||
	    put_param(&call.req.body, "StackName", name) < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = aws_perform_one(ctx, &call, e);
	aws_call_release(&call);
	return rc;
}

/* --- answers --- */

static double time_of(struct xml_node *parent, const char *name)
{
	char *text = xml_child_text(parent, name);
	double t = 0;
	if (text && time_parse_iso8601(text, &t) < 0)
		t = 0;
	free(text);
	return t;
}

/* A list of <member> with two text children into pairs. */
static int read_pairs(struct xml_node *list, const char *key_name,
		      const char *value_name, struct cfn_pairs *out)
{
	for (struct xml_node *m = xml_child(list, "member"); m;
	     m = xml_next(m, "member")) {
		char *key = xml_child_text(m, key_name);
		char *value = xml_child_text(m, value_name);
		int rc = key ? cfn_pairs_set(out, key, value ? value : "", false)
			     : 0;
		free(key);
		free(value);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int cfn_parse_stack(const char *xml, size_t len, struct cfn_stack *out,
		    struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *stacks = xml_find(xml_root(doc), "Stacks");
	struct xml_node *s = stacks ? xml_child(stacks, "member") : NULL;
	int rc = -1;
	if (!s) {
		err_set(e, ERR_PARSE, "no stack in the DescribeStacks answer");
		goto done;
	}
	out->name = xml_child_text(s, "StackName");
	out->id = xml_child_text(s, "StackId");
	out->status = xml_child_text(s, "StackStatus");
	out->status_reason = xml_child_text(s, "StackStatusReason");
	out->created = time_of(s, "CreationTime");
	out->updated = time_of(s, "LastUpdatedTime");
	if (!out->name || !out->status) {
		err_set(e, ERR_PARSE, "a stack without StackName or StackStatus");
		goto done;
	}
	if (read_pairs(xml_child(s, "Parameters"), "ParameterKey",
		       "ParameterValue", &out->parameters) < 0 ||
	    read_pairs(xml_child(s, "Outputs"), "OutputKey", "OutputValue",
		       &out->outputs) < 0 ||
	    read_pairs(xml_child(s, "Tags"), "Key", "Value", &out->tags) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		cfn_stack_release(out);
	xml_free(doc);
	return rc;
}

int cfn_describe_stack(struct aws_ctx *ctx, const char *name,
		       struct cfn_stack *out, bool *missing, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*missing = false;
	memset(out, 0, sizeof(*out));
	if (prepare(ctx, &call, "DescribeStacks") < 0 ||
	    put_param(&call.req.body, "StackName", name) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		rc = cfn_parse_stack(buf_str(&call.resp.body),
				     call.resp.body.len, out, e);
		if (rc < 0)
			err_context(e, aws_cloudformation.label, "DescribeStacks");
	} else if (strcmp(e->code, "ValidationError") == 0 &&
		   strstr(e->message, "does not exist")) {
		*missing = true;
	}
	aws_call_release(&call);
	return rc;
}

int cfn_parse_events(const char *xml, size_t len, const char *stop_at,
		     struct cfn_event_list *out, bool *stopped,
		     char **next_token, struct err *e)
{
	*stopped = false;
	*next_token = NULL;
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *events = xml_find(xml_root(doc), "StackEvents");
	if (!doc || !events) {
		xml_free(doc);
		err_set(e, ERR_PARSE, "no StackEvents in the answer");
		return -1;
	}
	int rc = 0;
	for (struct xml_node *m = xml_child(events, "member"); m;
	     m = xml_next(m, "member")) {
		char *id = xml_child_text(m, "EventId");
		if (id && stop_at && strcmp(id, stop_at) == 0) {
			free(id);
			*stopped = true;
			break;
		}
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 32;
			struct cfn_event *items = realloc(out->items,
							  cap * sizeof(*items));
			if (!items) {
				free(id);
				rc = -1;
				break;
			}
			out->items = items;
			out->cap = cap;
		}
		struct cfn_event *ev = &out->items[out->n++];
		ev->id = id;
		ev->logical_id = xml_child_text(m, "LogicalResourceId");
		ev->physical_id = xml_child_text(m, "PhysicalResourceId");
		ev->type = xml_child_text(m, "ResourceType");
		ev->status = xml_child_text(m, "ResourceStatus");
		ev->reason = xml_child_text(m, "ResourceStatusReason");
		ev->timestamp = time_of(m, "Timestamp");
	}
	if (rc == 0 && !*stopped) {
		*next_token = xml_child_text(xml_find(xml_root(doc),
						      "DescribeStackEventsResult"),
					     "NextToken");
		if (*next_token && !**next_token) {
			free(*next_token);
			*next_token = NULL;
		}
	}
	xml_free(doc);
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

/* Pages of a listing before it is taken for one that never ends. */
#define CFN_MAX_PAGES 10000

/* Whether a listing does not advance: the answer's NextToken is the one
 * the request sent, or the pages pass CFN_MAX_PAGES. Sets *e. */
static bool token_stalls(const char *sent, const char *next, int pages,
			 const char *operation, struct err *e)
{
	if (next && sent && strcmp(next, sent) == 0) {
		err_set_answer(e, aws_cloudformation.label, operation,
			       "the answer repeats the NextToken it was asked "
			       "with: the listing would never end");
		return true;
	}
	if (next && pages >= CFN_MAX_PAGES) {
		err_set_answer(e, aws_cloudformation.label, operation,
			       "more than %d pages of answers: giving up",
			       CFN_MAX_PAGES);
		return true;
	}
	return false;
}

int cfn_describe_events(struct aws_ctx *ctx, const char *name,
			const char *stop_at, bool first_page,
			struct cfn_event_list *out, struct err *e)
{
	char *token = NULL;
	int rc = 0, pages = 0;
	do {
		struct aws_call call;
		if (prepare(ctx, &call, "DescribeStackEvents") < 0 ||
		    put_param(&call.req.body, "StackName", name) < 0 ||
		    (token && put_param(&call.req.body, "NextToken", token) < 0)) {
			err_set(e, ERR_NOMEM, "out of memory");
			rc = -1;
		} else {
			rc = aws_perform_one(ctx, &call, e);
		}
		char *previous = token;
		token = NULL;
		bool stopped = false;
		if (rc == 0) {
			rc = cfn_parse_events(buf_str(&call.resp.body),
					      call.resp.body.len, stop_at, out,
					      &stopped, &token, e);
			if (rc < 0)
				err_context(e, aws_cloudformation.label,
					    "DescribeStackEvents");
		}
		if (rc == 0 && !first_page &&
		    token_stalls(previous, token, ++pages, "DescribeStackEvents", e))
			rc = -1;
		free(previous);
		aws_call_release(&call);
	} while (rc == 0 && token && !first_page);
	free(token);
	return rc;
}

/* --- change sets --- */

static void change_release(struct cfn_change *c)
{
	free(c->action);
	free(c->logical_id);
	free(c->physical_id);
	free(c->type);
	free(c->replacement);
	cfn_pairs_release(&c->properties);
}

void cfn_change_set_release(struct cfn_change_set *c)
{
	free(c->id);
	free(c->status);
	free(c->status_reason);
	free(c->execution_status);
	for (size_t i = 0; i < c->n; i++)
		change_release(&c->changes[i]);
	free(c->changes);
	memset(c, 0, sizeof(*c));
}

/* The reason CreateChangeSet's change set fails with when nothing changes:
 * "The submitted information didn't contain changes. Submit different
 * information to create a change set." (and "No updates are to be
 * performed." for some changes of only parameters). */
bool cfn_change_set_is_empty_failure(const struct cfn_change_set *c)
{
	return c->status && strcmp(c->status, "FAILED") == 0 && c->status_reason &&
	       (strstr(c->status_reason, "didn't contain changes") ||
		strstr(c->status_reason, "No updates are to be performed"));
}

/* One <member> of Changes: Type Resource, ResourceChange {...}. */
static int read_change(struct xml_node *m, struct cfn_change *c)
{
	struct xml_node *rc = xml_child(m, "ResourceChange");
	if (!rc)
		return 0;
	c->action = xml_child_text(rc, "Action");
	c->logical_id = xml_child_text(rc, "LogicalResourceId");
	c->physical_id = xml_child_text(rc, "PhysicalResourceId");
	c->type = xml_child_text(rc, "ResourceType");
	c->replacement = xml_child_text(rc, "Replacement");
	if (c->physical_id && !*c->physical_id) {
		free(c->physical_id);
		c->physical_id = NULL;
	}
	struct xml_node *details = xml_child(rc, "Details");
	for (struct xml_node *d = details ? xml_child(details, "member") : NULL; d;
	     d = xml_next(d, "member")) {
		struct xml_node *target = xml_child(d, "Target");
		char *name = target ? xml_child_text(target, "Name") : NULL;
		char *recreation = target ? xml_child_text(target, "RequiresRecreation")
					  : NULL;
		int rc2 = name ? cfn_pairs_set(&c->properties, name,
					       recreation ? recreation : "", false)
			       : 0;
		free(name);
		free(recreation);
		if (rc2 < 0)
			return -1;
	}
	return c->action && c->logical_id ? 0 : -1;
}

int cfn_parse_change_set(const char *xml, size_t len, struct cfn_change_set *out,
			 struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *result = xml_find(xml_root(doc), "DescribeChangeSetResult");
	if (!result) {
		xml_free(doc);
		err_set(e, ERR_PARSE, "no DescribeChangeSetResult in the answer");
		return -1;
	}
	out->id = xml_child_text(result, "ChangeSetId");
	out->status = xml_child_text(result, "Status");
	out->status_reason = xml_child_text(result, "StatusReason");
	out->execution_status = xml_child_text(result, "ExecutionStatus");
	int rc = out->status ? 0 : -1;
	if (rc < 0)
		err_set(e, ERR_PARSE, "a change set without a Status");
	struct xml_node *changes = xml_child(result, "Changes");
	size_t cap = 0;
	for (struct xml_node *m = changes ? xml_child(changes, "member") : NULL;
	     m && rc == 0; m = xml_next(m, "member")) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct cfn_change *items = realloc(out->changes,
							   cap * sizeof(*items));
			if (!items) {
				err_set(e, ERR_NOMEM, "out of memory");
				rc = -1;
				break;
			}
			out->changes = items;
		}
		struct cfn_change *c = &out->changes[out->n++];
		memset(c, 0, sizeof(*c));
		if (read_change(m, c) < 0) {
			err_set(e, ERR_PARSE, "a change without Action or LogicalResourceId");
			rc = -1;
		}
	}
	xml_free(doc);
	if (rc < 0)
		cfn_change_set_release(out);
	return rc;
}

int cfn_create_change_set(struct aws_ctx *ctx, const struct cfn_stack_input *in,
			  const char *change_set, char **id, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*id = NULL;
	if (prepare(ctx, &call, "CreateChangeSet") < 0 ||
	    put_stack_input(&call.req.body, in) < 0 ||
	    put_param(&call.req.body, "ChangeSetName", change_set) < 0 ||
	    put_param(&call.req.body, "ChangeSetType", "UPDATE") < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		char found[2048] = "";
		struct xml_doc *doc = xml_parse(buf_str(&call.resp.body),
						call.resp.body.len);
		xml_copy_first(doc, "Id", found, sizeof(found));
		xml_free(doc);
		if (!*found) {
			err_set(e, ERR_PARSE, "no Id in the answer");
			err_context(e, aws_cloudformation.label, "CreateChangeSet");
		} else if (!(*id = strdup(found))) {
			err_set(e, ERR_NOMEM, "out of memory");
		} else {
			rc = 0;
		}
	}
	aws_call_release(&call);
	return rc;
}

int cfn_describe_change_set(struct aws_ctx *ctx, const char *id,
			    struct cfn_change_set *out, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if (prepare(ctx, &call, "DescribeChangeSet") < 0 ||
	    put_param(&call.req.body, "ChangeSetName", id) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		rc = cfn_parse_change_set(buf_str(&call.resp.body),
					  call.resp.body.len, out, e);
		if (rc < 0)
			err_context(e, aws_cloudformation.label, "DescribeChangeSet");
	}
	aws_call_release(&call);
	return rc;
}

static int change_set_call(struct aws_ctx *ctx, const char *action,
			   const char *id, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	if (prepare(ctx, &call, action) < 0 ||
	    put_param(&call.req.body, "ChangeSetName", id) < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = aws_perform_one(ctx, &call, e);
	aws_call_release(&call);
	return rc;
}

int cfn_execute_change_set(struct aws_ctx *ctx, const char *id, struct err *e)
{
	return change_set_call(ctx, "ExecuteChangeSet", id, e);
}

int cfn_delete_change_set(struct aws_ctx *ctx, const char *id, struct err *e)
{
	return change_set_call(ctx, "DeleteChangeSet", id, e);
}

/* --- StackSets --- */

void cfn_stack_instance_list_release(struct cfn_stack_instance_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct cfn_stack_instance *s = &l->items[i];
		free(s->account);
		free(s->region);
		free(s->ou);
		free(s->status);
		free(s->detailed_status);
		free(s->reason);
		free(s->stack_id);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int operation_call(struct aws_ctx *ctx, struct aws_call *call,
			  const char *action, char **operation_id, struct err *e);

/* Parameters as the query protocol lists them, UsePreviousValue for keep. */
static int put_parameters(struct buf *b, const struct cfn_pairs *parameters)
{
	for (size_t i = 0; parameters && i < parameters->n; i++) {
		const struct cfn_pair *p = &parameters->items[i];
		if (put_member(b, "Parameters", i, "ParameterKey", p->key) < 0)
			return -1;
		if (p->use_previous ? put_member(b, "Parameters", i,
						 "UsePreviousValue", "true")
				    : put_member(b, "Parameters", i,
						 "ParameterValue",
						 p->value ? p->value : "") < 0)
			return -1;
	}
	return 0;
}

static bool stack_set_missing(const struct err *e)
{
	return strcmp(e->code, "StackSetNotFoundException") == 0;
}

int cfn_create_stack_set(struct aws_ctx *ctx, const struct cfn_stack_input *in,
			 struct err *e)
{
	struct aws_call call;
	int rc = -1;
	struct buf *b = &call.req.body;
	if (prepare(ctx, &call, "CreateStackSet") < 0 ||
	    put_param(b, "StackSetName", in->name) < 0 ||
	    put_param(b, "TemplateBody", in->template_body) < 0 ||
	    put_param(b, "PermissionModel", "SERVICE_MANAGED") < 0 ||
	    put_param(b, "AutoDeployment.Enabled", "true") < 0 ||
	    put_param(b, "AutoDeployment.RetainStacksOnAccountRemoval", "false") < 0 ||
	    (in->capability_named_iam &&
	     put_member(b, "Capabilities", 0, NULL, "CAPABILITY_NAMED_IAM") < 0)) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; in->parameters && i < in->parameters->n; i++) {
		const struct cfn_pair *p = &in->parameters->items[i];
		if (put_member(b, "Parameters", i, "ParameterKey", p->key) < 0 ||
		    put_member(b, "Parameters", i, "ParameterValue",
			       p->value ? p->value : "") < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
	}
	for (size_t i = 0; in->tags && i < in->tags->n; i++)
		if (put_member(b, "Tags", i, "Key", in->tags->items[i].key) < 0 ||
		    put_member(b, "Tags", i, "Value", in->tags->items[i].value) < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
	rc = aws_perform_one(ctx, &call, e);
done:
	aws_call_release(&call);
	return rc;
}

int cfn_describe_stack_set(struct aws_ctx *ctx, const char *name,
			   struct cfn_pairs *parameters, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	if (prepare(ctx, &call, "DescribeStackSet") < 0 ||
	    put_param(&call.req.body, "StackSetName", name) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		struct xml_doc *doc = xml_parse(buf_str(&call.resp.body),
						call.resp.body.len);
		struct xml_node *set = xml_find(xml_root(doc), "StackSet");
		if (!set)
			err_set(e, ERR_PARSE, "no StackSet in the DescribeStackSet answer");
		else if (read_pairs(xml_child(set, "Parameters"), "ParameterKey",
				    "ParameterValue", parameters) < 0)
			err_set(e, ERR_NOMEM, "out of memory");
		else
			rc = 0;
		xml_free(doc);
	}
	aws_call_release(&call);
	return rc;
}

int cfn_update_stack_set(struct aws_ctx *ctx, const struct cfn_stack_input *in,
			 char **operation_id, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*operation_id = NULL;
	struct buf *b = &call.req.body;
	if (prepare(ctx, &call, "UpdateStackSet") < 0 ||
	    put_param(b, "StackSetName", in->name) < 0 ||
	    put_param(b, "TemplateBody", in->template_body) < 0 ||
	    (in->capability_named_iam &&
	     put_member(b, "Capabilities", 0, NULL, "CAPABILITY_NAMED_IAM") < 0) ||
	    put_parameters(b, in->parameters) < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = operation_call(ctx, &call, "UpdateStackSet", operation_id, e);
	aws_call_release(&call);
	return rc;
}

static int put_targets(struct buf *b, const char *const *ous, size_t n_ous,
		       const char *const *regions, size_t n_regions)
{
	for (size_t i = 0; i < n_ous; i++)
		if (put_member(b, "DeploymentTargets.OrganizationalUnitIds", i, NULL,
			       ous[i]) < 0)
			return -1;
	for (size_t i = 0; i < n_regions; i++)
		if (put_member(b, "Regions", i, NULL, regions[i]) < 0)
			return -1;
	return 0;
}

static int operation_call(struct aws_ctx *ctx, struct aws_call *call,
			  const char *action, char **operation_id, struct err *e)
{
	*operation_id = NULL;
	if (aws_perform_one(ctx, call, e) < 0)
		return -1;
	char id[256] = "";
	struct xml_doc *doc = xml_parse(buf_str(&call->resp.body), call->resp.body.len);
	xml_copy_first(doc, "OperationId", id, sizeof(id));
	xml_free(doc);
	if (!*id) {
		err_set(e, ERR_PARSE, "no OperationId in the answer");
		err_context(e, aws_cloudformation.label, action);
		return -1;
	}
	if (!(*operation_id = strdup(id))) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int cfn_create_stack_instances(struct aws_ctx *ctx, const char *name,
			       const char *const *ous, size_t n_ous,
			       const char *const *regions, size_t n_regions,
			       const struct cfn_pairs *overrides,
			       char **operation_id, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*operation_id = NULL;
	struct buf *b = &call.req.body;
	bool ok = prepare(ctx, &call, "CreateStackInstances") == 0 &&
		  put_param(b, "StackSetName", name) == 0 &&
		  put_targets(b, ous, n_ous, regions, n_regions) == 0;
	for (size_t i = 0; ok && overrides && i < overrides->n; i++)
		ok = put_member(b, "ParameterOverrides", i, "ParameterKey",
				overrides->items[i].key) == 0 &&
		     put_member(b, "ParameterOverrides", i, "ParameterValue",
				overrides->items[i].value) == 0;
	if (!ok)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = operation_call(ctx, &call, "CreateStackInstances", operation_id, e);
	aws_call_release(&call);
	return rc;
}

int cfn_delete_stack_instances(struct aws_ctx *ctx, const char *name,
			       const char *const *ous, size_t n_ous,
			       const char *const *regions, size_t n_regions,
			       char **operation_id, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*operation_id = NULL;
	if (prepare(ctx, &call, "DeleteStackInstances") < 0 ||
	    put_param(&call.req.body, "StackSetName", name) < 0 ||
	    put_targets(&call.req.body, ous, n_ous, regions, n_regions) < 0 ||
	    put_param(&call.req.body, "RetainStacks", "false") < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = operation_call(ctx, &call, "DeleteStackInstances", operation_id, e);
	aws_call_release(&call);
	return rc;
}

int cfn_describe_stack_set_operation(struct aws_ctx *ctx, const char *name,
				     const char *operation_id, char **status,
				     char **reason, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	*status = *reason = NULL;
	if (prepare(ctx, &call, "DescribeStackSetOperation") < 0 ||
	    put_param(&call.req.body, "StackSetName", name) < 0 ||
	    put_param(&call.req.body, "OperationId", operation_id) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		struct xml_doc *doc = xml_parse(buf_str(&call.resp.body),
						call.resp.body.len);
		struct xml_node *op = xml_find(xml_root(doc), "StackSetOperation");
		*status = op ? xml_child_text(op, "Status") : NULL;
		*reason = op ? xml_child_text(op, "StatusReason") : NULL;
		xml_free(doc);
		if (*status) {
			rc = 0;
		} else {
			err_set(e, ERR_PARSE, "no StackSetOperation Status in the answer");
			err_context(e, aws_cloudformation.label,
				    "DescribeStackSetOperation");
		}
	}
	aws_call_release(&call);
	return rc;
}

int cfn_parse_stack_instances(const char *xml, size_t len,
			      struct cfn_stack_instance_list *out,
			      char **next_token, struct err *e)
{
	*next_token = NULL;
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *result = xml_find(xml_root(doc), "ListStackInstancesResult");
	if (!result) {
		xml_free(doc);
		err_set(e, ERR_PARSE, "no ListStackInstancesResult in the answer");
		return -1;
	}
	struct xml_node *summaries = xml_child(result, "Summaries");
	for (struct xml_node *m = summaries ? xml_child(summaries, "member") : NULL;
	     m; m = xml_next(m, "member")) {
		struct cfn_stack_instance *items =
			realloc(out->items, (out->n + 1) * sizeof(*items));
		if (!items) {
			xml_free(doc);
			err_set(e, ERR_NOMEM, "out of memory");
			return -1;
		}
		out->items = items;
		struct cfn_stack_instance *s = &out->items[out->n++];
		s->account = xml_child_text(m, "Account");
		s->region = xml_child_text(m, "Region");
		s->ou = xml_child_text(m, "OrganizationalUnitId");
		s->status = xml_child_text(m, "Status");
		struct xml_node *detail = xml_child(m, "StackInstanceStatus");
		s->detailed_status = detail ? xml_child_text(detail, "DetailedStatus")
					    : NULL;
		s->reason = xml_child_text(m, "StatusReason");
		s->stack_id = xml_child_text(m, "StackId");
	}
	*next_token = xml_child_text(result, "NextToken");
	if (*next_token && !**next_token) {
		free(*next_token);
		*next_token = NULL;
	}
	xml_free(doc);
	return 0;
}

int cfn_list_stack_instances(struct aws_ctx *ctx, const char *name,
			     struct cfn_stack_instance_list *out, bool *missing,
			     struct err *e)
{
	*missing = false;
	memset(out, 0, sizeof(*out));
	char *token = NULL;
	int rc, pages = 0;
	do {
		struct aws_call call;
		rc = -1;
		if (prepare(ctx, &call, "ListStackInstances") < 0 ||
		    put_param(&call.req.body, "StackSetName", name) < 0 ||
		    (token && put_param(&call.req.body, "NextToken", token) < 0)) {
			err_set(e, ERR_NOMEM, "out of memory");
		} else if (aws_perform_one(ctx, &call, e) == 0) {
			char *previous = token;
			token = NULL;
			rc = cfn_parse_stack_instances(buf_str(&call.resp.body),
						       call.resp.body.len, out,
						       &token, e);
			if (rc == 0 && token_stalls(previous, token, ++pages,
						    "ListStackInstances", e))
				rc = -1;
			free(previous);
		} else {
			*missing = stack_set_missing(e);
		}
		aws_call_release(&call);
	} while (rc == 0 && token);
	free(token);
	if (rc < 0)
		cfn_stack_instance_list_release(out);
	return rc;
}

int cfn_delete_stack_set(struct aws_ctx *ctx, const char *name, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	if (prepare(ctx, &call, "DeleteStackSet") < 0 ||
	    put_param(&call.req.body, "StackSetName", name) < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = aws_perform_one(ctx, &call, e);
	aws_call_release(&call);
	return rc;
}
