/* Zip writer: local headers and data first, then the central directory,
 * then its end record. Little-endian fields throughout (APPNOTE 4.4). */
#include "zip.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define ZIP_LOCAL_SIGNATURE 0x04034b50u
#define ZIP_CENTRAL_SIGNATURE 0x02014b50u
#define ZIP_END_SIGNATURE 0x06054b50u
#define ZIP_VERSION_NEEDED 20       /* 2.0: deflate */
#define ZIP_MADE_BY_UNIX (3u << 8) /* high byte 3: external attributes are Unix */
#define ZIP_METHOD_DEFLATE 8
#define ZIP_FLAG_UTF8 (1u << 11)    /* names are UTF-8 */
#define ZIP_LIMIT 0xffffffffu
#define UNIX_REGULAR_FILE 0100000u

uint32_t zip_crc32(const void *data, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	const Bytef *p = data;
	while (len > 0) {
		uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
		crc = crc32(crc, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return (uint32_t)crc;
}

static int put16(struct buf *b, unsigned v)
{
	unsigned char bytes[2] = { v & 0xff, (v >> 8) & 0xff };
	return buf_append(b, bytes, 2);
}

static int put32(struct buf *b, uint32_t v)
{
	unsigned char bytes[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
				   (v >> 24) & 0xff };
	return buf_append(b, bytes, 4);
}

/* MS-DOS date and time (APPNOTE 4.4.6), in UTC: years 1980 to 2107. */
static void dos_time(time_t t, unsigned *dos_date, unsigned *dos_clock)
{
	struct tm tm;
	if (t <= 0 || !gmtime_r(&t, &tm) || tm.tm_year < 80 ||
	    tm.tm_year > 207) {
		*dos_date = (0 << 9) | (1 << 5) | 1; /* 1980-01-01 */
		*dos_clock = 0;
		return;
	}
	*dos_date = (unsigned)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) |
			       tm.tm_mday);
	*dos_clock = (unsigned)((tm.tm_hour << 11) | (tm.tm_min << 5) |
				(tm.tm_sec / 2));
}

/* Raw deflate (no zlib header: windowBits -15), as zip stores it. */
static int deflate_raw(const void *data, size_t len, struct buf *out,
		       struct err *e)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		err_set(e, ERR_NOMEM, "zlib: deflateInit2 failed");
		return -1;
	}
	uLong bound = deflateBound(&z, (uLong)len);
	unsigned char *dst = malloc(bound ? bound : 1);
	if (!dst) {
		deflateEnd(&z);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = dst;
	z.avail_out = (uInt)bound;
	int rc = deflate(&z, Z_FINISH);
	size_t produced = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(dst);
		err_set(e, ERR_NOMEM, "zlib: deflate failed (%d)", rc);
		return -1;
	}
	rc = buf_append(out, dst, produced);
	free(dst);
	if (rc < 0) {
		err_set(e, ERR_NOMEM, "out of memory (zip of %zu bytes)", produced);
		return -1;
	}
	return 0;
}

struct zip_record {
	uint32_t crc;
	uint32_t compressed;
	uint32_t offset;
	unsigned date, clock;
};

/* The fields local and central headers share (from "version needed" on);
 * nonzero on failure. || sequences the writes. */
static int put_header_common(struct buf *b, const struct zip_entry *en,
			     const struct zip_record *r)
{
	return put16(b, ZIP_VERSION_NEEDED) || put16(b, ZIP_FLAG_UTF8) ||
	       put16(b, ZIP_METHOD_DEFLATE) || put16(b, r->clock) ||
	       put16(b, r->date) || put32(b, r->crc) || put32(b, r->compressed) ||
	       put32(b, (uint32_t)en->len) || put16(b, (unsigned)strlen(en->name));
}

int zip_write(struct buf *out, const struct zip_entry *entries, size_t n,
	      struct err *e)
{
	if (n > 0xffff) {
		err_set(e, ERR_INPUT, "zip: %zu entries (at most 65535)", n);
		return -1;
	}
	struct zip_record *records = calloc(n ? n : 1, sizeof(*records));
	if (!records) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	size_t start = out->len;
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		const struct zip_entry *en = &entries[i];
		struct zip_record *r = &records[i];
		size_t name_len = strlen(en->name);
		if (!name_len || name_len > 0xffff || en->len >= ZIP_LIMIT ||
		    out->len - start >= ZIP_LIMIT) {
			err_set(e, ERR_INPUT, "zip: entry '%s' does not fit a zip "
					      "without ZIP64", en->name);
			goto done;
		}
		r->offset = (uint32_t)(out->len - start);
		r->crc = zip_crc32(en->data, en->len);
		dos_time(en->mtime, &r->date, &r->clock);
		size_t header_at = out->len;
		if (put32(out, ZIP_LOCAL_SIGNATURE) || put_header_common(out, en, r) ||
		    put16(out, 0) || buf_append(out, en->name, name_len)) {
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
		size_t data_at = out->len;
		if (deflate_raw(en->data, en->len, out, e) < 0)
			goto done;
		size_t compressed = out->len - data_at;
		if (compressed >= ZIP_LIMIT) {
			err_set(e, ERR_INPUT, "zip: entry '%s' too large", en->name);
			goto done;
		}
		r->compressed = (uint32_t)compressed;
		/* The compressed size is known only now: patch it in (offset
		 * 18 of the local header). */
		unsigned char *size_field = (unsigned char *)out->data + header_at + 18;
		for (int k = 0; k < 4; k++)
			size_field[k] = (r->compressed >> (8 * k)) & 0xff;
	}
	size_t central_at = out->len;
	for (size_t i = 0; i < n; i++) {
		const struct zip_entry *en = &entries[i];
		const struct zip_record *r = &records[i];
		uint32_t attributes = (uint32_t)(UNIX_REGULAR_FILE | (en->mode & 07777)) << 16;
		if (put32(out, ZIP_CENTRAL_SIGNATURE) ||
		    put16(out, ZIP_MADE_BY_UNIX | ZIP_VERSION_NEEDED) ||
		    put_header_common(out, en, r) || put16(out, 0) /* extra */ ||
		    put16(out, 0) /* comment */ || put16(out, 0) /* disk */ ||
		    put16(out, 0) /* internal attributes */ ||
		    put32(out, attributes) || put32(out, r->offset) ||
		    buf_append(out, en->name, strlen(en->name))) {
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
	}
	size_t central_size = out->len - central_at;
	if (out->len - start >= ZIP_LIMIT) {
		err_set(e, ERR_INPUT, "zip: archive larger than 4 GiB");
		goto done;
	}
	if (put32(out, ZIP_END_SIGNATURE) || put16(out, 0) || put16(out, 0) ||
	    put16(out, (unsigned)n) || put16(out, (unsigned)n) ||
	    put32(out, (uint32_t)central_size) ||
	    put32(out, (uint32_t)(central_at - start)) || put16(out, 0)) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto done;
	}
	rc = 0;
done:
	if (rc < 0 && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	free(records);
	return rc;
}
