// SPDX-License-Identifier: GPL-2.0
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
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
	fd = open_output(s->path);
	if (fd < 0)
		return fd; /* keep writing to the old file rather than nowhere */
	close(s->fd);
	s->fd = fd;
	return 0;
}

void pm_sink_line(struct pm_sink *s, const char *line, size_t len)
{
	size_t before = s->out.len;

	json_raw(&s->out, line, len);
	json_raw(&s->out, "\n", 1);
	if (s->out.oom) { /* take back the half-queued line, count it */
		s->out.len = before;
		s->out.oom = false;
		s->lines_lost++;
	}
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;

	if (!n) /* p may be NULL: memchr(NULL, c, 0) is undefined */
		return 0;
	for (const char *e = p + n; (p = memchr(p, '\n', e - p)); p++)
		lines++;
	return lines;
}

/* Keep out[from, len) for the next flush. */
static void keep_from(struct pm_sink *s, size_t from)
{
	memmove(s->out.data, s->out.data + from, s->out.len - from);
	s->out.len -= from;
}

/*
 * A write failed at `done`. If that is inside a line, its rest stays
 * queued (the next flush completes it); the lines after it are lost.
 */
static void drop_after_error(struct pm_sink *s, size_t done)
{
	const char *start = s->out.data + done;
	const char *eol = memchr(start, '\n', s->out.len - done);
	bool mid_line = done > 0 && s->out.data[done - 1] != '\n';
	size_t keep = mid_line && eol ? (size_t)(eol + 1 - start) : 0;

	s->lines_lost += count_lines(start + keep, s->out.len - done - keep);
	s->out.len = done + keep;
	keep_from(s, done);
}

/*
 * Write the queue. `wait` false: only what the output takes at once: a
 * file all of it, a pipe or FIFO PIPE_BUF bytes per poll that says there
 * is room (a write that size never blocks), anything else nothing; the
 * rest stays queued: -EAGAIN.
 */
static int flush(struct pm_sink *s, const volatile sig_atomic_t *give_up, bool wait)
{
	struct stat st;
	bool known = !fstat(s->fd, &st);
	bool regular = known && S_ISREG(st.st_mode);
	size_t done = 0;

	/* a terminal or socket may block on a PIPE_BUF write that poll
	 * allowed: not waiting means not writing to them here */
	if (!wait && !regular && !(known && S_ISFIFO(st.st_mode)))
		return s->out.len ? -EAGAIN : 0;

	while (done < s->out.len) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
		size_t len = s->out.len - done;
		ssize_t n;

		/* checked before every write: an interrupted pipe write that
		 * had written something returns that count, not EINTR */
		if (give_up && *give_up) {
			keep_from(s, done);
			return -EINTR;
		}
		if (!wait && !regular) {
			if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) {
				keep_from(s, done);
				return -EAGAIN;
			}
			len = len < PIPE_BUF ? len : PIPE_BUF;
		}
		n = write(s->fd, s->out.data + done, len);
		if (n >= 0) {
			done += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && !wait) {
			keep_from(s, done);
			return -EAGAIN;
		}
		if (errno == EAGAIN) { /* an inherited non-blocking stdout */
			poll(&pfd, 1, 1000);
			continue;
		}
		n = -errno;
		pm_log_error("writing events: %s", strerror(-n));
		drop_after_error(s, done);
		return n;
	}
	s->out.len = 0;
	return 0;
}

int pm_sink_flush(struct pm_sink *s, const volatile sig_atomic_t *give_up)
{
	return flush(s, give_up, true);
}

int pm_sink_flush_nowait(struct pm_sink *s)
{
	return flush(s, NULL, false);
}

void pm_sink_discard(struct pm_sink *s)
{
	s->lines_lost += count_lines(s->out.data, s->out.len);
	s->out.len = 0;
}

void pm_sink_close(struct pm_sink *s)
{
	pm_sink_discard(s);
	if (s->path && s->fd >= 0)
		close(s->fd);
	free(s->path);
	json_free(&s->out);
}
