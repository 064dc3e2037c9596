/* The shared AWS files, ~/.aws/config and ~/.aws/credentials, read as the
 * AWS CLI reads them (botocore's configloader over Python's configparser):
 *
 *   - sections "[name]"; the name is what lies between '[' and the last ']';
 *   - "key = value" or "key: value", the key lowercased, both trimmed;
 *   - whole-line comments starting with '#' or ';' (even indented); no
 *     comments after a value: "region = x # y" is "x # y", as in the CLI;
 *   - a line indented deeper than its key continues that key's value: the
 *     nested "s3 =\n  addressing_style = path" is kept as one opaque value;
 *   - in the config file only "[default]" and "[profile NAME]" are
 *     profiles ("[profile "a b"]" is quoted as a shell would); "[sso-session
 *     NAME]" is kept apart (config_sso_session_get); "[services x]" and any
 *     other section are skipped;
 *   - in the credentials file every "[NAME]" is profile NAME.
 *
 * Where the CLI refuses a repeated key or section, we take the last value.
 * https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html */
#ifndef SSMBAK_CONFIG_H
#define SSMBAK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct config_entry {
	char *key;
	char *value;
};

struct config_profile {
	char *name;
	bool sso_session; /* an [sso-session NAME] section, not a profile */
	struct config_entry *entries;
	size_t n;
	size_t cap;
};

struct config_file {
	struct config_profile *profiles;
	size_t n;
	size_t cap;
};

enum config_kind {
	CONFIG_SHARED_CONFIG,      /* ~/.aws/config */
	CONFIG_SHARED_CREDENTIALS, /* ~/.aws/credentials */
};

/* Parses the text of one file into *f (which starts zeroed). path is for
 * messages. 0, or -1 with ERR_CONFIG "PATH line N: ..." (or ERR_NOMEM). */
int config_file_parse(struct config_file *f, enum config_kind kind,
		      const char *text, size_t len, const char *path,
		      struct err *e);
void config_file_release(struct config_file *f);
const struct config_profile *config_file_profile(const struct config_file *f,
						 const char *name);
/* NULL when the profile or the key is absent. */
const char *config_file_get(const struct config_file *f, const char *profile,
			    const char *key);

/* Both files of one user. */
struct config {
	/* NULL: HOME unknown and AWS_CONFIG_FILE (or _SHARED_CREDENTIALS_FILE)
	 * unset */
	char *config_path;
	char *credentials_path;
	bool config_found;      /* the file existed and was read */
	bool credentials_found;
	struct config_file config;
	struct config_file credentials;
};

/* AWS_CONFIG_FILE else $HOME/.aws/config, AWS_SHARED_CREDENTIALS_FILE else
 * $HOME/.aws/credentials (HOME from the environment only: the static binary
 * must not ask NSS). A missing file is empty; an unreadable or malformed
 * one is an ERR_CONFIG error. */
int config_load(struct config *c, struct err *e);
/* The same from given paths (NULL: no such file). */
int config_load_paths(struct config *c, const char *config_path,
		      const char *credentials_path, struct err *e);
void config_release(struct config *c);

bool config_has_profile(const struct config *c, const char *profile);
/* 0 when the profile exists in either file, else -1 with an ERR_CONFIG
 * line naming the profile and the files read. */
int config_require_profile(const struct config *c, const char *profile,
			   struct err *e);
/* A profile's setting, the credentials file winning over the config file
 * (botocore merges them so). NULL when unset. */
const char *config_get(const struct config *c, const char *profile,
		       const char *key);
/* A setting of the config file's [sso-session NAME] section; NULL when
 * unset. */
const char *config_sso_session_get(const struct config *c, const char *name,
				   const char *key);
bool config_has_sso_session(const struct config *c, const char *name);
/* "/home/u/.aws/config and /home/u/.aws/credentials (missing)", for
 * messages. Returns out. */
const char *config_describe_files(const struct config *c, char *out,
				  size_t size);

/* "~/x" and "$VAR"/"${VAR}" expanded from the environment, as botocore
 * expands AWS_CONFIG_FILE. NULL when out of memory. */
char *config_expand_path(const char *path);

#endif
