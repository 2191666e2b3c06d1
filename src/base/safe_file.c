// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* O_PATH */
#include "base/safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the fix, after a refusal's reason: printf arguments (path, path) */
#define FIX_OWNER "make it owned by root and writable by nobody else (chown root: %s && chmod go-w %s)"

bool pm_safe_judge_as_root;

/* Who may own what procmon trusts: root, or procmon itself (a service run
 * under its own uid with capabilities). */
static bool trusted_owner(uid_t uid)
{
	return uid == 0 || (!pm_safe_judge_as_root && uid == geteuid());
}

__attribute__((format(printf, 3, 4))) static int refuse(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -EPERM;
}

static int failed(char *why, size_t n, const char *what, const char *path)
{
	int err = -errno;

	if (why && n)
		snprintf(why, n, "%s: cannot %s: %s", path, what, strerror(-err));
	return err;
}

/* One directory that holds (or leads to) a file procmon trusts. */
static int check_dir(const char *dir, const struct stat *st, char *why, size_t n)
{
	if (!S_ISDIR(st->st_mode)) {
		errno = ENOTDIR;
		return failed(why, n, "use it as a directory", dir);
	}
	if (!trusted_owner(st->st_uid))
		return refuse(why, n,
			      "%s: directory owned by uid %lu: another user could replace what "
			      "it holds; " FIX_OWNER,
			      dir, (unsigned long)st->st_uid, dir, dir);
	/* others may add entries to a sticky root-owned directory (/tmp),
	 * but not rename or remove root's */
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !((st->st_mode & S_ISVTX) && st->st_uid == 0))
		return refuse(why, n,
			      "%s: directory writable by group or others (mode %lo): another "
			      "user could replace what it holds; " FIX_OWNER,
			      dir, (unsigned long)(st->st_mode & 07777), dir, dir);
	return 0;
}

/*
 * Check every directory from dir (relative to the working directory or
 * absolute) up to /, and put its resolved path in real. A symbolic link
 * on the way must be root's: one another user made decides where the
 * path leads, whatever it points to.
 */
static int check_chain(const char *dir, char real[PATH_MAX], char *why, size_t n)
{
	char abs[PATH_MAX];
	struct stat st;
	size_t len;

	if (dir[0] == '/') {
		len = snprintf(abs, sizeof(abs), "%s", dir);
	} else {
		if (!getcwd(abs, sizeof(abs)))
			return failed(why, n, "find the working directory for", dir);
		len = strlen(abs);
		len += snprintf(abs + len, sizeof(abs) - len, "/%s", dir);
	}
	if (len >= sizeof(abs)) {
		errno = ENAMETOOLONG;
		return failed(why, n, "resolve", dir);
	}
	for (char *p = abs + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (lstat(abs, &st)) {
			*p = c;
			return failed(why, n, "examine", abs);
		}
		if (S_ISLNK(st.st_mode) && !trusted_owner(st.st_uid))
			return refuse(why, n,
				      "%s: symbolic link owned by uid %lu: another user decides "
				      "where this path leads; " FIX_OWNER,
				      abs, (unsigned long)st.st_uid, abs, abs);
		*p = c;
		if (!c)
			break;
	}
	if (!realpath(abs, real))
		return failed(why, n, "resolve", abs);
	/* walk the resolved directories up to / */
	snprintf(abs, sizeof(abs), "%s", real);
	for (;;) {
		char *slash;
		int err;

		if (stat(abs, &st))
			return failed(why, n, "examine", abs);
		err = check_dir(abs, &st, why, n);
		if (err)
			return err;
		slash = strrchr(abs, '/');
		if (!slash || slash == abs) {
			if (abs[1] == '\0')
				return 0;
			abs[1] = '\0'; /* "/x" -> "/" */
		} else {
			*slash = '\0';
		}
	}
}

/* A directory's refusal said of the file it holds: "FILE: DIR: why". */
static int for_file(const char *path, int err, char *why, size_t n)
{
	char inner[1024];

	if (err && why && n) {
		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, n, "%s: %s", path, inner);
	}
	return err;
}

int pm_safe_check_dir_chain(const char *dir, char *why, size_t whylen)
{
	char real[PATH_MAX];

	return check_chain(dir, real, why, whylen);
}

/* dir and base of path: "x" -> ".", "x"; "/x" -> "/", "x"; "a/b/" -> no base */
static int split_path(const char *path, char dir[PATH_MAX], const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t dlen;

	*base = slash ? slash + 1 : path;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return -EISDIR;
	dlen = slash ? (size_t)(slash - path) : 0;
	if (dlen >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!slash)
		strcpy(dir, ".");
	else if (!dlen)
		strcpy(dir, "/");
	else
		memcpy(dir, path, dlen), dir[dlen] = '\0';
	return 0;
}

/* The checks on the file itself, shared by output and configuration. */
static int check_file(const char *path, const struct stat *st, char *why, size_t n)
{
	if (!trusted_owner(st->st_uid))
		return refuse(why, n, "%s: owned by uid %lu; " FIX_OWNER, path,
			      (unsigned long)st->st_uid, path, path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return refuse(why, n, "%s: writable by group or others (mode %lo); " FIX_OWNER,
			      path, (unsigned long)(st->st_mode & 07777), path, path);
	return 0;
}

int pm_safe_open_append(const char *path, char *why, size_t n)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base;
	struct stat st;
	int dfd, fd, err, flags;

	err = split_path(path, dir, &base);
	if (err) {
		errno = -err;
		return failed(why, n, "use as an output file", path);
	}
	err = for_file(path, check_chain(dir, real, why, n), why, n);
	if (err)
		return err;
	/* open through the checked directory, not the path again */
	dfd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return failed(why, n, "open the directory of", path);
	/*
	 * O_RDWR: the sink reads its last byte back before cutting a line.
	 * O_NOFOLLOW: a link planted at the name is refused, not followed.
	 * O_NONBLOCK: a FIFO planted there must not hang procmon at open
	 * (it is refused below, as any non-regular file).
	 */
	fd = openat(dfd, base, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				       O_NOCTTY,
		    0600);
	err = fd < 0 ? -errno : 0;
	close(dfd);
	if (err == -ELOOP)
		return refuse(why, n,
			      "%s: is a symbolic link: refusing to follow it (remove it, or "
			      "name the file it points to)",
			      path);
	if (err == -ENXIO) /* a FIFO without a reader */
		return refuse(why, n, "%s: not a regular file", path);
	if (err) {
		errno = -err;
		return failed(why, n, "open", path);
	}
	if (fstat(fd, &st)) {
		err = failed(why, n, "examine", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = refuse(why, n, "%s: not a regular file", path);
		goto fail;
	}
	err = check_file(path, &st, why, n);
	if (err)
		goto fail;
	/* another name for this inode may be anywhere, /etc/shadow included */
	if (st.st_nlink > 1) {
		err = refuse(why, n,
			     "%s: has %lu hard links: it may be another file's name too; "
			     "remove it or name a new file",
			     path, (unsigned long)st.st_nlink);
		goto fail;
	}
	/* events are for root alone (command lines, environments): an
	 * existing file loses what its group and others could read */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) && fchmod(fd, st.st_mode & 07700)) {
		err = failed(why, n, "make it private (chmod go-rwx)", path);
		goto fail;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)) {
		err = failed(why, n, "set up", path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int pm_safe_check_read(const char *path, const struct stat *st, char *why, size_t n)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base;
	int err = check_file(path, st, why, n);

	if (err || !S_ISREG(st->st_mode))
		return err;
	err = split_path(path, dir, &base);
	if (err) {
		errno = -err;
		return failed(why, n, "read", path);
	}
	err = for_file(path, check_chain(dir, real, why, n), why, n);
	if (err)
		return err;
	/* the name itself may be a link: then it must be root's, and so must
	 * the directories of the file it leads to */
	if (!realpath(path, real))
		return failed(why, n, "resolve", path);
	if (strcmp(real, path) && split_path(real, dir, &base) == 0) {
		struct stat lst;

		if (!lstat(path, &lst) && S_ISLNK(lst.st_mode) && !trusted_owner(lst.st_uid))
			return refuse(why, n,
				      "%s: symbolic link owned by uid %lu: another user decides "
				      "what it leads to; " FIX_OWNER,
				      path, (unsigned long)lst.st_uid, path, path);
		return for_file(path, check_chain(dir, real, why, n), why, n);
	}
	return 0;
}
