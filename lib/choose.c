#include "choose.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void candidates_free(struct candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		change_entry_release(&c[i].c);
		record_release(&c[i].tags);
	}
	free(c);
}

struct version_ref {
	const char *version_id;
	size_t pos;
};

static int compare_refs(const void *a, const void *b)
{
	return strcmp(((const struct version_ref *)a)->version_id,
		      ((const struct version_ref *)b)->version_id);
}

/* Every change of the key: its index entries, joined to their versions by
 * version id, and the versions no entry names (format 1, a writer that
 * died between its two writes, names too long for an entry). */
struct candidate *candidates_of(const struct scan_key *k, size_t *n)
{
	struct version_ref *refs = calloc(k->n_versions + 1, sizeof(*refs));
	bool *indexed = calloc(k->n_versions + 1, sizeof(*indexed));
	struct candidate *c = calloc(k->n_changes + k->n_versions + 1, sizeof(*c));
	*n = 0;
	if (!refs || !indexed || !c)
		goto fail;
	for (size_t i = 0; i < k->n_versions; i++)
		refs[i] = (struct version_ref){ k->versions[i].version_id, i };
	qsort(refs, k->n_versions, sizeof(*refs), compare_refs);
	for (size_t i = 0; i < k->n_changes; i++) {
		const struct change_entry *ch = &k->changes[i];
		struct version_ref probe = { ch->version_id, 0 };
		struct version_ref *hit = k->n_versions
			? bsearch(&probe, refs, k->n_versions, sizeof(*refs), compare_refs)
			: NULL;
		struct candidate *x = &c[(*n)++];
		if (change_entry_copy(&x->c, ch) < 0)
			goto fail;
		/* An entry whose version is gone (expired by the retention rule)
		 * still tells when the key changed. */
		size_t order = hit ? hit->pos : k->n_versions + i;
		if (hit) {
			indexed[hit->pos] = true;
			x->s3_modified = k->versions[hit->pos].last_modified;
		}
		x->tl = (struct tl_entry){ ch->event_time, ch->ssm_version,
					   ch->op == RECORD_DELETE, order };
	}
	for (size_t i = 0; i < k->n_versions; i++) {
		const struct s3_version *v = &k->versions[i];
		if (indexed[i])
			continue;
		struct candidate *x = &c[(*n)++];
		if (!(x->c.version_id = strdup(v->version_id)))
			goto fail;
		x->s3_modified = v->last_modified;
		x->tl.order = i;
		if (v->delete_marker) {
			/* Format 1: a delete at the marker's LastModified. */
			x->c.op = RECORD_DELETE;
			x->c.event_time = (time_t)floor(v->last_modified);
			x->tl = (struct tl_entry){ x->c.event_time, 0, true, i };
		} else {
			x->needs_tags = true;
		}
	}
	free(refs);
	free(indexed);
	return c;
fail:
	free(refs);
	free(indexed);
	if (c)
		candidates_free(c, *n);
	return NULL;
}

