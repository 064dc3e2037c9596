/* A stored version read back: metadata headers ("name: value" lines) and
 * the side object's JSON. */
#include "../../lib/record.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	struct aws_response resp;
	aws_response_init(&resp);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		aws_headers_add(&resp.headers, line, colon + 1);
	}
	struct record rec;
	if (record_from_metadata(&resp, &rec) == 1) {
		record_apply_extra(&rec, (const char *)data, size);
		record_release(&rec);
	}
	if (record_from_tags(&resp.headers, &rec) == 0)
		record_release(&rec);
	aws_response_release(&resp);
	free(text);
	return 0;
}
