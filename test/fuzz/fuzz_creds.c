/* credential_process output, container/IMDS credential JSON, STS XML. */
#include "../../lib/creds.h"
#include "../../lib/sts.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum creds_json_kind kinds[] = { CREDS_JSON_PROCESS,
						      CREDS_JSON_METADATA };
	for (size_t i = 0; i < 2; i++) {
		struct aws_credentials c = { 0 };
		struct err e = { 0 };
		if (creds_parse_json((const char *)data, size, kinds[i], "fuzz",
				     1718243666, &c, &e) == 0)
			aws_credentials_clear(&c);
	}
	struct aws_credentials c = { 0 };
	struct err e = { 0 };
	if (sts_parse_credentials((const char *)data, size, &c, &e) == 0)
		aws_credentials_clear(&c);
	return 0;
}
