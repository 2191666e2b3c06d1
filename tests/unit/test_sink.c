// SPDX-License-Identifier: GPL-2.0
/*
 * The sink's promises: a file never holds part of a line, a pipe gets the
 * rest of a cut line, and every queued line is written, lost or pending.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/sink.h"

#define LINE "{\"type\":\"ProcessExec\",\"n\":12}" /* 29 bytes + newline */
#define LINE_LEN (sizeof(LINE) - 1)

static char dir[] = "/tmp/procmon-test-sink-XXXXXX";

static int setup(void **state)
{
	(void)state;
	signal(SIGXFSZ, SIG_IGN); /* as procmon: EFBIG, not death */
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void queue(struct pm_sink *s, int n)
{
	for (int i = 0; i < n; i++)
		pm_sink_line(s, LINE, LINE_LEN);
}

static void assert_balanced(const struct pm_sink *s, uint64_t queued)
{
	assert_int_equal(s->lines_written + s->lines_lost + s->pending, queued);
}

static void test_file_lines_counted_when_written(void **state)
{
	struct pm_sink s;
	char path[64], why[256];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/ok.jsonl", dir);
	assert_int_equal(pm_sink_open(&s, path, why, sizeof(why)), 0);
	queue(&s, 3);
	assert_int_equal(s.lines_written, 0); /* queued is not written */
	assert_int_equal(pm_sink_flush(&s, NULL), 0);
	assert_int_equal(s.lines_written, 3);
	assert_balanced(&s, 3);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3 * (LINE_LEN + 1));
	assert_int_equal(st.st_mode & 07777, 0600);
	pm_sink_close(&s);
}

/* A file-size limit cuts a write inside the fourth line: the file keeps
 * three whole lines, the others are lost, and counted. */
static void test_file_cut_back_to_a_line_boundary(void **state)
{
	struct rlimit old, lim = { .rlim_cur = 3 * (LINE_LEN + 1) + 10 };
	struct pm_sink s;
	char path[64], why[256];
	struct stat st;
	int err;

	(void)state;
	snprintf(path, sizeof(path), "%s/limited.jsonl", dir);
	assert_int_equal(pm_sink_open(&s, path, why, sizeof(why)), 0);
	queue(&s, 6);
	getrlimit(RLIMIT_FSIZE, &old);
	lim.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	err = pm_sink_flush(&s, NULL);
	setrlimit(RLIMIT_FSIZE, &old);
	assert_int_equal(err, -EFBIG);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3 * (LINE_LEN + 1));
	assert_int_equal(s.lines_written, 3);
	assert_int_equal(s.lines_lost, 3);
	assert_int_equal(s.write_errors, 1);
	assert_balanced(&s, 6);
	/* space again: the next line starts on a boundary */
	queue(&s, 1);
	assert_int_equal(pm_sink_flush(&s, NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4 * (LINE_LEN + 1));
	assert_balanced(&s, 7);
	pm_sink_close(&s);
}

/* /dev/full as stdout: nothing is written, everything is lost. */
static void test_full_device_writes_nothing(void **state)
{
	int saved = dup(STDOUT_FILENO), full = open("/dev/full", O_WRONLY);
	struct pm_sink s;

	(void)state;
	assert_true(saved >= 0 && full >= 0);
	dup2(full, STDOUT_FILENO);
	assert_int_equal(pm_sink_open(&s, NULL, NULL, 0), 0);
	queue(&s, 5);
	assert_int_equal(pm_sink_flush(&s, NULL), -ENOSPC);
	dup2(saved, STDOUT_FILENO);
	assert_int_equal(s.lines_written, 0);
	assert_int_equal(s.lines_lost, 5);
	assert_balanced(&s, 5);
	pm_sink_close(&s);
	close(saved);
	close(full);
}

/* A pipe nobody reads: what does not fit waits, whole or as a line's rest;
 * with a deadline, the flush gives up in time. */
static void test_pipe_keeps_what_does_not_fit(void **state)
{
	int p[2], saved = dup(STDOUT_FILENO);
	struct pm_sink s;
	int queued = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	dup2(p[1], STDOUT_FILENO);
	assert_int_equal(pm_sink_open(&s, NULL, NULL, 0), 0);
	for (; queued < 200; queued++)
		pm_sink_line(&s, LINE, LINE_LEN);
	assert_int_equal(pm_sink_flush_nowait(&s), -EAGAIN);
	assert_int_equal(pm_sink_flush_within(&s, 50), -ETIMEDOUT);
	dup2(saved, STDOUT_FILENO);
	assert_true(s.lines_written > 0 && s.pending > 0);
	assert_int_equal(s.lines_lost, 0);
	assert_balanced(&s, queued);
	pm_sink_discard(&s);
	assert_balanced(&s, queued);
	pm_sink_close(&s);
	close(p[0]);
	close(p[1]);
	close(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_lines_counted_when_written),
		cmocka_unit_test(test_file_cut_back_to_a_line_boundary),
		cmocka_unit_test(test_full_device_writes_nothing),
		cmocka_unit_test(test_pipe_keeps_what_does_not_fit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
