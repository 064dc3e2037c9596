/* Pure: whether a name, a PATH or a name prefix can exist in Parameter
 * Store, checked before any request so that a bad one is a usage error
 * and not a request AWS (or a proxy) refuses.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html */
#ifndef SSMBAK_SSM_NAME_H
#define SSMBAK_SSM_NAME_H

#include <stddef.h>

enum ssm_name_kind {
	SSM_NAME_PARAMETER, /* one parameter: "foo" or "/a/b" */
	SSM_NAME_PATH,      /* a key or a path ending in '/'; may lack the
			     * leading slash, which ssmbak adds */
	SSM_NAME_PREFIX,    /* the start of names (DescribeParameters
			     * BeginsWith) */
};

/* A name and its ARN together are at most 1011 characters. */
#define SSM_NAME_ARN_MAX 1011
#define SSM_NAME_MAX_LEVELS 15

/* The longest name region allows ("arn:PARTITION:ssm:REGION:ACCOUNT:
 * parameter" comes before it); NULL region: the longest any region
 * allows. */
size_t ssm_name_max_length(const char *region);

/* NULL when s can be used as kind in region (NULL: any region); else what
 * is wrong with it, as a phrase ("has more than 15 levels"). */
const char *ssm_name_problem(const char *s, enum ssm_name_kind kind,
			     const char *region);

#endif
