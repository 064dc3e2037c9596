/* Names, PATHs and prefixes against SSM's documented constraints, one case
 * a line: what is checked before any request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/ssm_name.h"
#include "unit.h"

/* "/a/a/.../a" of this many levels, or one name of this many characters. */
static char *levels(int n)
{
	char *s = malloc((size_t)n * 2 + 2);
	s[0] = '\0';
	for (int i = 0; i < n; i++)
		strcat(s, "/a");
	return s;
}

static char *long_name(size_t len)
{
	char *s = malloc(len + 1);
	memset(s, 'x', len);
	s[0] = '/';
	s[len] = '\0';
	return s;
}

static void test_table(void)
{
	static const struct {
		const char *name;
		enum ssm_name_kind kind;
		const char *want; /* NULL: fine; else the start of the reason */
	} cases[] = {
		{ "/app/db/url", SSM_NAME_PARAMETER, NULL },
		{ "foo", SSM_NAME_PARAMETER, NULL },
		{ "a-b_c.d", SSM_NAME_PARAMETER, NULL },
		{ "", SSM_NAME_PARAMETER, "is empty" },
		{ "/a b", SSM_NAME_PARAMETER, "has characters" },
		{ "/a\n", SSM_NAME_PATH, "has characters" },
		{ "/caf\xc3\xa9", SSM_NAME_PATH, "has characters" },
		{ "/a//b", SSM_NAME_PARAMETER, "has an empty level" },
		{ "a/b", SSM_NAME_PARAMETER, "has a '/' but" },
		{ "/a/", SSM_NAME_PARAMETER, "ends with '/'" },
		{ "/aws/x", SSM_NAME_PARAMETER, "starts with aws or ssm" },
		{ "/SSMx/x", SSM_NAME_PARAMETER, "starts with aws or ssm" },
		{ "AWSfoo", SSM_NAME_PARAMETER, "starts with aws or ssm" },
		{ "/app/aws", SSM_NAME_PARAMETER, NULL },
		{ "/app/", SSM_NAME_PATH, NULL },
		{ "app/db", SSM_NAME_PATH, NULL },
		{ "/", SSM_NAME_PATH, NULL },
		{ "/ssm/", SSM_NAME_PATH, "starts with aws or ssm" },
		{ "/a//", SSM_NAME_PATH, "has an empty level" },
		{ "/ap", SSM_NAME_PREFIX, NULL },
		{ "a", SSM_NAME_PREFIX, NULL },
		{ "aw", SSM_NAME_PREFIX, NULL },
		{ "/a*", SSM_NAME_PREFIX, "has characters" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = ssm_name_problem(cases[i].name, cases[i].kind, NULL);
		char label[160];
		snprintf(label, sizeof(label), "name case %zu '%s'", i, cases[i].name);
		if (!cases[i].want)
			EXPECT_STR(label, "(fine)", got ? got : "(fine)");
		else
			EXPECT_TRUE(label, got && strncmp(got, cases[i].want,
							  strlen(cases[i].want)) == 0);
	}
}

static void test_levels(void)
{
	char *fifteen = levels(15), *sixteen = levels(16);
	EXPECT_TRUE("15 levels are allowed",
		    !ssm_name_problem(fifteen, SSM_NAME_PARAMETER, NULL));
	EXPECT_STR("16 are not", "has more than 15 levels",
		   ssm_name_problem(sixteen, SSM_NAME_PARAMETER, NULL));
	EXPECT_STR("nor as a PATH", "has more than 15 levels",
		   ssm_name_problem(sixteen, SSM_NAME_PATH, NULL));
	free(fifteen);
	free(sixteen);
}

static void test_length(void)
{
	/* arn:aws:ssm:us-east-1:123456789012:parameter is 44 characters */
	EXPECT_LONG("us-east-1 leaves 967", 967, (long)ssm_name_max_length("us-east-1"));
	EXPECT_LONG("no region: the most any region leaves", 967,
		    (long)ssm_name_max_length(NULL));
	EXPECT_LONG("ap-southeast-2 leaves 962", 962,
		    (long)ssm_name_max_length("ap-southeast-2"));
	EXPECT_LONG("cn-north-1 (aws-cn) leaves 963", 963,
		    (long)ssm_name_max_length("cn-north-1"));
	char *fits = long_name(967), *over = long_name(968), *huge = long_name(100000);
	EXPECT_TRUE("967 characters fit", !ssm_name_problem(fits, SSM_NAME_PARAMETER, "us-east-1"));
	EXPECT_TRUE("968 do not", ssm_name_problem(over, SSM_NAME_PARAMETER, "us-east-1") != NULL);
	EXPECT_TRUE("nor in a longer region",
		    ssm_name_problem(fits, SSM_NAME_PARAMETER, "ap-southeast-2") != NULL);
	EXPECT_TRUE("a 100,000-character PATH is refused",
		    ssm_name_problem(huge, SSM_NAME_PATH, NULL) != NULL);
	/* a bare name gets a '/' in its ARN */
	EXPECT_TRUE("a bare name of 966 fits (967 with its slash)",
		    ssm_name_problem(fits + 1, SSM_NAME_PARAMETER, NULL) == NULL);
	free(fits);
	free(over);
	free(huge);
}

void test_ssm_name(void)
{
	test_table();
	test_levels();
	test_length();
}
