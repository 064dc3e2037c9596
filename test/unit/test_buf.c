#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "unit.h"

void test_buf(void)
{
	struct buf b = BUF_INIT;
	EXPECT_STR("empty buffer reads as empty string", "", buf_str(&b));
	EXPECT_LONG("append", 0, buf_puts(&b, "abc"));
	EXPECT_LONG("printf", 0, buf_printf(&b, "-%d-", 42));
	EXPECT_STR("text so far", "abc-42-", buf_str(&b));
	buf_clear(&b);
	EXPECT_STR("clear keeps nothing", "", buf_str(&b));
	EXPECT_TRUE("clear zeroes what the buffer held (values must not linger)",
		    memcmp(b.data, "\0\0\0\0\0\0\0\0", 8) == 0);
	buf_release(&b);

	struct buf capped;
	buf_init(&capped, 4);
	EXPECT_LONG("within cap", 0, buf_puts(&capped, "abcd"));
	EXPECT_LONG("over cap refused", -1, buf_putc(&capped, 'e'));
	EXPECT_STR("refused append leaves data", "abcd", buf_str(&capped));
	char *owned = buf_detach(&capped);
	EXPECT_STR("detach hands over", "abcd", owned);
	EXPECT_LONG("detach empties", 0, (long)capped.len);
	free(owned);
	buf_release(&capped);

	struct buf big = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_putc(&big, 'x');
	EXPECT_LONG("grows", 10000, (long)strlen(buf_str(&big)));
	buf_release(&big);
}
