#include "ssm_name.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* "arn:aws:ssm:" REGION ":" 12-digit account ":parameter", then the name
 * (with a '/' added before a bare name). The shortest region name has 9
 * characters (us-east-1). */
#define ARN_ACCOUNT_LEN 12
#define SHORTEST_REGION_LEN 9

static const char *partition_of(const char *region)
{
	if (strncmp(region, "cn-", 3) == 0)
		return "aws-cn";
	if (strncmp(region, "us-gov-", 7) == 0)
		return "aws-us-gov";
	return "aws";
}

size_t ssm_name_max_length(const char *region)
{
	size_t prefix = strlen("arn:") + strlen("aws") + strlen(":ssm:") +
			SHORTEST_REGION_LEN + 1 + ARN_ACCOUNT_LEN +
			strlen(":parameter");
	if (region && *region)
		prefix = strlen("arn:") + strlen(partition_of(region)) +
			 strlen(":ssm:") + strlen(region) + 1 +
			 ARN_ACCOUNT_LEN + strlen(":parameter");
	return prefix < SSM_NAME_ARN_MAX ? SSM_NAME_ARN_MAX - prefix : 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	       c == '/';
}

static size_t count_levels(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		if (*p != '/' && (p == s || p[-1] == '/'))
			n++;
	return n;
}

/* SSM refuses to create names whose first level starts with "aws" or
 * "ssm", whatever the case; none can be in a backup either. */
static bool reserved_start(const char *s)
{
	while (*s == '/')
		s++;
	return strncasecmp(s, "aws", 3) == 0 || strncasecmp(s, "ssm", 3) == 0;
}

const char *ssm_name_problem(const char *s, enum ssm_name_kind kind,
			     const char *region)
{
	if (!*s)
		return "is empty";
	size_t len = strlen(s);
	/* A bare name gets a '/' in its ARN; so does a PATH ssmbak roots. */
	size_t room = ssm_name_max_length(region) - (s[0] == '/' ? 0 : 1);
	if (len > room)
		return kind == SSM_NAME_PARAMETER
			       ? "is longer than a parameter name can be"
			       : "is longer than any parameter name can be";
	for (const char *p = s; *p; p++)
		if (!name_char(*p))
			return "has characters a parameter name cannot have "
			       "(letters, digits and _ . - / only)";
	if (strstr(s, "//"))
		return "has an empty level (//)";
	if (kind == SSM_NAME_PARAMETER && s[0] != '/' && strchr(s, '/'))
		return "has a '/' but does not start with one";
	if (kind == SSM_NAME_PARAMETER && s[len - 1] == '/' && len > 1)
		return "ends with '/'";
	if (count_levels(s) > SSM_NAME_MAX_LEVELS)
		return "has more than 15 levels";
	if (reserved_start(s))
		return "starts with aws or ssm, which SSM reserves";
	return NULL;
}
