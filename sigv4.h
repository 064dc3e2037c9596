/* AWS Signature Version 4, as small pure stages: canonical URI, canonical
 * query, canonical headers, canonical request, string to sign, signing key,
 * signature. Each takes its inputs and returns fresh memory (free()), or NULL
 * when out of memory; none does I/O or reads the clock.
 *
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
#ifndef SSMBAK_SIGV4_H
#define SSMBAK_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_HASH_HEX_LEN 64

struct sigv4_header {
	const char *name;
	const char *value;
};

/* One request as it goes on the wire. Every header given is signed, so the
 * caller passes exactly the headers it wants covered (host included). */
struct sigv4_request {
	const char *method;
	const char *path;         /* before '?', as sent (percent-encoded) */
	const char *query;        /* after '?', as sent; NULL or "" for none */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash; /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
};

struct sigv4_scope {
	const char *amz_date;     /* 20150830T123600Z */
	const char *region;
	const char *service;
};

/* S3 signs the path as sent; every other service normalises it (removes
 * "." and "..", merges "//") and percent-encodes it once more.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#create-canonical-request
 * SIGV4_PATH_ENCODE (encode, keep dots and slashes) is what AWS's test suite
 * calls "unnormalized"; no service we call uses it. */
enum sigv4_path_rule {
	SIGV4_PATH_S3,
	SIGV4_PATH_ENCODE,
	SIGV4_PATH_NORMALIZE_ENCODE,
};

/* Percent-encoding of RFC 3986 unreserved characters kept as they are;
 * keep_slash leaves '/' alone (paths). */
char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash);
/* Decodes %XX in place (a malformed escape stays); returns the length. */
size_t sigv4_percent_decode(char *s, size_t len);
char *sigv4_canonical_uri(const char *path, enum sigv4_path_rule rule);
char *sigv4_canonical_query(const char *query);
/* Sets *signed_headers to "host;x-amz-date" style list. */
char *sigv4_canonical_headers(const struct sigv4_header *headers, size_t n,
			      char **signed_headers);
char *sigv4_canonical_request(const struct sigv4_request *req,
			      enum sigv4_path_rule rule);
char *sigv4_credential_scope(const struct sigv4_scope *scope);
char *sigv4_string_to_sign(const struct sigv4_scope *scope,
			   const char *canonical_request);
void sigv4_signing_key(const char *secret, const struct sigv4_scope *scope,
		       unsigned char key[32]);
void sigv4_signature(const unsigned char key[32], const char *string_to_sign,
		     char hex[SIGV4_HASH_HEX_LEN + 1]);
void sigv4_sha256_hex(const void *data, size_t len,
		      char hex[SIGV4_HASH_HEX_LEN + 1]);

/* The derived key changes once a day per region and service; deriving it is
 * four HMACs, so the request layer keeps the last one. */
struct sigv4_key_cache {
	char access_key_id[129];
	char date[9];
	char region[33];
	char service[33];
	unsigned char key[32];
	bool valid;
};

/* The whole Authorization header value:
 * "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=..., Signature=..." */
char *sigv4_authorization(const struct sigv4_request *req,
			  enum sigv4_path_rule rule,
			  const struct sigv4_scope *scope,
			  const char *access_key_id, const char *secret,
			  struct sigv4_key_cache *cache);

#endif
