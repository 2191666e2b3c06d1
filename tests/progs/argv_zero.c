/*
 * argv_zero: a process that hides its command line after start, as
 * malware does: writes NAME over argv[0] and zeroes the rest of the argv
 * area, so /proc/PID/cmdline reads NAME followed by NUL bytes.
 *
 *   argv_zero NAME ARG...
 *
 * Prints "ready PID" once done, then waits for a line on stdin and exits 0.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[64], name[64];
	char *end;

	if (argc < 3) {
		fprintf(stderr, "usage: argv_zero NAME ARG...\n");
		return 100;
	}
	snprintf(name, sizeof(name), "%s", argv[1]);
	end = argv[argc - 1] + strlen(argv[argc - 1]);
	if ((size_t)(end - argv[0]) < strlen(name)) {
		fprintf(stderr, "argv area too small for NAME\n");
		return 100;
	}
	memset(argv[0], 0, end - argv[0]);
	memcpy(argv[0], name, strlen(name));
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) && ferror(stdin))
		return 100;
	return 0;
}
