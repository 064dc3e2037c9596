#include "scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool scope_is_path(const char *path)
{
	return *path && path[strlen(path) - 1] == '/';
}

int scope_init(struct scope *s, const char *path, bool recursive)
{
	memset(s, 0, sizeof(*s));
	s->recursive = recursive;
	s->path = strdup(path);
	if (scope_is_path(path))
		s->prefix = strdup(path);
	else if (asprintf(&s->prefix, "%s/", path) < 0)
		s->prefix = NULL;
	return s->path && s->prefix ? 0 : -1;
}

void scope_release(struct scope *s)
{
	free(s->path);
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

bool scope_one_level(const struct scope *s)
{
	return scope_is_path(s->path) && !s->recursive;
}

static size_t count_slashes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '/';
	return n;
}

bool scope_admits(struct scope *s, const char *key)
{
	if (s->seen++ == 0 && !scope_is_path(s->path) &&
	    strcmp(key, s->path) == 0) {
		s->key_mode = true;
		free(s->prefix);
		s->prefix = s->path;
		s->path = strdup(s->prefix);
	}
	if (s->key_mode)
		return strcmp(key, s->prefix) == 0;
	size_t len = strlen(s->prefix);
	if (strncmp(key, s->prefix, len) != 0 || !key[len])
		return false;
	return s->recursive || count_slashes(key) == count_slashes(s->prefix);
}
