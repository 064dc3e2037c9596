/* The CA bundle embedded at build time, for hosts that have none (an empty
 * container). lib/tls.c hands it to libcurl as CURLOPT_CAINFO_BLOB when
 * neither SSL_CERT_FILE/SSL_CERT_DIR nor a well-known bundle file exists.
 *
 * SSMBAK_CACERT_FILE is the quoted path of a PEM file, relative to the
 * directory the assembler runs in (the Makefile copies the build machine's
 * /etc/ssl/certs/ca-certificates.crt to build/cacert.pem). .incbin keeps the
 * bundle out of the C sources and costs no generated file. */
#ifndef SSMBAK_CACERT_FILE
#error "define SSMBAK_CACERT_FILE as the quoted path of the PEM bundle"
#endif

	.section .rodata
	.balign 16
	.globl ssmbak_cacert_start
	.globl ssmbak_cacert_end
	/* Hidden: referenced from our own objects only, so no dynamic symbol
	 * and no GOT indirection even in a PIE build. */
	.hidden ssmbak_cacert_start
	.hidden ssmbak_cacert_end
	.type ssmbak_cacert_start, @object
	.type ssmbak_cacert_end, @object
ssmbak_cacert_start:
	.incbin SSMBAK_CACERT_FILE
ssmbak_cacert_end:
	/* A NUL after the end (not counted) so the bundle is also a C string. */
	.byte 0
	.size ssmbak_cacert_start, ssmbak_cacert_end - ssmbak_cacert_start
	.size ssmbak_cacert_end, 1

/* No executable stack: without this note the linker assumes this object
 * needs one and makes the whole program's stack executable. */
	.section .note.GNU-stack,"",@progbits
