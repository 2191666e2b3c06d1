/*
 * storm: a tagged exec storm, for the fault tests.
 *
 *   storm TAG N
 *
 * N times, one after the other: fork, execv("/bin/true") with argv
 * {"true", TAG, "I"} (I = 0 .. N-1), waitpid. Each exec is reported with
 * args "TAG I", so a test can find every exec of the storm exactly once.
 * Prints "done N" at the end; exit status 1 if any child failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char num[32];
	int n, failed = 0;

	if (argc != 3 || (n = atoi(argv[2])) < 0) {
		fprintf(stderr, "usage: storm TAG N\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		char *child[] = { "true", argv[1], num, NULL };
		pid_t pid;
		int status;

		snprintf(num, sizeof(num), "%d", i);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execv("/bin/true", child);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	printf("done %d\n", n);
	return failed;
}
