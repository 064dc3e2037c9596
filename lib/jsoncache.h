/* The AWS CLI's JSON cache files: ~/.aws/sso/cache (IAM Identity Center
 * tokens) and ~/.aws/cli/cache (assumed-role credentials). A file is named
 * by the SHA-1 of its key, in hex, plus ".json" (botocore's JSONFileCache
 * and SSOTokenLoader), and holds secrets: written 0600, whole or not at
 * all. */
#ifndef SSMBAK_JSONCACHE_H
#define SSMBAK_JSONCACHE_H

#include <jansson.h>

#include "err.h"

#define JSONCACHE_NAME_SIZE 41 /* 40 hex digits and a NUL */

/* The lowercase hex SHA-1 of text. */
void jsoncache_name(const char *text, char out[JSONCACHE_NAME_SIZE]);
/* "$HOME/<dir>/<name>.json" (dir: ".aws/sso/cache"); NULL with an
 * ERR_CONFIG line when HOME is unset, or ERR_NOMEM. */
char *jsoncache_path(const char *dir, const char *name, struct err *e);
/* 1 with *out (the caller's) when the file holds a JSON object, 0 when it
 * does not exist, -1 with ERR_CONFIG when unreadable or not an object. */
int jsoncache_read(const char *path, json_t **out, struct err *e);
/* Writes the object to path through a temporary file and a rename, mode
 * 0600, making its directory (0700) when missing. */
int jsoncache_write(const char *path, const json_t *value, struct err *e);

#endif
