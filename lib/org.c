#include "org.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"

void org_organization_release(struct org_organization *o)
{
	free(o->id);
	free(o->management_account);
	memset(o, 0, sizeof(*o));
}

int org_parse_organization(const char *json, size_t len,
			   struct org_organization *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	json_t *org = json_object_get(root, "Organization");
	const char *id = json_string_value(json_object_get(org, "Id"));
	const char *management =
		json_string_value(json_object_get(org, "MasterAccountId"));
	int rc = -1;
	if (!id || !management) {
		err_set(e, ERR_PARSE, "DescribeOrganization answered no Organization "
				      "Id and MasterAccountId");
	} else if (!(out->id = strdup(id)) ||
		   !(out->management_account = strdup(management))) {
		org_organization_release(out);
		err_set(e, ERR_NOMEM, "out of memory");
	} else {
		rc = 0;
	}
	json_decref(root);
	return rc;
}

int org_describe_organization(struct aws_ctx *ctx, struct org_organization *out,
			      struct err *e)
{
	struct aws_call call;
	bool custom;
	memset(out, 0, sizeof(*out));
	aws_call_init(&call, &aws_organizations, "DescribeOrganization", "POST");
	call.req.origin = aws_endpoint(ctx, &aws_organizations, &custom);
	call.req.path = strdup("/");
	int rc = -1;
	if (!call.req.origin || !call.req.path || buf_puts(&call.req.body, "{}") < 0 ||
	    aws_headers_add(&call.req.headers, "Content-Type",
			    "application/x-amz-json-1.1") < 0 ||
	    aws_headers_add(&call.req.headers, "X-Amz-Target",
			    "AWSOrganizationsV20161128.DescribeOrganization") < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		rc = org_parse_organization(buf_str(&call.resp.body),
					    call.resp.body.len, out, e);
		if (rc < 0)
			err_context(e, aws_organizations.label, "DescribeOrganization");
	}
	aws_call_release(&call);
	return rc;
}
