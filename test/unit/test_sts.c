/* lib/sts.c: the pure helpers (bucket owner and writer principals). */
#include <stdlib.h>

#include "../../lib/sts.h"
#include "unit.h"

void test_sts(void)
{
	static const struct {
		const char *caller, *want;
	} arns[] = {
		{ "arn:aws:iam::000000000000:root", "arn:aws:iam::000000000000:root" },
		{ "arn:aws:iam::123456789012:user/ops/alice",
		  "arn:aws:iam::123456789012:user/ops/alice" },
		{ "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com",
		  "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:role/*/Admin" },
		{ "arn:aws-cn:sts::123456789012:assumed-role/Deployer/ci",
		  "arn:aws-cn:iam::123456789012:role/Deployer,"
		  "arn:aws-cn:iam::123456789012:role/*/Deployer" },
	};
	for (size_t i = 0; i < sizeof(arns) / sizeof(arns[0]); i++) {
		char *got = sts_principal_arn_patterns(arns[i].caller);
		EXPECT_STR(arns[i].caller, arns[i].want, got);
		free(got);
	}
	EXPECT_TRUE("an account id", sts_account_id_is_valid("123456789012"));
	EXPECT_TRUE("11 digits", !sts_account_id_is_valid("12345678901"));
	EXPECT_TRUE("13 digits", !sts_account_id_is_valid("1234567890123"));
	EXPECT_TRUE("letters", !sts_account_id_is_valid("12345678901a"));
	EXPECT_TRUE("empty", !sts_account_id_is_valid(""));
}
