/* lib/sso.c and lib/mfa.c, the pure parts: cache file names (the AWS
 * CLI's, so that each tool finds what the other wrote), token files and
 * their expiry, and the answers of CreateToken and GetRoleCredentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/jsoncache.h"
#include "../../lib/mfa.h"
#include "../../lib/sso.h"
#include "unit.h"

/* 2030-01-01T00:00:00Z */
#define T2030 1893456000L

static void test_cache_names(void)
{
	/* hashlib.sha1(KEY.encode()).hexdigest() */
	static const struct {
		const char *key, *name;
	} cases[] = {
		{ "my-sso", "0ad374308c5a4e22f723adf10145eafad7c4031c" },
		{ "https://corp.awsapps.com/start",
		  "a51746d4aa793ae07b25e90c3a5db96fc7832bd7" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[41];
		sso_cache_name(cases[i].key, name);
		EXPECT_STR(cases[i].key, cases[i].name, name);
	}
}

static void test_mfa_cache_keys(void)
{
	/* sha1(json.dumps(args, sort_keys=True)) as botocore's
	 * AssumeRoleCredentialFetcher._create_cache_key */
	static const struct {
		const char *what;
		struct sts_role role;
		bool session_given;
		const char *key;
	} cases[] = {
		{ "role and serial",
		  { .role_arn = "arn:aws:iam::123456789012:role/admin",
		    .session_name = "ssmbak-session-1",
		    .serial_number = "arn:aws:iam::123456789012:mfa/alice" },
		  false, "c08bbcd61d2960e17757c33319b79219a44dea4e" },
		{ "every argument, non-ASCII escaped",
		  { .role_arn = "arn:aws:iam::123456789012:role/admin",
		    .session_name = "me", .external_id = "x\xc3\xa9",
		    .duration_seconds = 900,
		    .serial_number = "arn:aws:iam::123456789012:mfa/alice" },
		  true, "6d13be03049238c3ea4bf045bd2ede13430ec7d6" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char key[41] = "";
		EXPECT_LONG(cases[i].what, 0,
			    mfa_cache_key(&cases[i].role,
					  cases[i].session_given, key));
		EXPECT_STR(cases[i].what, cases[i].key, key);
	}
}

static void test_token_files(void)
{
	static const struct {
		const char *what, *json;
		long expires_at;   /* -1: refused */
		bool refreshable;  /* at T2030 - 3600 */
	} cases[] = {
		{ "sso-session token",
		  "{\"accessToken\": \"a\", \"expiresAt\": \"2030-01-01T00:00:00Z\","
		  " \"refreshToken\": \"r\", \"clientId\": \"c\", \"clientSecret\":"
		  " \"s\", \"registrationExpiresAt\": \"2030-03-01T00:00:00Z\"}",
		  T2030, true },
		{ "legacy token, offset time",
		  "{\"accessToken\": \"a\", \"expiresAt\": "
		  "\"2030-01-01T01:00:00+01:00\"}", T2030, false },
		{ "registration expired",
		  "{\"accessToken\": \"a\", \"expiresAt\": \"2030-01-01T00:00:00Z\","
		  " \"refreshToken\": \"r\", \"clientId\": \"c\", \"clientSecret\":"
		  " \"s\", \"registrationExpiresAt\": \"2029-01-01T00:00:00Z\"}",
		  T2030, false },
		{ "no accessToken", "{\"expiresAt\": \"2030-01-01T00:00:00Z\"}", -1,
		  false },
		{ "expiresAt not a time",
		  "{\"accessToken\": \"a\", \"expiresAt\": \"tomorrow\"}", -1, false },
		{ "not JSON", "accessToken=a", -1, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sso_token t;
		struct err e = { 0 };
		int rc = sso_token_parse(cases[i].json, strlen(cases[i].json),
					 "f", &t, &e);
		EXPECT_LONG(cases[i].what, cases[i].expires_at < 0 ? -1 : 0, rc);
		if (rc < 0)
			continue;
		EXPECT_LONG(cases[i].what, cases[i].expires_at, (long)t.expires_at);
		EXPECT_LONG(cases[i].what, cases[i].refreshable,
			    sso_token_refreshable(&t, T2030 - 3600));
		sso_token_release(&t);
	}
}

static void test_refresh_window(void)
{
	struct sso_token t = { .expires_at = T2030 };
	/* botocore refreshes within 15 minutes of expiry */
	EXPECT_LONG("16 minutes left", 0,
		    sso_token_needs_refresh(&t, T2030 - 16 * 60));
	EXPECT_LONG("14 minutes left", 1,
		    sso_token_needs_refresh(&t, T2030 - 14 * 60));
	EXPECT_LONG("expired", 1, sso_token_needs_refresh(&t, T2030 + 1));
}

static void test_create_token_and_rewrite(void)
{
	struct sso_token t = { 0 };
	struct err e = { 0 };
	t.access_token = strdup("old");
	t.refresh_token = strdup("old-refresh");
	t.client_id = strdup("c");
	t.start_url = strdup("https://x");
	t.region = strdup("us-east-1");
	const char *answer = "{\"accessToken\": \"new\", \"tokenType\": "
			     "\"Bearer\", \"expiresIn\": 3600, "
			     "\"refreshToken\": \"new-refresh\"}";
	EXPECT_LONG("CreateToken answer", 0,
		    sso_apply_create_token(answer, strlen(answer), T2030, &t,
					   &e));
	EXPECT_STR("new access token", "new", t.access_token);
	EXPECT_STR("new refresh token", "new-refresh", t.refresh_token);
	EXPECT_LONG("expiresIn from now", T2030 + 3600, (long)t.expires_at);
	char *json = sso_token_json(&t);
	EXPECT_STR("the cache file as the CLI writes it",
		   "{\"startUrl\": \"https://x\", \"region\": \"us-east-1\", "
		   "\"accessToken\": \"new\", \"expiresAt\": "
		   "\"2030-01-01T01:00:00Z\", \"clientId\": \"c\", "
		   "\"refreshToken\": \"new-refresh\"}",
		   json);
	free(json);
	const char *bad = "{\"accessToken\": \"x\"}";
	EXPECT_LONG("no expiresIn", -1,
		    sso_apply_create_token(bad, strlen(bad), T2030, &t, &e));
	EXPECT_STR("kept on failure", "new", t.access_token);
	sso_token_release(&t);
}

static void test_role_credentials(void)
{
	const char *answer = "{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\","
			     " \"secretAccessKey\": \"s\", \"sessionToken\": "
			     "\"t\", \"expiration\": 1893456000123}}";
	struct aws_credentials c;
	struct err e = { 0 };
	EXPECT_LONG("GetRoleCredentials answer", 0,
		    sso_parse_role_credentials(answer, strlen(answer), &c, &e));
	EXPECT_STR("access key", "ASIA1", c.access_key_id);
	EXPECT_LONG("expiration in milliseconds", T2030, (long)c.expiration);
	aws_credentials_clear(&c);
	const char *empty = "{\"roleCredentials\": {}}";
	EXPECT_LONG("no credentials", -1,
		    sso_parse_role_credentials(empty, strlen(empty), &c, &e));
}

static void test_mfa_cache_entries(void)
{
	static const struct {
		const char *what, *expiration;
		long now;
		int found;
	} cases[] = {
		{ "as the CLI writes it (%Z: UTC)", "2030-01-01T00:00:00UTC",
		  T2030 - 3600, 1 },
		{ "ISO 8601", "2030-01-01T00:00:00Z", T2030 - 3600, 1 },
		{ "less than 15 minutes left", "2030-01-01T00:00:00Z",
		  T2030 - 14 * 60, 0 },
		{ "not a time", "soon", T2030 - 3600, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[300];
		snprintf(json, sizeof(json),
			 "{\"Credentials\": {\"AccessKeyId\": \"ASIA2\", "
			 "\"SecretAccessKey\": \"s\", \"SessionToken\": \"t\", "
			 "\"Expiration\": \"%s\"}}",
			 cases[i].expiration);
		struct aws_credentials c;
		int found = mfa_cache_parse(json, strlen(json), cases[i].now, &c);
		EXPECT_LONG(cases[i].what, cases[i].found, found);
		if (found)
			EXPECT_LONG(cases[i].what, T2030, (long)c.expiration);
		aws_credentials_clear(&c);
	}
	struct aws_credentials c = { .access_key_id = "ASIA3",
				     .secret_access_key = "s",
				     .session_token = "t",
				     .expiration = T2030 };
	char *json = mfa_cache_json(&c);
	EXPECT_STR("entry written",
		   "{\"Credentials\": {\"AccessKeyId\": \"ASIA3\", "
		   "\"SecretAccessKey\": \"s\", \"SessionToken\": \"t\", "
		   "\"Expiration\": \"2030-01-01T00:00:00Z\"}}",
		   json);
	free(json);
}

/* A cache file is written whole, 0600, its directories made 0700. */
static void test_cache_files(void)
{
	char dir[] = "/tmp/ssmbak-unit-cache-XXXXXX";
	if (!mkdtemp(dir)) {
		unit_skip("cache files", "no temporary directory");
		return;
	}
	char path[400], parent[300], middle[200];
	snprintf(middle, sizeof(middle), "%s/a", dir);
	snprintf(parent, sizeof(parent), "%s/b", middle);
	snprintf(path, sizeof(path), "%s/x.json", parent);
	struct err e = { 0 };
	char *text = NULL;
	EXPECT_LONG("missing file", 0, jsoncache_read(path, &text, &e));
	EXPECT_LONG("write", 0, jsoncache_write(path, "{\"a\": 1}", &e));
	EXPECT_LONG("overwrite", 0, jsoncache_write(path, "{\"b\": 2}", &e));
	EXPECT_LONG("read back", 1, jsoncache_read(path, &text, &e));
	EXPECT_STR("whole text", "{\"b\": 2}", text);
	free(text);
	struct stat st;
	EXPECT_LONG("file mode", 0600,
		    stat(path, &st) == 0 ? (long)(st.st_mode & 0777) : -1);
	EXPECT_LONG("directory mode", 0700,
		    stat(parent, &st) == 0 ? (long)(st.st_mode & 0777) : -1);
	EXPECT_LONG("no temporary file left", 0,
		    unlink(path) == 0 && rmdir(parent) == 0 &&
				    rmdir(middle) == 0 && rmdir(dir) == 0
			    ? 0
			    : -1);
}

void test_sso(void)
{
	test_cache_files();
	test_cache_names();
	test_mfa_cache_keys();
	test_token_files();
	test_refresh_window();
	test_create_token_and_rewrite();
	test_role_credentials();
	test_mfa_cache_entries();
}
