// SPDX-License-Identifier: GPL-2.0
#include "output/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/safe_file.h"

#define NSEC_PER_MSEC 1000000ull
/* A wait for a slow reader looks at its give-up flag at least this often,
 * so a signal that lands just before poll() is seen within this time. */
#define WAIT_SLICE_MS 100
#define REOPEN_EVERY_NS (1000 * NSEC_PER_MSEC)
#define NO_DEADLINE UINT64_MAX

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static const char *name(const struct pm_sink *s)
{
	return s->path ? s->path : "stdout";
}

int pm_sink_open(struct pm_sink *s, const char *path, char *why, size_t whylen)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	pm_buf_init(&s->out);
	s->fd = STDOUT_FILENO;
	if (!path) {
		s->regular = !fstat(s->fd, &st) && S_ISREG(st.st_mode);
		return 0;
	}
	s->path = strdup(path);
	if (!s->path)
		return -ENOMEM;
	s->fd = pm_safe_open_append(path, why, whylen);
	s->regular = true; /* pm_safe_open_append opens nothing else */
	return s->fd < 0 ? s->fd : 0;
}

void pm_sink_set_rotation(struct pm_sink *s, uint64_t max_bytes, unsigned backups,
			  bool compress)
{
	s->max_bytes = s->path ? max_bytes : 0;
	s->backups = backups ? backups : 1;
	s->compress = compress;
}

int pm_sink_reopen(struct pm_sink *s, char *why, size_t whylen)
{
	int fd;

	if (!s->path)
		return 0;
	fd = pm_safe_open_append(s->path, why, whylen);
	if (fd < 0)
		return fd; /* keep writing to the old file rather than nowhere */
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	return 0;
}

void pm_sink_line(struct pm_sink *s, const char *line, size_t len)
{
	size_t before = s->out.len;

	pm_buf_put(&s->out, line, len);
	pm_buf_put(&s->out, "\n", 1);
	if (s->out.oom) { /* take back the half-queued line, count it */
		s->out.len = before;
		s->out.oom = false;
		s->lines_lost++;
		return;
	}
	s->pending++;
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

/* The first `done` queued bytes reached the output: count the lines they
 * end, keep the rest queued. */
static void wrote(struct pm_sink *s, size_t done)
{
	uint64_t lines;

	s->bytes_written += done;
	if (done == s->out.len) {
		s->lines_written += s->pending;
		s->pending = 0;
		s->out.len = 0;
		return;
	}
	lines = count_lines(s->out.data, done);
	s->lines_written += lines;
	s->pending -= lines;
	memmove(s->out.data, s->out.data + done, s->out.len - done);
	s->out.len -= done;
}

void pm_sink_discard(struct pm_sink *s)
{
	s->lines_lost += s->pending;
	s->pending = 0;
	s->out.len = 0;
}

/*
 * Take the last `partial` bytes of a line back out of the file, so that
 * it ends on a line boundary again. Only when those bytes are still its
 * end: a file truncated meanwhile (logrotate's copytruncate) is left alone.
 */
static bool cut_back(struct pm_sink *s, size_t partial)
{
	struct stat st;
	off_t at;
	char c;

	if (fstat(s->fd, &st))
		return false;
	at = st.st_size - (off_t)partial;
	if (at < 0 || (at > 0 && (pread(s->fd, &c, 1, at - 1) != 1 || c != '\n')))
		return false;
	return ftruncate(s->fd, at) == 0;
}

/* A write failed with err after `done` bytes: the output ends on a line
 * boundary again, or the cut line's rest stays queued to complete it. */
static int write_failed(struct pm_sink *s, size_t done, int err)
{
	size_t whole = done, keep;

	s->write_errors++;
	s->last_error = err;
	if (err != -EPIPE)
		pm_log_error_limited(&s->errors, "writing events to %s: %s", name(s),
				     strerror(-err));
	while (whole && s->out.data[whole - 1] != '\n')
		whole--;
	if (whole == done || (s->regular && cut_back(s, done - whole))) {
		wrote(s, whole);
		pm_sink_discard(s);
		return err;
	}
	wrote(s, done);
	keep = (char *)memchr(s->out.data, '\n', s->out.len) + 1 - s->out.data;
	s->lines_lost += s->pending - 1;
	s->pending = 1;
	s->out.len = keep;
	return err;
}

/* 0 once fd takes a write, or -EINTR (give_up), -EAGAIN (deadline 0: no
 * waiting), -ETIMEDOUT (deadline passed). */
static int wait_writable(struct pm_sink *s, const volatile sig_atomic_t *give_up,
			 uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
		uint64_t now = deadline && deadline != NO_DEADLINE ? now_ns() : 0;
		int ms = WAIT_SLICE_MS, r;

		if (give_up && *give_up)
			return -EINTR;
		if (!deadline)
			ms = 0;
		else if (now >= deadline)
			return -ETIMEDOUT;
		else if (deadline != NO_DEADLINE && (deadline - now) / NSEC_PER_MSEC < WAIT_SLICE_MS)
			ms = (deadline - now) / NSEC_PER_MSEC + 1;
		r = poll(&pfd, 1, ms);
		if (r > 0) /* writable, or an error that write() will report */
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 && !deadline)
			return -EAGAIN;
	}
}

/*
 * Rotation (rotate.h): FILE becomes FILE.1 and a new FILE is opened the
 * way SIGHUP opens it. false when that could not be done: the sink goes
 * on writing where it was, and tries again a second later.
 */
static bool rotate(struct pm_sink *s)
{
	char why[1024];
	uint64_t now = now_ns();
	int fd, old;

	if (now < s->rotate_next_ns)
		return false;
	pm_rotate_gz_wait(&s->gz); /* the last one's FILE.1 is FILE.1.gz now */
	if (pm_rotate_shift(s->path, s->backups, why, sizeof(why))) {
		pm_log_error_limited(&s->errors, "not rotating the output: %s", why);
		s->rotate_next_ns = now + REOPEN_EVERY_NS;
		return false;
	}
	fd = pm_safe_open_append(s->path, why, sizeof(why));
	if (fd < 0) {
		pm_log_error_limited(&s->errors, "rotated the output to %s.1 but cannot open a new "
				     "one (%s): still writing to %s.1", s->path, why, s->path);
		s->rotate_next_ns = now + REOPEN_EVERY_NS;
		return false;
	}
	old = s->fd;
	s->fd = fd;
	s->rotations++;
	if (!s->compress)
		close(old);
	else if (pm_rotate_gz_start(&s->gz, s->path, old)) /* takes old over */
		pm_log_warn("not compressing %s.1: cannot start a thread", s->path);
	return true;
}

/* Write the first n queued bytes (whole lines) to the regular file. */
static int write_prefix(struct pm_sink *s, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(s->fd, s->out.data + done, n - done);

		if (w >= 0)
			done += w;
		else if (errno != EINTR)
			return write_failed(s, done, -errno);
	}
	wrote(s, n);
	s->last_error = 0;
	return 0;
}

/*
 * Before writing the queue to a file with a size limit: as many whole
 * lines as fit go to the current file, then it is rotated, until the rest
 * fits. A line longer than the limit gets a file to itself. Returns 0
 * with the rest (if any) to be written by flush(), or a write error.
 */
static int flush_rotating(struct pm_sink *s)
{
	struct stat st;

	while (s->out.len) {
		uint64_t size, room;
		size_t cut = 0;
		const char *nl;
		int err;

		if (fstat(s->fd, &st))
			return 0;
		size = (uint64_t)st.st_size;
		if (size + s->out.len <= s->max_bytes)
			return 0;
		room = size < s->max_bytes ? s->max_bytes - size : 0;
		if (room > s->out.len)
			room = s->out.len;
		for (size_t i = room; i > 0; i--)
			if (s->out.data[i - 1] == '\n') {
				cut = i;
				break;
			}
		if (!cut && !size) {
			nl = memchr(s->out.data, '\n', s->out.len);
			cut = nl ? (size_t)(nl + 1 - s->out.data) : s->out.len;
		}
		if (cut && (err = write_prefix(s, cut)))
			return err;
		if (!rotate(s))
			return 0;
	}
	return 0;
}

/*
 * A removed output file (its directory cleaned up, the file deleted)
 * still takes writes that nobody will ever read: write a new one at the
 * same path instead, and while that cannot be, count the lines as lost.
 */
static int output_removed(struct pm_sink *s)
{
	char why[512];
	struct stat st;
	uint64_t now;

	if (!s->path || fstat(s->fd, &st) || st.st_nlink)
		return 0;
	now = now_ns();
	if (now >= s->reopen_next_ns) {
		s->reopen_next_ns = now + REOPEN_EVERY_NS;
		if (!pm_sink_reopen(s, why, sizeof(why))) {
			pm_log_warn("output %s was removed: writing to a new one", s->path);
			return 0;
		}
		pm_log_error_limited(&s->errors, "output %s was removed and cannot be recreated "
				     "(%s): counting events as lost until it can",
				     s->path, why);
	}
	pm_sink_discard(s);
	s->last_error = -ENOENT;
	return -ENOENT;
}

/*
 * Write the queue. A regular file takes it all at once. Anything else (a
 * pipe, a terminal, a socket) is written PIPE_BUF bytes per poll that
 * says there is room, a write that size never blocks, until deadline
 * (CLOCK_MONOTONIC ns; 0: no waiting at all; NO_DEADLINE) or give_up.
 */
static int flush(struct pm_sink *s, const volatile sig_atomic_t *give_up, uint64_t deadline)
{
	size_t done = 0;
	int err;

	if (!s->out.len)
		return 0;
	if (s->regular && (err = output_removed(s)))
		return err;
	if (s->max_bytes && (err = flush_rotating(s)))
		return err;
	if (!s->out.len)
		return 0;
	while (done < s->out.len) {
		size_t len = s->out.len - done;
		ssize_t n;

		if (!s->regular) {
			err = wait_writable(s, give_up, deadline);
			if (err) {
				wrote(s, done);
				return err;
			}
			len = len < PIPE_BUF ? len : PIPE_BUF;
		}
		n = write(s->fd, s->out.data + done, len);
		if (n >= 0) {
			done += n;
			continue;
		}
		/* EAGAIN: an inherited non-blocking stdout, polled again */
		if (errno == EINTR || (errno == EAGAIN && !s->regular))
			continue;
		return write_failed(s, done, -errno);
	}
	wrote(s, done);
	s->last_error = 0;
	return 0;
}

int pm_sink_flush(struct pm_sink *s, const volatile sig_atomic_t *give_up)
{
	return flush(s, give_up, NO_DEADLINE);
}

int pm_sink_flush_nowait(struct pm_sink *s)
{
	return flush(s, NULL, 0);
}

int pm_sink_flush_within(struct pm_sink *s, unsigned ms)
{
	return flush(s, NULL, now_ns() + ms * NSEC_PER_MSEC);
}

void pm_sink_report(struct pm_sink *s)
{
	pm_log_limit_flush(&s->errors);
}

void pm_sink_close(struct pm_sink *s)
{
	pm_rotate_gz_wait(&s->gz);
	pm_sink_discard(s);
	pm_sink_report(s);
	if (s->path && s->fd >= 0)
		close(s->fd);
	free(s->path);
	pm_buf_free(&s->out);
}
