/* ~/.aws/config and ~/.aws/credentials. */
#include "../../lib/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum config_kind kinds[] = { CONFIG_SHARED_CONFIG,
						  CONFIG_SHARED_CREDENTIALS };
	for (size_t i = 0; i < 2; i++) {
		struct config_file f;
		struct err e = { 0 };
		memset(&f, 0, sizeof(f));
		if (config_file_parse(&f, kinds[i], (const char *)data, size,
				      "fuzz", &e) == 0) {
			config_file_profile(&f, "default");
			config_file_get(&f, "default", "region");
		}
		config_file_release(&f);
	}
	return 0;
}
