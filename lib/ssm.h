/* The SSM Parameter Store calls ssmbak makes (JSON 1.1 protocol).
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/ */
#ifndef SSMBAK_SSM_H
#define SSMBAK_SSM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "aws.h"
#include "http.h"

/* One parameter, or one version of it; fields absent in an answer are
 * NULL (or 0). */
struct ssm_parameter {
	char *name;
	char *type;
	char *value; /* secret: never logged */
	long long version;
	double last_modified;
	char *description;
	char *key_id;
	char *tier;
	char *data_type;
	char *allowed_pattern;
	/* What GetParameterHistory tells beside the value: the caller who
	 * made the version (an ARN), its labels joined by ',' (a label holds
	 * none), and its policies as a JSON array of their PolicyText. */
	char *last_modified_user;
	char *labels;
	char *policies;
};

struct ssm_parameter_list {
	struct ssm_parameter *items;
	size_t n;
	size_t cap;
};

void ssm_parameter_release(struct ssm_parameter *p);
int ssm_parameter_copy(struct ssm_parameter *dst,
		       const struct ssm_parameter *src);
void ssm_parameter_list_release(struct ssm_parameter_list *l);
/* Appends an empty parameter; NULL when out of memory. */
struct ssm_parameter *ssm_parameter_list_add(struct ssm_parameter_list *l);

/* Reads the fields an answer has: Parameter, ParameterMetadata and
 * ParameterHistory objects share names. -1 when it is not an object, has
 * no Name, or a member of the wrong JSON type. */
int ssm_parameter_from_json(json_t *obj, struct ssm_parameter *out);

/* A call to operation with this JSON body (not consumed). The call is set
 * up even when this fails, so it can always be released; a NULL body (a
 * json_pack that ran out of memory) fails. */
int ssm_prepare(struct aws_ctx *ctx, struct aws_call *call,
		const char *operation, json_t *body);
int ssm_parse_answer(const struct aws_call *call, json_t **out, struct err *e);

int ssm_prepare_get_parameters(struct aws_ctx *ctx, struct aws_call *call,
			       const char *const *names, size_t n);
/* Found parameters are appended to found; names SSM does not know to
 * missing (may be NULL). The answer must account for every name the
 * call asked for, each entry with Name, Type and Value; otherwise it
 * fails (ERR_PARSE) and found is left as it was. */
int ssm_parse_get_parameters(const struct aws_call *call,
			     struct ssm_parameter_list *found,
			     struct ssm_parameter_list *missing, struct err *e);
/* One page of DescribeParameters or GetParameterHistory: its Parameters
 * (required; each with Name and Type, and Value for the history) appended
 * to out, *next its NextToken (caller frees; NULL at the end). A page of
 * the wrong shape fails and adds nothing. */
int ssm_parse_parameters_page(const struct aws_call *call,
			      struct ssm_parameter_list *out, char **next,
			      struct err *e);
int ssm_prepare_put_parameter(struct aws_ctx *ctx, struct aws_call *call,
			      const struct ssm_parameter *p);
int ssm_prepare_delete_parameters(struct aws_ctx *ctx, struct aws_call *call,
				  const char *const *names, size_t n);

/* Every version SSM still has (at most 100), oldest first, decrypted. */
int ssm_get_parameter_history(struct aws_ctx *ctx, const char *name,
			      struct ssm_parameter_list *out, struct err *e);
/* Metadata (no values) of every parameter matching ParameterFilters (a
 * JSON array, may be NULL), all pages. */
int ssm_describe_parameters(struct aws_ctx *ctx, json_t *filters,
			    struct ssm_parameter_list *out, struct err *e);
int ssm_get_parameter(struct aws_ctx *ctx, const char *name,
		      struct ssm_parameter *out, struct err *e);

/* The parameter's resource tags (ListTagsForResource, ResourceType
 * Parameter) as a compact JSON object with sorted keys; "{}" for none.
 * Caller frees *out. */
int ssm_prepare_list_tags(struct aws_ctx *ctx, struct aws_call *call,
			  const char *name);
int ssm_parse_list_tags(const struct aws_call *call, char **out, struct err *e);

/* Pages a listing may take before it is taken for a server that never
 * ends it: 10,000 pages of 50 is five times the 100,000 parameters an
 * account may hold (Standard and Advanced tiers together). */
#define SSM_MAX_PAGES 10000

/* For a caller paging GetParameterHistory itself: the next token differs
 * from the one just followed, and the versions read so far are within the
 * 100 SSM keeps.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-versions.html */
bool ssm_token_progresses(const char *previous, const char *next,
			  size_t versions_read);
#define SSM_MAX_VERSIONS 100

#define SSM_GET_PARAMETERS_MAX 10
#define SSM_DELETE_PARAMETERS_MAX 10

#endif
