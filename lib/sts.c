#include "sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "http.h"
#include "timefmt.h"
#include "xml.h"

#define STS_VERSION "2011-06-15"

static int put_param(struct buf *b, const char *name, const char *value)
{
	char *enc = aws_uri_encode(value, false);
	if (!enc)
		return -1;
	int rc = buf_printf(b, "&%s=%s", name, enc);
	OPENSSL_cleanse(enc, strlen(enc));
	free(enc);
	return rc;
}

int sts_role_body(const struct sts_role *r, bool web_identity,
		  struct buf *out)
{
	int rc = buf_printf(out, "Action=%s&Version=" STS_VERSION,
			    web_identity ? "AssumeRoleWithWebIdentity"
					 : "AssumeRole");
	if (rc == 0 && r->duration_seconds > 0)
		rc = buf_printf(out, "&DurationSeconds=%d",
				r->duration_seconds);
	if (rc == 0 && r->external_id && !web_identity)
		rc = put_param(out, "ExternalId", r->external_id);
	if (rc == 0)
		rc = put_param(out, "RoleArn", r->role_arn);
	if (rc == 0)
		rc = put_param(out, "RoleSessionName", r->session_name);
	if (rc == 0 && r->serial_number && !web_identity)
		rc = put_param(out, "SerialNumber", r->serial_number);
	if (rc == 0 && r->token_code && !web_identity)
		rc = put_param(out, "TokenCode", r->token_code);
	if (rc == 0 && web_identity)
		rc = put_param(out, "WebIdentityToken",
			       r->web_identity_token ? r->web_identity_token
						     : "");
	return rc;
}

int sts_parse_credentials(const char *xml, size_t len,
			  struct aws_credentials *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *c = xml_find(xml_root(doc), "Credentials");
	char *expiration = xml_child_text(c, "Expiration");
	out->access_key_id = xml_child_text(c, "AccessKeyId");
	out->secret_access_key = xml_child_text(c, "SecretAccessKey");
	out->session_token = xml_child_text(c, "SessionToken");
	double when = 0;
	bool ok = out->access_key_id && *out->access_key_id &&
		  out->secret_access_key && *out->secret_access_key &&
		  out->session_token && expiration &&
		  time_parse_iso8601(expiration, &when) == 0;
	out->expiration = (time_t)when;
	free(expiration);
	xml_free(doc);
	if (!ok) {
		aws_credentials_clear(out);
		err_set(e, ERR_PARSE, "no credentials in the STS answer");
		return -1;
	}
	return 0;
}

static int role_call(struct aws_ctx *ctx, const struct sts_role *r,
		     bool web_identity, struct aws_credentials *out,
		     struct err *e)
{
	struct aws_call call;
	bool custom;
	const char *op = web_identity ? "AssumeRoleWithWebIdentity"
				      : "AssumeRole";
	aws_call_init(&call, &aws_sts, op, "POST");
	call.req.anonymous = web_identity;
	char *endpoint = aws_endpoint(ctx, &aws_sts, &custom);
	int target = endpoint ? aws_request_set_target(&call.req, endpoint, "/")
			      : -1;
	free(endpoint);
	int rc = -1;
	if (target < 0 ||
	    sts_role_body(r, web_identity, &call.req.body) < 0 ||
	    aws_headers_add(&call.req.headers, "Content-Type",
			    "application/x-www-form-urlencoded; "
			    "charset=utf-8") < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		rc = sts_parse_credentials(buf_str(&call.resp.body),
					   call.resp.body.len, out, e);
		if (rc < 0)
			err_context(e, aws_sts.label, op);
	}
	aws_call_release(&call);
	return rc;
}

int sts_assume_role(struct aws_ctx *ctx, const struct sts_role *r,
		    struct aws_credentials *out, struct err *e)
{
	return role_call(ctx, r, false, out, e);
}

int sts_assume_role_with_web_identity(struct aws_ctx *ctx,
				      const struct sts_role *r,
				      struct aws_credentials *out,
				      struct err *e)
{
	return role_call(ctx, r, true, out, e);
}

void sts_identity_release(struct sts_identity *id)
{
	free(id->account);
	free(id->arn);
	free(id->user_id);
	memset(id, 0, sizeof(*id));
}

int sts_get_caller_identity(struct aws_ctx *ctx, struct sts_identity *out,
			    struct err *e)
{
	struct aws_call call;
	bool custom;
	memset(out, 0, sizeof(*out));
	aws_call_init(&call, &aws_sts, "GetCallerIdentity", "POST");
	char *endpoint = aws_endpoint(ctx, &aws_sts, &custom);
	int target = endpoint ? aws_request_set_target(&call.req, endpoint, "/")
			      : -1;
	free(endpoint);
	int rc = -1;
	if (target < 0 ||
	    buf_puts(&call.req.body, "Action=GetCallerIdentity&Version="
			     STS_VERSION) < 0 ||
	    aws_headers_add(&call.req.headers, "Content-Type",
			    "application/x-www-form-urlencoded; "
			    "charset=utf-8") < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		struct xml_doc *doc = xml_parse(buf_str(&call.resp.body),
						call.resp.body.len);
		struct xml_node *result =
			xml_find(xml_root(doc), "GetCallerIdentityResult");
		out->account = xml_child_text(result, "Account");
		out->arn = xml_child_text(result, "Arn");
		out->user_id = xml_child_text(result, "UserId");
		xml_free(doc);
		if (out->arn) {
			rc = 0;
		} else {
			sts_identity_release(out);
			err_set(e, ERR_PARSE, "no Arn in the answer");
			err_context(e, aws_sts.label, "GetCallerIdentity");
		}
	}
	aws_call_release(&call);
	return rc;
}

bool sts_account_id_is_valid(const char *s)
{
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n == 12 && s[n] == '\0';
}

int sts_expect_bucket_owner(struct aws_ctx *ctx, const char *account,
			    struct err *e)
{
	const char *env = getenv("SSMBAK_BUCKET_OWNER");
	if (!account && env && *env)
		account = env;
	if (account && !sts_account_id_is_valid(account)) {
		err_set(e, ERR_CONFIG, "SSMBAK_BUCKET_OWNER must be a 12-digit "
				       "AWS account id, not '%s'", account);
		return -1;
	}
	if (account) {
		free(ctx->bucket_owner);
		ctx->bucket_owner = strdup(account);
		return ctx->bucket_owner ? 0 : -1;
	}
	struct sts_identity id;
	if (sts_get_caller_identity(ctx, &id, e) < 0)
		return -1;
	free(ctx->bucket_owner);
	ctx->bucket_owner = id.account;
	id.account = NULL;
	sts_identity_release(&id);
	return 0;
}

char *sts_principal_arn_patterns(const char *caller_arn)
{
	/* arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION */
	const char *sts = strstr(caller_arn, ":sts::");
	const char *kind = sts ? strchr(sts + 6, ':') : NULL;
	char *out = NULL;
	if (kind && strncmp(kind, ":assumed-role/", 14) == 0) {
		const char *role = kind + 14, *slash = strchr(role, '/');
		int partition = (int)(sts - caller_arn);
		int account = (int)(kind - (sts + 6));
		int name = slash ? (int)(slash - role) : (int)strlen(role);
		if (asprintf(&out,
			     "%.*s:iam::%.*s:role/%.*s,%.*s:iam::%.*s:role/*/%.*s",
			     partition, caller_arn, account, sts + 6, name, role,
			     partition, caller_arn, account, sts + 6, name,
			     role) < 0)
			out = NULL;
		return out;
	}
	return strdup(caller_arn);
}
