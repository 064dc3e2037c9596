/* Pure: the bucket's region. S3 answers a request sent to or signed for
 * another region than the bucket's with the right one, and ssmbak sends
 * the request again there (as the SDKs do) instead of asking up front:
 * the common case, a bucket in the SSM region, costs no extra request. */
#ifndef SSMBAK_S3_REGION_H
#define SSMBAK_S3_REGION_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"

/* Longest region name accepted (they go into host names). */
#define S3_REGION_MAX 32

/* The region an S3 error answer says the bucket lives in, into out
 * (S3_REGION_MAX + 1 bytes): the x-amz-bucket-region header, which S3
 * sends even on 301 and 403 answers (HeadBucket's only way to say it, a
 * HEAD having no body), else <Region> of a PermanentRedirect or
 * AuthorizationHeaderMalformed body:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 * Only answers that refuse for the region count (301, 307, 400, 403); a
 * named region that is not a region name is no hint. */
bool s3_region_hint(long status, const struct aws_headers *headers,
		    const char *body, size_t len, char *out);

/* AWS's own S3 origin for a region: https://BUCKET.s3.REGION.amazonaws.com
 * (virtual-hosted style) or, bucket NULL, https://s3.REGION.amazonaws.com
 * (path style); .amazonaws.com.cn for the China regions. Caller frees;
 * NULL when out of memory. */
char *s3_regional_origin(const char *region, const char *bucket);

#endif
