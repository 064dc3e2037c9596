#include "sso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "http.h"
#include "jsoncache.h"
#include "jsonout.h"
#include "timefmt.h"

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void sso_token_release(struct sso_token *t)
{
	free_secret(t->access_token);
	free_secret(t->refresh_token);
	free(t->client_id);
	free_secret(t->client_secret);
	free(t->registration_expires_at);
	free(t->region);
	free(t->start_url);
	memset(t, 0, sizeof(*t));
}

void sso_cache_name(const char *session_or_start_url, char out[41])
{
	jsoncache_name(session_or_start_url, out);
}

/* A copy of a string member; *ok turns false when out of memory. */
static char *member(json_t *root, const char *name, bool *ok)
{
	const char *v = json_string_value(json_object_get(root, name));
	if (!v)
		return NULL;
	char *copy = strdup(v);
	if (!copy)
		*ok = false;
	return copy;
}

int sso_token_parse(const char *json, size_t len, const char *what,
		    struct sso_token *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *expires = json_string_value(json_object_get(root,
							       "expiresAt"));
	double when = 0;
	bool ok = true;
	if (!json_is_object(root)) {
		err_set(e, ERR_CONFIG, "%s is not a JSON object", what);
		json_decref(root);
		return -1;
	}
	out->access_token = member(root, "accessToken", &ok);
	out->refresh_token = member(root, "refreshToken", &ok);
	out->client_id = member(root, "clientId", &ok);
	out->client_secret = member(root, "clientSecret", &ok);
	out->registration_expires_at = member(root, "registrationExpiresAt",
					      &ok);
	out->region = member(root, "region", &ok);
	out->start_url = member(root, "startUrl", &ok);
	bool dated = expires && time_parse_iso8601(expires, &when) == 0;
	json_decref(root);
	if (!ok) {
		sso_token_release(out);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	if (!out->access_token || !*out->access_token || !dated) {
		err_set(e, ERR_CONFIG, "%s has no %s", what,
			!out->access_token || !*out->access_token
				? "accessToken"
				: "valid expiresAt");
		sso_token_release(out);
		return -1;
	}
	out->expires_at = (time_t)when;
	return 0;
}

char *sso_token_json(const struct sso_token *t)
{
	char when[32];
	json_t *o = json_object();
	time_format_iso(t->expires_at, when);
	/* The members botocore's _attempt_create_token writes, in its order. */
	int rc = o ? 0 : -1;
	rc |= json_set_string_if(o, "startUrl", t->start_url);
	rc |= json_set_string_if(o, "region", t->region);
	rc |= json_set_string_if(o, "accessToken", t->access_token);
	rc |= json_set_string_if(o, "expiresAt", when);
	rc |= json_set_string_if(o, "clientId", t->client_id);
	rc |= json_set_string_if(o, "clientSecret", t->client_secret);
	rc |= json_set_string_if(o, "registrationExpiresAt", t->registration_expires_at);
	rc |= json_set_string_if(o, "refreshToken", t->refresh_token);
	char *text = rc == 0 ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

bool sso_token_needs_refresh(const struct sso_token *t, time_t now)
{
	return t->expires_at - now < SSO_REFRESH_WINDOW_SECONDS;
}

bool sso_token_refreshable(const struct sso_token *t, time_t now)
{
	double registration = 0;
	return t->refresh_token && t->client_id && t->client_secret &&
	       t->registration_expires_at &&
	       time_parse_iso8601(t->registration_expires_at,
				  &registration) == 0 &&
	       registration > (double)now;
}

int sso_apply_create_token(const char *json, size_t len, time_t now,
			   struct sso_token *t, struct err *e)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *access = json_string_value(json_object_get(root,
							      "accessToken"));
	const char *refresh = json_string_value(json_object_get(root,
							       "refreshToken"));
	json_t *expires_in = json_object_get(root, "expiresIn");
	int rc = -1;
	if (!access || !*access || !json_is_integer(expires_in) ||
	    json_integer_value(expires_in) <= 0) {
		err_set_answer(e, "SSO OIDC", "CreateToken",
			       "the answer has no accessToken and expiresIn");
		goto done;
	}
	char *a = strdup(access), *r = refresh ? strdup(refresh) : NULL;
	if (!a || (refresh && !r)) {
		free_secret(a);
		free_secret(r);
		err_set(e, ERR_NOMEM, "out of memory");
		goto done;
	}
	free_secret(t->access_token);
	t->access_token = a;
	/* A new refresh token replaces the old one, which is spent. */
	if (r) {
		free_secret(t->refresh_token);
		t->refresh_token = r;
	}
	t->expires_at = now + (time_t)json_integer_value(expires_in);
	rc = 0;
done:
	json_decref(root);
	return rc;
}

int sso_parse_role_credentials(const char *json, size_t len,
			       struct aws_credentials *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(json, len, 0, NULL);
	json_t *c = json_object_get(root, "roleCredentials");
	const char *akid = json_string_value(json_object_get(c, "accessKeyId"));
	const char *secret = json_string_value(json_object_get(
		c, "secretAccessKey"));
	const char *token = json_string_value(json_object_get(c,
							     "sessionToken"));
	json_t *expiration = json_object_get(c, "expiration");
	int rc = -1;
	if (!akid || !*akid || !secret || !*secret || !token || !*token ||
	    !json_is_number(expiration)) {
		err_set_answer(e, "SSO", "GetRoleCredentials",
			       "the answer has no roleCredentials");
		goto done;
	}
	struct aws_credentials found = {
		.access_key_id = (char *)akid,
		.secret_access_key = (char *)secret,
		.session_token = (char *)token,
		/* epoch milliseconds */
		.expiration = (time_t)(json_number_value(expiration) / 1000),
		.source = "sso",
	};
	if (aws_credentials_copy(out, &found) < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = 0;
done:
	json_decref(root);
	return rc;
}

/* --- the calls ------------------------------------------------------ */

static int prepare(struct aws_ctx *ctx, struct aws_call *call,
		   const struct aws_service *svc, const char *path)
{
	bool custom;
	char *endpoint = aws_endpoint(ctx, svc, &custom);
	int rc = endpoint ? aws_request_set_target(&call->req, endpoint, path)
			  : -1;
	free(endpoint);
	/* Unsigned: botocore's clients for both use signature_version
	 * UNSIGNED. */
	call->req.anonymous = true;
	return rc;
}

static char *create_token_body(const struct sso_token *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "clientId", t->client_id,
			      "clientSecret", t->client_secret, "grantType",
			      "refresh_token", "refreshToken",
			      t->refresh_token);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

int sso_refresh_token(struct aws_ctx *ctx, struct sso_token *t,
		      struct err *e)
{
	struct aws_call call;
	aws_call_init(&call, &aws_sso_oidc, "CreateToken", "POST");
	char *body = create_token_body(t);
	int rc = -1;
	if (!body || prepare(ctx, &call, &aws_sso_oidc, "/token") < 0 ||
	    buf_puts(&call.req.body, body) < 0 ||
	    aws_headers_add(&call.req.headers, "Content-Type",
			    "application/json") < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else if (aws_perform_one(ctx, &call, e) == 0)
		rc = sso_apply_create_token(buf_str(&call.resp.body),
					    call.resp.body.len, time(NULL), t,
					    e);
	free_secret(body);
	aws_call_release(&call);
	return rc;
}

static char *role_query(const char *account_id, const char *role_name)
{
	char *account = aws_uri_encode(account_id, false);
	char *role = aws_uri_encode(role_name, false);
	char *query = NULL;
	if (account && role &&
	    asprintf(&query, "account_id=%s&role_name=%s", account, role) < 0)
		query = NULL;
	free(account);
	free(role);
	return query;
}

int sso_get_role_credentials(struct aws_ctx *ctx, const char *access_token,
			     const char *account_id, const char *role_name,
			     struct aws_credentials *out, struct err *e)
{
	struct aws_call call;
	aws_call_init(&call, &aws_sso, "GetRoleCredentials", "GET");
	int rc = -1;
	if (prepare(ctx, &call, &aws_sso, "/federation/credentials") < 0 ||
	    !(call.req.query = role_query(account_id, role_name)) ||
	    aws_headers_add(&call.req.headers, "x-amz-sso_bearer_token",
			    access_token) < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else if (aws_perform_one(ctx, &call, e) == 0)
		rc = sso_parse_role_credentials(buf_str(&call.resp.body),
						call.resp.body.len, out, e);
	aws_call_release(&call);
	return rc;
}
