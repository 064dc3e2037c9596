#include "lambda_runtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "http.h"

struct lambda_runtime {
	CURL *easy; /* one connection to the local Runtime API, kept */
	char *base;
	struct buf body;
	struct lambda_invocation *current;
};

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	struct buf *b = user;
	return buf_append(b, data, size * n) < 0 ? 0 : size * n;
}

static void copy_header(const char *line, size_t len, const char *name,
			char *out, size_t size)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) != 0)
		return;
	const char *v = line + nl;
	size_t vl = len - nl;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	/* Too long to hold whole: absent, rather than cut into another. */
	if (vl >= size)
		vl = 0;
	snprintf(out, size, "%.*s", (int)vl, v);
}

/* Lambda's request ids are UUIDs; an id goes into the URL path of the
 * answer, so only characters that cannot leave its path segment pass. */
static bool request_id_is_safe(const char *id)
{
	if (!*id)
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return false;
	return strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

/* Milliseconds since the epoch, all digits; 0 (unknown) otherwise. */
static long long parse_deadline(const char *text)
{
	char *end;
	errno = 0;
	long long ms = strtoll(text, &end, 10);
	return isdigit((unsigned char)text[0]) && !*end && !errno ? ms : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
	struct lambda_invocation *inv = user;
	size_t len = size * n;
	char deadline[32] = "";
	if (!inv)
		return len;
	copy_header(data, len, "Lambda-Runtime-Aws-Request-Id:",
		    inv->request_id, sizeof(inv->request_id));
	copy_header(data, len, "Lambda-Runtime-Deadline-Ms:", deadline,
		    sizeof(deadline));
	if (deadline[0])
		inv->deadline_ms = parse_deadline(deadline);
	return len;
}

struct lambda_runtime *lambda_runtime_new(const char *api, struct err *e)
{
	if (!api || !*api) {
		err_set(e, ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API is not set: "
				       "backup-lambda runs inside AWS Lambda");
		return NULL;
	}
	if (http_global_init(e) < 0)
		return NULL;
	struct lambda_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt || !(rt->easy = curl_easy_init()) ||
	    asprintf(&rt->base, "http://%s/2018-06-01/runtime", api) < 0) {
		if (rt && rt->easy)
			curl_easy_cleanup(rt->easy);
		free(rt);
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	buf_init(&rt->body, 0);
	return rt;
}

void lambda_runtime_free(struct lambda_runtime *rt)
{
	if (!rt)
		return;
	curl_easy_cleanup(rt->easy);
	buf_release(&rt->body);
	free(rt->base);
	free(rt);
}

/* One request to the Runtime API; the answer body lands in *out. */
static int call(struct lambda_runtime *rt, const char *method, const char *path,
		const char *body, const char *error_type,
		struct lambda_invocation *inv, struct buf *out, struct err *e)
{
	char *url = NULL;
	struct curl_slist *headers = NULL;
	char error_header[160];
	if (asprintf(&url, "%s%s", rt->base, path) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	CURL *h = rt->easy;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, inv);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	headers = curl_slist_append(headers, "Expect:");
	if (strcmp(method, "POST") == 0) {
		headers = curl_slist_append(headers,
					    "Content-Type: application/json");
		if (error_type) {
			snprintf(error_header, sizeof(error_header),
				 "Lambda-Runtime-Function-Error-Type: %s",
				 error_type);
			headers = curl_slist_append(headers, error_header);
		}
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	free(url);
	if (rc != CURLE_OK) {
		err_set(e, ERR_NETWORK, "Lambda Runtime API %s: %s", path,
			curl_easy_strerror(rc));
		return -1;
	}
	if (status < 200 || status >= 300) {
		err_set(e, ERR_AWS, "Lambda Runtime API %s answered HTTP %ld",
			path, status);
		e->http_status = status;
		return -1;
	}
	return 0;
}

int lambda_next(struct lambda_runtime *rt, struct lambda_invocation *inv,
		struct err *e)
{
	memset(inv, 0, sizeof(*inv));
	buf_init(&inv->event, 0);
	if (call(rt, "GET", "/invocation/next", NULL, NULL, inv, &inv->event,
		 e) < 0)
		return -1;
	if (!inv->request_id[0]) {
		err_set(e, ERR_PARSE, "Lambda Runtime API gave an event without "
				      "Lambda-Runtime-Aws-Request-Id");
		return -1;
	}
	if (!request_id_is_safe(inv->request_id)) {
		err_set(e, ERR_PARSE, "Lambda Runtime API gave a "
				      "Lambda-Runtime-Aws-Request-Id that is not "
				      "an id: '%.80s'", inv->request_id);
		inv->request_id[0] = '\0';
		return -1;
	}
	return 0;
}

int lambda_respond(struct lambda_runtime *rt, const char *request_id,
		   const char *body, struct err *e)
{
	char path[256];
	snprintf(path, sizeof(path), "/invocation/%s/response", request_id);
	buf_clear(&rt->body);
	return call(rt, "POST", path, body, NULL, NULL, &rt->body, e);
}

static char *error_document(const char *error_type, const char *message)
{
	json_t *doc = json_pack("{s:s, s:s, s:[]}", "errorMessage", message,
				"errorType", error_type, "stackTrace");
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return text;
}

int lambda_fail(struct lambda_runtime *rt, const char *request_id,
		const char *error_type, const char *message, struct err *e)
{
	char path[256];
	char *doc = error_document(error_type, message);
	snprintf(path, sizeof(path), "/invocation/%s/error", request_id);
	buf_clear(&rt->body);
	int rc = doc ? call(rt, "POST", path, doc, error_type, NULL, &rt->body, e)
		     : -1;
	free(doc);
	return rc;
}

int lambda_init_error(struct lambda_runtime *rt, const char *error_type,
		      const char *message, struct err *e)
{
	char *doc = error_document(error_type, message);
	buf_clear(&rt->body);
	int rc = doc ? call(rt, "POST", "/init/error", doc, error_type, NULL,
			    &rt->body, e)
		     : -1;
	free(doc);
	return rc;
}

void lambda_invocation_release(struct lambda_invocation *inv)
{
	buf_release(&inv->event);
}
