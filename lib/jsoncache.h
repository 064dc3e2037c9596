/* The AWS CLI's JSON cache files: ~/.aws/sso/cache (IAM Identity Center
 * tokens) and ~/.aws/cli/cache (assumed-role credentials). A file is named
 * by the SHA-1 of its key, in hex, plus ".json" (botocore's JSONFileCache
 * and SSOTokenLoader), and holds secrets: written 0600, whole or not at
 * all. */
#ifndef SSMBAK_JSONCACHE_H
#define SSMBAK_JSONCACHE_H

#include "err.h"

#define JSONCACHE_NAME_SIZE 41 /* 40 hex digits and a NUL */

/* The lowercase hex SHA-1 of text. */
void jsoncache_name(const char *text, char out[JSONCACHE_NAME_SIZE]);
/* "$HOME/<dir>/<name>.json" (dir: ".aws/sso/cache"); NULL with an
 * ERR_CONFIG line when HOME is unset, or ERR_NOMEM. */
char *jsoncache_path(const char *dir, const char *name, struct err *e);
/* 1 with the file's text in *text (the caller's, to wipe and free) when
 * it exists, 0 when it does not, -1 with ERR_CONFIG when unreadable or
 * too large. */
int jsoncache_read(const char *path, char **text, struct err *e);
/* Writes text to path through a temporary file and a rename, mode 0600,
 * making its directories (0700) when missing. */
int jsoncache_write(const char *path, const char *text, struct err *e);

#endif
