#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"

/* Config files are small; this keeps a mistaken path (a log, a device)
 * from being read whole. */
#define CONFIG_MAX_FILE_SIZE ((size_t)1 << 20)

#define NO_SECTION SIZE_MAX

static void wipe_free(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void profile_release(struct config_profile *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->entries[i].key);
		/* Values include secret keys and session tokens. */
		wipe_free(p->entries[i].value);
	}
	free(p->entries);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

void config_file_release(struct config_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		profile_release(&f->profiles[i]);
	free(f->profiles);
	memset(f, 0, sizeof(*f));
}

static struct config_entry *find_entry(const struct config_profile *p,
				       const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->entries[i].key, key) == 0)
			return &p->entries[i];
	return NULL;
}

static size_t find_section(const struct config_file *f, const char *name,
			   bool sso_session)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->profiles[i].sso_session == sso_session &&
		    strcmp(f->profiles[i].name, name) == 0)
			return i;
	return NO_SECTION;
}

const struct config_profile *config_file_profile(const struct config_file *f,
						 const char *name)
{
	size_t i = find_section(f, name, false);
	return i == NO_SECTION ? NULL : &f->profiles[i];
}

const char *config_sso_session_get(const struct config *c, const char *name,
				   const char *key)
{
	size_t i = find_section(&c->config, name, true);
	const struct config_entry *entry =
		i == NO_SECTION ? NULL : find_entry(&c->config.profiles[i], key);
	return entry ? entry->value : NULL;
}

bool config_has_sso_session(const struct config *c, const char *name)
{
	return find_section(&c->config, name, true) != NO_SECTION;
}

const char *config_file_get(const struct config_file *f, const char *profile,
			    const char *key)
{
	const struct config_profile *p = config_file_profile(f, profile);
	const struct config_entry *entry = p ? find_entry(p, key) : NULL;
	return entry ? entry->value : NULL;
}

/* The section a header opens, creating it the first time; a repeated
 * section adds to the first. */
static size_t open_section(struct config_file *f, const char *name,
			   bool sso_session)
{
	size_t i = find_section(f, name, sso_session);
	if (i != NO_SECTION)
		return i;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct config_profile *grown =
			realloc(f->profiles, cap * sizeof(*grown));
		if (!grown)
			return NO_SECTION;
		f->profiles = grown;
		f->cap = cap;
	}
	struct config_profile *p = &f->profiles[f->n];
	memset(p, 0, sizeof(*p));
	p->sso_session = sso_session;
	if (!(p->name = strdup(name)))
		return NO_SECTION;
	return f->n++;
}

/* Sets key to value (taking ownership of value); the last one wins. */
static int set_entry(struct config_profile *p, const char *key, char *value)
{
	struct config_entry *old = find_entry(p, key);
	if (old) {
		wipe_free(old->value);
		old->value = value;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct config_entry *grown =
			realloc(p->entries, cap * sizeof(*grown));
		if (!grown)
			return -1;
		p->entries = grown;
		p->cap = cap;
	}
	char *k = strdup(key);
	if (!k)
		return -1;
	p->entries[p->n++] = (struct config_entry){ k, value };
	return 0;
}

/* Splits like Python's shlex.split, which botocore applies to "profile
 * NAME" headers: words separated by blanks, quotes group, a backslash
 * escapes outside single quotes. Returns the word count (at most max), or
 * -1 for an unbalanced quote. Words are written into out, NUL-separated. */
static int split_words(const char *s, char *out, const char **words, int max)
{
	int n = 0;
	char *o = out;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (n == max)
			return max + 1;
		words[n++] = o;
		char quote = 0;
		for (; *s && (quote || !isspace((unsigned char)*s)); s++) {
			if (quote && *s == quote) {
				quote = 0;
			} else if (!quote && (*s == '"' || *s == '\'')) {
				quote = *s;
			} else if (*s == '\\' && quote != '\'' && s[1]) {
				*o++ = *++s;
			} else {
				*o++ = *s;
			}
		}
		if (quote)
			return -1;
		*o++ = '\0';
	}
	return n;
}

/* The session an "[sso-session NAME]" header names, into out; false for
 * any other header. */
static bool config_section_sso_session(const char *header, char *out,
				       size_t size)
{
	char *scratch = malloc(strlen(header) + 1);
	const char *words[3];
	bool ok = scratch && strncmp(header, "sso-session", 11) == 0 &&
		  split_words(header, scratch, words, 2) == 2 &&
		  strcmp(words[0], "sso-session") == 0 && words[1][0];
	if (ok)
		snprintf(out, size, "%s", words[1]);
	free(scratch);
	return ok;
}

/* The profile a config-file section header names, into out; false when
 * the section is not a profile. */
static bool config_section_profile(const char *header, char *out, size_t size)
{
	if (strcmp(header, "default") == 0) {
		snprintf(out, size, "default");
		return true;
	}
	if (strncmp(header, "profile", 7) != 0)
		return false;
	char *scratch = malloc(strlen(header) + 1);
	const char *words[3];
	bool ok = scratch && split_words(header, scratch, words, 2) == 2 &&
		  strcmp(words[0], "profile") == 0 && words[1][0];
	if (ok)
		snprintf(out, size, "%s", words[1]);
	free(scratch);
	return ok;
}

struct parser {
	struct config_file *f;
	enum config_kind kind;
	const char *path;
	struct err *e;
	int line;
	bool seen_section;
	size_t section;      /* index in f, or NO_SECTION for a skipped one */
	bool have_key;       /* a key was set: deeper lines continue it */
	size_t key_indent;
	char key[128];
};

static int parse_error(struct parser *ps, const char *what)
{
	err_set(ps->e, ERR_CONFIG, "%s line %d: %s", ps->path, ps->line, what);
	return -1;
}

static int nomem(struct err *e)
{
	err_set(e, ERR_NOMEM, "out of memory");
	return -1;
}

static int on_header(struct parser *ps, const char *line, size_t len)
{
	const char *close = NULL;
	for (size_t i = 1; i < len; i++)
		if (line[i] == ']')
			close = line + i;
	if (!close || close == line + 1)
		return parse_error(ps, "a section header needs a name: [NAME]");
	const char *start = line + 1;
	const char *end = close;
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	char header[256], name[256];
	snprintf(header, sizeof(header), "%.*s", (int)(end - start), start);
	ps->seen_section = true;
	ps->have_key = false;
	ps->section = NO_SECTION;
	bool is_profile = true, is_session = false;
	if (ps->kind == CONFIG_SHARED_CONFIG) {
		is_profile = config_section_profile(header, name, sizeof(name));
		is_session = !is_profile &&
			     config_section_sso_session(header, name,
							sizeof(name));
	} else {
		snprintf(name, sizeof(name), "%s", header);
	}
	if (!is_profile && !is_session)
		return 0;
	ps->section = open_section(ps->f, name, is_session);
	return ps->section == NO_SECTION ? nomem(ps->e) : 0;
}

static int on_key(struct parser *ps, const char *line, size_t len,
		  size_t indent)
{
	if (!ps->seen_section)
		return parse_error(ps, "a setting before any [section]");
	size_t at = strcspn(line, "=:");
	if (at >= len)
		return parse_error(ps, "expected 'key = value' or a [section]");
	size_t key_len = at;
	while (key_len && isspace((unsigned char)line[key_len - 1]))
		key_len--;
	if (key_len == 0)
		return parse_error(ps, "a setting without a name");
	if (key_len >= sizeof(ps->key))
		return parse_error(ps, "a setting name too long");
	for (size_t i = 0; i < key_len; i++)
		ps->key[i] = (char)tolower((unsigned char)line[i]);
	ps->key[key_len] = '\0';
	const char *v = line + at + 1, *end = line + len;
	while (v < end && isspace((unsigned char)*v))
		v++;
	ps->have_key = true;
	ps->key_indent = indent;
	if (ps->section == NO_SECTION)
		return 0;
	char *value = strndup(v, (size_t)(end - v));
	if (!value || set_entry(&ps->f->profiles[ps->section], ps->key,
				value) < 0) {
		free(value);
		return nomem(ps->e);
	}
	return 0;
}

/* A deeper-indented line: part of the last key's value. */
static int on_continuation(struct parser *ps, const char *line, size_t len)
{
	if (ps->section == NO_SECTION)
		return 0;
	struct config_entry *entry =
		find_entry(&ps->f->profiles[ps->section], ps->key);
	char *joined = NULL;
	if (!entry || asprintf(&joined, "%s\n%.*s", entry->value, (int)len,
			       line) < 0)
		return nomem(ps->e);
	wipe_free(entry->value);
	entry->value = joined;
	return 0;
}

static int parse_line(struct parser *ps, const char *line, size_t len)
{
	size_t indent = 0;
	while (indent < len && isspace((unsigned char)line[indent]))
		indent++;
	const char *text = line + indent;
	size_t text_len = len - indent;
	while (text_len && isspace((unsigned char)text[text_len - 1]))
		text_len--;
	if (text_len == 0 || text[0] == '#' || text[0] == ';')
		return 0;
	if (ps->have_key && indent > ps->key_indent)
		return on_continuation(ps, text, text_len);
	if (text[0] == '[')
		return on_header(ps, text, text_len);
	return on_key(ps, text, text_len, indent);
}

int config_file_parse(struct config_file *f, enum config_kind kind,
		      const char *text, size_t len, const char *path,
		      struct err *e)
{
	struct parser ps = { .f = f, .kind = kind, .path = path, .e = e,
			     .section = NO_SECTION };
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		ps.line++;
		/* parse_line works on a copy so that it may rely on a NUL. */
		char *line = strndup(p, (size_t)(line_end - p));
		if (!line)
			return nomem(e);
		int rc = parse_line(&ps, line, strlen(line));
		wipe_free(line);
		if (rc < 0) {
			config_file_release(f);
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

char *config_expand_path(const char *path)
{
	struct buf out = BUF_INIT;
	bool ok = true;
	const char *home = getenv("HOME");
	for (const char *p = path; *p && ok;) {
		if (p == path && *p == '~' && (p[1] == '/' || !p[1]) && home &&
		    *home) {
			ok = buf_puts(&out, home) == 0;
			p++;
			continue;
		}
		if (*p == '$') {
			bool braced = p[1] == '{';
			const char *name = p + 1 + braced;
			size_t n = 0;
			while (isalnum((unsigned char)name[n]) ||
			       name[n] == '_')
				n++;
			bool closed = !braced || name[n] == '}';
			char var[256];
			snprintf(var, sizeof(var), "%.*s", (int)n, name);
			const char *value = n && closed ? getenv(var) : NULL;
			if (value) {
				ok = buf_puts(&out, value) == 0;
				p = name + n + braced;
				continue;
			}
		}
		ok = buf_putc(&out, *p++) == 0;
	}
	if (!ok) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out);
}

/* The path of one file: the variable's value, else $HOME/rel, else NULL
 * (*ok stays true). */
static char *file_path(const char *env, const char *rel, bool *ok)
{
	const char *v = getenv(env);
	char *path = NULL;
	if (v && *v) {
		path = config_expand_path(v);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home)
			return NULL;
		if (asprintf(&path, "%s/%s", home, rel) < 0)
			path = NULL;
	}
	if (!path)
		*ok = false;
	return path;
}

/* Reads a whole file; *found is false when it does not exist. */
static int read_file(const char *path, char **text, size_t *len, bool *found,
		     struct err *e)
{
	*found = false;
	*text = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
			strerror(errno));
		return -1;
	}
	/* /dev/null and pipes (<(...)) are files too, as for the AWS CLI;
	 * only a directory is a mistake. The size cap bounds the read. */
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		err_set(e, ERR_CONFIG, "cannot read %s: it is a directory",
			path);
		close(fd);
		return -1;
	}
	struct buf b;
	buf_init(&b, CONFIG_MAX_FILE_SIZE);
	char chunk[4096];
	ssize_t got;
	int rc = 0;
	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
				strerror(errno));
			rc = -1;
			break;
		}
		if (buf_append(&b, chunk, (size_t)got) < 0) {
			err_set(e, ERR_CONFIG, "cannot read %s: larger than "
				"%zu bytes", path, CONFIG_MAX_FILE_SIZE);
			rc = -1;
			break;
		}
	}
	close(fd);
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (rc < 0) {
		if (b.data)
			OPENSSL_cleanse(b.data, b.cap);
		buf_release(&b);
		return -1;
	}
	*len = b.len;
	*text = buf_detach(&b);
	if (!*text)
		return nomem(e);
	*found = true;
	return 0;
}

static int load_one(const char *path, enum config_kind kind,
		    struct config_file *f, bool *found, struct err *e)
{
	char *text;
	size_t len;
	*found = false;
	if (!path)
		return 0;
	if (read_file(path, &text, &len, found, e) < 0)
		return -1;
	if (!*found)
		return 0;
	int rc = config_file_parse(f, kind, text, len, path, e);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

int config_load_paths(struct config *c, const char *config_path,
		      const char *credentials_path, struct err *e)
{
	memset(c, 0, sizeof(*c));
	if ((config_path && !(c->config_path = strdup(config_path))) ||
	    (credentials_path &&
	     !(c->credentials_path = strdup(credentials_path)))) {
		config_release(c);
		return nomem(e);
	}
	if (load_one(c->config_path, CONFIG_SHARED_CONFIG, &c->config,
		     &c->config_found, e) < 0 ||
	    load_one(c->credentials_path, CONFIG_SHARED_CREDENTIALS,
		     &c->credentials, &c->credentials_found, e) < 0) {
		config_release(c);
		return -1;
	}
	return 0;
}

int config_load(struct config *c, struct err *e)
{
	bool ok = true;
	char *config_path = file_path("AWS_CONFIG_FILE", ".aws/config", &ok);
	char *credentials_path = file_path("AWS_SHARED_CREDENTIALS_FILE",
					   ".aws/credentials", &ok);
	int rc = ok ? config_load_paths(c, config_path, credentials_path, e)
		    : nomem(e);
	if (!ok)
		memset(c, 0, sizeof(*c));
	free(config_path);
	free(credentials_path);
	return rc;
}

void config_release(struct config *c)
{
	config_file_release(&c->config);
	config_file_release(&c->credentials);
	free(c->config_path);
	free(c->credentials_path);
	memset(c, 0, sizeof(*c));
}

bool config_has_profile(const struct config *c, const char *profile)
{
	return config_file_profile(&c->config, profile) ||
	       config_file_profile(&c->credentials, profile);
}

const char *config_get(const struct config *c, const char *profile,
		       const char *key)
{
	const char *v = config_file_get(&c->credentials, profile, key);
	return v ? v : config_file_get(&c->config, profile, key);
}

static const char *describe_files(const struct config *c, const char *joiner,
				  char *out, size_t size)
{
	const char *paths[] = { c->config_path, c->credentials_path };
	const bool found[] = { c->config_found, c->credentials_found };
	const char *unknown[] = { "no config file (HOME unset)",
				  "no credentials file (HOME unset)" };
	snprintf(out, size, "%s%s%s%s%s",
		 paths[0] ? paths[0] : unknown[0],
		 paths[0] && !found[0] ? " (missing)" : "", joiner,
		 paths[1] ? paths[1] : unknown[1],
		 paths[1] && !found[1] ? " (missing)" : "");
	return out;
}

const char *config_describe_files(const struct config *c, char *out,
				  size_t size)
{
	return describe_files(c, " and ", out, size);
}

int config_require_profile(const struct config *c, const char *profile,
			   struct err *e)
{
	if (config_has_profile(c, profile))
		return 0;
	char files[400];
	err_set(e, ERR_CONFIG, "profile '%s' not found in %s", profile,
		describe_files(c, " or ", files, sizeof(files)));
	return -1;
}
