/* A growable byte buffer with a size cap, always NUL-terminated so text can
 * be used as a C string without copying. Buffers carry decrypted values
 * (responses, request bodies): memory is zeroed before it is given back to
 * the allocator (grown, cleared or released), so that freed heap does not
 * keep them for a core file or a later allocation to see. */
#ifndef SSMBAK_BUF_H
#define SSMBAK_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* Responses larger than this are refused rather than eating the Lambda's
 * 128 MB: no AWS answer we read comes near it. */
#define BUF_DEFAULT_MAX ((size_t)64 << 20)

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;   /* appends that would pass this fail */
};

#define BUF_INIT { NULL, 0, 0, BUF_DEFAULT_MAX }

void buf_init(struct buf *b, size_t max);
/* All appenders return 0, or -1 when out of memory or over the cap (the
 * buffer is then unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Text that is never NULL: "" for an empty buffer. */
const char *buf_str(const struct buf *b);
/* Hands the NUL-terminated data to the caller (NULL if out of memory) and
 * leaves the buffer empty. */
char *buf_detach(struct buf *b);
/* Appends everything fd holds, to its end (EINTR retried); -1 on a read
 * error, out of memory or over the cap. The bounce buffer is zeroed, as
 * what is read may be a secret (a token, cached credentials). */
int buf_read_fd(struct buf *b, int fd);
void buf_clear(struct buf *b);   /* length 0, memory kept */
void buf_release(struct buf *b); /* memory freed */

#endif
