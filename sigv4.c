#include "sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lib/buf.h"

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int uri_encode_into(struct buf *out, const char *s, size_t len,
			   bool keep_slash)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc = (is_unreserved(c) || (keep_slash && c == '/'))
				 ? buf_putc(out, (char)c)
				 : buf_printf(out, "%%%02X", c);
		if (rc < 0)
			return -1;
	}
	return 0;
}

char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash)
{
	struct buf out = BUF_INIT;
	if (uri_encode_into(&out, s, len, keep_slash) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out);
}

/* Decodes %XX in place; '+' stays a plus because AWS query strings are
 * RFC 3986, not HTML forms. Returns the new length. */
size_t sigv4_percent_decode(char *s, size_t len)
{
	size_t w = 0;
	for (size_t r = 0; r < len; r++) {
		int hi, lo;
		if (s[r] == '%' && r + 2 < len &&
		    (hi = hex_value(s[r + 1])) >= 0 &&
		    (lo = hex_value(s[r + 2])) >= 0) {
			s[w++] = (char)(hi * 16 + lo);
			r += 2;
		} else {
			s[w++] = s[r];
		}
	}
	return w;
}

/* RFC 3986 section 5.2.4 dot-segment removal, plus merging of repeated
 * slashes, which AWS services other than S3 also expect. A trailing slash is
 * kept when anything is left. */
static char *normalize_path(const char *path)
{
	size_t len = strlen(path);
	const char **segs = calloc(len + 1, sizeof(*segs));
	size_t *seg_len = calloc(len + 1, sizeof(*seg_len));
	struct buf out = BUF_INIT;
	char *result = NULL;
	if (!segs || !seg_len)
		goto done;

	size_t n = 0;
	for (const char *p = path; p <= path + len;) {
		const char *end = strchr(p, '/');
		if (!end)
			end = path + len;
		size_t l = (size_t)(end - p);
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (n)
				n--;
		} else if (l && !(l == 1 && p[0] == '.')) {
			segs[n] = p;
			seg_len[n++] = l;
		}
		p = end + 1;
	}

	if (path[0] == '/' && buf_putc(&out, '/') < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if ((i && buf_putc(&out, '/') < 0) ||
		    buf_append(&out, segs[i], seg_len[i]) < 0)
			goto done;
	}
	if (n && len && path[len - 1] == '/' && buf_putc(&out, '/') < 0)
		goto done;
	if (out.len == 0 && buf_putc(&out, '/') < 0)
		goto done;
	result = buf_detach(&out);
done:
	buf_release(&out);
	free(segs);
	free(seg_len);
	return result;
}

char *sigv4_canonical_uri(const char *path, enum sigv4_path_rule rule)
{
	if (!path || !*path)
		return strdup("/");
	if (rule == SIGV4_PATH_S3)
		return strdup(path);
	if (rule == SIGV4_PATH_ENCODE)
		return sigv4_uri_encode(path, strlen(path), true);
	char *normal = normalize_path(path);
	if (!normal)
		return NULL;
	char *encoded = sigv4_uri_encode(normal, strlen(normal), true);
	free(normal);
	return encoded;
}

struct query_param {
	char *key;
	char *value;
};

static int compare_params(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->value, y->value);
}

/* Decodes then re-encodes one "k=v" piece so that any wire spelling of the
 * same parameter canonicalises the same way. */
static int canonical_param(const char *piece, size_t len,
			   struct query_param *param)
{
	const char *eq = memchr(piece, '=', len);
	size_t key_len = eq ? (size_t)(eq - piece) : len;
	const char *value = eq ? eq + 1 : piece + len;
	size_t value_len = eq ? len - key_len - 1 : 0;

	char *raw_key = strndup(piece, key_len);
	char *raw_value = strndup(value, value_len);
	param->key = param->value = NULL;
	if (raw_key && raw_value) {
		key_len = sigv4_percent_decode(raw_key, key_len);
		value_len = sigv4_percent_decode(raw_value, value_len);
		param->key = sigv4_uri_encode(raw_key, key_len, false);
		param->value = sigv4_uri_encode(raw_value, value_len, false);
	}
	free(raw_key);
	free(raw_value);
	return param->key && param->value ? 0 : -1;
}

char *sigv4_canonical_query(const char *query)
{
	if (!query || !*query)
		return strdup("");
	size_t max = 1;
	for (const char *p = query; *p; p++)
		max += *p == '&';
	struct query_param *params = calloc(max, sizeof(*params));
	struct buf out = BUF_INIT;
	char *result = NULL;
	size_t n = 0;
	if (!params)
		return NULL;

	for (const char *p = query; *p;) {
		size_t len = strcspn(p, "&");
		if (len) {
			if (canonical_param(p, len, &params[n++]) < 0)
				goto done;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	qsort(params, n, sizeof(*params), compare_params);
	for (size_t i = 0; i < n; i++) {
		if (buf_printf(&out, "%s%s=%s", i ? "&" : "", params[i].key,
			       params[i].value) < 0)
			goto done;
	}
	result = buf_detach(&out);
done:
	for (size_t i = 0; i < n; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	free(params);
	buf_release(&out);
	return result;
}

struct header_line {
	char *name;
	const char *value;
	size_t order;
};

static int compare_headers(const void *a, const void *b)
{
	const struct header_line *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Trims the value and folds each run of white space into one space, quoted
 * or not, as the canonical form requires. */
static int put_trimmed_value(struct buf *out, const char *v)
{
	bool pending_space = false;
	bool any = false;
	for (; *v; v++) {
		if (is_space(*v)) {
			pending_space = any;
			continue;
		}
		if ((pending_space && buf_putc(out, ' ') < 0) ||
		    buf_putc(out, *v) < 0)
			return -1;
		pending_space = false;
		any = true;
	}
	return 0;
}

char *sigv4_canonical_headers(const struct sigv4_header *headers, size_t n,
			      char **signed_headers)
{
	struct header_line *lines = calloc(n ? n : 1, sizeof(*lines));
	struct buf out = BUF_INIT, names = BUF_INIT;
	char *result = NULL;
	size_t made = 0;
	*signed_headers = NULL;
	if (!lines)
		return NULL;

	for (; made < n; made++) {
		lines[made].name = strdup(headers[made].name);
		if (!lines[made].name)
			goto done;
		for (char *c = lines[made].name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		lines[made].value = headers[made].value;
		lines[made].order = made;
	}
	qsort(lines, n, sizeof(*lines), compare_headers);

	for (size_t i = 0; i < n; i++) {
		bool same_as_previous =
			i && strcmp(lines[i].name, lines[i - 1].name) == 0;
		if (same_as_previous) {
			if (buf_putc(&out, ',') < 0)
				goto done;
		} else {
			if ((i && buf_putc(&out, '\n') < 0) ||
			    buf_printf(&out, "%s:", lines[i].name) < 0 ||
			    buf_printf(&names, "%s%s", i ? ";" : "",
				       lines[i].name) < 0)
				goto done;
		}
		if (put_trimmed_value(&out, lines[i].value) < 0)
			goto done;
	}
	if (n && buf_putc(&out, '\n') < 0)
		goto done;
	*signed_headers = buf_detach(&names);
	result = buf_detach(&out);
	if (!*signed_headers || !result) {
		free(*signed_headers);
		free(result);
		*signed_headers = NULL;
		result = NULL;
	}
done:
	for (size_t i = 0; i < made; i++)
		free(lines[i].name);
	free(lines);
	buf_release(&out);
	buf_release(&names);
	return result;
}

char *sigv4_canonical_request(const struct sigv4_request *req,
			      enum sigv4_path_rule rule)
{
	char *uri = sigv4_canonical_uri(req->path, rule);
	char *query = sigv4_canonical_query(req->query);
	char *signed_headers = NULL;
	char *headers = sigv4_canonical_headers(req->headers, req->n_headers,
						&signed_headers);
	struct buf out = BUF_INIT;
	char *result = NULL;

	if (uri && query && headers &&
	    buf_printf(&out, "%s\n%s\n%s\n%s\n%s\n%s", req->method, uri, query,
		       headers, signed_headers, req->payload_hash) == 0)
		result = buf_detach(&out);
	buf_release(&out);
	free(uri);
	free(query);
	free(headers);
	free(signed_headers);
	return result;
}

char *sigv4_credential_scope(const struct sigv4_scope *scope)
{
	struct buf out = BUF_INIT;
	if (buf_printf(&out, "%.8s/%s/%s/aws4_request", scope->amz_date,
		       scope->region, scope->service) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out);
}

void sigv4_sha256_hex(const void *data, size_t len,
		      char hex[SIGV4_HASH_HEX_LEN + 1])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256(data, len, digest);
	to_hex(digest, sizeof(digest), hex);
}

char *sigv4_string_to_sign(const struct sigv4_scope *scope,
			   const char *canonical_request)
{
	char hash[SIGV4_HASH_HEX_LEN + 1];
	char *credential_scope = sigv4_credential_scope(scope);
	struct buf out = BUF_INIT;
	char *result = NULL;

	sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
	if (credential_scope &&
	    buf_printf(&out, SIGV4_ALGORITHM "\n%s\n%s\n%s", scope->amz_date,
		       credential_scope, hash) == 0)
		result = buf_detach(&out);
	buf_release(&out);
	free(credential_scope);
	return result;
}

static void hmac_sha256(const void *key, size_t key_len, const char *msg,
			unsigned char out[32])
{
	unsigned int out_len = 32;
	HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
	     strlen(msg), out, &out_len);
}

void sigv4_signing_key(const char *secret, const struct sigv4_scope *scope,
		       unsigned char key[32])
{
	char date[9];
	memcpy(date, scope->amz_date, 8);
	date[8] = '\0';

	struct buf seed = BUF_INIT;
	unsigned char k[32];
	if (buf_printf(&seed, "AWS4%s", secret) < 0) {
		/* Out of memory for a few bytes: a zero key fails loudly at
		 * the server instead of signing with garbage. */
		memset(key, 0, 32);
		return;
	}
	hmac_sha256(seed.data, seed.len, date, k);
	OPENSSL_cleanse(seed.data, seed.len);
	buf_release(&seed);
	hmac_sha256(k, 32, scope->region, k);
	hmac_sha256(k, 32, scope->service, k);
	hmac_sha256(k, 32, "aws4_request", key);
	OPENSSL_cleanse(k, sizeof(k));
}

void sigv4_signature(const unsigned char key[32], const char *string_to_sign,
		     char hex[SIGV4_HASH_HEX_LEN + 1])
{
	unsigned char mac[32];
	hmac_sha256(key, 32, string_to_sign, mac);
	to_hex(mac, sizeof(mac), hex);
}

static bool fits_copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);
	if (len >= size)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

static const unsigned char *cached_signing_key(struct sigv4_key_cache *cache,
					       const char *access_key_id,
					       const char *secret,
					       const struct sigv4_scope *scope,
					       unsigned char scratch[32])
{
	if (!cache) {
		sigv4_signing_key(secret, scope, scratch);
		return scratch;
	}
	if (cache->valid && strcmp(cache->access_key_id, access_key_id) == 0 &&
	    strncmp(cache->date, scope->amz_date, 8) == 0 &&
	    strcmp(cache->region, scope->region) == 0 &&
	    strcmp(cache->service, scope->service) == 0)
		return cache->key;

	sigv4_signing_key(secret, scope, cache->key);
	cache->valid = fits_copy(cache->access_key_id,
				 sizeof(cache->access_key_id), access_key_id) &&
		       fits_copy(cache->region, sizeof(cache->region),
				 scope->region) &&
		       fits_copy(cache->service, sizeof(cache->service),
				 scope->service);
	memcpy(cache->date, scope->amz_date, 8);
	cache->date[8] = '\0';
	return cache->key;
}

char *sigv4_authorization(const struct sigv4_request *req,
			  enum sigv4_path_rule rule,
			  const struct sigv4_scope *scope,
			  const char *access_key_id, const char *secret,
			  struct sigv4_key_cache *cache)
{
	char *creq = sigv4_canonical_request(req, rule);
	char *sts = creq ? sigv4_string_to_sign(scope, creq) : NULL;
	char *credential_scope = sigv4_credential_scope(scope);
	char *signed_headers = NULL;
	char *headers = sigv4_canonical_headers(req->headers, req->n_headers,
						&signed_headers);
	struct buf out = BUF_INIT;
	char *result = NULL;
	unsigned char scratch[32];
	char signature[SIGV4_HASH_HEX_LEN + 1];

	if (sts && credential_scope && headers) {
		const unsigned char *key = cached_signing_key(
			cache, access_key_id, secret, scope, scratch);
		sigv4_signature(key, sts, signature);
		if (buf_printf(&out,
			       SIGV4_ALGORITHM " Credential=%s/%s, "
					       "SignedHeaders=%s, Signature=%s",
			       access_key_id, credential_scope, signed_headers,
			       signature) == 0)
			result = buf_detach(&out);
	}
	OPENSSL_cleanse(scratch, sizeof(scratch));
	buf_release(&out);
	free(creq);
	free(sts);
	free(credential_scope);
	free(headers);
	free(signed_headers);
	return result;
}
