#include "imds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "http.h"
#include "tls.h"

/* Metadata answers are a few hundred bytes. */
#define METADATA_MAX_BODY ((size_t)64 << 10)
/* How long an IMDSv2 token is asked to live; one process never needs
 * more, and botocore asks the same. */
#define IMDS_TOKEN_TTL "21600"

bool imds_disabled(void)
{
	const char *v = getenv("AWS_EC2_METADATA_DISABLED");
	return v && strcasecmp(v, "true") == 0;
}

const char *imds_endpoint(void)
{
	static char trimmed[512];
	const char *v = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!v || !*v)
		return IMDS_DEFAULT_ENDPOINT;
	size_t len = strlen(v);
	while (len && v[len - 1] == '/')
		len--;
	snprintf(trimmed, sizeof(trimmed), "%.*s", (int)len, v);
	return trimmed;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	return buf_append(user, data, size * n) < 0 ? 0 : size * n;
}

int imds_http(const char *method, const char *url, const char *header,
	      long timeout_ms, long *status, struct buf *body, struct err *e)
{
	if (http_global_init(e) < 0)
		return -1;
	CURL *easy = curl_easy_init();
	struct curl_slist *headers = NULL, *next;
	bool ok = easy != NULL;
	const char *lines[] = { header, "Expect:", "Content-Type:" };
	for (size_t i = 0; ok && i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!lines[i])
			continue;
		next = curl_slist_append(headers, lines[i]);
		ok = next != NULL;
		headers = next ? next : headers;
	}
	if (!ok) {
		curl_slist_free_all(headers);
		curl_easy_cleanup(easy);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	body->max = METADATA_MAX_BODY;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "ssmbak/" SSMBAK_VERSION);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, body);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
	}
	CURLcode rc = strncmp(url, "https:", 6) == 0
			      ? tls_use_ca_certificates(easy)
			      : CURLE_OK;
	if (rc == CURLE_OK)
		rc = curl_easy_perform(easy);
	if (rc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	if (rc != CURLE_OK) {
		err_set(e, ERR_NETWORK, "no answer from %s: %s", url,
			curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static void wipe_release(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_release(b);
}

/* The IMDSv2 session token into out (empty: IMDS wants none). */
static int imds_token(char *out, size_t size, struct err *e)
{
	char url[600];
	struct buf body = BUF_INIT;
	long status = 0;
	snprintf(url, sizeof(url), "%s/latest/api/token", imds_endpoint());
	out[0] = '\0';
	if (imds_http("PUT", url,
		      "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL,
		      IMDS_TIMEOUT_MS, &status, &body, e) < 0) {
		wipe_release(&body);
		return -1;
	}
	int rc = 0;
	if (status == 200 && body.len && body.len < size &&
	    !strpbrk(buf_str(&body), "\r\n")) {
		snprintf(out, size, "%s", buf_str(&body));
	} else if (status != 403 && status != 404 && status != 405) {
		err_set(e, ERR_CONFIG,
			"instance metadata at %s refused a session token "
			"(HTTP %ld)", imds_endpoint(), status);
		rc = -1;
	}
	wipe_release(&body);
	return rc;
}

static int imds_get_with(const char *token, const char *path, char **out,
			 struct err *e)
{
	char url[800], header[400];
	struct buf body = BUF_INIT;
	long status = 0;
	snprintf(url, sizeof(url), "%s%s", imds_endpoint(), path);
	snprintf(header, sizeof(header), "X-aws-ec2-metadata-token: %s",
		 token);
	int rc = imds_http("GET", url, token[0] ? header : NULL,
			   IMDS_TIMEOUT_MS, &status, &body, e);
	OPENSSL_cleanse(header, sizeof(header));
	if (rc == 0 && status != 200) {
		err_set(e, ERR_CONFIG, "instance metadata: HTTP %ld for %s",
			status, path);
		e->http_status = status;
		rc = -1;
	}
	if (rc == 0 && !(*out = buf_detach(&body))) {
		err_set(e, ERR_NOMEM, "out of memory");
		rc = -1;
	}
	wipe_release(&body);
	return rc;
}

int imds_get(const char *path, char **out, struct err *e)
{
	char token[256];
	int rc = imds_token(token, sizeof(token), e);
	if (rc == 0)
		rc = imds_get_with(token, path, out, e);
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}

static void trim(char *s)
{
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
		       s[len - 1] == ' '))
		s[--len] = '\0';
}

int imds_region(char **out, struct err *e)
{
	if (imds_get("/latest/meta-data/placement/region", out, e) < 0)
		return -1;
	trim(*out);
	return 0;
}

#define ROLE_PATH "/latest/meta-data/iam/security-credentials/"
/* IAM role names: letters, digits and + = , . @ _ -, at most 64.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html */
#define ROLE_NAME_MAX 64

static bool role_name_is_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > ROLE_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("+=,.@_-", *p))
			return false;
	return true;
}

int imds_role_credentials(char **json, struct err *e)
{
	char token[256], *roles = NULL;
	int rc = imds_token(token, sizeof(token), e);
	if (rc == 0)
		rc = imds_get_with(token, ROLE_PATH, &roles, e);
	if (rc == 0) {
		/* One role per instance profile: the first line. */
		roles[strcspn(roles, "\r\n")] = '\0';
		trim(roles);
		char path[400];
		if (!roles[0]) {
			err_set(e, ERR_CONFIG, "instance metadata: no IAM role "
				"attached to this instance");
			e->http_status = 404;
			rc = -1;
		} else if (!role_name_is_valid(roles)) {
			/* It goes into the next request's path. */
			err_set(e, ERR_PARSE, "instance metadata: the role name "
				"'%.80s' is not an IAM role name", roles);
			rc = -1;
		} else {
			snprintf(path, sizeof(path), ROLE_PATH "%s", roles);
			rc = imds_get_with(token, path, json, e);
		}
	}
	free(roles);
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}
