#include "tls.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* lib/cacert.S: the PEM bundle the build machine trusted. */
extern const unsigned char ssmbak_cacert_start[];
extern const unsigned char ssmbak_cacert_end[];

/* Where distributions keep their PEM bundle; the same places, in the same
 * order, that Go's crypto/x509 searches on Linux, plus SUSE's real file. */
static const char *const well_known_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/ca-bundle.pem",
	"/var/lib/ca-certificates/ca-bundle.pem",
	"/etc/ssl/cert.pem",
	"/etc/pki/tls/cacert.pem",
};

enum ca_kind { CA_UNDECIDED, CA_ENV, CA_FILE, CA_EMBEDDED, CA_BAD };

/* The choice, made once. Copies rather than getenv() pointers, so a later
 * setenv() cannot change what we trust behind the caller's back; static
 * arrays rather than malloc, so there is nothing to free or leak. */
static struct {
	enum ca_kind kind;
	char file[PATH_MAX];  /* CAINFO: SSL_CERT_FILE or a well-known bundle */
	char dir[PATH_MAX];   /* CAPATH: SSL_CERT_DIR */
	char source[2 * PATH_MAX + 32];
} ca;

/* The profile's ca_bundle (~/.aws/config), as the first context read it. */
static char profile_bundle[PATH_MAX + 1];

void tls_use_profile_bundle(const char *path)
{
	if (profile_bundle[0] || !path || !*path)
		return;
	/* one byte more than a path can hold: decide() refuses what is cut */
	snprintf(profile_bundle, sizeof profile_bundle, "%s", path);
}

/* Copies the variable if set and non-empty; false if it does not fit. */
static bool copy_env(const char *name, char *out, size_t size)
{
	const char *v = getenv(name);
	out[0] = '\0';
	if (!v || !*v)
		return true;
	if (strlen(v) >= size)
		return false;
	memcpy(out, v, strlen(v) + 1);
	return true;
}

/* A bundle counts if it is a readable regular file with something in it:
 * an empty file (a half-installed ca-certificates) would make every
 * verification fail, where the next candidate would work. */
static bool usable_bundle(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	       access(path, R_OK) == 0;
}

static void decide(void)
{
	if (ca.kind != CA_UNDECIDED)
		return;
	if (!copy_env("SSL_CERT_FILE", ca.file, sizeof ca.file) ||
	    !copy_env("SSL_CERT_DIR", ca.dir, sizeof ca.dir)) {
		ca.kind = CA_BAD;
		snprintf(ca.source, sizeof ca.source,
			 "SSL_CERT_FILE or SSL_CERT_DIR too long");
		return;
	}
	/* The AWS CLI's own variable, when OpenSSL's is not set:
	 * https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html */
	const char *named_by = "SSL_CERT_FILE=";
	if (!ca.file[0]) {
		if (!copy_env("AWS_CA_BUNDLE", ca.file, sizeof ca.file)) {
			ca.kind = CA_BAD;
			snprintf(ca.source, sizeof ca.source,
				 "AWS_CA_BUNDLE too long");
			return;
		}
		named_by = "AWS_CA_BUNDLE=";
	}
	/* then the profile's ca_bundle, as the AWS CLI ranks them */
	if (!ca.file[0] && profile_bundle[0]) {
		if (strlen(profile_bundle) >= sizeof ca.file) {
			ca.kind = CA_BAD;
			snprintf(ca.source, sizeof ca.source,
				 "ca_bundle too long");
			return;
		}
		memcpy(ca.file, profile_bundle, strlen(profile_bundle) + 1);
		named_by = "ca_bundle=";
	}
	/* What the user set is used as is, even if it does not exist: that is
	 * what OpenSSL does, and silently trusting something else would hide
	 * the mistake. */
	if (ca.file[0] || ca.dir[0]) {
		ca.kind = CA_ENV;
		snprintf(ca.source, sizeof ca.source, "%s%s%s%s%s",
			 ca.file[0] ? named_by : "", ca.file,
			 ca.file[0] && ca.dir[0] ? " " : "",
			 ca.dir[0] ? "SSL_CERT_DIR=" : "", ca.dir);
		return;
	}
	for (size_t i = 0; i < sizeof well_known_bundles /
				       sizeof well_known_bundles[0]; i++) {
		if (usable_bundle(well_known_bundles[i])) {
			ca.kind = CA_FILE;
			snprintf(ca.file, sizeof ca.file, "%s",
				 well_known_bundles[i]);
			snprintf(ca.source, sizeof ca.source, "%s", ca.file);
			return;
		}
	}
	ca.kind = CA_EMBEDDED;
	snprintf(ca.source, sizeof ca.source, "embedded bundle");
}

/* Sets a path option, or clears it. Clearing matters when libcurl was built
 * with a default bundle or path (Debian's shared libcurl, used by the unit
 * tests): left alone, that default would be trusted alongside our choice.
 * A backend without the option has no default to clear either. */
static CURLcode set_path(CURL *curl, CURLoption opt, const char *path)
{
	CURLcode rc = curl_easy_setopt(curl, opt, path && *path ? path : NULL);
	if (rc == CURLE_NOT_BUILT_IN && !(path && *path))
		return CURLE_OK;
	return rc;
}

/* The same trust for the server and for an HTTPS proxy (HTTPS_PROXY=https://),
 * which curl verifies with its own set of options. */
static CURLcode apply(CURL *curl, bool proxy)
{
	CURLoption cainfo = proxy ? CURLOPT_PROXY_CAINFO : CURLOPT_CAINFO;
	CURLoption capath = proxy ? CURLOPT_PROXY_CAPATH : CURLOPT_CAPATH;
	CURLoption blob = proxy ? CURLOPT_PROXY_CAINFO_BLOB : CURLOPT_CAINFO_BLOB;
	CURLcode rc;

	switch (ca.kind) {
	case CA_ENV:
	case CA_FILE:
		/* A blob left from an earlier call would be trusted as well. */
		rc = curl_easy_setopt(curl, blob, (struct curl_blob *)NULL);
		if (rc == CURLE_OK)
			rc = set_path(curl, cainfo, ca.file);
		if (rc == CURLE_OK)
			rc = set_path(curl, capath, ca.dir);
		return rc;
	case CA_EMBEDDED: {
		size_t len = (size_t)(ssmbak_cacert_end - ssmbak_cacert_start);
		if (len == 0)
			return CURLE_SSL_CACERT_BADFILE;
		/* NOCOPY: the bundle is in .rodata for the life of the process. */
		struct curl_blob b = {
			.data = (void *)ssmbak_cacert_start,
			.len = len,
			.flags = CURL_BLOB_NOCOPY,
		};
		rc = curl_easy_setopt(curl, blob, &b);
		if (rc == CURLE_OK)
			rc = set_path(curl, cainfo, NULL);
		if (rc == CURLE_OK)
			rc = set_path(curl, capath, NULL);
		return rc;
	}
	case CA_BAD:
	case CA_UNDECIDED:
		break;
	}
	return CURLE_BAD_FUNCTION_ARGUMENT;
}

CURLcode tls_use_ca_certificates(CURL *curl)
{
	if (!curl)
		return CURLE_BAD_FUNCTION_ARGUMENT;
	decide();
	CURLcode rc = apply(curl, false);
	if (rc == CURLE_OK)
		rc = apply(curl, true);
	return rc;
}

const char *tls_ca_source(void)
{
	decide();
	return ca.source;
}

void tls_ca_reset(void)
{
	ca.kind = CA_UNDECIDED;
	ca.file[0] = ca.dir[0] = ca.source[0] = '\0';
	profile_bundle[0] = '\0';
}
