/* Which CA certificates TLS trusts. The static binary runs where the host
 * may have no CA bundle at all (an empty container, a Lambda image of
 * another distribution), and its libcurl has none compiled in, so the
 * choice is made here, once per process. */
#ifndef SSMBAK_TLS_H
#define SSMBAK_TLS_H

#include <curl/curl.h>

/* Points CURL handle at the CA certificates to trust, for the server and for
 * an HTTPS proxy alike, in this order:
 *   1. SSL_CERT_FILE and/or SSL_CERT_DIR (OpenSSL's own variables), as given
 *      (AWS_CA_BUNDLE, the AWS CLI's, when SSL_CERT_FILE is not set, and
 *      then the profile's ca_bundle, from tls_use_profile_bundle);
 *   2. else the first non-empty readable one of the usual bundles:
 *      /etc/ssl/certs/ca-certificates.crt                 Debian, Ubuntu, Arch,
 *                                                         Gentoo, Alpine
 *      /etc/pki/tls/certs/ca-bundle.crt                   Amazon Linux, RHEL,
 *                                                         Fedora, CentOS
 *      /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem  RHEL/Fedora 7+, AL2023
 *      /etc/ssl/ca-bundle.pem                             SUSE, openSUSE
 *      /var/lib/ca-certificates/ca-bundle.pem             SUSE, openSUSE
 *      /etc/ssl/cert.pem                                  Alpine, BSDs
 *      /etc/pki/tls/cacert.pem                            OpenELEC
 *   3. else the bundle embedded at build time (CURLOPT_CAINFO_BLOB).
 * Returns CURLE_OK or the curl error. */
CURLcode tls_use_ca_certificates(CURL *curl);

/* The ca_bundle setting of the profile in use (~/.aws/config); the first
 * call's counts, as the choice is made once per process. NULL or "" is
 * no setting. */
void tls_use_profile_bundle(const char *path);

/* Which source was chosen, for -v output: "SSL_CERT_FILE=/x",
 * "SSL_CERT_DIR=/y", "SSL_CERT_FILE=/x SSL_CERT_DIR=/y",
 * "/etc/ssl/certs/ca-certificates.crt", "embedded bundle". */
const char *tls_ca_source(void);

/* Forgets the cached choice, so the next call searches again. For tests,
 * which change SSL_CERT_FILE between cases; the program never needs it. */
void tls_ca_reset(void);

#endif
