/* STS, the query protocol (POST form body, XML answer): AssumeRole and
 * AssumeRoleWithWebIdentity for the credential chain, GetCallerIdentity
 * to tell who signed.
 * https://docs.aws.amazon.com/STS/latest/APIReference/welcome.html */
#ifndef SSMBAK_STS_H
#define SSMBAK_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "buf.h"

struct sts_role {
	const char *role_arn;
	const char *session_name;
	const char *external_id;        /* NULL: none */
	int duration_seconds;           /* 0: STS's default (one hour) */
	const char *web_identity_token; /* AssumeRoleWithWebIdentity only */
	const char *serial_number;      /* MFA device (mfa_serial); NULL: none */
	const char *token_code;         /* its code, with serial_number */
};

/* The form body of AssumeRole (web_identity false) or
 * AssumeRoleWithWebIdentity. -1 when out of memory. */
int sts_role_body(const struct sts_role *r, bool web_identity,
		  struct buf *out);
/* The Credentials of an AssumeRole* answer; ERR_PARSE when absent. */
int sts_parse_credentials(const char *xml, size_t len,
			  struct aws_credentials *out, struct err *e);

/* Signed with ctx's credentials. */
int sts_assume_role(struct aws_ctx *ctx, const struct sts_role *r,
		    struct aws_credentials *out, struct err *e);
/* Unsigned: the token is the credential. */
int sts_assume_role_with_web_identity(struct aws_ctx *ctx,
				      const struct sts_role *r,
				      struct aws_credentials *out,
				      struct err *e);

struct sts_identity {
	char *account;
	char *arn;
	char *user_id;
};

int sts_get_caller_identity(struct aws_ctx *ctx, struct sts_identity *out,
			    struct err *e);
void sts_identity_release(struct sts_identity *id);

/* Sets ctx->bucket_owner, the account every bucket must belong to: the
 * given account (--bucket-owner), else SSMBAK_BUCKET_OWNER, else the
 * caller's own account from GetCallerIdentity (one request a run). */
int sts_expect_bucket_owner(struct aws_ctx *ctx, const char *account,
			    struct err *e);
/* What a bucket policy's aws:PrincipalArn condition (ArnLike) must name
 * for the caller to match: an assumed-role session
 * (arn:aws:sts::A:assumed-role/R/S) is its role, arn:aws:iam::A:role/R,
 * with or without a path (role/R and role/ * /R, no spaces); users and root as they
 * are. Comma-separated, caller frees; NULL when out of memory.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn */
char *sts_principal_arn_patterns(const char *caller_arn);
/* A 12-digit AWS account id. */
bool sts_account_id_is_valid(const char *s);

#endif
