/* The TIME argument and AWS's ISO 8601 times. */
#include "../../lib/timefmt.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	if (!s)
		return 0;
	struct err e = { 0 };
	time_t t;
	double d;
	time_parse_arg(s, 1718243666, &t, &e);
	time_parse_iso8601(s, &d);
	free(s);
	return 0;
}
