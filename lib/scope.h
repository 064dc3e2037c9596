/* Which keys a PATH argument means (UPSTREAM.md, "How the old restore
 * decides"): "/a/" is the path /a/; "/a/x" is the key /a/x when one was
 * ever backed up, else the path /a/x/ (never /a/xa); without recursion
 * only the path's direct children. Pure. */
#ifndef SSMBAK_SCOPE_H
#define SSMBAK_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

struct scope {
	char *path;     /* the argument, with its leading slash */
	char *prefix;   /* "/a/", or in key mode the key "/a/x" */
	bool key_mode;
	bool recursive;
	size_t seen;
};

/* path: already checked and with its leading slash. -1 out of memory. */
int scope_init(struct scope *s, const char *path, bool recursive);
void scope_release(struct scope *s);
bool scope_is_path(const char *path);
/* Whether a listing with delimiter '/' gives every key of the scope. */
bool scope_one_level(const struct scope *s);
/* Each listed key, in key order: whether it is in the scope. The first
 * key decides key mode (an exact key sorts before all that extend it). */
bool scope_admits(struct scope *s, const char *key);

#endif
