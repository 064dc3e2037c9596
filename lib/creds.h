/* Where credentials come from: a provider hands out credentials and
 * refreshes them before they expire. The default chain looks where the AWS
 * CLI looks, in the same order. */
#ifndef SSMBAK_CREDS_H
#define SSMBAK_CREDS_H

#include <stdbool.h>

#include "aws.h"

struct creds_provider;

/* Fetches one set of credentials into *out (owned by the caller). */
typedef int (*creds_fetch_fn)(struct creds_provider *p,
			      struct aws_credentials *out, struct err *e);
typedef void (*creds_destroy_fn)(struct creds_provider *p);

struct creds_provider {
	const char *name; /* for messages: "environment" */
	creds_fetch_fn fetch;
	creds_destroy_fn destroy;
	void *state;
	struct aws_credentials cached;
	bool have_cached;
};

/* Credentials that stay valid for the next request: refreshed when within
 * five minutes of expiry (the SDKs' margin). The pointer is valid until the
 * next call. */
int creds_get(struct creds_provider *p, const struct aws_credentials **out,
	      struct err *e);
/* Forget the cache: the service said the token expired. */
void creds_invalidate(struct creds_provider *p);
void creds_provider_free(struct creds_provider *p);

struct creds_provider *creds_provider_new(const char *name,
					  creds_fetch_fn fetch,
					  creds_destroy_fn destroy,
					  void *state);
/* Fixed credentials (copied). */
struct creds_provider *creds_static_new(const struct aws_credentials *c);
/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. */
struct creds_provider *creds_env_new(void);

/* The AWS CLI's chain for this profile (NULL: AWS_PROFILE or "default").
 * explicit_profile is true for --profile, which, as in the CLI, makes the
 * environment's keys not count. */
struct creds_provider *creds_default_chain_new(const char *profile,
					       bool explicit_profile,
					       const char *region,
					       struct err *e);

#endif
