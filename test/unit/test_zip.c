/* lib/zip: archives that unzip reads back byte for byte, with the Unix
 * mode Lambda needs for bootstrap. A small reader below walks the central
 * directory as an extractor does (APPNOTE 4.3.12, 4.3.16). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../../lib/zip.h"
#include "unit.h"

static unsigned get16(const unsigned char *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

struct read_entry {
	char name[64];
	unsigned mode;
	unsigned method;
	uint32_t crc;
	unsigned char data[4096];
	size_t len;
};

/* Reads entry i through the central directory and its local header; the
 * data inflated. Returns 0, or -1 when the archive is malformed. */
static int read_entry(const unsigned char *zip, size_t size, unsigned i,
		      struct read_entry *out)
{
	if (size < 22 || get32(zip + size - 22) != 0x06054b50u)
		return -1;
	const unsigned char *end = zip + size - 22;
	unsigned count = get16(end + 10);
	size_t at = get32(end + 16);
	if (i >= count)
		return -1;
	for (unsigned k = 0;; k++) {
		const unsigned char *c = zip + at;
		if (at + 46 > size || get32(c) != 0x02014b50u)
			return -1;
		unsigned name_len = get16(c + 28);
		if (k < i) {
			at += 46 + name_len + get16(c + 30) + get16(c + 32);
			continue;
		}
		if (name_len >= sizeof(out->name) || get16(c + 4) >> 8 != 3)
			return -1;
		memcpy(out->name, c + 46, name_len);
		out->name[name_len] = '\0';
		out->mode = get32(c + 38) >> 16;
		out->method = get16(c + 10);
		out->crc = get32(c + 16);
		uint32_t compressed = get32(c + 20);
		uint32_t plain = get32(c + 24);
		const unsigned char *l = zip + get32(c + 42);
		if (get32(l) != 0x04034b50u || get32(l + 14) != out->crc ||
		    get32(l + 18) != compressed || get32(l + 22) != plain)
			return -1;
		const unsigned char *data = l + 30 + get16(l + 26) + get16(l + 28);
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, -15) != Z_OK)
			return -1;
		z.next_in = (Bytef *)(uintptr_t)data;
		z.avail_in = compressed;
		z.next_out = out->data;
		z.avail_out = sizeof(out->data);
		int rc = inflate(&z, Z_FINISH);
		out->len = z.total_out;
		inflateEnd(&z);
		return rc == Z_STREAM_END && out->len == plain ? 0 : -1;
	}
}

void test_zip(void)
{
	EXPECT_LONG("CRC-32 check value of 123456789", 0xCBF43926L,
		    (long)zip_crc32("123456789", 9));
	EXPECT_LONG("CRC-32 of nothing", 0, (long)zip_crc32("", 0));

	char program[3000];
	for (size_t i = 0; i < sizeof(program); i++)
		program[i] = "\177ELF binary "[i % 12];
	struct zip_entry entries[] = {
		{ "bootstrap", program, sizeof(program), 0755, 0 },
		{ "empty.txt", "", 0, 0644, 0 },
		{ "dir/note", "hello", 5, 0600, 1718243666 },
	};
	struct buf zip = BUF_INIT;
	struct err e = { 0 };
	EXPECT_LONG("writes", 0, zip_write(&zip, entries, 3, &e));
	const unsigned char *z = (const unsigned char *)zip.data;
	EXPECT_TRUE("starts with a local header", zip.len > 4 && get32(z) == 0x04034b50u);
	EXPECT_TRUE("deflate makes the repetitive program smaller",
		    zip.len < sizeof(program) / 2);

	static const struct {
		const char *name;
		unsigned mode;
		const char *text; /* NULL: the program */
	} expected[] = {
		{ "bootstrap", 0100755, NULL },
		{ "empty.txt", 0100644, "" },
		{ "dir/note", 0100600, "hello" },
	};
	for (unsigned i = 0; i < 3; i++) {
		static struct read_entry r;
		memset(&r, 0, sizeof(r));
		EXPECT_LONG(expected[i].name, 0, read_entry(z, zip.len, i, &r));
		EXPECT_STR("name", expected[i].name, r.name);
		EXPECT_LONG("mode: regular file with its permissions",
			    (long)expected[i].mode, (long)r.mode);
		EXPECT_LONG("deflated", 8, (long)r.method);
		const char *want = expected[i].text ? expected[i].text : program;
		size_t want_len = expected[i].text ? strlen(want) : sizeof(program);
		EXPECT_TRUE("content round-trips",
			    r.len == want_len && memcmp(r.data, want, want_len) == 0);
		EXPECT_LONG("crc matches content", (long)zip_crc32(want, want_len),
			    (long)r.crc);
	}

	/* The DOS time: 2024-06-13 01:54:26 UTC -> date, time/2 (APPNOTE 4.4.6);
	 * mtime 0 is 1980-01-01 00:00 so the same input gives the same zip. */
	size_t third = get32(z + zip.len - 22 + 16);
	for (int k = 0; k < 2; k++)
		third += 46 + get16(z + third + 28) + get16(z + third + 30) +
			 get16(z + third + 32);
	EXPECT_LONG("DOS date", (44 << 9) | (6 << 5) | 13, get16(z + third + 14));
	EXPECT_LONG("DOS time", (1 << 11) | (54 << 5) | 13, get16(z + third + 12));
	EXPECT_LONG("DOS epoch for mtime 0", (0 << 9) | (1 << 5) | 1, get16(z + 12));

	struct buf again = BUF_INIT;
	zip_write(&again, entries, 3, &e);
	EXPECT_TRUE("reproducible: same entries, same bytes",
		    again.len == zip.len && memcmp(again.data, zip.data, zip.len) == 0);
	buf_release(&again);

	struct buf empty = BUF_INIT;
	EXPECT_LONG("no entries: just the end record", 0, zip_write(&empty, NULL, 0, &e));
	EXPECT_LONG("22 bytes", 22, (long)empty.len);
	buf_release(&empty);

	struct zip_entry nameless = { "", "x", 1, 0644, 0 };
	struct buf bad = BUF_INIT;
	EXPECT_LONG("an empty name is refused", -1, zip_write(&bad, &nameless, 1, &e));
	EXPECT_LONG("refused: error kind", ERR_INPUT, e.kind);
	EXPECT_LONG("refused: nothing left behind", 0, (long)bad.len);
	buf_release(&bad);
	buf_release(&zip);
}
