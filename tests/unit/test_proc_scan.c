// SPDX-License-Identifier: GPL-2.0
/* pm_proc_gone against real processes: a leader that ended with
 * pthread_exit while another thread runs is a zombie in /proc, but the
 * process is alive until its last thread ends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect/proc_cache.h"
#include "collect/proc_scan.h"
#include "collect/procfs.h"

static int hold[2]; /* the surviving thread runs until this pipe closes */

static void *survivor(void *arg)
{
	char c;

	(void)arg;
	while (read(hold[0], &c, 1) > 0)
		;
	return NULL;
}

/* The state letter of pid in /proc/PID/stat, or 0. */
static char state_of(pid_t pid)
{
	char path[64], buf[4096];
	const char *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp ? rp[2] : 0;
}

static uint64_t start_ns_of(pid_t pid)
{
	char path[64], buf[4096];
	unsigned long long ticks = 0;
	const char *p;
	FILE *f;
	size_t n;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = strrchr(buf, ')') + 1; *p && field < 22; p++)
		if (*p == ' ' && ++field == 22)
			sscanf(p + 1, "%llu", &ticks);
	return ticks * pm_clock_tick_ns();
}

/* Wait (bounded) until pid is in state `want`. */
static void wait_state(pid_t pid, char want)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (state_of(pid) != want) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		assert_true(now.tv_sec - t0.tv_sec < 10);
		sched_yield();
	}
}

static void test_zombie_leader_with_live_thread_is_not_gone(void **state)
{
	pthread_t t;
	uint64_t start;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(hold[1]);
		pthread_create(&t, NULL, survivor, NULL);
		pthread_exit(NULL); /* the leader ends, the process does not */
	}
	close(hold[0]);
	wait_state(pid, 'Z');
	start = start_ns_of(pid);
	assert_false(pm_proc_gone(pid, start));
	/* another instance's start time: gone */
	assert_true(pm_proc_gone(pid, start + 5 * pm_clock_tick_ns()));

	close(hold[1]); /* the last thread ends: now the process has ended */
	assert_int_equal(waitid(P_PID, pid, NULL, WEXITED | WNOWAIT), 0);
	assert_true(pm_proc_gone(pid, start));
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_true(pm_proc_gone(pid, start));
}

static void test_running_process_is_not_gone(void **state)
{
	(void)state;
	assert_false(pm_proc_gone(getpid(), start_ns_of(getpid())));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running_process_is_not_gone),
		cmocka_unit_test(test_zombie_leader_with_live_thread_is_not_gone),
	};

	return cmocka_run_group_tests_name("proc_scan", tests, NULL, NULL);
}
