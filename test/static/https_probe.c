/* https_probe: one HTTPS GET with libcurl and lib/tls.c's CA choice, the
 * smallest program that proves the static archives work in an empty chroot
 * (test/static/run.sh). Not part of ssmbak.
 *
 *   https_probe --version   libcurl's version line, then "ca: SOURCE"
 *   https_probe URL         the body on stdout; exit 0 if the request
 *                           completed with a verified certificate, else 1
 *                           with curl's error on stderr */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "../../lib/tls.h"

static size_t write_body(char *data, size_t size, size_t n, void *userp)
{
	return fwrite(data, size, n, (FILE *)userp) * size;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: https_probe --version | URL\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s\nca: %s\n", curl_version(), tls_ca_source());
		curl_global_cleanup();
		return 0;
	}

	int status = 1;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = curl_easy_init();
	if (!curl)
		goto out;
	CURLcode rc = tls_use_ca_certificates(curl);
	fprintf(stderr, "ca: %s\n", tls_ca_source());
	if (rc == CURLE_OK) {
		curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
		curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, stdout);
		curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
		/* The two checks a TLS client must make, stated although they
		 * are libcurl's defaults. */
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
		rc = curl_easy_perform(curl);
	}
	if (rc == CURLE_OK) {
		status = 0;
	} else {
		fprintf(stderr, "https_probe: curl error %d: %s%s%s\n", (int)rc,
			curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
	}
	curl_easy_cleanup(curl);
out:
	curl_global_cleanup();
	return status;
}
