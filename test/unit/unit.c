#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"

static int passed, failed, skipped;

static void fail_header(const char *file, int line, const char *name)
{
	failed++;
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, name);
}

void unit_expect_str(const char *file, int line, const char *name,
		     const char *expected, const char *actual)
{
	if (expected && actual && strcmp(expected, actual) == 0) {
		passed++;
		return;
	}
	fail_header(file, line, name);
	fprintf(stderr, "  expected: [%s]\n  actual:   [%s]\n",
		expected ? expected : "(null)", actual ? actual : "(null)");
}

void unit_expect_long(const char *file, int line, const char *name,
		      long expected, long actual)
{
	if (expected == actual) {
		passed++;
		return;
	}
	fail_header(file, line, name);
	fprintf(stderr, "  expected: %ld\n  actual:   %ld\n", expected, actual);
}

void unit_expect_true(const char *file, int line, const char *name, bool ok,
		      const char *what)
{
	if (ok) {
		passed++;
		return;
	}
	fail_header(file, line, name);
	fprintf(stderr, "  not true: %s\n", what);
}

void unit_skip(const char *name, const char *why)
{
	skipped++;
	printf("SKIP %s: %s\n", name, why);
}

char *unit_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *data = malloc(cap);
	size_t got;
	while (data && (got = fread(data + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			char *bigger = realloc(data, cap * 2);
			if (!bigger) {
				free(data);
				data = NULL;
			}
			data = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (data)
		data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

const char *unit_shared_dir(void)
{
	const char *dir = getenv("SSMBAK_SHARED");
	return dir && *dir ? dir : "../shared";
}

static const struct unit_suite {
	const char *name;
	void (*run)(void);
} suites[] = {
#define UNIT_SUITE(name) { #name, test_##name },
	UNIT_SUITES
#undef UNIT_SUITE
};

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
			continue;
		int before_failed = failed, before_passed = passed;
		suites[i].run();
		printf("suite %-10s %d ok / %d failing\n", suites[i].name,
		       passed - before_passed, failed - before_failed);
	}
	printf("%d passed, %d failed", passed, failed);
	if (skipped)
		printf(", %d skipped", skipped);
	printf("\n");
	return failed ? 1 : 0;
}
