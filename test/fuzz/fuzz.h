/* Shared by the libFuzzer targets: each defines LLVMFuzzerTestOneInput and
 * feeds one parser of outside input. */
#ifndef SSMBAK_FUZZ_H
#define SSMBAK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (parsers of text take those). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Splits the input at NUL bytes into at most n NUL-terminated parts (the
 * missing ones empty); parts[0] owns the copy, free() it. Returns how many
 * parts the input had. */
static inline size_t fuzz_split(const uint8_t *data, size_t size,
				char **parts, size_t *lens, size_t n)
{
	char *copy = malloc(size + 1);
	size_t found = 0;
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *p = copy, *end = copy + size;
	for (size_t i = 0; i < n; i++) {
		parts[i] = p;
		char *nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		lens[i] = nul ? (size_t)(nul - p) : (size_t)(end - p);
		found += p < end || i == 0;
		p = nul ? nul + 1 : end;
	}
	return found;
}

#endif
