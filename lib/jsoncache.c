#include "jsoncache.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "buf.h"

/* Cache files are small; a bigger one is not the CLI's. */
#define JSONCACHE_MAX_SIZE ((size_t)1 << 20)

void jsoncache_name(const char *text, char out[JSONCACHE_NAME_SIZE])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)text, strlen(text), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

char *jsoncache_path(const char *dir, const char *name, struct err *e)
{
	const char *home = getenv("HOME");
	char *path = NULL;
	if (!home || !*home) {
		err_set(e, ERR_CONFIG, "HOME is not set: no ~/%s", dir);
		return NULL;
	}
	if (asprintf(&path, "%s/%s/%s.json", home, dir, name) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	return path;
}

int jsoncache_read(const char *path, char **text, struct err *e)
{
	*text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0;
	if (fd < 0) {
		err_set(e, ERR_CONFIG, "cannot read %s: %s", path,
			strerror(errno));
		return -1;
	}
	struct buf b;
	buf_init(&b, JSONCACHE_MAX_SIZE);
	bool ok = buf_read_fd(&b, fd) == 0;
	close(fd);
	if (ok && (*text = buf_detach(&b)) != NULL)
		return 1;
	if (b.data)
		OPENSSL_cleanse(b.data, b.cap);
	buf_release(&b);
	err_set(e, ERR_CONFIG, "cannot read %s: unreadable or too large",
		path);
	return -1;
}

/* mkdir -p for the cache's directories, private as the CLI makes them. */
static int make_parents(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			free(copy);
			return -1;
		}
		*p = '/';
	}
	free(copy);
	return 0;
}

int jsoncache_write(const char *path, const char *text, struct err *e)
{
	char *tmp = NULL;
	int rc = -1, fd = -1;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		err_set(e, ERR_NOMEM, "out of memory");
		goto done;
	}
	/* mkstemp makes the file 0600, so no other user ever sees it. */
	if (make_parents(path) < 0 || (fd = mkstemp(tmp)) < 0) {
		err_set(e, ERR_CONFIG, "cannot write %s: %s", path,
			strerror(errno));
		goto done;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		err_set(e, ERR_CONFIG, "cannot write %s: %s", path,
			strerror(errno));
		unlink(tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err_set(e, ERR_CONFIG, "cannot write %s: %s", path,
			strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
