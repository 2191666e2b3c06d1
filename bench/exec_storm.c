// SPDX-License-Identifier: GPL-2.0
/*
 * exec_storm: fork + execve("/bin/true") + waitpid, N times in a row, then
 * print the elapsed wall time (CLOCK_MONOTONIC) in seconds as one number.
 *
 *   exec_storm [N]     N defaults to 3000
 *
 * Each child is exec'd with argv = { "/bin/true" } and so has no arguments:
 * procmon reports it as a ProcessExec with "args":"" whose parent is this
 * program, which is how bench/exec_storm.sh finds the storm's events among
 * the rest of the host's activity. Exit status 1 if any child failed.
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

int main(int argc, char **argv)
{
	char *const child_argv[] = { TRUE_PATH, NULL };
	long n = DEFAULT_N, failed = 0;
	double t0, t1;
	char *end;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [N]\n", argv[0]);
		return 2;
	}
	if (argc == 2) {
		errno = 0;
		n = strtol(argv[1], &end, 10);
		if (errno || *end || end == argv[1] || n <= 0) {
			fprintf(stderr, "exec_storm: bad count: %s\n", argv[1]);
			return 2;
		}
	}

	t0 = now_s();
	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "exec_storm: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			execve(TRUE_PATH, child_argv, environ);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				fprintf(stderr, "exec_storm: waitpid: %s\n", strerror(errno));
				return 1;
			}
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	t1 = now_s();

	printf("%.6f\n", t1 - t0);
	if (failed) {
		fprintf(stderr, "exec_storm: %ld of %ld children failed\n", failed, n);
		return 1;
	}
	return 0;
}
