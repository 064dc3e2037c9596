/* The credential chain, as a spec: one line a case with the environment,
 * the two shared files and the profile asked for, then where the AWS CLI
 * would take credentials from (creds_describe(), botocore's method names),
 * the access key when it can be read without the network, or the error.
 * Then the pieces: the JSON answers, credential_process, the container URL
 * rule, STS bodies and answers, the refresh margin, aws_ctx_init. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/aws.h"
#include "../../lib/config.h"
#include "../../lib/creds.h"
#include "../../lib/sts.h"
#include "unit.h"

/* Every variable the chain and the region read. */
static const char *const chain_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT", "HOME",
};
#define N_CHAIN_VARS (sizeof(chain_vars) / sizeof(chain_vars[0]))

static char *saved_env[N_CHAIN_VARS];

static void save_env(void)
{
	for (size_t i = 0; i < N_CHAIN_VARS; i++) {
		const char *v = getenv(chain_vars[i]);
		saved_env[i] = v ? strdup(v) : NULL;
	}
}

static void restore_env(void)
{
	for (size_t i = 0; i < N_CHAIN_VARS; i++) {
		if (saved_env[i])
			setenv(chain_vars[i], saved_env[i], 1);
		else
			unsetenv(chain_vars[i]);
		free(saved_env[i]);
		saved_env[i] = NULL;
	}
}

/* A clean environment plus "NAME=value NAME=value"; IMDS is off unless
 * the case says otherwise, so no case reaches the network. */
static void set_env(const char *assignments)
{
	for (size_t i = 0; i < N_CHAIN_VARS; i++)
		unsetenv(chain_vars[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	char *copy = strdup(assignments ? assignments : "");
	for (char *save, *tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		setenv(tok, eq + 1, 1);
	}
	free(copy);
}

static void load_texts(struct config *c, const char *config_text,
		       const char *creds_text)
{
	struct err e = { 0 };
	memset(c, 0, sizeof(*c));
	c->config_path = strdup("/c/config");
	c->credentials_path = strdup("/c/credentials");
	c->config_found = config_text != NULL;
	c->credentials_found = creds_text != NULL;
	if (config_text)
		config_file_parse(&c->config, CONFIG_SHARED_CONFIG, config_text,
				  strlen(config_text), "/c/config", &e);
	if (creds_text)
		config_file_parse(&c->credentials, CONFIG_SHARED_CREDENTIALS,
				  creds_text, strlen(creds_text),
				  "/c/credentials", &e);
}

#define ENV_KEYS "AWS_ACCESS_KEY_ID=ENVKEY AWS_SECRET_ACCESS_KEY=envsecret "
#define CRED_P "[p]\naws_access_key_id = CREDKEY\naws_secret_access_key = s\n"
#define CRED_DEFAULT \
	"[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = s\n"
#define CONF_P "[profile p]\naws_access_key_id = CONFKEY\n" \
	"aws_secret_access_key = s\n"
#define ROLE "role_arn = arn:aws:iam::123456789012:role/r\n"
#define WEB_ENV "AWS_WEB_IDENTITY_TOKEN_FILE=/t/token " \
	"AWS_ROLE_ARN=arn:aws:iam::123456789012:role/w "
#define NOTHING_FOUND "no credentials found: looked in "

static const struct chain_case {
	const char *name;
	const char *env;
	const char *config;
	const char *credentials;
	const char *profile;   /* NULL: the default profile, not named */
	bool explicit_profile; /* given with --profile */
	const char *want;      /* creds_describe(); NULL: an error */
	const char *want_key;  /* fixed credentials: the access key id */
	const char *error;     /* building or fetching fails with this */
} chain_cases[] = {
	/* The environment. */
	{ "environment alone", ENV_KEYS, NULL, NULL, NULL, false, "env",
	  "ENVKEY", NULL },
	{ "environment over the default profile", ENV_KEYS, NULL, CRED_DEFAULT,
	  NULL, false, "env", "ENVKEY", NULL },
	{ "environment over AWS_PROFILE", ENV_KEYS, NULL, CRED_P, "p", false,
	  "env", "ENVKEY", NULL },
	{ "--profile skips the environment", ENV_KEYS, NULL, CRED_P, "p", true,
	  "shared-credentials-file(p)", "CREDKEY", NULL },
	{ "environment with a key and no secret",
	  "AWS_ACCESS_KEY_ID=ENVKEY", NULL, CRED_DEFAULT, NULL, false, NULL,
	  NULL, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not" },
	{ "a secret alone is no credential", "AWS_SECRET_ACCESS_KEY=x", NULL,
	  CRED_DEFAULT, NULL, false, "shared-credentials-file(default)",
	  "DEFKEY", NULL },
	{ "expired environment credentials",
	  ENV_KEYS "AWS_CREDENTIAL_EXPIRATION=2001-01-01T00:00:00Z", NULL, NULL,
	  NULL, false, "env", NULL,
	  "AWS_CREDENTIAL_EXPIRATION: the credentials expired at "
	  "2001-01-01T00:00:00Z" },

	/* The two files. */
	{ "credentials file", "", NULL, CRED_P, "p", false,
	  "shared-credentials-file(p)", "CREDKEY", NULL },
	{ "config file", "", CONF_P, NULL, "p", false, "config-file(p)",
	  "CONFKEY", NULL },
	{ "credentials file over config file", "", CONF_P, CRED_P, "p", false,
	  "shared-credentials-file(p)", "CREDKEY", NULL },
	{ "[p] is not a profile in the config file", "",
	  "[p]\naws_access_key_id = X\naws_secret_access_key = s\n"
	  "[profile other]\n",
	  NULL, "p", false, NULL, NULL, "profile 'p' not found" },
	{ "[profile p] is not p in the credentials file", "", "[profile q]\n",
	  "[profile p]\naws_access_key_id = X\naws_secret_access_key = s\n",
	  "p", false, NULL, NULL, "profile 'p' not found" },
	{ "named profile missing", "", "[default]\n", CRED_DEFAULT, "nope",
	  true, NULL, NULL,
	  "profile 'nope' not found in /c/config or /c/credentials" },
	{ "named profile missing even with the environment", ENV_KEYS, NULL,
	  NULL, "nope", false, NULL, NULL, "profile 'nope' not found" },
	{ "key without secret in the credentials file", "", NULL,
	  "[p]\naws_access_key_id = X\n", "p", false, NULL, NULL,
	  "profile 'p' in /c/credentials has aws_access_key_id but no "
	  "aws_secret_access_key" },
	{ "credential_process over config-file keys", "",
	  "[profile p]\ncredential_process = /bin/true\n"
	  "aws_access_key_id = C\naws_secret_access_key = s\n",
	  NULL, "p", false, "custom-process(p)", NULL, NULL },
	{ "credentials file over credential_process", "",
	  "[profile p]\ncredential_process = /bin/true\n", CRED_P, "p", false,
	  "shared-credentials-file(p)", "CREDKEY", NULL },
	{ "credential_process from the credentials file", "", NULL,
	  "[p]\ncredential_process = /bin/true\n", "p", false,
	  "custom-process(p)", NULL, NULL },

	/* Assume role. */
	{ "role from a source profile", "",
	  "[profile dev]\n" ROLE "source_profile = p\n", CRED_P, "dev", true,
	  "assume-role(dev) <- shared-credentials-file(p)", NULL, NULL },
	{ "role over the profile's own keys", "",
	  "[profile p]\n" ROLE "source_profile = q\n", CRED_P "[q]\n"
	  "aws_access_key_id = Q\naws_secret_access_key = s\n",
	  "p", true, "assume-role(p) <- shared-credentials-file(q)", NULL,
	  NULL },
	{ "environment over a role profile", ENV_KEYS,
	  "[default]\n" ROLE "source_profile = p\n", CRED_P, NULL, false,
	  "env", "ENVKEY", NULL },
	{ "role chain of three", "",
	  "[profile a]\n" ROLE "source_profile = b\n"
	  "[profile b]\n" ROLE "source_profile = c\n",
	  "[c]\naws_access_key_id = C\naws_secret_access_key = s\n", "a", true,
	  "assume-role(a) <- assume-role(b) <- shared-credentials-file(c)",
	  NULL, NULL },
	{ "role sourcing its own keys", "", NULL,
	  "[p]\n" ROLE "source_profile = p\naws_access_key_id = K\n"
	  "aws_secret_access_key = s\n",
	  "p", true, "assume-role(p) <- shared-credentials-file(p)", NULL,
	  NULL },
	{ "source profile with a config-file key", "",
	  "[profile dev]\n" ROLE "source_profile = p\n" CONF_P, NULL, "dev",
	  true, "assume-role(dev) <- config-file(p)", NULL, NULL },
	{ "source profile with credential_process", "",
	  "[profile dev]\n" ROLE "source_profile = p\n"
	  "[profile p]\ncredential_process = /bin/true\n",
	  NULL, "dev", true, "assume-role(dev) <- custom-process(p)", NULL,
	  NULL },
	{ "source profile ignores the environment's web identity", WEB_ENV,
	  "[profile dev]\n" ROLE "source_profile = p\n", CRED_P, "dev", false,
	  "assume-role(dev) <- shared-credentials-file(p)", NULL, NULL },
	{ "source_profile loop", "",
	  "[profile a]\n" ROLE "source_profile = b\n"
	  "[profile b]\n" ROLE "source_profile = a\n",
	  NULL, "a", true, NULL, NULL, "source_profile loop: a -> b -> a" },
	{ "self loop without keys", "", "[profile a]\n" ROLE
	  "source_profile = a\n", NULL, "a", true, NULL, NULL,
	  "source_profile loop: a -> a" },
	{ "missing source profile", "", "[profile a]\n" ROLE
	  "source_profile = ghost\n", NULL, "a", true, NULL, NULL,
	  "source_profile 'ghost' of profile 'a' does not exist" },
	{ "source profile without credentials", "",
	  "[profile a]\n" ROLE "source_profile = b\n[profile b]\nregion = r\n",
	  NULL, "a", true, NULL, NULL,
	  "source_profile 'b' of profile 'a' has no credentials" },
	{ "both source_profile and credential_source", "",
	  "[profile a]\n" ROLE "source_profile = p\n"
	  "credential_source = Environment\n",
	  CRED_P, "a", true, NULL, NULL,
	  "profile 'a' has both source_profile and credential_source" },
	{ "role without a source", "", "[profile a]\n" ROLE, NULL, "a", true,
	  NULL, NULL,
	  "profile 'a' has role_arn but neither source_profile nor "
	  "credential_source" },
	{ "credential_source Environment", ENV_KEYS,
	  "[profile a]\n" ROLE "credential_source = Environment\n", NULL, "a",
	  true, "assume-role(a) <- env", NULL, NULL },
	{ "credential_source Environment, empty", "",
	  "[profile a]\n" ROLE "credential_source = Environment\n", NULL, "a",
	  true, NULL, NULL,
	  "profile 'a' has credential_source Environment but "
	  "AWS_ACCESS_KEY_ID is not set" },
	{ "credential_source EcsContainer",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9/c",
	  "[profile a]\n" ROLE "credential_source = EcsContainer\n", NULL, "a",
	  true, "assume-role(a) <- container-role", NULL, NULL },
	{ "credential_source EcsContainer, unset", "",
	  "[profile a]\n" ROLE "credential_source = EcsContainer\n", NULL, "a",
	  true, NULL, NULL, "credential_source EcsContainer but neither" },
	{ "credential_source Ec2InstanceMetadata", "",
	  "[profile a]\n" ROLE "credential_source = Ec2InstanceMetadata\n",
	  NULL, "a", true, "assume-role(a) <- iam-role", NULL,
	  "has credential_source Ec2InstanceMetadata but there is nothing in "
	  "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)" },
	{ "unknown credential_source", "",
	  "[profile a]\n" ROLE "credential_source = environment\n", NULL, "a",
	  true, NULL, NULL,
	  "credential_source 'environment' of profile 'a' is not one of "
	  "Environment, Ec2InstanceMetadata or EcsContainer" },
	{ "mfa_serial role", "",
	  "[profile a]\n" ROLE "source_profile = p\nmfa_serial = arn:mfa\n",
	  CRED_P, "a", true,
	  "assume-role(a, MFA arn:mfa) <- shared-credentials-file(p)", NULL,
	  NULL },

	/* Web identity. */
	{ "web identity from the environment", WEB_ENV, NULL, CRED_DEFAULT,
	  NULL, false, "assume-role-with-web-identity(env)", NULL, NULL },
	{ "web identity over the credentials file", WEB_ENV, NULL, CRED_P, "p",
	  false, "assume-role-with-web-identity(env)", NULL, NULL },
	{ "--profile skips the environment's web identity", WEB_ENV, NULL,
	  CRED_P, "p", true, "shared-credentials-file(p)", "CREDKEY", NULL },
	{ "web identity without a role", "AWS_WEB_IDENTITY_TOKEN_FILE=/t/t",
	  NULL, NULL, NULL, false, NULL, NULL,
	  "AWS_WEB_IDENTITY_TOKEN_FILE is set but no role ARN" },
	{ "web identity role from the profile",
	  "AWS_WEB_IDENTITY_TOKEN_FILE=/t/t", "[default]\n" ROLE
	  "web_identity_token_file = /t/other\n", NULL, NULL, false,
	  "assume-role-with-web-identity(env)", NULL, NULL },
	{ "web identity in the profile", "",
	  "[profile w]\n" ROLE "web_identity_token_file = /t/t\n", NULL, "w",
	  true, "assume-role-with-web-identity(w)", NULL, NULL },
	{ "assume role before the environment's web identity", WEB_ENV,
	  "[profile dev]\n" ROLE "source_profile = p\n", CRED_P, "dev", false,
	  "assume-role(dev) <- shared-credentials-file(p)", NULL, NULL },
	{ "role chained from a web identity profile", "",
	  "[profile dev]\n" ROLE "source_profile = w\n"
	  "[profile w]\n" ROLE "web_identity_token_file = /t/t\n",
	  NULL, "dev", true,
	  "assume-role(dev) <- assume-role-with-web-identity(w)", NULL, NULL },

	/* SSO, in its place in the order. */
	{ "SSO profile", "",
	  "[profile s]\nsso_session = corp\nsso_account_id = 1\n"
	  "sso_role_name = r\n[sso-session corp]\nsso_start_url = https://x\n"
	  "sso_region = eu-west-1\n",
	  NULL, "s", true, "SSO profile s (sso-session corp)", NULL, NULL },
	{ "legacy SSO profile", "",
	  "[profile s]\nsso_start_url = https://x\nsso_region = r\n"
	  "sso_account_id = 1\nsso_role_name = r\n", NULL, "s", true,
	  "SSO profile s (legacy, sso_start_url https://x)", NULL, NULL },
	{ "legacy SSO keys incomplete", "",
	  "[profile s]\nsso_start_url = https://x\n", NULL, "s", true, NULL,
	  NULL, "profile 's' uses IAM Identity Center (SSO) but has no "
	  "sso_region" },
	{ "environment before SSO", ENV_KEYS, "[default]\nsso_session = c\n",
	  NULL, NULL, false, "env", "ENVKEY", NULL },
	{ "SSO before the credentials file", "", "[profile p]\nsso_session = c\n",
	  CRED_P, "p", true, NULL, NULL,
	  "profile 'p' names sso_session 'c', but there is no [sso-session c]" },

	/* Containers and instance metadata, last. */
	{ "container, relative URI",
	  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x", NULL,
	  NULL, NULL, false, "container-role", NULL, NULL },
	{ "container, full URI on loopback",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8080/c", NULL,
	  NULL, NULL, false, "container-role", NULL, NULL },
	{ "container, full URI elsewhere refused",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com/c", NULL, NULL,
	  NULL, false, NULL, NULL,
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI http://example.com/c is not "
	  "allowed" },
	{ "profile keys before the container",
	  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/x", NULL, CRED_DEFAULT,
	  NULL, false, "shared-credentials-file(default)", "DEFKEY", NULL },
	{ "instance metadata when nothing else", "", NULL, NULL, NULL, false,
	  "iam-role", NULL,
	  NOTHING_FOUND "the environment (AWS_ACCESS_KEY_ID, "
	  "AWS_WEB_IDENTITY_TOKEN_FILE), profile 'default' of /c/config "
	  "(missing) and /c/credentials (missing), the container endpoint "
	  "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset), "
	  "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)" },
	{ "nothing found with --profile", ENV_KEYS, "[profile p]\nregion = r\n",
	  NULL, "p", true, "iam-role", NULL,
	  NOTHING_FOUND "the environment (not used with --profile), profile "
	  "'p' of /c/config and /c/credentials (missing)" },
};

static void check_chain_case(const struct chain_case *c)
{
	struct config cfg;
	struct err e = { 0 };
	set_env(c->env);
	load_texts(&cfg, c->config, c->credentials);
	struct creds_provider *p = creds_chain_new(
		&cfg, c->profile, c->explicit_profile, "us-east-1", NULL, &e);
	config_release(&cfg);
	if (!c->want) {
		EXPECT_TRUE(c->name, p == NULL);
		EXPECT_LONG(c->name, ERR_CONFIG, e.kind);
		EXPECT_TRUE(c->name, strstr(e.message, c->error) != NULL);
		if (!strstr(e.message, c->error))
			fprintf(stderr, "  message: %s\n", e.message);
		creds_provider_free(p);
		return;
	}
	EXPECT_TRUE(c->name, p != NULL);
	if (!p) {
		fprintf(stderr, "  message: %s\n", e.message);
		return;
	}
	EXPECT_STR(c->name, c->want, creds_describe(p));
	const struct aws_credentials *got = NULL;
	if (c->want_key) {
		EXPECT_LONG(c->name, 0, creds_get(p, &got, &e));
		EXPECT_STR(c->name, c->want_key, got ? got->access_key_id : NULL);
	} else if (c->error) {
		EXPECT_LONG(c->name, -1, creds_get(p, &got, &e));
		EXPECT_LONG(c->name, ERR_CONFIG, e.kind);
		EXPECT_TRUE(c->name, strstr(e.message, c->error) != NULL);
		if (!strstr(e.message, c->error))
			fprintf(stderr, "  message: %s\n", e.message);
	}
	creds_provider_free(p);
}

static void test_chain_cases(void)
{
	for (size_t i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]);
	     i++)
		check_chain_case(&chain_cases[i]);
}

/* Which token name wins, in the environment and in the files. */
static void test_session_tokens(void)
{
	struct config cfg;
	struct err e = { 0 };
	const struct aws_credentials *got;

	set_env(ENV_KEYS "AWS_SESSION_TOKEN=new AWS_SECURITY_TOKEN=old");
	struct creds_provider *p = creds_env_new();
	EXPECT_LONG("env tokens", 0, creds_get(p, &got, &e));
	EXPECT_STR("AWS_SECURITY_TOKEN first, as botocore", "old",
		   got->session_token);
	creds_provider_free(p);

	set_env(ENV_KEYS "AWS_SESSION_TOKEN=tok "
		"AWS_CREDENTIAL_EXPIRATION=2999-01-01T00:00:00Z");
	p = creds_env_new();
	EXPECT_LONG("env expiration", 0, creds_get(p, &got, &e));
	EXPECT_STR("AWS_SESSION_TOKEN", "tok", got->session_token);
	EXPECT_TRUE("AWS_CREDENTIAL_EXPIRATION read", got->expiration > 0);
	creds_provider_free(p);

	set_env("");
	load_texts(&cfg, NULL,
		   "[p]\naws_access_key_id = K\naws_secret_access_key = s\n"
		   "aws_session_token = new\naws_security_token = old\n");
	p = creds_chain_new(&cfg, "p", true, "us-east-1", NULL, &e);
	EXPECT_LONG("file tokens", 0, creds_get(p, &got, &e));
	EXPECT_STR("aws_security_token first, as botocore", "old",
		   got->session_token);
	EXPECT_LONG("file keys never expire", 0, (long)got->expiration);
	creds_provider_free(p);
	config_release(&cfg);
}

static const struct json_case {
	const char *name;
	enum creds_json_kind kind;
	const char *json;
	const char *want_key; /* NULL: an error */
	const char *error;
} json_cases[] = {
	{ "process, long-term keys", CREDS_JSON_PROCESS,
	  "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\"}",
	  "AK", NULL },
	{ "process, temporary keys", CREDS_JSON_PROCESS,
	  "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\","
	  "\"SessionToken\":\"T\",\"Expiration\":\"2999-01-01T00:00:00Z\"}",
	  "AK", NULL },
	{ "process, offset expiration", CREDS_JSON_PROCESS,
	  "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\","
	  "\"SessionToken\":\"T\",\"Expiration\":\"2999-01-01T00:00:00+00:00\"}",
	  "AK", NULL },
	{ "process, version 2", CREDS_JSON_PROCESS,
	  "{\"Version\":2,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\"}",
	  NULL, "X: Version must be 1" },
	{ "process, version as text", CREDS_JSON_PROCESS,
	  "{\"Version\":\"1\",\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\"}",
	  NULL, "X: Version must be 1" },
	{ "process, no secret", CREDS_JSON_PROCESS,
	  "{\"Version\":1,\"AccessKeyId\":\"AK\"}", NULL,
	  "X: no SecretAccessKey in the answer" },
	{ "process, expired", CREDS_JSON_PROCESS,
	  "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\","
	  "\"Expiration\":\"2001-02-03T04:05:06Z\"}",
	  NULL, "X: the credentials expired at 2001-02-03T04:05:06Z" },
	{ "process, bad expiration", CREDS_JSON_PROCESS,
	  "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\","
	  "\"Expiration\":\"soon\"}",
	  NULL, "X: Expiration 'soon' is not a time" },
	{ "not JSON", CREDS_JSON_PROCESS, "AKIA...", NULL,
	  "X: the answer is not a JSON object" },
	{ "metadata", CREDS_JSON_METADATA,
	  "{\"Code\":\"Success\",\"AccessKeyId\":\"AK\",\"SecretAccessKey\":"
	  "\"S\",\"Token\":\"T\",\"Expiration\":\"2999-01-01T00:00:00Z\"}",
	  "AK", NULL },
	{ "metadata without Code (containers)", CREDS_JSON_METADATA,
	  "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
	  "\"Expiration\":\"2999-01-01T00:00:00Z\"}",
	  "AK", NULL },
	{ "metadata failure code", CREDS_JSON_METADATA,
	  "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}", NULL,
	  "X: Code is 'AssumeRoleUnauthorizedAccess': no" },
	{ "metadata without token", CREDS_JSON_METADATA,
	  "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\","
	  "\"Expiration\":\"2999-01-01T00:00:00Z\"}",
	  NULL, "X: no Token in the answer" },
	{ "metadata without expiration", CREDS_JSON_METADATA,
	  "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\",\"Token\":\"T\"}",
	  NULL, "X: no Expiration in the answer" },
};

static void test_json(void)
{
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]);
	     i++) {
		const struct json_case *c = &json_cases[i];
		struct aws_credentials got;
		struct err e = { 0 };
		int rc = creds_parse_json(c->json, strlen(c->json), c->kind,
					  "X", time(NULL), &got, &e);
		if (c->want_key) {
			EXPECT_LONG(c->name, 0, rc);
			EXPECT_STR(c->name, c->want_key, got.access_key_id);
		} else {
			EXPECT_LONG(c->name, -1, rc);
			EXPECT_STR(c->name, c->error, e.message);
			EXPECT_LONG(c->name, ERR_CONFIG, e.kind);
		}
		aws_credentials_clear(&got);
	}
}

static const struct process_case {
	const char *name;
	const char *command;
	const char *want_key;
	const char *error;
} process_cases[] = {
	{ "process prints keys",
	  "printf '{\"Version\": 1, \"AccessKeyId\": \"PK\", "
	  "\"SecretAccessKey\": \"s\"}'",
	  "PK", NULL },
	{ "through the shell: pipes and variables",
	  "K=PIPED; echo \"{\\\"Version\\\":1,\\\"AccessKeyId\\\":\\\"$K\\\","
	  "\\\"SecretAccessKey\\\":\\\"s\\\"}\" | cat",
	  "PIPED", NULL },
	{ "process fails", "echo 'token expired, run aws sso login' >&2; exit 3",
	  NULL,
	  "credential_process of profile 'p' failed with exit status 3: "
	  "token expired, run aws sso login" },
	{ "process prints garbage", "echo hello", NULL,
	  "credential_process of profile 'p': the answer is not a JSON "
	  "object" },
	{ "process killed", "kill -9 $$", NULL,
	  "credential_process of profile 'p' was killed by signal 9" },
	{ "process not found", "/nonexistent/helper", NULL,
	  "credential_process of profile 'p' failed with exit status 127" },
};

static void test_process(void)
{
	for (size_t i = 0;
	     i < sizeof(process_cases) / sizeof(process_cases[0]); i++) {
		const struct process_case *c = &process_cases[i];
		struct aws_credentials got;
		struct err e = { 0 };
		int rc = creds_run_process(c->command, "p", &got, &e);
		if (c->want_key) {
			EXPECT_LONG(c->name, 0, rc);
			EXPECT_STR(c->name, c->want_key, got.access_key_id);
			aws_credentials_clear(&got);
		} else {
			EXPECT_LONG(c->name, -1, rc);
			EXPECT_TRUE(c->name, strstr(e.message, c->error) != NULL);
			if (!strstr(e.message, c->error))
				fprintf(stderr, "  message: %s\n", e.message);
			EXPECT_LONG(c->name, ERR_CONFIG, e.kind);
		}
	}
}

static const struct url_case {
	const char *url;
	bool allowed;
} url_cases[] = {
	{ "http://127.0.0.1:8080/creds", true },
	{ "http://127.1.2.3/creds", true },
	{ "http://localhost/creds", true },
	{ "http://LOCALHOST:99/creds", true },
	{ "http://[::1]:80/creds", true },
	{ "http://169.254.170.2/v2/credentials", true },
	{ "http://169.254.170.23/v1/credentials", true },
	{ "http://[fd00:ec2::23]/v1/credentials", true },
	{ "https://creds.example.com/x", true },
	{ "http://example.com/creds", false },
	{ "http://169.254.169.254/latest", false },
	{ "http://10.0.0.1/creds", false },
	{ "http://127.0.0.1.example.com/creds", false },
	{ "http://user@example.com/creds", false },
	{ "http://example.com@127.0.0.1/creds", true },
	{ "ftp://127.0.0.1/creds", false },
	{ "http:///creds", false },
	{ "127.0.0.1/creds", false },
};

static void test_container_urls(void)
{
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++)
		EXPECT_LONG(url_cases[i].url, url_cases[i].allowed,
			    creds_container_url_allowed(url_cases[i].url));
}

static void test_sts(void)
{
	struct buf b = BUF_INIT;
	struct sts_role r = { .role_arn = "arn:aws:iam::123456789012:role/a b",
			      .session_name = "me@work", .external_id = "ext/1",
			      .duration_seconds = 900 };
	sts_role_body(&r, false, &b);
	EXPECT_STR("AssumeRole body",
		   "Action=AssumeRole&Version=2011-06-15&DurationSeconds=900"
		   "&ExternalId=ext%2F1"
		   "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa%20b"
		   "&RoleSessionName=me%40work",
		   buf_str(&b));
	buf_clear(&b);
	struct sts_role m = { .role_arn = "arn:aws:iam::1:role/m",
			      .session_name = "s",
			      .serial_number = "arn:aws:iam::1:mfa/a",
			      .token_code = "123456" };
	sts_role_body(&m, false, &b);
	EXPECT_STR("AssumeRole body with MFA",
		   "Action=AssumeRole&Version=2011-06-15"
		   "&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fm&RoleSessionName=s"
		   "&SerialNumber=arn%3Aaws%3Aiam%3A%3A1%3Amfa%2Fa"
		   "&TokenCode=123456",
		   buf_str(&b));
	buf_clear(&b);
	struct sts_role w = { .role_arn = "arn:aws:iam::1:role/w",
			      .session_name = "s",
			      .web_identity_token = "ey.J+/=" };
	sts_role_body(&w, true, &b);
	EXPECT_STR("AssumeRoleWithWebIdentity body",
		   "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
		   "&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fw"
		   "&RoleSessionName=s&WebIdentityToken=ey.J%2B%2F%3D",
		   buf_str(&b));
	buf_release(&b);

	const char *answer =
		"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/"
		"2011-06-15/\"><AssumeRoleResult><Credentials>"
		"<AccessKeyId>ASIAX</AccessKeyId>"
		"<SecretAccessKey>secret</SecretAccessKey>"
		"<SessionToken>token</SessionToken>"
		"<Expiration>2030-01-02T03:04:05Z</Expiration>"
		"</Credentials></AssumeRoleResult></AssumeRoleResponse>";
	struct aws_credentials c;
	struct err e = { 0 };
	EXPECT_LONG("parse AssumeRole", 0,
		    sts_parse_credentials(answer, strlen(answer), &c, &e));
	EXPECT_STR("access key", "ASIAX", c.access_key_id);
	EXPECT_STR("token", "token", c.session_token);
	EXPECT_LONG("expiration", 1893553445L, (long)c.expiration);
	aws_credentials_clear(&c);
	const char *empty = "<AssumeRoleResponse/>";
	EXPECT_LONG("no credentials", -1,
		    sts_parse_credentials(empty, strlen(empty), &c, &e));
	EXPECT_LONG("no credentials: parse error", ERR_PARSE, e.kind);
}

/* A provider that hands out credentials expiring after `lifetime`. */
static int fetches;
static long lifetime;

static int fetch_counting(struct creds_provider *p,
			  struct aws_credentials *out, struct err *e)
{
	char key[32];
	snprintf(key, sizeof(key), "K%d", ++fetches);
	struct aws_credentials c = { key, "s", "t", time(NULL) + lifetime,
				     "test" };
	return aws_credentials_copy(out, &c);
}

static void test_refresh(void)
{
	const struct aws_credentials *got;
	struct err e = { 0 };
	struct creds_provider *p =
		creds_provider_new("counting", fetch_counting, NULL, NULL);
	fetches = 0;
	lifetime = 3600;
	creds_get(p, &got, &e);
	creds_get(p, &got, &e);
	EXPECT_LONG("an hour left: fetched once", 1, fetches);
	creds_invalidate(p);
	creds_get(p, &got, &e);
	EXPECT_LONG("invalidated: fetched again", 2, fetches);
	EXPECT_STR("new credentials", "K2", got->access_key_id);
	lifetime = 299;
	creds_invalidate(p);
	creds_get(p, &got, &e);
	creds_get(p, &got, &e);
	EXPECT_LONG("under five minutes left: refreshed each time", 4,
		    fetches);
	creds_provider_free(p);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* aws_ctx_init: the profile chosen, region and endpoint from it. */
static void test_ctx(void)
{
	char dir[] = "/tmp/ssmbak-creds-XXXXXX";
	if (!mkdtemp(dir)) {
		unit_skip("aws_ctx_init", "no temporary directory");
		return;
	}
	char config[64], creds[64], env[256];
	snprintf(config, sizeof(config), "%s/config", dir);
	snprintf(creds, sizeof(creds), "%s/credentials", dir);
	write_file(config, "[default]\nregion = eu-west-1\n"
			   "[profile a]\nregion = ap-south-1\n"
			   "[profile b]\nregion = us-west-2\n"
			   "endpoint_url = http://127.0.0.1:9\n");
	write_file(creds, "[a]\naws_access_key_id = A\naws_secret_access_key = s\n"
			  "[b]\naws_access_key_id = B\naws_secret_access_key = s\n"
			  "[c]\nregion = ca-central-1\n"
			  "aws_access_key_id = C\naws_secret_access_key = s\n");
	snprintf(env, sizeof(env), "AWS_CONFIG_FILE=%s "
		 "AWS_SHARED_CREDENTIALS_FILE=%s", config, creds);

	struct aws_ctx ctx;
	struct err e = { 0 };
	struct aws_options opts = { NULL, "b" };
	set_env(env);
	setenv("AWS_PROFILE", "a", 1);
	EXPECT_LONG("--profile over AWS_PROFILE", 0,
		    aws_ctx_init(&ctx, &opts, &e));
	EXPECT_STR("--profile wins", "b", ctx.profile);
	EXPECT_STR("region from the profile", "us-west-2", ctx.region);
	EXPECT_STR("region source", "profile", ctx.region_source);
	bool custom;
	char *url = aws_endpoint(&ctx, &aws_ssm, &custom);
	EXPECT_STR("endpoint_url from the profile", "http://127.0.0.1:9", url);
	EXPECT_TRUE("profile endpoint is custom", custom);
	free(url);
	setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:7", 1);
	url = aws_endpoint(&ctx, &aws_ssm, &custom);
	EXPECT_STR("AWS_ENDPOINT_URL_<SERVICE> over the profile",
		   "http://127.0.0.1:7", url);
	free(url);
	unsetenv("AWS_ENDPOINT_URL_SSM");
	aws_ctx_release(&ctx);

	opts.profile = NULL;
	EXPECT_LONG("AWS_PROFILE", 0, aws_ctx_init(&ctx, &opts, &e));
	EXPECT_STR("AWS_PROFILE used", "a", ctx.profile);
	EXPECT_STR("its region", "ap-south-1", ctx.region);
	EXPECT_STR("its credentials", "shared-credentials-file(a)",
		   creds_describe(ctx.creds));
	aws_ctx_release(&ctx);

	setenv("AWS_PROFILE", "c", 1);
	aws_ctx_init(&ctx, &opts, &e);
	EXPECT_STR("region in the credentials file counts", "ca-central-1",
		   ctx.region);
	aws_ctx_release(&ctx);

	setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
	aws_ctx_init(&ctx, &opts, &e);
	EXPECT_STR("AWS_DEFAULT_REGION over the profile", "us-east-2",
		   ctx.region);
	aws_ctx_release(&ctx);
	setenv("AWS_REGION", "sa-east-1", 1);
	aws_ctx_init(&ctx, &opts, &e);
	EXPECT_STR("AWS_REGION over AWS_DEFAULT_REGION", "sa-east-1",
		   ctx.region);
	aws_ctx_release(&ctx);
	opts.region = "me-south-1";
	aws_ctx_init(&ctx, &opts, &e);
	EXPECT_STR("--region over all", "me-south-1", ctx.region);
	EXPECT_TRUE("no endpoint_url in profile c", ctx.endpoint_url == NULL);
	aws_ctx_release(&ctx);

	opts = (struct aws_options){ NULL, NULL };
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	EXPECT_LONG("default profile", 0, aws_ctx_init(&ctx, &opts, &e));
	EXPECT_STR("default's region", "eu-west-1", ctx.region);
	EXPECT_TRUE("no profile named", ctx.profile == NULL);
	aws_ctx_release(&ctx);

	setenv("AWS_PROFILE", "ghost", 1);
	EXPECT_LONG("missing profile", -1, aws_ctx_init(&ctx, &opts, &e));
	char want[256];
	snprintf(want, sizeof(want), "profile 'ghost' not found in %s or %s",
		 config, creds);
	EXPECT_STR("missing profile message", want, e.message);
	EXPECT_LONG("missing profile exit class", ERR_CONFIG, e.kind);

	set_env(ENV_KEYS);
	setenv("HOME", dir, 1);
	EXPECT_LONG("no region", -1, aws_ctx_init(&ctx, &opts, &e));
	EXPECT_STR("no region message",
		   "no region: give --region, set AWS_REGION, or set region in "
		   "your profile in ~/.aws/config",
		   e.message);
	EXPECT_LONG("no region exit class", ERR_CONFIG, e.kind);

	write_file(config, "[default]\nregion = eu-west-1 # comment\n");
	setenv("AWS_CONFIG_FILE", config, 1);
	EXPECT_LONG("bad region", -1, aws_ctx_init(&ctx, &opts, &e));
	EXPECT_STR("bad region message",
		   "region 'eu-west-1 # comment' (from profile) is not a region "
		   "name (like us-east-1)",
		   e.message);
	unlink(config);
	unlink(creds);
	rmdir(dir);
}

void test_creds(void)
{
	save_env();
	test_chain_cases();
	test_session_tokens();
	test_json();
	test_process();
	test_container_urls();
	test_sts();
	test_refresh();
	test_ctx();
	restore_env();
}
