// SPDX-License-Identifier: GPL-2.0
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int open_output(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	return fd < 0 ? -errno : fd;
}

int pm_sink_open(struct pm_sink *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	json_init(&s->out);
	s->fd = STDOUT_FILENO;
	if (!path)
		return 0;
	s->path = strdup(path);
	if (!s->path)
		return -ENOMEM;
	s->fd = open_output(path);
	return s->fd < 0 ? s->fd : 0;
}

int pm_sink_reopen(struct pm_sink *s)
{
	int fd;

	if (!s->path)
		return 0;
	pm_sink_flush(s);
	fd = open_output(s->path);
	if (fd < 0)
		return fd; /* keep writing to the old file rather than nowhere */
	close(s->fd);
	s->fd = fd;
	return 0;
}

void pm_sink_line(struct pm_sink *s, const char *line, size_t len)
{
	json_raw(&s->out, line, len);
	json_raw(&s->out, "\n", 1);
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;

	for (const char *e = p + n; (p = memchr(p, '\n', e - p)); p++)
		lines++;
	return lines;
}

int pm_sink_flush(struct pm_sink *s)
{
	size_t done = 0;
	int err = 0;

	while (done < s->out.len) {
		ssize_t n = write(s->fd, s->out.data + done, s->out.len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			s->lines_lost += count_lines(s->out.data + done, s->out.len - done);
			pm_log_error("writing events: %s", strerror(errno));
			break;
		}
		done += n;
	}
	json_reset(&s->out);
	return err;
}

void pm_sink_close(struct pm_sink *s)
{
	pm_sink_flush(s);
	if (s->path && s->fd >= 0)
		close(s->fd);
	free(s->path);
	json_free(&s->out);
}
