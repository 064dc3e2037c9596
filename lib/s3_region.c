#include "s3_region.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

static bool is_region_refusal(long status)
{
	return status == 301 || status == 307 || status == 400 ||
	       status == 403;
}

/* A region from the body only where the code says it is about the region:
 * another error's <Region> (there is none today) is not followed. */
static bool body_region(const char *body, size_t len, char *out)
{
	char code[64] = "", region[S3_REGION_MAX + 2] = "";
	struct xml_doc *doc = xml_parse(body, len);
	if (!doc)
		return false;
	xml_copy_first(doc, "Code", code, sizeof(code));
	if (strcmp(code, "PermanentRedirect") == 0 ||
	    strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
	    strcmp(code, "TemporaryRedirect") == 0)
		xml_copy_first(doc, "Region", region, sizeof(region));
	xml_free(doc);
	/* One character more than a region may have: a longer one is cut
	 * there and refused, not taken shortened. */
	if (!region[0] || strlen(region) > S3_REGION_MAX)
		return false;
	memcpy(out, region, strlen(region) + 1);
	return true;
}

bool s3_region_hint(long status, const struct aws_headers *headers,
		    const char *body, size_t len, char *out)
{
	if (!is_region_refusal(status))
		return false;
	const char *header = aws_headers_get(headers, "x-amz-bucket-region");
	if (header && strlen(header) <= S3_REGION_MAX)
		snprintf(out, S3_REGION_MAX + 1, "%s", header);
	else if (!len || !body_region(body, len, out))
		return false;
	return aws_region_is_valid(out);
}

char *s3_regional_origin(const char *region, const char *bucket)
{
	const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn"
							    : "amazonaws.com";
	char *out = NULL;
	if (asprintf(&out, "https://%s%ss3.%s.%s", bucket ? bucket : "",
		     bucket ? "." : "", region, suffix) < 0)
		return NULL;
	return out;
}
