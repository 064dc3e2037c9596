/* Choosing, shared by preview/restore, diff and export: one key's
 * recorded changes as candidates for lib/timeline (FORMAT.md, "Choosing
 * the version for a time", "Reading"). Moved out of cmd_preview.c. */
#ifndef SSMBAK_CHOOSE_H
#define SSMBAK_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "changes.h"
#include "record.h"
#include "scan.h"
#include "timeline.h"

/* One recorded change of a key as choosing sees it. */
struct candidate {
	struct tl_entry tl;
	struct change_entry c;  /* op, SSM version, modified, version id */
	double s3_modified;     /* LastModified of its version (0: not listed) */
	bool needs_tags;        /* an unindexed version: its tags decide */
	struct record tags;     /* read from them, when needs_tags */
};

void candidates_free(struct candidate *c, size_t n);
/* Every change of the key: its index entries, joined to their versions by
 * version id, and the versions no entry names (format 1, a writer that
 * died between its two writes, names too long for an entry). */
struct candidate *candidates_of(const struct scan_key *k, size_t *n);

#endif
