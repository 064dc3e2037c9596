/* A minimal test harness: each check is a case with a name; a failure shows
 * the case, expected and actual. main() prints "N passed, N failed". */
#ifndef SSMBAK_UNIT_H
#define SSMBAK_UNIT_H

#include <stdbool.h>
#include <stddef.h>

void unit_expect_str(const char *file, int line, const char *name,
		     const char *expected, const char *actual);
void unit_expect_long(const char *file, int line, const char *name,
		      long expected, long actual);
void unit_expect_true(const char *file, int line, const char *name, bool ok,
		      const char *what);
void unit_skip(const char *name, const char *why);

#define EXPECT_STR(name, expected, actual) \
	unit_expect_str(__FILE__, __LINE__, name, expected, actual)
#define EXPECT_LONG(name, expected, actual) \
	unit_expect_long(__FILE__, __LINE__, name, expected, actual)
#define EXPECT_TRUE(name, cond) \
	unit_expect_true(__FILE__, __LINE__, name, (cond), #cond)

/* Reads a whole file into a NUL-terminated string; NULL if missing. */
char *unit_read_file(const char *path, size_t *len);
/* ../shared (the SigV4 test vectors), overridable by SSMBAK_SHARED. */
const char *unit_shared_dir(void);

#endif
