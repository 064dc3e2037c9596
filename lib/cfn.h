/* CloudFormation, the query protocol (POST form body, XML answer): the
 * calls `ssmbak stack` makes to deploy and watch the ssmbak stack.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Operations.html */
#ifndef SSMBAK_CFN_H
#define SSMBAK_CFN_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"

/* Key/value pairs: stack parameters, tags, outputs. */
struct cfn_pair {
	char *key;
	char *value;
	bool use_previous; /* parameters of an update: keep the stack's value */
};

struct cfn_pairs {
	struct cfn_pair *items;
	size_t n;
	size_t cap;
};

/* Adds or replaces key; value NULL with use_previous for "keep". */
int cfn_pairs_set(struct cfn_pairs *l, const char *key, const char *value,
		  bool use_previous);
const char *cfn_pairs_get(const struct cfn_pairs *l, const char *key);
void cfn_pairs_release(struct cfn_pairs *l);

struct cfn_stack {
	char *name;
	char *id;
	char *status;        /* CREATE_COMPLETE, ... */
	char *status_reason; /* NULL when none */
	double created;
	double updated;      /* 0: never */
	struct cfn_pairs parameters;
	struct cfn_pairs outputs;
	struct cfn_pairs tags;
};

void cfn_stack_release(struct cfn_stack *s);

struct cfn_event {
	char *id;
	char *logical_id;
	char *physical_id;
	char *type;
	char *status;
	char *reason; /* NULL when none */
	double timestamp;
};

struct cfn_event_list {
	struct cfn_event *items;
	size_t n;
	size_t cap;
};

void cfn_event_list_release(struct cfn_event_list *l);

/* What CreateStack, UpdateStack and CreateChangeSet take. */
struct cfn_stack_input {
	const char *name;
	const char *template_body;
	const struct cfn_pairs *parameters;
	const struct cfn_pairs *tags; /* NULL: update keeps the stack's tags */
	bool capability_named_iam;    /* the stack makes roles, some named */
	const char *role_arn;         /* RoleARN: CloudFormation's service role, or NULL */
};

/* *stack_id is set (caller frees) on success. */
int cfn_create_stack(struct aws_ctx *ctx, const struct cfn_stack_input *in,
		     char **stack_id, struct err *e);
/* *no_updates is true when CloudFormation answered that nothing changes
 * ("No updates are to be performed."): success, and no operation runs. */
int cfn_update_stack(struct aws_ctx *ctx, const struct cfn_stack_input *in,
		     char **stack_id, bool *no_updates, struct err *e);
int cfn_delete_stack(struct aws_ctx *ctx, const char *name, struct err *e);

/* name may be a stack id, which also finds a deleted stack. A stack that
 * does not exist is an error with *missing set (CloudFormation answers
 * ValidationError "Stack with id NAME does not exist"). */
int cfn_describe_stack(struct aws_ctx *ctx, const char *name,
		       struct cfn_stack *out, bool *missing, struct err *e);

/* The stack's events, newest first as CloudFormation lists them, up to and
 * excluding the event with id stop_at (NULL: all of them); first_page:
 * only the newest page. */
int cfn_describe_events(struct aws_ctx *ctx, const char *name,
			const char *stop_at, bool first_page,
			struct cfn_event_list *out, struct err *e);

/* --- change sets ---
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html */

struct cfn_change {
	char *action;      /* Add, Modify, Remove */
	char *logical_id;
	char *physical_id; /* NULL for Add */
	char *type;
	char *replacement; /* Modify: True, False, Conditional; else NULL */
	struct cfn_pairs properties; /* Modify: property name -> RequiresRecreation */
};

struct cfn_change_set {
	char *id;
	char *status;           /* CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_COMPLETE, FAILED */
	char *status_reason;    /* NULL when none */
	char *execution_status; /* AVAILABLE, UNAVAILABLE, EXECUTE_COMPLETE, ... */
	struct cfn_change *changes;
	size_t n;
};

void cfn_change_set_release(struct cfn_change_set *c);

/* An UPDATE change set named change_set of the stack in->name; *id is set
 * (caller frees). */
int cfn_create_change_set(struct aws_ctx *ctx, const struct cfn_stack_input *in,
			  const char *change_set, char **id, struct err *e);
/* One page of changes is all a change set of ssmbak's template has
 * (fewer than the 100 a page holds). */
int cfn_describe_change_set(struct aws_ctx *ctx, const char *id,
			    struct cfn_change_set *out, struct err *e);
int cfn_execute_change_set(struct aws_ctx *ctx, const char *id, struct err *e);
int cfn_delete_change_set(struct aws_ctx *ctx, const char *id, struct err *e);
/* Whether a FAILED change set failed only because nothing would change. */
bool cfn_change_set_is_empty_failure(const struct cfn_change_set *c);

/* --- StackSets with service-managed permissions (an organization) ---
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html */

struct cfn_stack_instance {
	char *account;
	char *region;
	char *ou;
	char *status;          /* CURRENT, OUTDATED, INOPERABLE */
	char *detailed_status; /* PENDING, RUNNING, SUCCEEDED, FAILED, ... */
	char *reason;          /* NULL when none */
	char *stack_id;        /* NULL before the stack exists */
};

struct cfn_stack_instance_list {
	struct cfn_stack_instance *items;
	size_t n;
};

void cfn_stack_instance_list_release(struct cfn_stack_instance_list *l);

/* A StackSet deploying to organizational units, with automatic deployment
 * to accounts that join them. */
int cfn_create_stack_set(struct aws_ctx *ctx, const struct cfn_stack_input *in,
			 struct err *e);
/* The StackSet's parameters (its template's values, before each
 * instance's overrides). */
int cfn_describe_stack_set(struct aws_ctx *ctx, const char *name,
			   struct cfn_pairs *parameters, struct err *e);
/* New template and parameters (use_previous keeps a value) for every
 * instance; *operation_id is set (caller frees). */
int cfn_update_stack_set(struct aws_ctx *ctx, const struct cfn_stack_input *in,
			 char **operation_id, struct err *e);
/* One operation: stacks for every account of the OUs in the regions, with
 * overrides of the StackSet's parameters (NULL: none). *operation_id is
 * set (caller frees). */
int cfn_create_stack_instances(struct aws_ctx *ctx, const char *name,
			       const char *const *ous, size_t n_ous,
			       const char *const *regions, size_t n_regions,
			       const struct cfn_pairs *overrides,
			       char **operation_id, struct err *e);
int cfn_delete_stack_instances(struct aws_ctx *ctx, const char *name,
			       const char *const *ous, size_t n_ous,
			       const char *const *regions, size_t n_regions,
			       char **operation_id, struct err *e);
/* *status: RUNNING, SUCCEEDED, FAILED, STOPPED, QUEUED, STOPPING; *reason
 * NULL when none (caller frees both). */
int cfn_describe_stack_set_operation(struct aws_ctx *ctx, const char *name,
				     const char *operation_id, char **status,
				     char **reason, struct err *e);
int cfn_list_stack_instances(struct aws_ctx *ctx, const char *name,
			     struct cfn_stack_instance_list *out, bool *missing,
			     struct err *e);
int cfn_delete_stack_set(struct aws_ctx *ctx, const char *name, struct err *e);

/* Answer decoders, exposed for tests. */
int cfn_parse_stack_instances(const char *xml, size_t len,
			      struct cfn_stack_instance_list *out,
			      char **next_token, struct err *e);
int cfn_parse_change_set(const char *xml, size_t len, struct cfn_change_set *out,
			 struct err *e);
int cfn_parse_stack(const char *xml, size_t len, struct cfn_stack *out,
		    struct err *e);
int cfn_parse_events(const char *xml, size_t len, const char *stop_at,
		     struct cfn_event_list *out, bool *stopped,
		     char **next_token, struct err *e);

/* Stack statuses: one that is still moving, and one that is a failure
 * (failed, or rolled back). */
bool cfn_status_in_progress(const char *status);
bool cfn_status_failed(const char *status);

#endif
