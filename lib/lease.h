/* One restore at a time per bucket, key prefix and overlapping PATH: the
 * restore leases of FORMAT.md ("Leases"). One object per bucket and key
 * prefix holds every running restore's lease; it only ever changes by a
 * conditional write (If-None-Match: * to create it, If-Match: ETAG to
 * change it), so of two restores that read the same table only one can
 * write it, and the other reads again and sees the first.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 *
 * The pure part (scopes, overlap, expiry, the JSON body) is separate from
 * the part that talks to S3, so it is tested without a server. */
#ifndef SSMBAK_LEASE_H
#define SSMBAK_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "aws.h"
#include "err.h"

/* A lease lasts this long after it was taken or last renewed; the holder
 * renews it every LEASE_RENEW_DIVISOR-th of that, so a restore that runs
 * for hours keeps it and one whose process died frees it within this
 * time. SSMBAK_LEASE_SECONDS overrides it (5 to 86400). */
#define LEASE_DEFAULT_SECONDS 900
#define LEASE_RENEW_DIVISOR 3
/* Reads and conditional writes of the table before giving up: each lost
 * race means another restore changed the table in between. */
#define LEASE_ATTEMPTS 12
/* Rounds of taking or giving back a lease after the first fails. */
#define LEASE_EXTRA_ROUNDS 3

/* --- the pure part --- */

/* The tree a restore writes, for overlap: the PATH without its trailing
 * '/', with a leading '/' ("app/x" is "/app/x", "/" is ""). A scope
 * covers the key of that name and every key below it, so a PATH without
 * a trailing slash (the key, or else the path, restore decides later)
 * is covered either way. Caller frees; NULL when out of memory. */
char *lease_scope(const char *path);
/* Two scopes overlap when they are equal or one is a prefix of the other
 * at a level boundary: "/app" and "/app/db" do, "/app" and "/apple" do
 * not, "" overlaps everything. */
bool lease_scopes_overlap(const char *a, const char *b);
/* The table's key: .ssmbak/leases/restores, or
 * .ssmbak/leases/restores@PREFIX under a key prefix. Caller frees. */
char *lease_key(const char *prefix);

struct lease_entry {
	json_t *json;       /* the entry as read or built (owned reference):
			     * fields this version does not know survive */
	const char *id;     /* borrowed from json */
	const char *scope;
	long long expires;  /* Unix seconds, S3's clock */
};

struct lease_table {
	struct lease_entry *items;
	size_t n, cap;
};

void lease_table_release(struct lease_table *t);
/* The object's body; ERR_PARSE naming what is wrong. */
int lease_table_parse(const char *json, size_t len, struct lease_table *out,
		      struct err *e);
/* The body to write; caller frees. NULL when out of memory. */
char *lease_table_dump(const struct lease_table *t);
/* Takes over entry (one reference). -1 when out of memory or when it
 * lacks id, scope or expires. */
int lease_table_add(struct lease_table *t, json_t *entry);
/* Index of the entry with this id, or -1. */
long lease_table_find(const struct lease_table *t, const char *id);
void lease_table_remove_at(struct lease_table *t, size_t i);
bool lease_entry_expired(const struct lease_entry *le, long long now);
/* The first entry other than own_id that is not expired at now and
 * overlaps scope, or -1. */
long lease_table_conflict(const struct lease_table *t, const char *scope,
			  const char *own_id, long long now);
/* Removes the expired entries; how many. */
size_t lease_table_drop_expired(struct lease_table *t, long long now);
/* Whether the process with this pid runs on this host. */
typedef bool (*lease_pid_alive_fn)(long pid);
/* Whether an entry (not own_id) was left by a restore of this holder on
 * this host whose process is gone (or whose pid is now ours): a restore
 * that could not give its lease back, found by the next one on the same
 * host, so that "run the same command again" works at once. */
bool lease_entry_abandoned(const struct lease_entry *le, const char *own_id,
			   const char *holder, const char *host, long own_pid,
			   lease_pid_alive_fn alive);
/* Sets an entry's expiry (renewal). */
int lease_entry_set_expires(struct lease_entry *le, long long expires);
/* One line about who holds an entry: "arn:... (host h, pid 1) since
 * 2026-...Z, restoring /app/ to 2026-...Z; its lease ends 2026-...Z
 * unless renewed". */
void lease_entry_describe(const struct lease_entry *le, char *out,
			  size_t size);

struct lease_holder {
	const char *id;
	const char *holder;     /* the caller's ARN */
	const char *host;
	long pid;
	const char *path;       /* PATH as given */
	const char *to;         /* --to NEWPATH, or NULL */
	time_t time;            /* TIME */
	const char *key_prefix;
	/* Where the writes go, when not where the bucket is read from
	 * (--target-region, --target-profile); NULL: omitted. */
	const char *target_region;
	const char *target_holder; /* the ARN the writes are signed as */
};

/* A new entry for this holder: scope from to (else path), acquired now,
 * expires now + seconds. NULL when out of memory. */
json_t *lease_entry_new(const struct lease_holder *h, long long now,
			long long seconds);
/* The lease duration: SSMBAK_LEASE_SECONDS when valid, else the default. */
long long lease_seconds(const char *env_value);
/* An HTTP Date header as Unix seconds; -1 when it is not one. */
long long lease_http_date(const char *value);

/* --- the part that talks to S3 --- */

struct lease;

struct lease_request {
	const char *bucket;
	const char *prefix;     /* key prefix, "" for none */
	const char *path;
	const char *to;         /* NULL: restore in place */
	time_t time;
	bool force;             /* take over overlapping live leases */
	/* For the renewal thread's own connection (it never shares ctx). */
	const struct aws_options *aws;
	/* SSM's side when it has a context of its own (--target-region,
	 * --target-profile), recorded in the lease; NULL: ctx's. */
	struct aws_ctx *target;
};

/* Takes the lease, or says who holds an overlapping one: ERR_BUSY with
 * that holder in one line. With force, overlapping leases are removed
 * (a warning names each). On success the lease is renewed in the
 * background until lease_release. */
int lease_acquire(struct aws_ctx *ctx, const struct lease_request *req,
		  struct lease **out, struct err *e);
/* Stops renewing, removes this restore's entry (unless another took it
 * over with --force), frees l. NULL is fine. */
int lease_release(struct lease *l, struct err *e);

#endif
