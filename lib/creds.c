#include "creds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "config.h"
#include "http.h"
#include "imds.h"
#include "jsoncache.h"
#include "mfa.h"
#include "sso.h"
#include "sts.h"
#include "timefmt.h"

/* The SDKs refresh this long before expiry so that a request signed now is
 * still valid when it arrives. */
#define CREDS_REFRESH_MARGIN_SECONDS 300
/* Roles assumed one from another through source_profile. */
#define CREDS_MAX_ROLE_CHAIN 16
/* What a credential_process may print. */
#define CREDS_PROCESS_MAX_OUTPUT ((size_t)1 << 20)
/* How long a credential_process may run: the AWS SDK for Go v2's
 * processcreds.DefaultTimeout (the AWS CLI itself waits forever). */
#define CREDS_PROCESS_DEFAULT_TIMEOUT_SECONDS 60
#define CREDS_TOKEN_MAX_SIZE ((size_t)64 << 10)
/* The container endpoint is retried as botocore does: 3 tries, 1 s apart. */
#define CONTAINER_ATTEMPTS 3

extern char **environ;

/* --- credentials and the provider interface ------------------------- */

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void aws_credentials_clear(struct aws_credentials *c)
{
	free(c->access_key_id);
	free_secret(c->secret_access_key);
	free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s, bool *ok)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

int aws_credentials_copy(struct aws_credentials *dst,
			 const struct aws_credentials *src)
{
	bool ok = true;
	memset(dst, 0, sizeof(*dst));
	dst->access_key_id = dup_or_null(src->access_key_id, &ok);
	dst->secret_access_key = dup_or_null(src->secret_access_key, &ok);
	dst->session_token = dup_or_null(src->session_token, &ok);
	dst->expiration = src->expiration;
	dst->source = src->source;
	if (!ok)
		aws_credentials_clear(dst);
	return ok ? 0 : -1;
}

struct creds_provider *creds_provider_new(const char *name,
					  creds_fetch_fn fetch,
					  creds_destroy_fn destroy,
					  void *state)
{
	struct creds_provider *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->name = name;
	p->fetch = fetch;
	p->destroy = destroy;
	p->state = state;
	return p;
}

static bool still_fresh(const struct aws_credentials *c)
{
	return c->expiration == 0 ||
	       time(NULL) + CREDS_REFRESH_MARGIN_SECONDS < c->expiration;
}

int creds_get(struct creds_provider *p, const struct aws_credentials **out,
	      struct err *e)
{
	if (p->have_cached && still_fresh(&p->cached)) {
		*out = &p->cached;
		return 0;
	}
	struct aws_credentials fresh = { 0 };
	if (p->fetch(p, &fresh, e) < 0)
		return -1;
	aws_credentials_clear(&p->cached);
	p->cached = fresh;
	p->have_cached = true;
	*out = &p->cached;
	return 0;
}

void creds_invalidate(struct creds_provider *p)
{
	if (p)
		p->have_cached = false;
}

void creds_provider_free(struct creds_provider *p)
{
	if (!p)
		return;
	if (p->destroy)
		p->destroy(p);
	aws_credentials_clear(&p->cached);
	free(p->description);
	free(p);
}

const char *creds_describe(const struct creds_provider *p)
{
	return p->description ? p->description : p->name;
}

static void describe(struct creds_provider *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void describe(struct creds_provider *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(p->description);
	if (vasprintf(&p->description, fmt, ap) < 0)
		p->description = NULL; /* creds_describe falls back to name */
	va_end(ap);
}

static int nomem(struct err *e)
{
	err_set(e, ERR_NOMEM, "out of memory");
	return -1;
}

/* Adds where an error happened to its message. */
static void err_note(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void err_note(struct err *e, const char *fmt, ...)
{
	size_t len = strlen(e->message);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message + len, sizeof(e->message) - len, fmt, ap);
	va_end(ap);
}

static const char *nonempty_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* --- fixed credentials ---------------------------------------------- */

static int fetch_static(struct creds_provider *p, struct aws_credentials *out,
			struct err *e)
{
	if (aws_credentials_copy(out, p->state) < 0)
		return nomem(e);
	return 0;
}

static void destroy_static(struct creds_provider *p)
{
	aws_credentials_clear(p->state);
	free(p->state);
}

struct creds_provider *creds_static_new(const struct aws_credentials *c)
{
	struct aws_credentials *copy = calloc(1, sizeof(*copy));
	if (!copy || aws_credentials_copy(copy, c) < 0) {
		free(copy);
		return NULL;
	}
	struct creds_provider *p = creds_provider_new("static", fetch_static,
						      destroy_static, copy);
	if (!p) {
		aws_credentials_clear(copy);
		free(copy);
	}
	return p;
}

/* --- the environment ------------------------------------------------ */

static int check_expiration(const char *when, const char *what, time_t now,
			    time_t *out, struct err *e)
{
	double t;
	*out = 0;
	if (!when)
		return 0;
	if (time_parse_iso8601(when, &t) < 0) {
		err_set(e, ERR_CONFIG, "%s: Expiration '%.40s' is not a time",
			what, when);
		return -1;
	}
	if ((time_t)t <= now) {
		err_set(e, ERR_CONFIG, "%s: the credentials expired at %.40s",
			what, when);
		return -1;
	}
	*out = (time_t)t;
	return 0;
}

static int fetch_env(struct creds_provider *p, struct aws_credentials *out,
		     struct err *e)
{
	const char *akid = nonempty_env("AWS_ACCESS_KEY_ID");
	const char *secret = nonempty_env("AWS_SECRET_ACCESS_KEY");
	if (!akid) {
		err_set(e, ERR_CONFIG,
			"no credentials in the environment "
			"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
		return -1;
	}
	if (!secret) {
		err_set(e, ERR_CONFIG, "AWS_ACCESS_KEY_ID is set but "
			"AWS_SECRET_ACCESS_KEY is not");
		return -1;
	}
	/* botocore takes the older AWS_SECURITY_TOKEN first. */
	const char *token = nonempty_env("AWS_SECURITY_TOKEN");
	if (!token)
		token = nonempty_env("AWS_SESSION_TOKEN");
	time_t expiration;
	if (check_expiration(nonempty_env("AWS_CREDENTIAL_EXPIRATION"),
			     "AWS_CREDENTIAL_EXPIRATION", time(NULL),
			     &expiration, e) < 0)
		return -1;
	struct aws_credentials found = {
		.access_key_id = (char *)akid,
		.secret_access_key = (char *)secret,
		.session_token = (char *)token,
		.expiration = expiration,
		.source = "environment",
	};
	if (aws_credentials_copy(out, &found) < 0)
		return nomem(e);
	return 0;
}

struct creds_provider *creds_env_new(void)
{
	return creds_provider_new("env", fetch_env, NULL, NULL);
}

/* --- JSON answers: credential_process, container, instance metadata -- */

int creds_parse_json(const char *json, size_t len, enum creds_json_kind kind,
		     const char *what, time_t now, struct aws_credentials *out,
		     struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(json, len, 0, NULL);
	int rc = -1;
	if (!json_is_object(root)) {
		err_set(e, ERR_CONFIG, "%s: the answer is not a JSON object",
			what);
		goto done;
	}
#define FIELD(name) json_string_value(json_object_get(root, name))
	if (kind == CREDS_JSON_PROCESS) {
		json_t *version = json_object_get(root, "Version");
		if (!json_is_integer(version) ||
		    json_integer_value(version) != 1) {
			err_set(e, ERR_CONFIG, "%s: Version must be 1", what);
			goto done;
		}
	} else if (FIELD("Code") && strcmp(FIELD("Code"), "Success") != 0) {
		err_set(e, ERR_CONFIG, "%s: Code is '%.60s': %.200s", what,
			FIELD("Code"),
			FIELD("Message") ? FIELD("Message") : "no message");
		goto done;
	}
	const char *akid = FIELD("AccessKeyId");
	const char *secret = FIELD("SecretAccessKey");
	const char *token = FIELD(kind == CREDS_JSON_PROCESS ? "SessionToken"
							     : "Token");
	const char *expiration = FIELD("Expiration");
#undef FIELD
	const char *missing = !akid || !*akid ? "AccessKeyId"
			      : !secret || !*secret ? "SecretAccessKey"
			      : kind == CREDS_JSON_PROCESS ? NULL
			      : !token || !*token ? "Token"
			      : !expiration ? "Expiration"
					    : NULL;
	if (missing) {
		err_set(e, ERR_CONFIG, "%s: no %s in the answer", what,
			missing);
		goto done;
	}
	time_t when;
	if (check_expiration(expiration, what, now, &when, e) < 0)
		goto done;
	struct aws_credentials found = {
		.access_key_id = (char *)akid,
		.secret_access_key = (char *)secret,
		.session_token = token && *token ? (char *)token : NULL,
		.expiration = when,
	};
	rc = aws_credentials_copy(out, &found) < 0 ? nomem(e) : 0;
done:
	json_decref(root);
	return rc;
}

/* --- credential_process --------------------------------------------- */

struct child_output {
	struct buf out;
	char err[512];
	size_t err_len;
	bool too_much;
};

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the child has exited, without reaping it: while it is a zombie
 * its process group id cannot be reused, so the group can still be killed
 * safely. */
static bool child_exited(pid_t pid)
{
	siginfo_t info = { 0 };
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == pid;
}

static void keep_output(struct child_output *o, int which, const char *chunk,
			size_t got)
{
	if (which == 0) {
		if (buf_append(&o->out, chunk, got) < 0)
			o->too_much = true;
		return;
	}
	size_t room = sizeof(o->err) - 1 - o->err_len;
	size_t n = got < room ? got : room;
	memcpy(o->err + o->err_len, chunk, n);
	o->err_len += n;
}

/* Reads the child's stdout and stderr together, so that neither pipe
 * fills up and blocks it, until it has exited and what it wrote is read,
 * or until the deadline. Once it has exited, what still holds a pipe open
 * is something it left behind: not waited for. Returns false on timeout. */
static bool drain(int out_fd, int err_fd, pid_t pid, double deadline,
		  struct child_output *o)
{
	struct pollfd fds[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
	int open_fds = 2;
	char chunk[4096];
	bool exited = false, in_time = true;
	for (;;) {
		exited = exited || child_exited(pid);
		double left = deadline - monotonic_now();
		if (open_fds == 0 && exited)
			break;
		if (left <= 0) {
			in_time = false;
			break;
		}
		/* Alive: look again every 100 ms whether it has exited.
		 * Exited: only what is already in the pipes. */
		int wait_ms = exited ? 0 : left < 0.1 ? (int)(left * 1000) + 1 : 100;
		int ready = poll(fds, 2, wait_ms);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready == 0 && exited)
			break;
		for (int i = 0; ready > 0 && i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t got = read(fds[i].fd, chunk, sizeof(chunk));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			keep_output(o, i, chunk, (size_t)got);
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	return in_time;
}

/* The process group of the credential_process running now (0: none), for
 * the signal handler: ssmbak ended by a signal ends the group too. */
static volatile sig_atomic_t running_group;
static const int group_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static struct sigaction saved_actions[sizeof(group_signals) /
				      sizeof(group_signals[0])];

static void kill_group_and_reraise(int sig)
{
	if (running_group > 0)
		kill(-(pid_t)running_group, SIGKILL);
	for (size_t i = 0; i < sizeof(group_signals) / sizeof(group_signals[0]); i++)
		if (group_signals[i] == sig)
			sigaction(sig, &saved_actions[i], NULL);
	raise(sig);
}

static void guard_group(pid_t group)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = kill_group_and_reraise;
	sigemptyset(&sa.sa_mask);
	running_group = group;
	for (size_t i = 0; i < sizeof(group_signals) / sizeof(group_signals[0]); i++)
		sigaction(group_signals[i], &sa, &saved_actions[i]);
}

static void unguard_group(void)
{
	for (size_t i = 0; i < sizeof(group_signals) / sizeof(group_signals[0]); i++)
		sigaction(group_signals[i], &saved_actions[i], NULL);
	running_group = 0;
}

/* SSMBAK_CREDENTIAL_PROCESS_TIMEOUT seconds, else the default. */
static int process_timeout_seconds(void)
{
	const char *v = nonempty_env("SSMBAK_CREDENTIAL_PROCESS_TIMEOUT");
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	return v && !*end && n >= 1 && n <= 3600
		       ? (int)n
		       : CREDS_PROCESS_DEFAULT_TIMEOUT_SECONDS;
}

/* The first line the process wrote to stderr, to explain its failure. */
static const char *first_line(char *text)
{
	while (*text == '\n' || *text == '\r')
		text++;
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}

int creds_run_process(const char *command, const char *profile,
		      struct aws_credentials *out, struct err *e)
{
	char what[300];
	snprintf(what, sizeof(what), "credential_process of profile '%s'",
		 profile);
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
		err_set(e, ERR_SYSTEM, "%s: pipe: %s", what, strerror(errno));
		for (int i = 0; i < 2; i++)
			if (out_pipe[i] >= 0)
				close(out_pipe[i]);
		return -1;
	}
	/* As the AWS CLI v2 and the other SDKs: through the shell. In a
	 * process group of its own, so that everything it starts can be
	 * killed at once. */
	char *argv[] = { "sh", "-c", (char *)command, NULL };
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
	/* The signals that end ssmbak wait until the group is known to the
	 * handler that kills it; the child starts with them unblocked. */
	sigset_t blocked, before;
	sigemptyset(&blocked);
	for (size_t i = 0; i < sizeof(group_signals) / sizeof(group_signals[0]); i++)
		sigaddset(&blocked, group_signals[i]);
	pthread_sigmask(SIG_BLOCK, &blocked, &before);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
					       POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &before);
	int timeout = process_timeout_seconds();
	pid_t pid;
	int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv,
				  environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (spawned == 0)
		guard_group(pid);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	close(out_pipe[1]);
	close(err_pipe[1]);
	struct child_output o = { .err_len = 0 };
	buf_init(&o.out, CREDS_PROCESS_MAX_OUTPUT);
	int status = 0, rc = -1;
	bool in_time = true;
	if (spawned == 0) {
		in_time = drain(out_pipe[0], err_pipe[0], pid,
				monotonic_now() + timeout, &o);
		/* Whatever it left running (or all of it, on timeout) goes:
		 * the process is done once it has exited. */
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		unguard_group();
	}
	close(out_pipe[0]);
	close(err_pipe[0]);
	o.err[o.err_len] = '\0';
	if (spawned != 0) {
		err_set(e, ERR_SYSTEM, "%s: cannot run /bin/sh: %s", what,
			strerror(spawned));
	} else if (!in_time) {
		err_set(e, ERR_CONFIG, "%s did not finish within %d seconds "
			"(SSMBAK_CREDENTIAL_PROCESS_TIMEOUT): killed", what,
			timeout);
	} else if (WIFSIGNALED(status)) {
		err_set(e, ERR_CONFIG, "%s was killed by signal %d", what,
			WTERMSIG(status));
	} else if (WEXITSTATUS(status) != 0) {
		err_set(e, ERR_CONFIG, "%s failed with exit status %d%s%.300s",
			what, WEXITSTATUS(status), o.err_len ? ": " : "",
			first_line(o.err));
	} else if (o.too_much) {
		err_set(e, ERR_CONFIG, "%s printed more than %zu bytes", what,
			CREDS_PROCESS_MAX_OUTPUT);
	} else {
		rc = creds_parse_json(buf_str(&o.out), o.out.len,
				      CREDS_JSON_PROCESS, what, time(NULL), out,
				      e);
		if (rc == 0)
			out->source = "credential_process";
	}
	if (o.out.data)
		OPENSSL_cleanse(o.out.data, o.out.cap);
	buf_release(&o.out);
	return rc;
}

struct process_state {
	char *command;
	char *profile;
};

static int fetch_process(struct creds_provider *p, struct aws_credentials *out,
			 struct err *e)
{
	struct process_state *s = p->state;
	return creds_run_process(s->command, s->profile, out, e);
}

static void destroy_process(struct creds_provider *p)
{
	struct process_state *s = p->state;
	free(s->command);
	free(s->profile);
	free(s);
}

/* --- reading small secret files (tokens) ---------------------------- */

static char *read_token_file(const char *path, const char *what,
			     struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set(e, ERR_CONFIG, "cannot read the %s %s: %s", what, path,
			strerror(errno));
		return NULL;
	}
	struct buf b;
	buf_init(&b, CREDS_TOKEN_MAX_SIZE);
	bool ok = buf_read_fd(&b, fd) == 0;
	close(fd);
	/* Tokens are one line; a trailing newline is not part of them. */
	while (ok && b.len && strchr(" \t\r\n", b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	char *token = ok && b.len ? buf_detach(&b) : NULL;
	if (!token)
		err_set(e, ERR_CONFIG, "cannot read the %s %s: %s", what, path,
			ok ? "empty" : "unreadable or too large");
	if (b.data)
		OPENSSL_cleanse(b.data, b.cap);
	buf_release(&b);
	return token;
}

/* --- roles: AssumeRole and AssumeRoleWithWebIdentity ----------------- */

struct role_state {
	char *profile;      /* for messages; NULL: from the environment */
	char *role_arn;
	char *session_name;
	char *external_id;
	int duration_seconds;
	bool session_name_given; /* role_session_name set: part of the cache key */
	char *mfa_serial;   /* NULL: no MFA */
	char *token_file;   /* web identity */
	struct creds_provider *source; /* assume role: signs the STS call */
	struct aws_ctx sts; /* region, endpoint and connections for STS */
};

static void destroy_role(struct creds_provider *p)
{
	struct role_state *s = p->state;
	free(s->profile);
	free(s->role_arn);
	free(s->session_name);
	free(s->external_id);
	free(s->mfa_serial);
	free(s->token_file);
	creds_provider_free(s->source);
	http_client_free(s->sts.http);
	free(s->sts.region);
	free(s->sts.endpoint_url);
	free(s);
}

static void note_role(struct err *e, const struct role_state *s)
{
	if (s->profile)
		err_note(e, " (role_arn %.200s of profile '%.100s')",
			 s->role_arn, s->profile);
	else
		err_note(e, " (AWS_ROLE_ARN %.200s)", s->role_arn);
}

/* A role with mfa_serial: the CLI's cache first, else the code asked on
 * the terminal, and the answer cached for the next run
 * (botocore's AssumeRoleCredentialFetcher). */
static int assume_role_with_mfa(struct role_state *s, struct sts_role *r,
				struct aws_credentials *out, struct err *e)
{
	char key[JSONCACHE_NAME_SIZE], code[MFA_CODE_MAX];
	if (mfa_cache_key(r, s->session_name_given, key) < 0)
		return nomem(e);
	if (mfa_cache_load(key, time(NULL), out) == 1)
		return 0;
	if (mfa_prompt(s->mfa_serial, s->profile, code, sizeof(code), e) < 0)
		return -1;
	r->token_code = code;
	int rc = sts_assume_role(&s->sts, r, out, e);
	OPENSSL_cleanse(code, sizeof(code));
	r->token_code = NULL;
	if (rc < 0) {
		note_role(e, s);
		return -1;
	}
	/* Not cached is only asked again next time. */
	struct err ignored = { 0 };
	mfa_cache_store(key, out, &ignored);
	return 0;
}

static int fetch_assume_role(struct creds_provider *p,
			     struct aws_credentials *out, struct err *e)
{
	struct role_state *s = p->state;
	struct sts_role r = { .role_arn = s->role_arn,
			      .session_name = s->session_name,
			      .external_id = s->external_id,
			      .duration_seconds = s->duration_seconds,
			      .serial_number = s->mfa_serial };
	s->sts.creds = s->source;
	if (s->mfa_serial) {
		if (assume_role_with_mfa(s, &r, out, e) < 0)
			return -1;
	} else if (sts_assume_role(&s->sts, &r, out, e) < 0) {
		note_role(e, s);
		return -1;
	}
	out->source = "assume-role";
	return 0;
}

static int fetch_web_identity(struct creds_provider *p,
			      struct aws_credentials *out, struct err *e)
{
	struct role_state *s = p->state;
	/* Read each time: the orchestrator rotates the token. */
	char *token = read_token_file(s->token_file, "web identity token file",
				      e);
	if (!token)
		return -1;
	struct sts_role r = { .role_arn = s->role_arn,
			      .session_name = s->session_name,
			      .duration_seconds = s->duration_seconds,
			      .web_identity_token = token };
	int rc = sts_assume_role_with_web_identity(&s->sts, &r, out, e);
	free_secret(token);
	if (rc < 0) {
		note_role(e, s);
		return -1;
	}
	out->source = "assume-role-with-web-identity";
	return 0;
}

/* --- the container endpoint ----------------------------------------- */

static bool host_allowed(const char *host)
{
	unsigned char a[16];
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127 ||
		       (a[0] == 169 && a[1] == 254 && a[2] == 170 &&
			(a[3] == 2 || a[3] == 23));
	static const unsigned char loopback6[16] = { [15] = 1 };
	static const unsigned char eks6[16] = { 0xfd, 0x00, 0x0e, 0xc2,
						[15] = 0x23 };
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, loopback6, 16) == 0 ||
		       memcmp(a, eks6, 16) == 0;
	return false;
}

bool creds_container_url_allowed(const char *url)
{
	bool https = strncasecmp(url, "https://", 8) == 0;
	if (!https && strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *authority = url + (https ? 8 : 7);
	size_t len = strcspn(authority, "/?#");
	if (len == 0 || len > 255)
		return false;
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)len, authority);
	char *h = strrchr(host, '@');
	h = h ? h + 1 : host;
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (!close)
			return false;
		*close = '\0';
		h++;
	} else {
		h[strcspn(h, ":")] = '\0';
	}
	if (!*h)
		return false;
	return https || host_allowed(h);
}

/* The Authorization header for the container endpoint: the token file
 * (EKS Pod Identity, rotated) wins over the variable. NULL and no error
 * when there is none. */
static char *container_auth_header(struct err *e, bool *failed)
{
	const char *file =
		nonempty_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char *token = NULL, *header = NULL;
	*failed = false;
	if (file) {
		token = read_token_file(file, "container authorization token "
					"file", e);
		if (!token) {
			*failed = true;
			return NULL;
		}
	} else if (nonempty_env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		token = strdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
		if (!token) {
			*failed = true;
			nomem(e);
			return NULL;
		}
	}
	if (!token)
		return NULL;
	if (strpbrk(token, "\r\n")) {
		err_set(e, ERR_CONFIG, "the container authorization token "
			"holds a line break");
		*failed = true;
	} else if (asprintf(&header, "Authorization: %s", token) < 0) {
		header = NULL;
		*failed = true;
		nomem(e);
	}
	free_secret(token);
	return header;
}

static int fetch_container(struct creds_provider *p,
			   struct aws_credentials *out, struct err *e)
{
	const char *url = p->state;
	bool failed;
	char *header = container_auth_header(e, &failed);
	if (failed)
		return -1;
	struct buf body = BUF_INIT;
	long status = 0;
	int rc = -1;
	for (int attempt = 1; attempt <= CONTAINER_ATTEMPTS; attempt++) {
		buf_clear(&body);
		rc = imds_http("GET", url, header, CONTAINER_TIMEOUT_MS,
			       &status, &body, e);
		if (rc == 0 && status < 500)
			break;
		if (attempt < CONTAINER_ATTEMPTS)
			sleep(1);
	}
	free_secret(header);
	if (rc == 0 && status != 200) {
		err_set(e, ERR_CONFIG, "the container endpoint %s answered "
			"HTTP %ld", url, status);
		rc = -1;
	} else if (rc == 0) {
		rc = creds_parse_json(buf_str(&body), body.len,
				      CREDS_JSON_METADATA,
				      "the container endpoint", time(NULL), out,
				      e);
		if (rc == 0)
			out->source = "container-role";
	}
	if (body.data)
		OPENSSL_cleanse(body.data, body.cap);
	buf_release(&body);
	return rc;
}

static void destroy_string_state(struct creds_provider *p)
{
	free(p->state);
}

static struct creds_provider *container_new(struct err *e)
{
	const char *relative =
		nonempty_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = nonempty_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *url = NULL;
	if (relative) {
		if (asprintf(&url, CONTAINER_RELATIVE_ORIGIN "%s",
			     relative) < 0)
			url = NULL;
	} else if (!creds_container_url_allowed(full)) {
		err_set(e, ERR_CONFIG,
			"AWS_CONTAINER_CREDENTIALS_FULL_URI %.200s is not "
			"allowed: it must be https, or http to a loopback "
			"address, 169.254.170.2, 169.254.170.23 or "
			"fd00:ec2::23",
			full);
		return NULL;
	} else {
		url = strdup(full);
	}
	struct creds_provider *p =
		url ? creds_provider_new("container-role", fetch_container,
					 destroy_string_state, url)
		    : NULL;
	if (!p) {
		free(url);
		nomem(e);
	}
	return p;
}

static bool container_configured(void)
{
	return nonempty_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
	       nonempty_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

/* --- EC2 instance metadata ------------------------------------------ */

/* state: the start of the message when IMDS has nothing ("no credentials
 * found: looked in ..."), completed with what IMDS said. */
static int fetch_imds(struct creds_provider *p, struct aws_credentials *out,
		      struct err *e)
{
	const char *not_found = p->state;
	if (imds_disabled()) {
		err_set(e, ERR_CONFIG, "%s instance metadata (disabled by "
			"AWS_EC2_METADATA_DISABLED)", not_found);
		return -1;
	}
	char *json = NULL;
	if (imds_role_credentials(&json, e) < 0) {
		/* IMDS silent or without a role: nothing here, as in the
		 * CLI; any other failure is worth its own message. */
		const char *why = e->kind == ERR_NETWORK ? "no answer"
				  : e->http_status == 404 ? "no IAM role"
							  : NULL;
		if (why)
			err_set(e, ERR_CONFIG,
				"%s instance metadata at %s (%s)",
				not_found, imds_endpoint(), why);
		return -1;
	}
	int rc = creds_parse_json(json, strlen(json), CREDS_JSON_METADATA,
				  "instance metadata", time(NULL), out, e);
	if (rc == 0)
		out->source = "iam-role";
	free_secret(json);
	return rc;
}

static struct creds_provider *imds_new(const char *not_found, struct err *e)
{
	char *state = strdup(not_found);
	struct creds_provider *p =
		state ? creds_provider_new("iam-role", fetch_imds,
					   destroy_string_state, state)
		      : NULL;
	if (!p) {
		free(state);
		nomem(e);
	}
	return p;
}

/* --- IAM Identity Center (SSO) ------------------------------------- */

/* botocore's SSOProvider: the token `aws sso login` cached, refreshed
 * through SSO OIDC when it is an sso-session's, then the portal's
 * GetRoleCredentials. */
struct sso_state {
	char *profile;
	char *session;   /* NULL: a legacy profile (sso_start_url in it) */
	char *start_url;
	char *account_id;
	char *role_name;
	struct aws_ctx api; /* sso_region, endpoints and connections */
};

static void destroy_sso(struct creds_provider *p)
{
	struct sso_state *s = p->state;
	free(s->profile);
	free(s->session);
	free(s->start_url);
	free(s->account_id);
	free(s->role_name);
	http_client_free(s->api.http);
	free(s->api.region);
	free(s->api.endpoint_url);
	free(s);
}

static int sso_login_error(struct err *e, const struct sso_state *s,
			   const char *what)
{
	err_set(e, ERR_CONFIG, "%s for profile '%s' (%s %s): run aws sso "
		"login --profile %s", what, s->profile,
		s->session ? "sso-session" : "sso_start_url",
		s->session ? s->session : s->start_url, s->profile);
	return -1;
}

/* Reads the cache file into *t; 0, or -1 with the line to log in. */
static int sso_load_token(const struct sso_state *s, const char *path,
			  struct sso_token *t, struct err *e)
{
	char *text = NULL;
	int found = jsoncache_read(path, &text, e);
	if (found == 0)
		return sso_login_error(e, s, "no SSO token");
	int rc = found < 0 ? -1
			   : sso_token_parse(text, strlen(text), path, t, e);
	free_secret(text);
	return rc;
}

/* Writes a refreshed token back with what botocore's
 * _attempt_create_token writes: the session's start URL and region from
 * the configuration. Not written is only refreshed again next time. */
static void sso_save_token(const struct sso_state *s, const char *path,
			   struct sso_token *t)
{
	char *start_url = strdup(s->start_url), *region = strdup(s->api.region);
	if (!start_url || !region) {
		free(start_url);
		free(region);
		return;
	}
	free(t->start_url);
	free(t->region);
	t->start_url = start_url;
	t->region = region;
	struct err ignored = { 0 };
	char *json = sso_token_json(t);
	if (json)
		jsoncache_write(path, json, &ignored);
	free_secret(json);
}

/* Refreshes an sso-session token near its expiry (botocore's
 * SSOTokenProvider._refresher) and writes the cache back; a failed
 * refresh leaves the token as it was, and says why in *failed. */
static void sso_maybe_refresh(struct sso_state *s, const char *path,
			      struct sso_token *t, struct err *failed)
{
	time_t now = time(NULL);
	if (!s->session || !sso_token_needs_refresh(t, now) ||
	    !sso_token_refreshable(t, now))
		return;
	if (sso_refresh_token(&s->api, t, failed) == 0)
		sso_save_token(s, path, t);
}

static int fetch_sso(struct creds_provider *p, struct aws_credentials *out,
		     struct err *e)
{
	struct sso_state *s = p->state;
	char name[JSONCACHE_NAME_SIZE];
	sso_cache_name(s->session ? s->session : s->start_url, name);
	char *path = jsoncache_path(".aws/sso/cache", name, e);
	if (!path)
		return -1;
	struct sso_token t = { 0 };
	struct err refresh = { 0 };
	int rc = sso_load_token(s, path, &t, e);
	if (rc == 0) {
		sso_maybe_refresh(s, path, &t, &refresh);
		char why[200] = "the SSO token has expired";
		if (refresh.kind != ERR_NONE)
			snprintf(why, sizeof(why), "the SSO token has expired "
				 "and its refresh failed (%.60s)",
				 refresh.code[0] ? refresh.code
						 : refresh.message);
		if (t.expires_at <= time(NULL))
			rc = sso_login_error(e, s, why);
	}
	if (rc == 0)
		rc = sso_get_role_credentials(&s->api, t.access_token,
					      s->account_id, s->role_name, out,
					      e);
	/* The portal's word for a token it no longer honours. */
	if (rc < 0 && e->http_status == 401)
		sso_login_error(e, s, "the SSO token was refused");
	sso_token_release(&t);
	free(path);
	return rc;
}

/* --- building the chain --------------------------------------------- */

struct builder {
	const struct config *cfg;
	const char *region;
	const char *endpoint_url;
	const char *visited[CREDS_MAX_ROLE_CHAIN + 1];
	size_t n_visited;
	struct err *e;
};

static const char *setting(const struct builder *b, const char *profile,
			   const char *key)
{
	return config_get(b->cfg, profile, key);
}

/* botocore's _has_assume_role_config_vars */
static bool has_role(const struct builder *b, const char *profile)
{
	return setting(b, profile, "role_arn") &&
	       !setting(b, profile, "web_identity_token_file");
}

static bool has_static_keys(const struct builder *b, const char *profile)
{
	return setting(b, profile, "aws_access_key_id") ||
	       setting(b, profile, "aws_secret_access_key");
}

/* Completes a role provider; takes s (and its source) in every case.
 * copied_ok tells whether the caller's copies into s all succeeded. */
static struct creds_provider *role_new(struct builder *b, const char *name,
				       creds_fetch_fn fetch,
				       struct role_state *s, bool copied_ok)
{
	struct creds_provider *p = NULL;
	s->sts.region = strdup(b->region ? b->region : "us-east-1");
	if (b->endpoint_url)
		s->sts.endpoint_url = strdup(b->endpoint_url);
	if (!copied_ok || !s->sts.region ||
	    (b->endpoint_url && !s->sts.endpoint_url))
		nomem(b->e);
	else if ((s->sts.http = http_client_new(b->e)) &&
		 !(p = creds_provider_new(name, fetch, destroy_role, s)))
		nomem(b->e);
	if (!p) {
		struct creds_provider owner = { .state = s };
		destroy_role(&owner);
	}
	return p;
}

static char *session_name_or_default(const char *given)
{
	char *name = NULL;
	if (given)
		return strdup(given);
	if (asprintf(&name, "ssmbak-session-%lld", (long long)time(NULL)) < 0)
		return NULL;
	return name;
}

/* duration_seconds as botocore reads it: an integer, else ignored. */
static int duration_of(const char *text)
{
	char *end;
	if (!text)
		return 0;
	long n = strtol(text, &end, 10);
	return *text && !*end && n > 0 && n < 1000000 ? (int)n : 0;
}

static struct creds_provider *assume_role_new(struct builder *b,
					      const char *profile,
					      struct creds_provider *source)
{
	struct role_state *s = calloc(1, sizeof(*s));
	if (!s) {
		creds_provider_free(source);
		nomem(b->e);
		return NULL;
	}
	const char *external_id = setting(b, profile, "external_id");
	const char *mfa_serial = setting(b, profile, "mfa_serial");
	const char *session = setting(b, profile, "role_session_name");
	s->source = source;
	s->profile = strdup(profile);
	s->role_arn = strdup(setting(b, profile, "role_arn"));
	s->session_name = session_name_or_default(session);
	s->session_name_given = session != NULL;
	s->external_id = external_id ? strdup(external_id) : NULL;
	s->mfa_serial = mfa_serial ? strdup(mfa_serial) : NULL;
	s->duration_seconds = duration_of(setting(b, profile,
						  "duration_seconds"));
	bool copied_ok = s->profile && s->role_arn && s->session_name &&
			 (!external_id || s->external_id) &&
			 (!mfa_serial || s->mfa_serial);
	struct creds_provider *p = role_new(b, "assume-role",
					    fetch_assume_role, s, copied_ok);
	if (p && mfa_serial)
		describe(p, "assume-role(%s, MFA %s) <- %s", profile,
			 mfa_serial, creds_describe(source));
	else if (p)
		describe(p, "assume-role(%s) <- %s", profile,
			 creds_describe(source));
	return p;
}

static struct creds_provider *web_identity_new(struct builder *b,
					       const char *profile,
					       const char *token_file,
					       const char *role_arn,
					       const char *session_name)
{
	struct role_state *s = calloc(1, sizeof(*s));
	if (!s) {
		nomem(b->e);
		return NULL;
	}
	s->profile = profile ? strdup(profile) : NULL;
	s->token_file = strdup(token_file);
	s->role_arn = strdup(role_arn);
	s->session_name = session_name_or_default(session_name);
	bool copied_ok = (!profile || s->profile) && s->token_file &&
			 s->role_arn && s->session_name;
	struct creds_provider *p =
		role_new(b, "assume-role-with-web-identity",
			 fetch_web_identity, s, copied_ok);
	if (p)
		describe(p, "assume-role-with-web-identity(%s)",
			 profile ? profile : "env");
	return p;
}

/* A profile's keys in one of the two files. */
static struct creds_provider *profile_keys_new(struct builder *b,
					       const struct config_file *f,
					       const char *path,
					       const char *profile,
					       const char *method)
{
	const char *akid = config_file_get(f, profile, "aws_access_key_id");
	const char *secret = config_file_get(f, profile,
					     "aws_secret_access_key");
	/* botocore prefers the older name when both are given. */
	const char *token = config_file_get(f, profile, "aws_security_token");
	if (!token)
		token = config_file_get(f, profile, "aws_session_token");
	if (!secret || !*secret) {
		err_set(b->e, ERR_CONFIG, "profile '%s' in %s has "
			"aws_access_key_id but no aws_secret_access_key",
			profile, path);
		return NULL;
	}
	struct aws_credentials c = {
		.access_key_id = (char *)akid,
		.secret_access_key = (char *)secret,
		.session_token = token && *token ? (char *)token : NULL,
		.source = method,
	};
	struct creds_provider *p = creds_static_new(&c);
	if (!p) {
		nomem(b->e);
		return NULL;
	}
	p->name = method;
	describe(p, "%s(%s)", method, profile);
	return p;
}

static struct creds_provider *process_new(struct builder *b,
					  const char *profile,
					  const char *command)
{
	struct process_state *s = calloc(1, sizeof(*s));
	struct creds_provider *p = NULL;
	if (s && (s->command = strdup(command)) &&
	    (s->profile = strdup(profile)))
		p = creds_provider_new("custom-process", fetch_process,
				       destroy_process, s);
	if (!p) {
		if (s) {
			free(s->command);
			free(s->profile);
		}
		free(s);
		nomem(b->e);
		return NULL;
	}
	describe(p, "custom-process(%s)", profile);
	return p;
}

static const char *const sso_keys[] = { "sso_session", "sso_start_url",
					"sso_region", "sso_account_id",
					"sso_role_name" };

/* An SSO setting: the profile's, or for sso_start_url and sso_region its
 * sso-session's, which a differing profile value must not contradict
 * (botocore's SSOProvider._load_sso_config). NULL with e set when
 * missing or contradicted. */
static const char *sso_setting(struct builder *b, const char *profile,
			       const char *session, const char *key)
{
	const char *mine = setting(b, profile, key);
	bool shared = strcmp(key, "sso_start_url") == 0 ||
		      strcmp(key, "sso_region") == 0;
	const char *theirs = session && shared
				     ? config_sso_session_get(b->cfg, session,
							      key)
				     : NULL;
	if (mine && theirs && strcmp(mine, theirs) != 0) {
		err_set(b->e, ERR_CONFIG, "profile '%s' has %s '%s' but its "
			"sso-session '%s' has '%s'", profile, key, mine,
			session, theirs);
		return NULL;
	}
	const char *value = theirs ? theirs : mine;
	if (!value || !*value) {
		if (session && shared)
			err_set(b->e, ERR_CONFIG, "sso-session '%s' of profile "
				"'%s' has no %s", session, profile, key);
		else
			err_set(b->e, ERR_CONFIG, "profile '%s' uses IAM "
				"Identity Center (SSO) but has no %s", profile,
				key);
		return NULL;
	}
	return value;
}

static struct creds_provider *sso_new(struct builder *b, const char *profile)
{
	const char *session = setting(b, profile, "sso_session");
	if (session && !config_has_sso_session(b->cfg, session)) {
		err_set(b->e, ERR_CONFIG, "profile '%s' names sso_session "
			"'%s', but there is no [sso-session %s] in %s", profile,
			session, session,
			b->cfg->config_path ? b->cfg->config_path
					    : "the config file");
		return NULL;
	}
	const char *start_url, *region, *account, *role;
	if (!(start_url = sso_setting(b, profile, session, "sso_start_url")) ||
	    !(region = sso_setting(b, profile, session, "sso_region")) ||
	    !(account = sso_setting(b, profile, session, "sso_account_id")) ||
	    !(role = sso_setting(b, profile, session, "sso_role_name")))
		return NULL;
	struct sso_state *s = calloc(1, sizeof(*s));
	struct creds_provider *p = NULL;
	if (s) {
		s->profile = strdup(profile);
		s->session = session ? strdup(session) : NULL;
		s->start_url = strdup(start_url);
		s->account_id = strdup(account);
		s->role_name = strdup(role);
		s->api.region = strdup(region);
		if (b->endpoint_url)
			s->api.endpoint_url = strdup(b->endpoint_url);
	}
	bool copied_ok = s && s->profile && (!session || s->session) &&
			 s->start_url && s->account_id && s->role_name &&
			 s->api.region &&
			 (!b->endpoint_url || s->api.endpoint_url);
	if (!copied_ok)
		nomem(b->e);
	else if ((s->api.http = http_client_new(b->e)) &&
		 !(p = creds_provider_new("sso", fetch_sso, destroy_sso, s)))
		nomem(b->e);
	if (!p) {
		if (s) {
			struct creds_provider owner = { .state = s };
			destroy_sso(&owner);
		}
		return NULL;
	}
	if (session)
		describe(p, "SSO profile %s (sso-session %s)", profile,
			 session);
	else
		describe(p, "SSO profile %s (legacy, sso_start_url %s)",
			 profile, start_url);
	return p;
}

/* botocore's ProfileProviderBuilder.providers: web identity, SSO, the
 * credentials file, credential_process, the config file. NULL without an
 * error (e->kind ERR_NONE) when the profile has none of them. */
static struct creds_provider *profile_providers(struct builder *b,
						const char *profile,
						bool use_env)
{
	const char *token_file = use_env ? nonempty_env(
					      "AWS_WEB_IDENTITY_TOKEN_FILE")
					 : NULL;
	bool token_from_env = token_file != NULL;
	if (!token_file)
		token_file = setting(b, profile, "web_identity_token_file");
	if (token_file && *token_file) {
		const char *arn = use_env ? nonempty_env("AWS_ROLE_ARN") : NULL;
		const char *session = use_env ? nonempty_env(
						      "AWS_ROLE_SESSION_NAME")
					      : NULL;
		if (!arn)
			arn = setting(b, profile, "role_arn");
		if (!session)
			session = setting(b, profile, "role_session_name");
		if (!arn || !*arn) {
			err_set(b->e, ERR_CONFIG, "%s is set but no role ARN: "
				"set AWS_ROLE_ARN or role_arn in profile '%s'",
				token_from_env ? "AWS_WEB_IDENTITY_TOKEN_FILE"
					       : "web_identity_token_file",
				profile);
			return NULL;
		}
		return web_identity_new(b, token_from_env ? NULL : profile,
					token_file, arn, session);
	}
	for (size_t i = 0; i < sizeof(sso_keys) / sizeof(sso_keys[0]); i++)
		if (setting(b, profile, sso_keys[i]))
			return sso_new(b, profile);
	const struct config *cfg = b->cfg;
	if (config_file_get(&cfg->credentials, profile, "aws_access_key_id"))
		return profile_keys_new(b, &cfg->credentials,
					cfg->credentials_path, profile,
					"shared-credentials-file");
	const char *command = setting(b, profile, "credential_process");
	if (command && *command)
		return process_new(b, profile, command);
	if (config_file_get(&cfg->config, profile, "aws_access_key_id"))
		return profile_keys_new(b, &cfg->config, cfg->config_path,
					profile, "config-file");
	return NULL;
}

static const char *const credential_sources =
	"Environment, Ec2InstanceMetadata or EcsContainer";

static struct creds_provider *from_credential_source(struct builder *b,
						     const char *profile,
						     const char *source)
{
	struct creds_provider *p = NULL;
	if (strcmp(source, "Environment") == 0) {
		if (!nonempty_env("AWS_ACCESS_KEY_ID")) {
			err_set(b->e, ERR_CONFIG, "profile '%s' has "
				"credential_source Environment but "
				"AWS_ACCESS_KEY_ID is not set", profile);
			return NULL;
		}
		if (!(p = creds_env_new()))
			nomem(b->e);
	} else if (strcmp(source, "EcsContainer") == 0) {
		if (!container_configured()) {
			err_set(b->e, ERR_CONFIG, "profile '%s' has "
				"credential_source EcsContainer but neither "
				"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor "
				"AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
				profile);
			return NULL;
		}
		p = container_new(b->e);
	} else if (strcmp(source, "Ec2InstanceMetadata") == 0) {
		char start[300];
		snprintf(start, sizeof(start), "profile '%s' has "
			 "credential_source Ec2InstanceMetadata but there is "
			 "nothing in", profile);
		p = imds_new(start, b->e);
	} else {
		err_set(b->e, ERR_CONFIG, "credential_source '%s' of profile "
			"'%s' is not one of %s", source, profile,
			credential_sources);
	}
	return p;
}

static void loop_error(struct builder *b, const char *again)
{
	char path[400] = "";
	size_t n = 0;
	for (size_t i = 0; i < b->n_visited && n < sizeof(path); i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%s -> ",
				      b->visited[i]);
	err_set(b->e, ERR_CONFIG, "source_profile loop: %s%s", path, again);
}

/* botocore's AssumeRoleProvider._load_creds_via_assume_role */
static struct creds_provider *assume_role_for(struct builder *b,
					      const char *profile)
{
	const char *source_profile = setting(b, profile, "source_profile");
	const char *credential_source = setting(b, profile,
						"credential_source");
	if (source_profile && credential_source) {
		err_set(b->e, ERR_CONFIG, "profile '%s' has both "
			"source_profile and credential_source", profile);
		return NULL;
	}
	if (!source_profile && !credential_source) {
		err_set(b->e, ERR_CONFIG, "profile '%s' has role_arn but "
			"neither source_profile nor credential_source",
			profile);
		return NULL;
	}
	struct creds_provider *source;
	if (credential_source) {
		source = from_credential_source(b, profile, credential_source);
	} else if (!config_has_profile(b->cfg, source_profile)) {
		err_set(b->e, ERR_CONFIG, "source_profile '%s' of profile "
			"'%s' does not exist", source_profile, profile);
		return NULL;
	} else {
		for (size_t i = 0; i < b->n_visited; i++) {
			if (strcmp(b->visited[i], source_profile) != 0)
				continue;
			/* A profile may name itself to use its own keys. */
			if (strcmp(source_profile, profile) != 0 ||
			    !has_static_keys(b, profile)) {
				loop_error(b, source_profile);
				return NULL;
			}
		}
		if (b->n_visited == CREDS_MAX_ROLE_CHAIN) {
			err_set(b->e, ERR_CONFIG, "more than %d roles chained "
				"through source_profile from profile '%s'",
				CREDS_MAX_ROLE_CHAIN, b->visited[0]);
			return NULL;
		}
		b->visited[b->n_visited++] = source_profile;
		if (has_static_keys(b, source_profile) ||
		    !has_role(b, source_profile)) {
			source = profile_providers(b, source_profile, false);
			if (!source && b->e->kind == ERR_NONE)
				err_set(b->e, ERR_CONFIG, "source_profile '%s' "
					"of profile '%s' has no credentials",
					source_profile, profile);
		} else {
			source = assume_role_for(b, source_profile);
		}
	}
	if (!source)
		return NULL;
	return assume_role_new(b, profile, source);
}

/* "no credentials found: looked in ...", to which the instance metadata
 * provider adds its own part. */
static char *not_found_start(const struct builder *b, const char *profile,
			     bool explicit_profile)
{
	char files[400], *out = NULL;
	config_describe_files(b->cfg, files, sizeof(files));
	if (asprintf(&out,
		     "no credentials found: looked in %s, profile '%s' of "
		     "%s, the container endpoint "
		     "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI "
		     "unset),",
		     explicit_profile
			     ? "the environment (not used with --profile)"
			     : "the environment (AWS_ACCESS_KEY_ID, "
			       "AWS_WEB_IDENTITY_TOKEN_FILE)",
		     profile, files) < 0)
		return NULL;
	return out;
}

struct creds_provider *creds_chain_new(const struct config *cfg,
				       const char *profile,
				       bool explicit_profile,
				       const char *region,
				       const char *endpoint_url,
				       struct err *e)
{
	struct builder b = { .cfg = cfg, .region = region,
			     .endpoint_url = endpoint_url, .e = e };
	const char *name = profile ? profile : "default";
	err_clear(e);
	if (profile && config_require_profile(cfg, profile, e) < 0)
		return NULL;
	if (!explicit_profile && nonempty_env("AWS_ACCESS_KEY_ID")) {
		if (!nonempty_env("AWS_SECRET_ACCESS_KEY")) {
			err_set(e, ERR_CONFIG, "AWS_ACCESS_KEY_ID is set but "
				"AWS_SECRET_ACCESS_KEY is not");
			return NULL;
		}
		struct creds_provider *p = creds_env_new();
		if (!p)
			nomem(e);
		return p;
	}
	if (has_role(&b, name)) {
		b.visited[b.n_visited++] = name;
		return assume_role_for(&b, name);
	}
	struct creds_provider *p = profile_providers(&b, name,
						     !explicit_profile);
	if (p || e->kind != ERR_NONE)
		return p;
	if (container_configured())
		return container_new(e);
	char *start = not_found_start(&b, name, explicit_profile);
	if (!start) {
		nomem(e);
		return NULL;
	}
	p = imds_new(start, e);
	free(start);
	return p;
}

struct creds_provider *creds_default_chain_new(const char *profile,
					       bool explicit_profile,
					       const char *region,
					       struct err *e)
{
	struct config cfg;
	if (config_load(&cfg, e) < 0)
		return NULL;
	const char *name = profile ? profile : "default";
	struct creds_provider *p = creds_chain_new(
		&cfg, profile, explicit_profile, region,
		config_get(&cfg, name, "endpoint_url"), e);
	config_release(&cfg);
	return p;
}
