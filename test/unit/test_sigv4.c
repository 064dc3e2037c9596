/* The signer against AWS's own SigV4 test suite (../shared/sigv4-testsuite,
 * header signing; we never presign, so the query-mode files are not used),
 * plus the stages on their own. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../lib/buf.h"
#include "../../sigv4.h"
#include "unit.h"

#define MAX_HEADERS 32

struct parsed_request {
	char *method;
	char *path;
	char *query;
	char *names[MAX_HEADERS];
	struct buf values[MAX_HEADERS];
	size_t n_headers;
	char *body;
	size_t body_len;
};

static void parsed_request_free(struct parsed_request *r)
{
	free(r->method);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->names[i]);
		buf_release(&r->values[i]);
	}
	free(r->body);
}

/* The request line may hold a raw space in the path, so the target is all
 * between the first space and the final " HTTP/1.1". */
static int parse_request_line(const char *line, size_t len,
			      struct parsed_request *r)
{
	const char *sp = memchr(line, ' ', len);
	const char *suffix = " HTTP/1.1";
	size_t suffix_len = strlen(suffix);
	if (!sp || len < suffix_len ||
	    memcmp(line + len - suffix_len, suffix, suffix_len) != 0)
		return -1;
	r->method = strndup(line, (size_t)(sp - line));
	const char *target = sp + 1;
	size_t target_len = (size_t)(line + len - suffix_len - target);
	const char *q = memchr(target, '?', target_len);
	size_t path_len = q ? (size_t)(q - target) : target_len;
	r->path = strndup(target, path_len);
	r->query = q ? strndup(q + 1, target_len - path_len - 1) : NULL;
	return 0;
}

static int parse_request(char *text, struct parsed_request *r)
{
	memset(r, 0, sizeof(*r));
	char *p = text;
	char *eol = strchr(p, '\n');
	if (parse_request_line(p, eol ? (size_t)(eol - p) : strlen(p), r) < 0)
		return -1;
	p = eol ? eol + 1 : p + strlen(p);
	while (*p && *p != '\n') {
		eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if ((*p == ' ' || *p == '\t') && r->n_headers) {
			/* folded continuation of the previous header */
			buf_putc(&r->values[r->n_headers - 1], ' ');
			buf_append(&r->values[r->n_headers - 1], p, len);
		} else if (r->n_headers < MAX_HEADERS) {
			char *colon = memchr(p, ':', len);
			if (!colon)
				return -1;
			size_t i = r->n_headers++;
			r->names[i] = strndup(p, (size_t)(colon - p));
			buf_init(&r->values[i], 0);
			buf_append(&r->values[i], colon + 1,
				   len - (size_t)(colon - p) - 1);
		}
		p = eol ? eol + 1 : p + len;
	}
	if (*p == '\n') {
		r->body_len = strlen(p + 1);
		r->body = strndup(p + 1, r->body_len);
	}
	return 0;
}

struct vector_case {
	const char *dir;
	const char *name;
	const char *secret;
	const char *access_key;
	const char *token;
	const char *region;
	const char *service;
	bool normalize;
	bool sign_body;
	bool omit_token;
};

static char *read_expected(const char *dir, const char *name, const char *file)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	return unit_read_file(path, NULL);
}

static void check_vector(const struct vector_case *c, struct parsed_request *r)
{
	char hash[SIGV4_HASH_HEX_LEN + 1];
	sigv4_sha256_hex(c->sign_body ? r->body : "",
			 c->sign_body ? r->body_len : 0, hash);

	struct sigv4_header headers[MAX_HEADERS + 3];
	size_t n = 0;
	for (size_t i = 0; i < r->n_headers; i++)
		headers[n++] = (struct sigv4_header){ r->names[i],
						      buf_str(&r->values[i]) };
	headers[n++] = (struct sigv4_header){ "X-Amz-Date", "20150830T123600Z" };
	if (c->token && !c->omit_token)
		headers[n++] = (struct sigv4_header){ "X-Amz-Security-Token",
						      c->token };
	if (c->sign_body)
		headers[n++] = (struct sigv4_header){ "x-amz-content-sha256",
						      hash };

	struct sigv4_request req = { r->method, r->path, r->query, headers, n,
				     hash };
	struct sigv4_scope scope = { "20150830T123600Z", c->region,
				     c->service };
	enum sigv4_path_rule rule = c->normalize ? SIGV4_PATH_NORMALIZE_ENCODE
						 : SIGV4_PATH_ENCODE;
	char label[256];

	char *creq = sigv4_canonical_request(&req, rule);
	char *want_creq =
		read_expected(c->dir, c->name, "header-canonical-request.txt");
	snprintf(label, sizeof(label), "%s: canonical request", c->name);
	EXPECT_STR(label, want_creq, creq);

	char *sts = creq ? sigv4_string_to_sign(&scope, creq) : NULL;
	char *want_sts =
		read_expected(c->dir, c->name, "header-string-to-sign.txt");
	snprintf(label, sizeof(label), "%s: string to sign", c->name);
	EXPECT_STR(label, want_sts, sts);

	unsigned char key[32];
	char sig[SIGV4_HASH_HEX_LEN + 1];
	sigv4_signing_key(c->secret, &scope, key);
	sigv4_signature(key, sts ? sts : "", sig);
	char *want_sig = read_expected(c->dir, c->name, "header-signature.txt");
	snprintf(label, sizeof(label), "%s: signature", c->name);
	EXPECT_STR(label, want_sig, sig);

	/* Signing the expected string to sign tells key-derivation bugs from
	 * canonicalisation bugs. */
	sigv4_signature(key, want_sts ? want_sts : "", sig);
	snprintf(label, sizeof(label), "%s: signature of expected sts", c->name);
	EXPECT_STR(label, want_sig, sig);

	free(creq);
	free(sts);
	free(want_creq);
	free(want_sts);
	free(want_sig);
}

static void run_c_auth_case(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s/context.json", dir, name);
	json_error_t jerr;
	json_t *ctx = json_load_file(path, 0, &jerr);
	snprintf(path, sizeof(path), "%s/%s/request.txt", dir, name);
	char *text = unit_read_file(path, NULL);
	char label[256];
	snprintf(label, sizeof(label), "%s: vector files readable", name);
	EXPECT_TRUE(label, ctx && text);
	if (!ctx || !text) {
		json_decref(ctx);
		free(text);
		return;
	}
	json_t *creds = json_object_get(ctx, "credentials");
	struct vector_case c = {
		.dir = dir,
		.name = name,
		.access_key = json_string_value(
			json_object_get(creds, "access_key_id")),
		.secret = json_string_value(
			json_object_get(creds, "secret_access_key")),
		.token = json_string_value(json_object_get(creds, "token")),
		.region = json_string_value(json_object_get(ctx, "region")),
		.service = json_string_value(json_object_get(ctx, "service")),
		.normalize = json_is_true(json_object_get(ctx, "normalize")),
		.sign_body = json_is_true(json_object_get(ctx, "sign_body")),
		.omit_token = json_is_true(
			json_object_get(ctx, "omit_session_token")),
	};
	struct parsed_request r;
	snprintf(label, sizeof(label), "%s: request.txt parses", name);
	int parsed = parse_request(text, &r);
	EXPECT_LONG(label, 0, parsed);
	if (parsed == 0)
		check_vector(&c, &r);
	parsed_request_free(&r);
	free(text);
	json_decref(ctx);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_c_auth_suite(void)
{
	char dir[2048];
	snprintf(dir, sizeof(dir), "%s/sigv4-testsuite/aws-c-auth-v4",
		 unit_shared_dir());
	DIR *d = opendir(dir);
	if (!d) {
		unit_skip("sigv4 aws-c-auth vectors",
			  "folder ../shared/sigv4-testsuite/aws-c-auth-v4 absent "
			  "(set SSMBAK_SHARED to the shared folder)");
		return;
	}
	char *names[128];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 128)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), compare_names);
	EXPECT_LONG("aws-c-auth suite has its 38 cases", 38, (long)n);
	for (size_t i = 0; i < n; i++) {
		run_c_auth_case(dir, names[i]);
		free(names[i]);
	}
}

/* A few stages on their own, one line a case. */
static void test_stages(void)
{
	static const struct {
		const char *path;
		enum sigv4_path_rule rule;
		const char *want;
	} uris[] = {
		{ "/", SIGV4_PATH_NORMALIZE_ENCODE, "/" },
		{ "", SIGV4_PATH_NORMALIZE_ENCODE, "/" },
		{ "//a//b//", SIGV4_PATH_NORMALIZE_ENCODE, "/a/b/" },
		{ "/a/./b/../c", SIGV4_PATH_NORMALIZE_ENCODE, "/a/c" },
		{ "/a/..", SIGV4_PATH_NORMALIZE_ENCODE, "/" },
		{ "/x%2Fy", SIGV4_PATH_NORMALIZE_ENCODE, "/x%252Fy" },
		{ "/bucket//app/db/url", SIGV4_PATH_S3, "/bucket//app/db/url" },
		{ "/bucket/a%20b/./c", SIGV4_PATH_S3, "/bucket/a%20b/./c" },
		{ "//x y", SIGV4_PATH_ENCODE, "//x%20y" },
	};
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		char *got = sigv4_canonical_uri(uris[i].path, uris[i].rule);
		char label[128];
		snprintf(label, sizeof(label), "canonical uri of '%s'",
			 uris[i].path);
		EXPECT_STR(label, uris[i].want, got);
		free(got);
	}

	static const struct {
		const char *query;
		const char *want;
	} queries[] = {
		{ NULL, "" },
		{ "", "" },
		{ "b=2&a=1", "a=1&b=2" },
		{ "a=2&a=1&a=10", "a=1&a=10&a=2" },
		{ "versions&prefix=%2Fapp%2F", "prefix=%2Fapp%2F&versions=" },
		{ "k=a+b", "k=a%2Bb" },
		{ "k=%7e%2d", "k=~-" },
		{ "x=%zz", "x=%25zz" },
	};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		char *got = sigv4_canonical_query(queries[i].query);
		char label[128];
		snprintf(label, sizeof(label), "canonical query of '%s'",
			 queries[i].query ? queries[i].query : "(null)");
		EXPECT_STR(label, queries[i].want, got);
		free(got);
	}

	struct sigv4_header headers[] = {
		{ "Host", "h" }, { "X-B", "  two   words " }, { "x-a", "1" },
		{ "X-A", "\tz" },
	};
	char *signed_headers = NULL;
	char *canon = sigv4_canonical_headers(headers, 4, &signed_headers);
	EXPECT_STR("canonical headers merge, trim and sort",
		   "host:h\nx-a:1,z\nx-b:two words\n", canon);
	EXPECT_STR("signed header list", "host;x-a;x-b", signed_headers);
	free(canon);
	free(signed_headers);
}

static void test_key_cache(void)
{
	struct sigv4_header headers[] = { { "host", "h" },
					  { "x-amz-date",
					    "20240101T000000Z" } };
	struct sigv4_request req = { "GET", "/", NULL, headers, 2,
				     SIGV4_UNSIGNED_PAYLOAD };
	struct sigv4_scope scope = { "20240101T000000Z", "us-east-1", "s3" };
	struct sigv4_key_cache cache = { .valid = false };
	char *uncached = sigv4_authorization(&req, SIGV4_PATH_S3, &scope, "AK",
					     "secret", NULL);
	char *first = sigv4_authorization(&req, SIGV4_PATH_S3, &scope, "AK",
					  "secret", &cache);
	char *second = sigv4_authorization(&req, SIGV4_PATH_S3, &scope, "AK",
					   "secret", &cache);
	EXPECT_STR("cache fills with the right key", uncached, first);
	EXPECT_STR("cache hit signs the same", uncached, second);
	EXPECT_TRUE("cache is valid after use", cache.valid);
	struct sigv4_scope other = { "20240102T000000Z", "us-east-1", "s3" };
	char *next_day = sigv4_authorization(&req, SIGV4_PATH_S3, &other, "AK",
					     "secret", &cache);
	EXPECT_TRUE("a new day derives a new key",
		    next_day && strcmp(next_day, uncached) != 0);
	free(uncached);
	free(first);
	free(second);
	free(next_day);
}

void test_sigv4(void)
{
	test_stages();
	test_key_cache();
	run_c_auth_suite();
}
