/* Reading a tree of the bucket: its data versions and its change index,
 * both listed page by page at once and joined by key, so that memory holds
 * a few pages and not the tree's history (FORMAT.md, "Reading"). */
#ifndef SSMBAK_SCAN_H
#define SSMBAK_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "changes.h"
#include "s3.h"

/* One parameter key with what both listings hold of it; everything is
 * borrowed for the duration of the callback. */
struct scan_key {
	const char *param_key;              /* "/app/x" */
	const struct s3_version *versions;  /* newest first, S3's order */
	size_t n_versions;
	const struct change_entry *changes; /* in index order */
	size_t n_changes;
};

/* Returns 0 to go on, -1 (with *e set) to stop the scan. */
typedef int (*scan_fn)(void *user, const struct scan_key *k, struct err *e);

struct scan_opts {
	const char *bucket;
	const char *prefix;  /* the key prefix, normalized ("" for none) */
	const char *path;    /* in parameter key space: "/app/", "/app/x" */
	bool one_level;      /* only keys with no further '/' after path */
	/* List the subtrees in a few ranges at once (one more request, to
	 * find them); fn then sees each range's keys in order, not all keys
	 * in one order. */
	bool split;
};

/* Calls fn for every key under path that either listing has, in key
 * order (per range, with split). Fails (never guesses) on a listing that contradicts itself: a
 * key's versions out of LastModified order, more than one IsLatest, keys
 * out of order, or a marker that does not advance. */
int scan_tree(struct aws_ctx *ctx, const struct scan_opts *o, scan_fn fn,
	      void *user, struct err *e);

/* The change index entries of one key, all pages. */
struct change_list {
	struct change_entry *items;
	size_t n, cap;
};
void change_list_release(struct change_list *l);
int scan_key_changes(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, const char *param_key,
		     struct change_list *out, struct err *e);

/* The per-key checks scan_tree makes, exposed for tests: -1 with *e set
 * when the versions (one key's, in listing order) contradict each other. */
int scan_check_versions(const char *key, const struct s3_version *v, size_t n,
			struct err *e);

#endif
