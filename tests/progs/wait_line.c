/*
 * wait_line: a process that stays alive until told to go.
 *
 * Prints "ready PID", then blocks until a line (or EOF) arrives on stdin and
 * exits with status argv[1] (default 0). The hash tests run copies of this
 * binary so they control exactly when the process ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[256];

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) && ferror(stdin)) {
		perror("read stdin");
		return 100;
	}
	return argc > 1 ? atoi(argv[1]) : 0;
}
