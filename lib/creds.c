#include "creds.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

/* The SDKs refresh this long before expiry so that a request signed now is
 * still valid when it arrives. */
#define CREDS_REFRESH_MARGIN_SECONDS 300

void aws_credentials_clear(struct aws_credentials *c)
{
	if (c->secret_access_key)
		OPENSSL_cleanse(c->secret_access_key,
				strlen(c->secret_access_key));
	if (c->session_token)
		OPENSSL_cleanse(c->session_token, strlen(c->session_token));
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s, bool *ok)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

int aws_credentials_copy(struct aws_credentials *dst,
			 const struct aws_credentials *src)
{
	bool ok = true;
	memset(dst, 0, sizeof(*dst));
	dst->access_key_id = dup_or_null(src->access_key_id, &ok);
	dst->secret_access_key = dup_or_null(src->secret_access_key, &ok);
	dst->session_token = dup_or_null(src->session_token, &ok);
	dst->expiration = src->expiration;
	dst->source = src->source;
	if (!ok)
		aws_credentials_clear(dst);
	return ok ? 0 : -1;
}

struct creds_provider *creds_provider_new(const char *name,
					  creds_fetch_fn fetch,
					  creds_destroy_fn destroy,
					  void *state)
{
	struct creds_provider *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->name = name;
	p->fetch = fetch;
	p->destroy = destroy;
	p->state = state;
	return p;
}

static bool still_fresh(const struct aws_credentials *c)
{
	return c->expiration == 0 ||
	       time(NULL) + CREDS_REFRESH_MARGIN_SECONDS < c->expiration;
}

int creds_get(struct creds_provider *p, const struct aws_credentials **out,
	      struct err *e)
{
	if (p->have_cached && still_fresh(&p->cached)) {
		*out = &p->cached;
		return 0;
	}
	struct aws_credentials fresh = { 0 };
	if (p->fetch(p, &fresh, e) < 0)
		return -1;
	aws_credentials_clear(&p->cached);
	p->cached = fresh;
	p->have_cached = true;
	*out = &p->cached;
	return 0;
}

void creds_invalidate(struct creds_provider *p)
{
	if (p)
		p->have_cached = false;
}

void creds_provider_free(struct creds_provider *p)
{
	if (!p)
		return;
	if (p->destroy)
		p->destroy(p);
	aws_credentials_clear(&p->cached);
	free(p);
}

static int fetch_static(struct creds_provider *p, struct aws_credentials *out,
			struct err *e)
{
	if (aws_credentials_copy(out, p->state) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static void destroy_static(struct creds_provider *p)
{
	aws_credentials_clear(p->state);
	free(p->state);
}

struct creds_provider *creds_static_new(const struct aws_credentials *c)
{
	struct aws_credentials *copy = calloc(1, sizeof(*copy));
	if (!copy || aws_credentials_copy(copy, c) < 0) {
		free(copy);
		return NULL;
	}
	struct creds_provider *p = creds_provider_new("static", fetch_static,
						      destroy_static, copy);
	if (!p) {
		aws_credentials_clear(copy);
		free(copy);
	}
	return p;
}

static const char *nonempty_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int fetch_env(struct creds_provider *p, struct aws_credentials *out,
		     struct err *e)
{
	const char *akid = nonempty_env("AWS_ACCESS_KEY_ID");
	const char *secret = nonempty_env("AWS_SECRET_ACCESS_KEY");
	if (!akid || !secret) {
		err_set(e, ERR_CONFIG,
			"no credentials in the environment "
			"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
		return -1;
	}
	struct aws_credentials found = {
		.access_key_id = (char *)akid,
		.secret_access_key = (char *)secret,
		.session_token = (char *)nonempty_env("AWS_SESSION_TOKEN"),
		.source = "environment",
	};
	if (aws_credentials_copy(out, &found) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

struct creds_provider *creds_env_new(void)
{
	return creds_provider_new("environment", fetch_env, NULL, NULL);
}

struct creds_provider *creds_default_chain_new(const char *profile,
					       bool explicit_profile,
					       const char *region,
					       struct err *e)
{
	struct creds_provider *p = creds_env_new();
	if (!p)
		err_set(e, ERR_NOMEM, "out of memory");
	return p;
}
