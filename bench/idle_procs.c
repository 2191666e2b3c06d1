// SPDX-License-Identifier: GPL-2.0
/*
 * idle_procs: N idle child processes, for timing a monitor's start-up scan
 * of /proc against a busy process table.
 *
 *   idle_procs N
 *
 * Forks N children that block in read() on a pipe, then prints "ready N"
 * on stdout once all of them exist and waits until its stdin reaches end
 * of file (the benchmark closes it, or dies). It then closes the pipe's
 * write end, so every child's read() returns 0 and the child exits, reaps
 * them all and exits 0. The children also die with it (PR_SET_PDEATHSIG)
 * if it is killed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc == 2 ? atol(argv[1]) : 0, i;
	int fds[2];
	char c;

	if (n <= 0) {
		fprintf(stderr, "usage: %s N\n", argv[0]);
		return 2;
	}
	if (pipe(fds) < 0) {
		perror("pipe");
		return 1;
	}
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "idle_procs: fork %ld: %s\n", i, strerror(errno));
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			close(fds[1]);
			close(0);
			while (read(fds[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	for (;;) {
		ssize_t r = read(0, &c, 1);

		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		break;
	}
	close(fds[1]);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
