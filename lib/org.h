/* AWS Organizations (JSON 1.1): which organization the caller is in, for
 * `ssmbak stack NAME create --org-units`.
 * https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeOrganization.html */
#ifndef SSMBAK_ORG_H
#define SSMBAK_ORG_H

#include "aws.h"

struct org_organization {
	char *id;                 /* o-... */
	char *management_account; /* MasterAccountId */
};

void org_organization_release(struct org_organization *o);

/* Organizations has one endpoint, in us-east-1: ctx must be for that
 * region. An account in no organization is an error with e->code
 * AWSOrganizationsNotInUseException. */
int org_describe_organization(struct aws_ctx *ctx, struct org_organization *out,
			      struct err *e);

/* Answer decoder, exposed for tests. */
int org_parse_organization(const char *json, size_t len,
			   struct org_organization *out, struct err *e);

#endif
