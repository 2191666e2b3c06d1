// SPDX-License-Identifier: GPL-2.0
/*
 * exec_storm: process lifetimes as fast as one loop can make them.
 *
 *   exec_storm [N]          N x fork + execve("/bin/true") + waitpid, then
 *                           the elapsed wall time (CLOCK_MONOTONIC) in
 *                           seconds as one number. N defaults to 3000.
 *   exec_storm -t SECONDS   the same loop until SECONDS have passed, then
 *                           "COUNT SECONDS": execs done, elapsed time.
 *   exec_storm -f N         N x fork + _exit(0) + waitpid, no exec (process
 *                           lifetimes at fork speed), then the seconds.
 *
 * Each child is exec'd with arguments, argv = { "/bin/true", "bench",
 * "exec-storm" }: a monitor reports it as an exec of "true" with the
 * arguments "bench exec-storm" whose parent is this program, which is how
 * the benchmarks (bench/suite/, bench/exec_storm.sh) find the storm's
 * events among the rest of the host's activity, and how they check that
 * the arguments came through. The argument strings live on this program's
 * stack, as a shell's live on its heap: memory a fork copies the page
 * tables of, so a tracer reading them at execve entry, before the kernel
 * has faulted anything in (execsnoop), finds them. In .rodata they would
 * not be mapped in the fresh child and such a tracer would see no
 * arguments. Exit status 1 if any child failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_N 3000
#define TRUE_PATH "/bin/true"

extern char **environ;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [N] | -t SECONDS | -f N\n", argv0);
	return 2;
}

/* A positive number from s, or -1. */
static double number(const char *s, int integer)
{
	char *end;
	double v;

	errno = 0;
	v = integer ? (double)strtol(s, &end, 10) : strtod(s, &end);
	if (errno || *end || end == s || v <= 0)
		return -1;
	return v;
}

/* One child: exec'd with argv (or exiting at once if NULL). 0 if it exited 0. */
static int one(char *const *child_argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "exec_storm: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		if (child_argv)
			execve(child_argv[0], child_argv, environ);
		_exit(child_argv ? 127 : 0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "exec_storm: waitpid: %s\n", strerror(errno));
			exit(1);
		}
	}
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv)
{
	char a0[] = TRUE_PATH, a1[] = "bench", a2[] = "exec-storm";
	char *child_argv[] = { a0, a1, a2, NULL };
	long n = DEFAULT_N, i, failed = 0;
	double secs = 0, t0, t1;
	int exec = 1;

	if (argc == 3 && !strcmp(argv[1], "-t")) {
		secs = number(argv[2], 0);
		if (secs < 0)
			return usage(argv[0]);
	} else if (argc == 3 && !strcmp(argv[1], "-f")) {
		n = (long)number(argv[2], 1);
		exec = 0;
	} else if (argc == 2) {
		n = (long)number(argv[1], 1);
	} else if (argc != 1) {
		return usage(argv[0]);
	}
	if (n <= 0) {
		fprintf(stderr, "exec_storm: bad count\n");
		return 2;
	}

	t0 = t1 = now_s();
	if (secs > 0) {
		for (i = 0; t1 - t0 < secs; i++) {
			failed += one(child_argv);
			t1 = now_s();
		}
		n = i;
		printf("%ld %.6f\n", n, t1 - t0);
	} else {
		for (i = 0; i < n; i++)
			failed += one(exec ? child_argv : NULL);
		t1 = now_s();
		printf("%.6f\n", t1 - t0);
	}
	if (failed) {
		fprintf(stderr, "exec_storm: %ld of %ld children failed\n", failed, n);
		return 1;
	}
	return 0;
}
