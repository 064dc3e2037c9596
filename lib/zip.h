/* Writing a zip archive in memory: each entry deflated with zlib (raw
 * deflate), its CRC-32, and its Unix mode, so `bootstrap` unpacks
 * executable. What Lambda takes as a function's code.
 * Format: PKWARE APPNOTE.TXT 6.3.10, sections 4.3.7 (local file header),
 * 4.3.12 (central directory), 4.3.16 (end of central directory).
 * https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT */
#ifndef SSMBAK_ZIP_H
#define SSMBAK_ZIP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"

struct zip_entry {
	const char *name;  /* path inside the archive, '/'-separated */
	const void *data;
	size_t len;
	unsigned mode;     /* Unix permission bits: 0755 */
	time_t mtime;      /* 0: 1980-01-01 00:00, the DOS epoch (reproducible) */
};

/* Appends the whole archive to out. Entries and the archive must stay
 * under 4 GiB (no ZIP64). ERR_INPUT or ERR_NOMEM on failure. */
int zip_write(struct buf *out, const struct zip_entry *entries, size_t n,
	      struct err *e);

/* The CRC-32 zip uses (ISO 3309, zlib's crc32). */
uint32_t zip_crc32(const void *data, size_t len);

#endif
