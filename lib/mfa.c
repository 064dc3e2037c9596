#include "mfa.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "jsoncache.h"
#include "timefmt.h"

#define CLI_CACHE_DIR ".aws/cli/cache"

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* One line from fd into code, without its newline; false at EOF before
 * any newline or on an error. */
static bool read_line(int fd, char *code, size_t size)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < size)
			code[n++] = c;
	}
	code[n] = '\0';
	return true;
}

/* While echo is off: a signal that ends ssmbak gives the terminal its
 * echo back first (tcsetattr is async-signal-safe), as getpass does. */
static volatile sig_atomic_t quiet_fd = -1;
static struct termios echoing;
static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static struct sigaction saved_actions[sizeof(prompt_signals) /
				      sizeof(prompt_signals[0])];

static void restore_and_reraise(int sig)
{
	if (quiet_fd >= 0)
		tcsetattr(quiet_fd, TCSANOW, &echoing);
	for (size_t i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
		if (prompt_signals[i] == sig)
			sigaction(sig, &saved_actions[i], NULL);
	raise(sig);
}

/* Echo off on fd; false when fd is no terminal (then nothing changed). */
static bool echo_off(int fd)
{
	if (tcgetattr(fd, &echoing) < 0)
		return false;
	struct termios quiet = echoing;
	quiet.c_lflag &= (tcflag_t)~ECHO;
	quiet.c_lflag |= ECHONL;
	struct sigaction sa = { 0 };
	sa.sa_handler = restore_and_reraise;
	sigemptyset(&sa.sa_mask);
	quiet_fd = fd;
	for (size_t i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
		sigaction(prompt_signals[i], &sa, &saved_actions[i]);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	return true;
}

static void echo_on(int fd)
{
	tcsetattr(fd, TCSAFLUSH, &echoing);
	for (size_t i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
		sigaction(prompt_signals[i], &saved_actions[i], NULL);
	quiet_fd = -1;
}

int mfa_prompt(const char *serial, const char *profile, char *code,
	       size_t size, struct err *e)
{
	/* The terminal itself, as getpass does: stdin and stdout may be
	 * pipes, and the code must not come from or go to them. */
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err_set(e, ERR_CONFIG, "profile '%s' needs an MFA code for %s "
			"(mfa_serial), and there is no terminal to ask on: "
			"run it from a terminal once (the credentials are "
			"then cached in ~/.aws/cli/cache)", profile, serial);
		return -1;
	}
	bool restore = echo_off(fd);
	char prompt[400];
	snprintf(prompt, sizeof(prompt), "Enter MFA code for %s: ", serial);
	write_all(fd, prompt);
	bool got = read_line(fd, code, size);
	if (restore)
		echo_on(fd);
	close(fd);
	if (!got || !code[0]) {
		OPENSSL_cleanse(code, size);
		err_set(e, ERR_CONFIG, "profile '%s': no MFA code was entered",
			profile);
		return -1;
	}
	return 0;
}

/* Python writes \u00e9 where jansson writes \u00E9. */
static void lowercase_unicode_escapes(char *json)
{
	for (char *p = json; *p; p++) {
		if (*p != '\\')
			continue;
		if (p[1] == 'u')
			for (int i = 2; i < 6 && p[i]; i++)
				p[i] = (char)tolower((unsigned char)p[i]);
		if (p[1])
			p++; /* the escaped character, "\\" included */
	}
}

int mfa_cache_key(const struct sts_role *r, bool session_name_given,
		  char out[41])
{
	json_t *args = json_object();
	int rc = args ? 0 : -1;
	rc |= json_object_set_new(args, "RoleArn", json_string(r->role_arn));
	if (r->serial_number)
		rc |= json_object_set_new(args, "SerialNumber",
					  json_string(r->serial_number));
	if (r->external_id)
		rc |= json_object_set_new(args, "ExternalId",
					  json_string(r->external_id));
	if (r->duration_seconds > 0)
		rc |= json_object_set_new(args, "DurationSeconds",
					  json_integer(r->duration_seconds));
	if (session_name_given)
		rc |= json_object_set_new(args, "RoleSessionName",
					  json_string(r->session_name));
	/* Without JSON_COMPACT jansson separates as json.dumps does: ", "
	 * and ": "; JSON_ENSURE_ASCII escapes as its ensure_ascii. */
	char *text = rc == 0 ? json_dumps(args, JSON_SORT_KEYS |
						 JSON_ENSURE_ASCII)
			     : NULL;
	json_decref(args);
	if (!text)
		return -1;
	lowercase_unicode_escapes(text);
	jsoncache_name(text, out);
	free(text);
	return 0;
}

/* botocore reads Expiration with dateutil; it writes it with strftime's
 * "%Z", which prints "UTC" where ISO 8601 has "Z". */
static bool parse_expiration(const char *text, double *out)
{
	char copy[64];
	size_t len = strlen(text);
	if (len < 4 || len >= sizeof(copy))
		return false;
	snprintf(copy, sizeof(copy), "%s", text);
	if (strcmp(copy + len - 3, "UTC") == 0)
		snprintf(copy + len - 3, 4, "Z");
	return time_parse_iso8601(copy, out) == 0;
}

int mfa_cache_parse(const char *json, size_t len, time_t now,
		    struct aws_credentials *out)
{
	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(json, len, 0, NULL);
	json_t *c = json_object_get(root, "Credentials");
	const char *akid = json_string_value(json_object_get(c, "AccessKeyId"));
	const char *secret = json_string_value(json_object_get(
		c, "SecretAccessKey"));
	const char *token = json_string_value(json_object_get(c,
							     "SessionToken"));
	const char *expiration = json_string_value(json_object_get(
		c, "Expiration"));
	double when = 0;
	int rc = 0;
	if (akid && *akid && secret && *secret && token && *token &&
	    expiration && parse_expiration(expiration, &when) &&
	    when - (double)now >= MFA_CACHE_WINDOW_SECONDS) {
		struct aws_credentials found = {
			.access_key_id = (char *)akid,
			.secret_access_key = (char *)secret,
			.session_token = (char *)token,
			.expiration = (time_t)when,
			.source = "assume-role",
		};
		rc = aws_credentials_copy(out, &found) == 0 ? 1 : 0;
	}
	json_decref(root);
	return rc;
}

char *mfa_cache_json(const struct aws_credentials *c)
{
	char when[32];
	time_format_iso(c->expiration, when);
	json_t *o = json_pack("{s:{s:s, s:s, s:s, s:s}}", "Credentials",
			      "AccessKeyId", c->access_key_id,
			      "SecretAccessKey", c->secret_access_key,
			      "SessionToken",
			      c->session_token ? c->session_token : "",
			      "Expiration", when);
	char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

int mfa_cache_load(const char *key, time_t now, struct aws_credentials *out)
{
	struct err ignored = { 0 };
	memset(out, 0, sizeof(*out));
	char *path = jsoncache_path(CLI_CACHE_DIR, key, &ignored);
	char *text = NULL;
	int rc = 0;
	if (path && jsoncache_read(path, &text, &ignored) == 1)
		rc = mfa_cache_parse(text, strlen(text), now, out);
	free_secret(text);
	free(path);
	return rc;
}

int mfa_cache_store(const char *key, const struct aws_credentials *c,
		    struct err *e)
{
	char *path = jsoncache_path(CLI_CACHE_DIR, key, e);
	char *text = path ? mfa_cache_json(c) : NULL;
	int rc = -1;
	if (path && !text)
		err_set(e, ERR_NOMEM, "out of memory");
	else if (text)
		rc = jsoncache_write(path, text, e);
	free_secret(text);
	free(path);
	return rc;
}
