/* credential_process output, container/IMDS credential JSON, STS XML,
 * the SSO token cache, SSO OIDC and portal answers, the CLI's role cache. */
#include <stdlib.h>

#include "../../lib/creds.h"
#include "../../lib/mfa.h"
#include "../../lib/sso.h"
#include "../../lib/sts.h"
#include "fuzz.h"

#define FUZZ_NOW 1718243666

static void sso_answers(const char *text, size_t size)
{
	struct sso_token t = { 0 };
	struct err e = { 0 };
	if (sso_token_parse(text, size, "fuzz", &t, &e) == 0) {
		sso_token_refreshable(&t, FUZZ_NOW);
		if (sso_apply_create_token(text, size, FUZZ_NOW, &t, &e) == 0)
			free(sso_token_json(&t));
		sso_token_release(&t);
	}
	struct aws_credentials c = { 0 };
	if (sso_parse_role_credentials(text, size, &c, &e) == 0)
		aws_credentials_clear(&c);
	if (mfa_cache_parse(text, size, FUZZ_NOW, &c) == 1)
		aws_credentials_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum creds_json_kind kinds[] = { CREDS_JSON_PROCESS,
						      CREDS_JSON_METADATA };
	for (size_t i = 0; i < 2; i++) {
		struct aws_credentials c = { 0 };
		struct err e = { 0 };
		if (creds_parse_json((const char *)data, size, kinds[i], "fuzz",
				     FUZZ_NOW, &c, &e) == 0)
			aws_credentials_clear(&c);
	}
	struct aws_credentials c = { 0 };
	struct err e = { 0 };
	if (sts_parse_credentials((const char *)data, size, &c, &e) == 0)
		aws_credentials_clear(&c);
	sso_answers((const char *)data, size);
	return 0;
}
