/* Signs requests read as JSON lines on stdin, one answer line each on
 * stdout, so a test can compare our signer with botocore's on thousands of
 * generated requests in one process.
 *
 * in:  {"method","path","query","headers":[[name,value],...],"body_hex",
 *       "amz_date","region","service","s3":bool,"access_key","secret"}
 * out: {"canonical_request","string_to_sign","authorization"} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../sigv4.h"

static unsigned char *decode_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	unsigned char *out = malloc(n + 1);
	for (size_t i = 0; out && i < n; i++) {
		unsigned int byte;
		sscanf(hex + 2 * i, "%2x", &byte);
		out[i] = (unsigned char)byte;
	}
	*len = n;
	return out;
}

static json_t *sign_one(json_t *in)
{
	json_t *jheaders = json_object_get(in, "headers");
	size_t n = json_array_size(jheaders);
	struct sigv4_header *headers = calloc(n ? n : 1, sizeof(*headers));
	for (size_t i = 0; i < n; i++) {
		json_t *pair = json_array_get(jheaders, i);
		headers[i].name = json_string_value(json_array_get(pair, 0));
		headers[i].value = json_string_value(json_array_get(pair, 1));
	}
	size_t body_len;
	unsigned char *body = decode_hex(
		json_string_value(json_object_get(in, "body_hex")), &body_len);
	char hash[SIGV4_HASH_HEX_LEN + 1];
	sigv4_sha256_hex(body, body_len, hash);
	bool s3 = json_is_true(json_object_get(in, "s3"));

	struct sigv4_request req = {
		json_string_value(json_object_get(in, "method")),
		json_string_value(json_object_get(in, "path")),
		json_string_value(json_object_get(in, "query")),
		headers, n, hash,
	};
	struct sigv4_scope scope = {
		json_string_value(json_object_get(in, "amz_date")),
		json_string_value(json_object_get(in, "region")),
		json_string_value(json_object_get(in, "service")),
	};
	enum sigv4_path_rule rule = s3 ? SIGV4_PATH_S3
				       : SIGV4_PATH_NORMALIZE_ENCODE;
	char *creq = sigv4_canonical_request(&req, rule);
	char *sts = sigv4_string_to_sign(&scope, creq);
	char *auth = sigv4_authorization(
		&req, rule, &scope,
		json_string_value(json_object_get(in, "access_key")),
		json_string_value(json_object_get(in, "secret")), NULL);
	json_t *out = json_pack("{s:s, s:s, s:s}", "canonical_request", creq,
				"string_to_sign", sts, "authorization", auth);
	free(creq);
	free(sts);
	free(auth);
	free(body);
	free(headers);
	return out;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, stdin) > 0) {
		json_error_t jerr;
		json_t *in = json_loads(line, 0, &jerr);
		if (!in) {
			fprintf(stderr, "sigv4_sign: bad input line: %s\n",
				jerr.text);
			return 2;
		}
		json_t *out = sign_one(in);
		char *text = json_dumps(out, JSON_COMPACT);
		puts(text);
		free(text);
		json_decref(out);
		json_decref(in);
	}
	free(line);
	return 0;
}
