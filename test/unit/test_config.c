/* The shared-file parser: one line a case, the file text, then which
 * profile and key to read and what the AWS CLI reads there (NULL: absent),
 * or the error it gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/config.h"
#include "unit.h"

#define CFG CONFIG_SHARED_CONFIG
#define CRED CONFIG_SHARED_CREDENTIALS

static const struct parse_case {
	const char *name;
	enum config_kind kind;
	const char *text;
	const char *profile;
	const char *key;
	const char *want;  /* NULL: absent */
	const char *error; /* expected error (substring), or NULL */
} parse_cases[] = {
	{ "default section", CFG, "[default]\nregion = us-east-1\n",
	  "default", "region", "us-east-1", NULL },
	{ "[profile x] is profile x in config", CFG,
	  "[profile dev]\nregion = eu-west-1\n", "dev", "region", "eu-west-1",
	  NULL },
	{ "[x] is no profile in config", CFG, "[dev]\nregion = eu-west-1\n",
	  "dev", "region", NULL, NULL },
	{ "[profile default] is default", CFG,
	  "[profile default]\nregion = ap-south-1\n", "default", "region",
	  "ap-south-1", NULL },
	{ "[x] is profile x in credentials", CRED,
	  "[dev]\naws_access_key_id = AKID\n", "dev", "aws_access_key_id",
	  "AKID", NULL },
	{ "[profile x] is not x in credentials", CRED,
	  "[profile dev]\naws_access_key_id = AKID\n", "dev",
	  "aws_access_key_id", NULL, NULL },
	{ "[profile x] is 'profile x' in credentials", CRED,
	  "[profile dev]\naws_access_key_id = AKID\n", "profile dev",
	  "aws_access_key_id", "AKID", NULL },
	{ "comments with # and ;", CFG,
	  "# top\n[default]\n; note\nregion = us-west-2\n#region = x\n",
	  "default", "region", "us-west-2", NULL },
	{ "indented comment", CFG,
	  "[default]\nregion = us-west-2\n   # not a continuation\n",
	  "default", "region", "us-west-2", NULL },
	{ "no inline comments, as in the CLI", CFG,
	  "[default]\nregion = us-east-1 # prod\n", "default", "region",
	  "us-east-1 # prod", NULL },
	{ "colon delimiter", CFG, "[default]\nregion: eu-north-1\n", "default",
	  "region", "eu-north-1", NULL },
	{ "first delimiter splits", CFG,
	  "[default]\ncredential_process = /bin/x --a=b:c\n", "default",
	  "credential_process", "/bin/x --a=b:c", NULL },
	{ "keys are lowercased", CRED, "[p]\nAWS_Access_Key_ID = AKID\n", "p",
	  "aws_access_key_id", "AKID", NULL },
	{ "values keep their case", CRED, "[p]\naws_secret_access_key = aB/c+D\n",
	  "p", "aws_secret_access_key", "aB/c+D", NULL },
	{ "blanks around everything", CFG,
	  "  [ profile   dev ]  \n\t region\t=\t us-east-2  \n", "dev",
	  "region", "us-east-2", NULL },
	{ "indented key line is still a key", CFG,
	  "[default]\n  region = us-east-2\n", "default", "region",
	  "us-east-2", NULL },
	{ "header with a trailing comment", CFG,
	  "[profile dev] # team\nregion = x-1\n", "dev", "region", "x-1",
	  NULL },
	{ "empty value", CFG, "[default]\nregion =\n", "default", "region", "",
	  NULL },
	{ "CRLF line ends", CFG, "[default]\r\nregion = us-east-1\r\n",
	  "default", "region", "us-east-1", NULL },
	{ "no final newline", CFG, "[default]\nregion = us-east-1", "default",
	  "region", "us-east-1", NULL },
	{ "last repeated key wins", CFG,
	  "[default]\nregion = a-1\nregion = b-2\n", "default", "region", "b-2",
	  NULL },
	{ "repeated section adds", CFG,
	  "[default]\nregion = a-1\n[profile x]\n[default]\noutput = json\n",
	  "default", "region", "a-1", NULL },
	{ "nested block is one value", CFG,
	  "[default]\ns3 =\n  addressing_style = path\n  x = y\nregion = r-1\n",
	  "default", "s3", "\naddressing_style = path\nx = y", NULL },
	{ "key after nested block", CFG,
	  "[default]\ns3 =\n  addressing_style = path\n\n  x = y\nregion = r-1\n",
	  "default", "region", "r-1", NULL },
	{ "tab-indented continuation", CFG,
	  "[default]\ns3 =\n\tmax_concurrent_requests = 4\nregion = r-1\n",
	  "default", "s3", "\nmax_concurrent_requests = 4", NULL },
	{ "sso-session section skipped", CFG,
	  "[sso-session corp]\nsso_region = us-east-1\n[profile a]\nregion = "
	  "r-1\n",
	  "a", "region", "r-1", NULL },
	{ "sso-session is no profile", CFG,
	  "[sso-session corp]\nsso_region = us-east-1\n", "corp", "sso_region",
	  NULL, NULL },
	{ "services section skipped", CFG,
	  "[services local]\nsts =\n  endpoint_url = http://x\n[default]\n"
	  "services = local\n",
	  "default", "services", "local", NULL },
	{ "quoted profile name", CFG,
	  "[profile \"team a\"]\nregion = r-1\n", "team a", "region", "r-1",
	  NULL },
	{ "'profilex' is no profile", CFG, "[profilex]\nregion = r-1\n", "x",
	  "region", NULL, NULL },
	{ "'profile a b' is no profile", CFG,
	  "[profile a b]\nregion = r-1\n", "a", "region", NULL, NULL },
	{ "unbalanced quote: no profile", CFG,
	  "[profile \"a]\nregion = r-1\n", "\"a", "region", NULL, NULL },
	{ "setting before any section", CFG, "region = us-east-1\n", NULL,
	  NULL, NULL, "/f line 1: a setting before any [section]" },
	{ "line that is no setting", CFG, "[default]\nregion us-east-1\n", NULL,
	  NULL, NULL, "/f line 2: expected 'key = value' or a [section]" },
	{ "empty section name", CRED, "[]\n", NULL, NULL, NULL,
	  "/f line 1: a section header needs a name" },
	{ "unclosed section", CRED, "[default\n", NULL, NULL, NULL,
	  "/f line 1: a section header needs a name" },
	{ "setting without a name", CRED, "[p]\n = x\n", NULL, NULL, NULL,
	  "/f line 2: a setting without a name" },
	{ "error inside a skipped section", CFG, "[sso-session s]\nnonsense\n",
	  NULL, NULL, NULL, "/f line 2" },
};

static void test_parse_cases(void)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		const struct parse_case *c = &parse_cases[i];
		struct config_file f = { 0 };
		struct err e = { 0 };
		int rc = config_file_parse(&f, c->kind, c->text,
					   strlen(c->text), "/f", &e);
		if (c->error) {
			EXPECT_LONG(c->name, -1, rc);
			EXPECT_TRUE(c->name, strstr(e.message, c->error) != NULL);
			if (!strstr(e.message, c->error))
				fprintf(stderr, "  message: %s\n", e.message);
			EXPECT_LONG(c->name, ERR_CONFIG, e.kind);
		} else {
			EXPECT_LONG(c->name, 0, rc);
			const char *got =
				config_file_get(&f, c->profile, c->key);
			if (c->want)
				EXPECT_STR(c->name, c->want, got);
			else
				EXPECT_TRUE(c->name, got == NULL);
		}
		config_file_release(&f);
	}
}

static const struct expand_case {
	const char *in;
	const char *want;
} expand_cases[] = {
	{ "~/.aws/config", "/home/u/.aws/config" },
	{ "~", "/home/u" },
	{ "$HOME/x", "/home/u/x" },
	{ "${HOME}/y", "/home/u/y" },
	{ "/a/$SSMBAK_TEST_UNSET_VAR/b", "/a/$SSMBAK_TEST_UNSET_VAR/b" },
	{ "/a/${HOME", "/a/${HOME" },
	{ "/plain/path", "/plain/path" },
	{ "x~/y", "x~/y" },
};

static void test_expand(void)
{
	char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", "/home/u", 1);
	unsetenv("SSMBAK_TEST_UNSET_VAR");
	for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]);
	     i++) {
		char *got = config_expand_path(expand_cases[i].in);
		EXPECT_STR(expand_cases[i].in, expand_cases[i].want, got);
		free(got);
	}
	if (saved)
		setenv("HOME", saved, 1);
	else
		unsetenv("HOME");
	free(saved);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Both files together: which file wins, which profiles exist, messages. */
static void test_two_files(void)
{
	char dir[] = "/tmp/ssmbak-config-XXXXXX";
	if (!mkdtemp(dir)) {
		unit_skip("two files", "no temporary directory");
		return;
	}
	char config_path[64], creds_path[64], missing[64];
	snprintf(config_path, sizeof(config_path), "%s/config", dir);
	snprintf(creds_path, sizeof(creds_path), "%s/credentials", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	write_file(config_path, "[default]\nregion = from-config\n"
				"output = json\n"
				"[profile only-config]\nregion = r-1\n");
	write_file(creds_path, "[default]\nregion = from-credentials\n"
			       "[only-creds]\naws_access_key_id = A\n");

	struct config c;
	struct err e = { 0 };
	EXPECT_LONG("load both", 0,
		    config_load_paths(&c, config_path, creds_path, &e));
	EXPECT_STR("credentials file wins a key",
		   "from-credentials", config_get(&c, "default", "region"));
	EXPECT_STR("config file fills the rest", "json",
		   config_get(&c, "default", "output"));
	EXPECT_TRUE("profile from config", config_has_profile(&c, "only-config"));
	EXPECT_TRUE("profile from credentials",
		    config_has_profile(&c, "only-creds"));
	EXPECT_TRUE("unknown profile", !config_has_profile(&c, "nope"));
	EXPECT_LONG("require known", 0,
		    config_require_profile(&c, "only-creds", &e));
	EXPECT_LONG("require unknown", -1,
		    config_require_profile(&c, "nope", &e));
	char want[256];
	snprintf(want, sizeof(want), "profile 'nope' not found in %s or %s",
		 config_path, creds_path);
	EXPECT_STR("missing profile message", want, e.message);
	EXPECT_LONG("missing profile is a config error", ERR_CONFIG, e.kind);
	config_release(&c);

	EXPECT_LONG("missing files are empty", 0,
		    config_load_paths(&c, missing, NULL, &e));
	EXPECT_TRUE("missing: not found", !c.config_found);
	config_require_profile(&c, "x", &e);
	snprintf(want, sizeof(want), "profile 'x' not found in %s (missing) "
		 "or no credentials file (HOME unset)", missing);
	EXPECT_STR("missing files named", want, e.message);
	config_release(&c);

	write_file(config_path, "[default]\nregion = ok\nbroken line\n");
	EXPECT_LONG("malformed file refused", -1,
		    config_load_paths(&c, config_path, creds_path, &e));
	snprintf(want, sizeof(want), "%s line 3: expected 'key = value' or a "
		 "[section]", config_path);
	EXPECT_STR("malformed file message", want, e.message);

	EXPECT_LONG("a directory is refused", -1,
		    config_load_paths(&c, dir, NULL, &e));
	EXPECT_LONG("a directory is a config error", ERR_CONFIG, e.kind);

	/* AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE over HOME. */
	const char *names[] = { "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
				"HOME" };
	char *saved[3];
	for (int i = 0; i < 3; i++)
		saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
	write_file(config_path, "[profile env-named]\nregion = r-9\n");
	setenv("AWS_CONFIG_FILE", config_path, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", missing, 1);
	setenv("HOME", "/nonexistent-home", 1);
	EXPECT_LONG("load from the variables", 0, config_load(&c, &e));
	EXPECT_STR("AWS_CONFIG_FILE read", "r-9",
		   config_get(&c, "env-named", "region"));
	EXPECT_STR("AWS_SHARED_CREDENTIALS_FILE path", missing,
		   c.credentials_path);
	config_release(&c);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("HOME", dir, 1);
	EXPECT_LONG("load from HOME", 0, config_load(&c, &e));
	EXPECT_STR("HOME/.aws/config",
		   strcat(strcpy(want, dir), "/.aws/config"), c.config_path);
	config_release(&c);
	unsetenv("HOME");
	EXPECT_LONG("no HOME: no files, no error", 0, config_load(&c, &e));
	EXPECT_TRUE("no HOME: no path", c.config_path == NULL);
	config_release(&c);
	for (int i = 0; i < 3; i++) {
		if (saved[i])
			setenv(names[i], saved[i], 1);
		else
			unsetenv(names[i]);
		free(saved[i]);
	}
	unlink(config_path);
	unlink(creds_path);
	rmdir(dir);
}

/* [sso-session NAME] sections, kept apart from the profiles. */
static void test_sso_sessions(void)
{
	static const char text[] =
		"[sso-session corp]\nsso_region = us-east-1\n"
		"[profile corp]\nregion = eu-west-1\n"
		"[sso-session \"two words\"]\nsso_start_url = https://x\n"
		"[sso-session]\nsso_region = ignored\n";
	struct config c = { 0 };
	struct err e = { 0 };
	EXPECT_LONG("parse", 0,
		    config_file_parse(&c.config, CONFIG_SHARED_CONFIG, text,
				      strlen(text), "config", &e));
	EXPECT_STR("session setting", "us-east-1",
		   config_sso_session_get(&c, "corp", "sso_region"));
	EXPECT_STR("profile of the same name", "eu-west-1",
		   config_get(&c, "corp", "region"));
	EXPECT_TRUE("the profile has no session settings",
		    !config_get(&c, "corp", "sso_region"));
	EXPECT_STR("quoted session name", "https://x",
		   config_sso_session_get(&c, "two words", "sso_start_url"));
	EXPECT_TRUE("a session is no profile",
		    !config_has_profile(&c, "two words"));
	EXPECT_TRUE("unknown session", !config_has_sso_session(&c, "x"));
	config_file_release(&c.config);
}

void test_config(void)
{
	test_parse_cases();
	test_sso_sessions();
	test_expand();
	test_two_files();
}
