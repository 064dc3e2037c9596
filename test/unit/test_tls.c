#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../../lib/tls.h"
#include "unit.h"

extern const unsigned char ssmbak_cacert_start[];
extern const unsigned char ssmbak_cacert_end[];

/* Sets or unsets (value NULL) a variable, then makes tls.c choose again. */
static void env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	tls_ca_reset();
}

static char *saved(const char *name)
{
	const char *v = getenv(name);
	return v ? strdup(v) : NULL;
}

/* Whether tls_use_ca_certificates() accepts a fresh handle. */
static CURLcode use_on_fresh_handle(void)
{
	CURL *curl = curl_easy_init();
	if (!curl)
		return CURLE_FAILED_INIT;
	CURLcode rc = tls_use_ca_certificates(curl);
	curl_easy_cleanup(curl);
	return rc;
}

void test_tls(void)
{
	char *file0 = saved("SSL_CERT_FILE"), *dir0 = saved("SSL_CERT_DIR");
	char *aws0 = saved("AWS_CA_BUNDLE");
	env("AWS_CA_BUNDLE", NULL);

	size_t len = (size_t)(ssmbak_cacert_end - ssmbak_cacert_start);
	EXPECT_TRUE("embedded bundle is not empty", len > 1000);
	EXPECT_TRUE("embedded bundle is PEM",
		    len > 27 && memcmp(ssmbak_cacert_start,
				       "-----BEGIN CERTIFICATE-----", 27) == 0);
	EXPECT_TRUE("embedded bundle is NUL-terminated",
		    ssmbak_cacert_end[0] == '\0');

	EXPECT_LONG("NULL handle", CURLE_BAD_FUNCTION_ARGUMENT,
		    tls_use_ca_certificates(NULL));

	/* The variables win, whether or not the file exists (as in OpenSSL). */
	static const struct {
		const char *name, *file, *dir, *source;
	} env_cases[] = {
		{ "file only", "/nonexistent/ca.pem", NULL,
		  "SSL_CERT_FILE=/nonexistent/ca.pem" },
		{ "dir only", NULL, "/nonexistent/certs",
		  "SSL_CERT_DIR=/nonexistent/certs" },
		{ "file and dir", "/x.pem", "/certs:/more",
		  "SSL_CERT_FILE=/x.pem SSL_CERT_DIR=/certs:/more" },
		{ "empty dir is unset", "/x.pem", "",
		  "SSL_CERT_FILE=/x.pem" },
	};
	for (size_t i = 0; i < sizeof env_cases / sizeof env_cases[0]; i++) {
		env("SSL_CERT_FILE", env_cases[i].file);
		env("SSL_CERT_DIR", env_cases[i].dir);
		EXPECT_STR(env_cases[i].name, env_cases[i].source,
			   tls_ca_source());
		EXPECT_LONG(env_cases[i].name, CURLE_OK, use_on_fresh_handle());
	}

	/* The AWS CLI's AWS_CA_BUNDLE, when SSL_CERT_FILE is not set. */
	env("SSL_CERT_DIR", NULL);
	env("SSL_CERT_FILE", NULL);
	env("AWS_CA_BUNDLE", "/aws/ca.pem");
	EXPECT_STR("AWS_CA_BUNDLE alone", "AWS_CA_BUNDLE=/aws/ca.pem", tls_ca_source());
	env("SSL_CERT_FILE", "/ssl/ca.pem");
	EXPECT_STR("SSL_CERT_FILE wins over AWS_CA_BUNDLE", "SSL_CERT_FILE=/ssl/ca.pem",
		   tls_ca_source());
	env("AWS_CA_BUNDLE", NULL);

	/* The profile's ca_bundle, after both variables (env() forgets it). */
	env("SSL_CERT_FILE", NULL);
	tls_use_profile_bundle("/profile/ca.pem");
	EXPECT_STR("ca_bundle alone", "ca_bundle=/profile/ca.pem", tls_ca_source());
	env("AWS_CA_BUNDLE", "/aws/ca.pem");
	tls_use_profile_bundle("/profile/ca.pem");
	EXPECT_STR("AWS_CA_BUNDLE wins over ca_bundle", "AWS_CA_BUNDLE=/aws/ca.pem",
		   tls_ca_source());
	env("AWS_CA_BUNDLE", NULL);
	tls_use_profile_bundle("/first/ca.pem");
	tls_use_profile_bundle("/second/ca.pem");
	EXPECT_STR("the first profile's ca_bundle", "ca_bundle=/first/ca.pem",
		   tls_ca_source());
	env("SSL_CERT_FILE", NULL);

	/* Decided once: a later change of the environment is not seen. */
	env("SSL_CERT_DIR", NULL);
	env("SSL_CERT_FILE", "/first.pem");
	EXPECT_STR("first choice", "SSL_CERT_FILE=/first.pem", tls_ca_source());
	setenv("SSL_CERT_FILE", "/second.pem", 1);
	EXPECT_STR("choice is cached", "SSL_CERT_FILE=/first.pem",
		   tls_ca_source());

	/* Nothing set: a well-known bundle, else the embedded one. */
	env("SSL_CERT_FILE", "");
	const char *src = tls_ca_source();
	EXPECT_TRUE("no variables: a bundle file or the embedded one",
		    src[0] == '/' || strcmp(src, "embedded bundle") == 0);
	EXPECT_LONG("no variables: usable", CURLE_OK, use_on_fresh_handle());
	FILE *debian = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
	if (debian) {
		fclose(debian);
		EXPECT_STR("Debian's bundle comes first",
			   "/etc/ssl/certs/ca-certificates.crt", src);
	} else {
		unit_skip("Debian's bundle comes first", "not on this machine");
	}

	char *long_path = malloc(8192);
	if (long_path) {
		memset(long_path, 'a', 8191);
		long_path[0] = '/';
		long_path[8191] = '\0';
		env("SSL_CERT_FILE", long_path);
		EXPECT_LONG("longer than PATH_MAX is refused",
			    CURLE_BAD_FUNCTION_ARGUMENT, use_on_fresh_handle());
		free(long_path);
	}

	env("AWS_CA_BUNDLE", aws0);
	free(aws0);
	env("SSL_CERT_FILE", file0);
	env("SSL_CERT_DIR", dir0);
	free(file0);
	free(dir0);
}
