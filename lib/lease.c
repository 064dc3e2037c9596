#include "lease.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "http.h"
#include "s3.h"
#include "sts.h"
#include "timefmt.h"
#include "util.h"

/* --- the pure part --- */

char *lease_scope(const char *path)
{
	size_t len = strlen(path);
	while (len && path[len - 1] == '/')
		len--;
	bool slash = len && path[0] == '/';
	char *out = malloc(len + 2);
	if (!out)
		return NULL;
	size_t n = 0;
	if (len && !slash)
		out[n++] = '/';
	memcpy(out + n, path, len);
	out[n + len] = '\0';
	return out;
}

/* Whether inner is outer or lies below it. */
static bool scope_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);
	return strncmp(inner, outer, n) == 0 &&
	       (inner[n] == '\0' || inner[n] == '/');
}

bool lease_scopes_overlap(const char *a, const char *b)
{
	return scope_within(a, b) || scope_within(b, a);
}

char *lease_key(const char *prefix)
{
	char *key = NULL;
	if (asprintf(&key, ".ssmbak/leases/restores%s%s",
		     prefix && *prefix ? "@" : "", prefix ? prefix : "") < 0)
		return NULL;
	return key;
}

void lease_table_release(struct lease_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		json_decref(t->items[i].json);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

/* Borrowed views of the fields choosing needs; false when one is
 * missing or of the wrong type. */
static bool entry_view(json_t *json, struct lease_entry *le)
{
	json_t *expires = json_object_get(json, "expires");
	le->json = json;
	le->id = json_string_value(json_object_get(json, "id"));
	le->scope = json_string_value(json_object_get(json, "scope"));
	le->expires = json_is_integer(expires) ? json_integer_value(expires) : 0;
	return json_is_object(json) && le->id && le->scope &&
	       json_is_integer(expires);
}

int lease_table_add(struct lease_table *t, json_t *entry)
{
	struct lease_entry le;
	if (!entry_view(entry, &le)) {
		json_decref(entry);
		return -1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		struct lease_entry *items = realloc(t->items, cap * sizeof(*items));
		if (!items) {
			json_decref(entry);
			return -1;
		}
		t->items = items;
		t->cap = cap;
	}
	t->items[t->n++] = le;
	return 0;
}

int lease_table_parse(const char *json, size_t len, struct lease_table *out,
		      struct err *e)
{
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, 0, &jerr);
	json_t *leases = json_object_get(doc, "leases");
	if (!json_is_object(doc) || !json_is_array(leases)) {
		json_decref(doc);
		err_set(e, ERR_PARSE, "the lease table is not a JSON object with "
				      "a \"leases\" array");
		return -1;
	}
	size_t i;
	json_t *entry;
	json_array_foreach(leases, i, entry) {
		if (lease_table_add(out, json_incref(entry)) < 0) {
			json_decref(doc);
			lease_table_release(out);
			err_set(e, ERR_PARSE, "the lease table's entry %zu has no "
					      "id, scope or expires", i + 1);
			return -1;
		}
	}
	json_decref(doc);
	return 0;
}

char *lease_table_dump(const struct lease_table *t)
{
	json_t *leases = json_array();
	json_t *doc = json_pack("{s:i, s:o}", "format", 1, "leases", leases);
	if (!doc)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (json_array_append(leases, t->items[i].json) < 0) {
			json_decref(doc);
			return NULL;
		}
	char *out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

long lease_table_find(const struct lease_table *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->items[i].id, id) == 0)
			return (long)i;
	return -1;
}

void lease_table_remove_at(struct lease_table *t, size_t i)
{
	json_decref(t->items[i].json);
	memmove(&t->items[i], &t->items[i + 1],
		(t->n - i - 1) * sizeof(t->items[0]));
	t->n--;
}

bool lease_entry_expired(const struct lease_entry *le, long long now)
{
	return now >= le->expires;
}

long lease_table_conflict(const struct lease_table *t, const char *scope,
			  const char *own_id, long long now)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct lease_entry *le = &t->items[i];
		if ((!own_id || strcmp(le->id, own_id) != 0) &&
		    !lease_entry_expired(le, now) &&
		    lease_scopes_overlap(le->scope, scope))
			return (long)i;
	}
	return -1;
}

size_t lease_table_drop_expired(struct lease_table *t, long long now)
{
	size_t dropped = 0;
	for (size_t i = t->n; i-- > 0;)
		if (lease_entry_expired(&t->items[i], now)) {
			lease_table_remove_at(t, i);
			dropped++;
		}
	return dropped;
}

bool lease_entry_abandoned(const struct lease_entry *le, const char *own_id,
			   const char *holder, const char *host, long own_pid,
			   lease_pid_alive_fn alive)
{
	const char *h = json_string_value(json_object_get(le->json, "holder"));
	const char *where = json_string_value(json_object_get(le->json, "host"));
	json_t *pid = json_object_get(le->json, "pid");
	if (strcmp(le->id, own_id) == 0 || !h || !where || !json_is_integer(pid) ||
	    strcmp(h, holder) != 0 || strcmp(h, "unknown") == 0 ||
	    strcmp(where, host) != 0)
		return false;
	long p = (long)json_integer_value(pid);
	return p == own_pid || (p > 0 && !alive(p));
}

int lease_entry_set_expires(struct lease_entry *le, long long expires)
{
	if (json_object_set_new(le->json, "expires", json_integer(expires)) < 0)
		return -1;
	le->expires = expires;
	return 0;
}

static const char *text_field(json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));
	return s && *s ? s : "?";
}

static void time_field(json_t *obj, const char *name, char out[32])
{
	json_t *v = json_object_get(obj, name);
	if (json_is_integer(v))
		time_format_iso((time_t)json_integer_value(v), out);
	else
		snprintf(out, 32, "?");
}

void lease_entry_describe(const struct lease_entry *le, char *out, size_t size)
{
	char acquired[32], when[32], ends[32];
	time_field(le->json, "acquired", acquired);
	time_field(le->json, "time", when);
	time_format_iso((time_t)le->expires, ends);
	json_t *pid = json_object_get(le->json, "pid");
	const char *to = json_string_value(json_object_get(le->json, "to"));
	snprintf(out, size,
		 "%s (host %s, pid %lld) since %s, restoring %s%s%s to %s; "
		 "its lease ends %s unless renewed",
		 text_field(le->json, "holder"), text_field(le->json, "host"),
		 json_is_integer(pid) ? (long long)json_integer_value(pid) : 0LL,
		 acquired, text_field(le->json, "path"), to ? " as " : "",
		 to ? to : "", when, ends);
}

json_t *lease_entry_new(const struct lease_holder *h, long long now,
			long long seconds)
{
	char *scope = lease_scope(h->to ? h->to : h->path);
	if (!scope)
		return NULL;
	json_t *entry = json_pack(
		"{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, "
		"s:s*, s:s*}",
		"id", h->id, "command", "restore", "holder", h->holder,
		"host", h->host, "pid", (json_int_t)h->pid, "path", h->path,
		"scope", scope, "to", h->to, "key_prefix",
		h->key_prefix ? h->key_prefix : "", "time", (json_int_t)h->time,
		"acquired", (json_int_t)now, "expires",
		(json_int_t)(now + seconds), "target_region", h->target_region,
		"target_holder", h->target_holder);
	free(scope);
	return entry;
}

long long lease_seconds(const char *env_value)
{
	if (!env_value || !*env_value)
		return LEASE_DEFAULT_SECONDS;
	char *end;
	errno = 0;
	long long v = strtoll(env_value, &end, 10);
	if (errno || *end || v < 5 || v > 86400)
		return LEASE_DEFAULT_SECONDS;
	return v;
}

long long lease_http_date(const char *value)
{
	struct tm tm = { 0 };
	if (!value)
		return -1;
	const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -1;
	return (long long)timegm(&tm);
}

/* --- the part that talks to S3 --- */

struct lease {
	struct aws_ctx *ctx;       /* the command's, for acquire and release */
	struct aws_ctx renew_ctx;  /* the renewal thread's own */
	bool have_renew_ctx;
	char *bucket;
	char *key;
	char *scope;
	char id[33];
	long long seconds;
	pthread_t thread;
	bool thread_running;
	pthread_mutex_t mutex;
	pthread_cond_t wake;
	bool stop;
	bool lost;                 /* another restore took it over (--force) */
};

/* The table as S3 holds it now: its entries, its ETag (NULL: no table
 * yet, or its current version is a delete marker) and S3's clock. */
struct table_read {
	struct lease_table table;
	char *etag;
	long long now;
};

static void table_read_release(struct table_read *r)
{
	lease_table_release(&r->table);
	free(r->etag);
	memset(r, 0, sizeof(*r));
}

/* S3's clock from an answer's Date header, else ours. Expiry is decided
 * on one clock, S3's, whatever the clocks of the hosts involved say. */
static long long server_now(const struct aws_response *resp)
{
	long long t = lease_http_date(aws_headers_get(&resp->headers, "Date"));
	return t >= 0 ? t : (long long)time(NULL);
}

static int read_table(struct aws_ctx *ctx, const char *bucket,
		      const char *key, struct table_read *out, struct err *e)
{
	struct aws_call call = { 0 };
	memset(out, 0, sizeof(*out));
	if (s3_prepare_get_object(ctx, &call, bucket, key, NULL) < 0) {
		aws_call_release(&call);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	int rc = aws_perform_one(ctx, &call, e);
	out->now = server_now(&call.resp);
	if (rc < 0 && call.resp.status == 404 &&
	    strcmp(e->code, "NoSuchKey") == 0) {
		err_clear(e);
		rc = 0;
	} else if (rc == 0) {
		const char *etag = aws_headers_get(&call.resp.headers, "ETag");
		out->etag = etag ? strdup(etag) : NULL;
		if (!out->etag) {
			err_set_answer(e, aws_s3.label, "GetObject",
				       "the lease table came without an ETag");
			rc = -1;
		} else if (lease_table_parse(buf_str(&call.resp.body),
					     call.resp.body.len, &out->table,
					     e) < 0) {
			err_context(e, aws_s3.label, "GetObject");
			rc = -1;
		}
	}
	aws_call_release(&call);
	if (rc < 0)
		table_read_release(out);
	return rc;
}

/* Writes the table if S3 still holds the version read: 1 when another
 * writer came first (412 PreconditionFailed, 409
 * ConditionalRequestConflict), so the caller reads again. */
static int write_table(struct aws_ctx *ctx, const char *bucket,
		       const char *key, const struct table_read *r,
		       struct err *e)
{
	char *body = lease_table_dump(&r->table);
	struct aws_call call = { 0 };
	if (!body || s3_prepare_put_object(ctx, &call, bucket, key, body,
					   strlen(body), NULL, NULL) < 0 ||
	    aws_headers_add(&call.req.headers,
			    r->etag ? "If-Match" : "If-None-Match",
			    r->etag ? r->etag : "*") < 0) {
		free(body);
		aws_call_release(&call);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	free(body);
	int rc = aws_perform_one(ctx, &call, e);
	if (rc < 0 && (call.resp.status == 412 || call.resp.status == 409 ||
		       (call.resp.status == 404 && r->etag))) {
		err_clear(e);
		rc = 1;
	}
	aws_call_release(&call);
	return rc;
}

/* What one read-change-write round does to the table: 0 write it, 1
 * nothing to write, -1 stop with *e set. */
typedef int (*lease_change_fn)(struct lease *l, struct table_read *r,
			       void *user, struct err *e);

/* A short random pause between lost races, so two restores that keep
 * colliding drift apart. */
static void pause_after_race(int attempt)
{
	unsigned int r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int)rand();
	long ms = 20L * (1L << (attempt < 5 ? attempt : 5));
	struct timespec ts = { 0, (ms + (long)(r % (unsigned int)ms)) * 1000000L };
	nanosleep(&ts, NULL);
}

static int change_table(struct aws_ctx *ctx, struct lease *l,
			lease_change_fn change, void *user, struct err *e)
{
	for (int attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
		struct table_read r;
		if (read_table(ctx, l->bucket, l->key, &r, e) < 0)
			return -1;
		int rc = change(l, &r, user, e);
		if (rc == 0)
			rc = write_table(ctx, l->bucket, l->key, &r, e);
		else if (rc == 1)
			rc = 0; /* nothing to write */
		table_read_release(&r);
		if (rc <= 0)
			return rc;
		pause_after_race(attempt);
	}
	err_set(e, ERR_BUSY, "the restore lease table s3://%s/%s changed under "
		"every one of %d attempts to update it; try again", l->bucket,
		l->key, LEASE_ATTEMPTS);
	return -1;
}

/* The lease is one object that every restore of the bucket goes through,
 * so a fault on it would stop or block a whole restore: its changes
 * outlast the usual retries by a few more rounds, 1, 2 and 4 s apart.
 * Taking retries only what may pass (throttling, 5xx, no answer);
 * giving back retries whatever went wrong. */
static int change_table_patiently(struct aws_ctx *ctx, struct lease *l,
				  lease_change_fn change, void *user,
				  const char *verb, bool only_retryable,
				  struct err *e)
{
	int rc = change_table(ctx, l, change, user, e);
	for (int round = 0; rc < 0 && round < LEASE_EXTRA_ROUNDS &&
	     (e->retryable || !only_retryable); round++) {
		char line[ERR_LINE_MAX];
		log_msg(LOG_WARN, "could not %s the restore lease on %s (%s); "
			"trying again", verb, *l->scope ? l->scope : "/",
			err_line(e, line, sizeof(line)));
		sleep(1u << round);
		err_clear(e);
		rc = change_table(ctx, l, change, user, e);
	}
	return rc;
}

/* kill(pid, 0) fails with ESRCH only when no such process exists; EPERM
 * means it runs under another user, so it counts as alive. */
static bool pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

struct acquire {
	const struct lease_request *req;
	const char *holder;
	const char *target_holder; /* NULL: no target of its own */
	char host[256];
};

static int take(struct lease *l, struct table_read *r, void *user,
		struct err *e)
{
	struct acquire *a = user;
	if (lease_table_find(&r->table, l->id) >= 0)
		return 1; /* an earlier attempt's write did land */
	char line[768];
	long i;
	for (size_t k = r->table.n; k-- > 0;)
		if (lease_entry_abandoned(&r->table.items[k], l->id, a->holder,
					  a->host, (long)getpid(), pid_alive)) {
			lease_entry_describe(&r->table.items[k], line, sizeof(line));
			log_msg(LOG_WARN, "removing the restore lease of %s: its "
				"process on this host is gone", line);
			lease_table_remove_at(&r->table, k);
		}
	while ((i = lease_table_conflict(&r->table, l->scope, l->id, r->now)) >= 0) {
		lease_entry_describe(&r->table.items[i], line, sizeof(line));
		if (!a->req->force) {
			err_set(e, ERR_BUSY, "%s overlaps the restore of %s; "
				"wait for it, or take over with --force",
				a->req->to ? a->req->to : a->req->path, line);
			return -1;
		}
		log_msg(LOG_WARN, "--force: taking over the restore lease of %s",
			line);
		lease_table_remove_at(&r->table, (size_t)i);
	}
	size_t expired = lease_table_drop_expired(&r->table, r->now);
	if (expired)
		log_msg(LOG_INFO, "%zu expired restore lease%s removed", expired,
			expired == 1 ? "" : "s");
	struct lease_holder h = {
		l->id, a->holder, a->host, (long)getpid(), a->req->path,
		a->req->to, a->req->time, a->req->prefix,
		a->req->target ? a->req->target->region : NULL, a->target_holder,
	};
	json_t *entry = lease_entry_new(&h, r->now, l->seconds);
	if (!entry || lease_table_add(&r->table, entry) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int renew(struct lease *l, struct table_read *r, void *user,
		 struct err *e)
{
	(void)user;
	long i = lease_table_find(&r->table, l->id);
	if (i < 0) {
		l->lost = true;
		return 1;
	}
	if (lease_entry_set_expires(&r->table.items[i], r->now + l->seconds) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int give_back(struct lease *l, struct table_read *r, void *user,
		     struct err *e)
{
	(void)user;
	(void)e;
	long i = lease_table_find(&r->table, l->id);
	if (i < 0)
		return 1;
	lease_table_remove_at(&r->table, (size_t)i);
	return 0;
}

static void *renew_loop(void *arg)
{
	struct lease *l = arg;
	long long every = l->seconds / LEASE_RENEW_DIVISOR;
	pthread_mutex_lock(&l->mutex);
	while (!l->stop && !l->lost) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(every > 0 ? every : 1);
		while (!l->stop &&
		       pthread_cond_timedwait(&l->wake, &l->mutex, &until) == 0)
			;
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mutex);
		struct err e = { 0 };
		char line[ERR_LINE_MAX];
		if (change_table(&l->renew_ctx, l, renew, NULL, &e) < 0)
			log_msg(LOG_WARN, "could not renew the restore lease on "
				"%s: %s", *l->scope ? l->scope : "/",
				err_line(&e, line, sizeof(line)));
		else if (l->lost)
			log_msg(LOG_WARN, "the restore lease on %s was taken "
				"over by another restore (--force)",
				*l->scope ? l->scope : "/");
		pthread_mutex_lock(&l->mutex);
	}
	pthread_mutex_unlock(&l->mutex);
	return NULL;
}

static void lease_free(struct lease *l)
{
	if (!l)
		return;
	if (l->have_renew_ctx)
		aws_ctx_release(&l->renew_ctx);
	pthread_mutex_destroy(&l->mutex);
	pthread_cond_destroy(&l->wake);
	free(l->bucket);
	free(l->key);
	free(l->scope);
	free(l);
}

static void random_id(char out[33])
{
	unsigned char bytes[16];
	if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes))
		for (size_t i = 0; i < sizeof(bytes); i++)
			bytes[i] = (unsigned char)rand();
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

static struct lease *lease_new(struct aws_ctx *ctx,
			       const struct lease_request *req)
{
	struct lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	pthread_mutex_init(&l->mutex, NULL);
	pthread_cond_init(&l->wake, NULL);
	l->ctx = ctx;
	l->seconds = lease_seconds(getenv("SSMBAK_LEASE_SECONDS"));
	random_id(l->id);
	l->bucket = strdup(req->bucket);
	l->key = lease_key(req->prefix);
	l->scope = lease_scope(req->to ? req->to : req->path);
	if (!l->bucket || !l->key || !l->scope) {
		lease_free(l);
		return NULL;
	}
	return l;
}

int lease_acquire(struct aws_ctx *ctx, const struct lease_request *req,
		  struct lease **out, struct err *e)
{
	*out = NULL;
	struct lease *l = lease_new(ctx, req);
	if (!l) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	struct acquire a = { .req = req, .holder = "unknown" };
	struct sts_identity who = { 0 };
	struct err sts_err = { 0 };
	if (sts_get_caller_identity(ctx, &who, &sts_err) == 0 && who.arn)
		a.holder = who.arn;
	else {
		char line[ERR_LINE_MAX];
		log_msg(LOG_WARN, "the restore lease names its holder "
			"\"unknown\": %s", err_line(&sts_err, line, sizeof(line)));
	}
	struct sts_identity target_who = { 0 };
	if (req->target) {
		a.target_holder = "unknown";
		if (sts_get_caller_identity(req->target, &target_who, &sts_err) == 0 &&
		    target_who.arn)
			a.target_holder = target_who.arn;
	}
	if (gethostname(a.host, sizeof(a.host)) < 0)
		snprintf(a.host, sizeof(a.host), "unknown");
	a.host[sizeof(a.host) - 1] = '\0';
	int rc = change_table_patiently(ctx, l, take, &a, "take", true, e);
	sts_identity_release(&who);
	sts_identity_release(&target_who);
	bool taken = rc == 0;
	if (rc == 0 && aws_ctx_init(&l->renew_ctx, req->aws, e) == 0) {
		l->have_renew_ctx = true;
		/* The renewals go where the bucket was found to be. */
		if (aws_ctx_copy_bucket_region(&l->renew_ctx, ctx) < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			rc = -1;
		}
	} else if (rc == 0) {
		rc = -1;
	}
	if (rc == 0 && (errno = pthread_create(&l->thread, NULL, renew_loop,
					       l)) != 0) {
		err_set(e, ERR_SYSTEM, "cannot start the lease renewal: %s",
			strerror(errno));
		rc = -1;
	}
	if (rc < 0) {
		if (taken) {
			struct err ignored = { 0 };
			change_table(ctx, l, give_back, NULL, &ignored);
		}
		lease_free(l);
		return -1;
	}
	l->thread_running = true;
	log_msg(LOG_INFO, "restore lease on %s taken (s3://%s/%s, %llds)",
		*l->scope ? l->scope : "/", l->bucket, l->key, l->seconds);
	*out = l;
	return 0;
}

int lease_release(struct lease *l, struct err *e)
{
	if (!l)
		return 0;
	if (l->thread_running) {
		pthread_mutex_lock(&l->mutex);
		l->stop = true;
		pthread_cond_signal(&l->wake);
		pthread_mutex_unlock(&l->mutex);
		pthread_join(l->thread, NULL);
	}
	/* A lease left behind blocks every other restore of the tree for
	 * up to its whole duration, so giving it back outlasts any error. */
	int rc = l->lost ? 0 : change_table_patiently(l->ctx, l, give_back, NULL,
						      "release", false, e);
	if (rc == 0)
		log_msg(LOG_INFO, "restore lease on %s released",
			*l->scope ? l->scope : "/");
	lease_free(l);
	return rc;
}
