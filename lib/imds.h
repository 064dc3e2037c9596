/* The two metadata services credentials can come from, plain HTTP with short
 * timeouts, unsigned and never through a proxy:
 *
 *   - EC2 instance metadata, IMDSv2: PUT /latest/api/token with a TTL
 *     header, then GETs carrying the token. As botocore does, an IMDS that
 *     refuses the PUT (403, 404, 405) is asked without a token (IMDSv1).
 *     https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 *   - the ECS/EKS container credentials endpoint.
 *     https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html */
#ifndef SSMBAK_IMDS_H
#define SSMBAK_IMDS_H

#include <stdbool.h>

#include "buf.h"
#include "err.h"

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 1000
#define CONTAINER_RELATIVE_ORIGIN "http://169.254.170.2"
#define CONTAINER_TIMEOUT_MS 2000

/* AWS_EC2_METADATA_DISABLED=true (any case). */
bool imds_disabled(void);
/* AWS_EC2_METADATA_SERVICE_ENDPOINT, else IMDS_DEFAULT_ENDPOINT; no
 * trailing slash. */
const char *imds_endpoint(void);

/* GETs a metadata path ("/latest/meta-data/placement/region") into *out
 * (a NUL-terminated string the caller frees). ERR_NETWORK when IMDS does
 * not answer, ERR_CONFIG for an HTTP error (e->http_status 404: not
 * there). */
int imds_get(const char *path, char **out, struct err *e);
/* placement/region */
int imds_region(char **out, struct err *e);
/* The JSON of the instance profile's role credentials; no role attached
 * is ERR_CONFIG with e->http_status 404. */
int imds_role_credentials(char **json, struct err *e);

/* One plain request: method, url, an optional extra header ("Name: value"
 * or NULL), total timeout. *status is the HTTP status; the body goes into
 * *body (capped). -1 with ERR_NETWORK when there was no answer. */
int imds_http(const char *method, const char *url, const char *header,
	      long timeout_ms, long *status, struct buf *body, struct err *e);

#endif
