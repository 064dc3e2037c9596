/* IAM Identity Center (SSO), as the AWS CLI uses it after `aws sso login`:
 * the token cache ~/.aws/sso/cache, SSO OIDC CreateToken to refresh a
 * token, and the portal's GetRoleCredentials for a role's credentials.
 * Both calls are unsigned: the client secret or the bearer token is the
 * credential (botocore's SSOTokenProvider and SSOCredentialFetcher).
 * https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html
 * https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html */
#ifndef SSMBAK_SSO_H
#define SSMBAK_SSO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"

/* The CLI refreshes a token this long before it expires (botocore's
 * SSOTokenProvider._REFRESH_WINDOW). */
#define SSO_REFRESH_WINDOW_SECONDS (15 * 60)

/* One token cache file. Text fields are NULL when absent. */
struct sso_token {
	char *access_token;
	time_t expires_at;
	char *refresh_token; /* sso-session tokens only, as the rest */
	char *client_id;
	char *client_secret;
	char *registration_expires_at; /* kept as written */
	char *region;
	char *start_url;
};

void sso_token_release(struct sso_token *t);
/* ERR_CONFIG when not JSON, or without accessToken or a valid
 * expiresAt; `what` (the file) names it in messages. */
int sso_token_parse(const char *json, size_t len, const char *what,
		    struct sso_token *out, struct err *e);
/* The cache file's text as the CLI writes it (expiresAt in
 * "YYYY-MM-DDTHH:MM:SSZ"); NULL when out of memory. Caller frees. */
char *sso_token_json(const struct sso_token *t);
/* Within the refresh window of its expiry at now (or past it). */
bool sso_token_needs_refresh(const struct sso_token *t, time_t now);
/* Has a refresh token, a client and a registration still valid at now. */
bool sso_token_refreshable(const struct sso_token *t, time_t now);

/* The cache file's name: the SHA-1 hex of the sso-session name, or of the
 * start URL for a legacy profile. */
void sso_cache_name(const char *session_or_start_url, char out[41]);

/* CreateToken's answer (accessToken, expiresIn, refreshToken?) into t at
 * now; t is unchanged when the answer is malformed (ERR_PARSE). */
int sso_apply_create_token(const char *json, size_t len, time_t now,
			   struct sso_token *t, struct err *e);
/* GetRoleCredentials' answer: roleCredentials {accessKeyId,
 * secretAccessKey, sessionToken, expiration (epoch milliseconds)}. */
int sso_parse_role_credentials(const char *json, size_t len,
			       struct aws_credentials *out, struct err *e);

/* The calls; ctx gives the region (sso_region) and endpoints. A failed
 * refresh leaves t as it was. */
int sso_refresh_token(struct aws_ctx *ctx, struct sso_token *t,
		      struct err *e);
int sso_get_role_credentials(struct aws_ctx *ctx, const char *access_token,
			     const char *account_id, const char *role_name,
			     struct aws_credentials *out, struct err *e);

#endif
