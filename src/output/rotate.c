// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* asprintf */
#include "output/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#define GZ_CHUNK (256 << 10)

static char *name_of(const char *path, unsigned i, bool gz)
{
	char *s = NULL;

	if (asprintf(&s, "%s.%u%s", path, i, gz ? ".gz" : "") < 0)
		return NULL;
	return s;
}

/* rename, or unlink when to is NULL; a missing file is no error */
static int move(const char *path, unsigned from, unsigned to, bool gz)
{
	char *a = name_of(path, from, gz), *b = to ? name_of(path, to, gz) : NULL;
	int ret = 0;

	if (!a || (to && !b))
		ret = -ENOMEM;
	else if ((to ? rename(a, b) : unlink(a)) && errno != ENOENT)
		ret = -errno;
	free(a);
	free(b);
	return ret;
}

int pm_rotate_shift(const char *path, unsigned backups, char *why, size_t whylen)
{
	char *first;
	int ret = 0;

	/* the oldest goes, whether it was compressed or not */
	for (int gz = 0; gz < 2 && !ret; gz++)
		ret = move(path, backups, 0, gz);
	for (unsigned i = backups - 1; i >= 1 && !ret; i--)
		for (int gz = 0; gz < 2 && !ret; gz++)
			ret = move(path, i, i + 1, gz);
	if (ret) {
		snprintf(why, whylen, "shifting the backups of %s: %s", path, strerror(-ret));
		return ret;
	}
	first = name_of(path, 1, false);
	if (!first)
		return -ENOMEM;
	if (rename(path, first)) {
		ret = -errno;
		snprintf(why, whylen, "renaming %s to %s: %s", path, first, strerror(errno));
	}
	free(first);
	return ret;
}

/* Write all of fd (from its start) into a new gzip file gz: 0 or -errno. */
static int gzip_fd(int fd, const char *gz)
{
	char *tmp = NULL, *buf = malloc(GZ_CHUNK);
	int out = -1, ret = 0;
	gzFile z = NULL;
	ssize_t n;
	off_t at = 0;

	if (!buf || asprintf(&tmp, "%s.tmp", gz) < 0) {
		free(buf);
		return -ENOMEM;
	}
	unlink(tmp); /* a leftover of a crash */
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0 || !(z = gzdopen(out, "wb6"))) {
		ret = -errno ?: -ENOMEM;
		goto done;
	}
	out = -1; /* gzclose closes it */
	while ((n = pread(fd, buf, GZ_CHUNK, at)) > 0) {
		if (gzwrite(z, buf, (unsigned)n) != (int)n) {
			ret = -EIO;
			goto done;
		}
		at += n;
	}
	if (n < 0)
		ret = -errno;
done:
	if (z && gzclose(z) != Z_OK && !ret)
		ret = -EIO;
	if (out >= 0)
		close(out);
	if (!ret && rename(tmp, gz))
		ret = -errno;
	if (ret)
		unlink(tmp);
	free(tmp);
	free(buf);
	return ret;
}

static void *gz_main(void *arg)
{
	struct pm_rotate_gz *z = arg;
	int ret = gzip_fd(z->fd, z->gz);

	if (!ret && unlink(z->plain))
		ret = -errno;
	if (ret)
		pm_log_warn("compressing the rotated output %s: %s (left uncompressed)", z->plain,
			    strerror(-ret));
	return NULL;
}

int pm_rotate_gz_start(struct pm_rotate_gz *z, const char *path, int fd)
{
	sigset_t all, old;
	int ret;

	pm_rotate_gz_wait(z);
	z->fd = fd;
	z->plain = name_of(path, 1, false);
	z->gz = name_of(path, 1, true);
	if (!z->plain || !z->gz) {
		ret = -ENOMEM;
		goto fail;
	}
	sigfillset(&all); /* signals are the main loop's */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&z->thread, NULL, gz_main, z);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto fail;
	pthread_setname_np(z->thread, "pm-gzip");
	z->running = true;
	return 0;
fail:
	close(fd);
	free(z->plain);
	free(z->gz);
	z->plain = z->gz = NULL;
	return ret;
}

void pm_rotate_gz_wait(struct pm_rotate_gz *z)
{
	if (!z->running)
		return;
	pthread_join(z->thread, NULL);
	z->running = false;
	close(z->fd);
	free(z->plain);
	free(z->gz);
	z->plain = z->gz = NULL;
}
