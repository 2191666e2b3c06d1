/*
 * self_delete [exit]: an implant that deletes its own binary at start.
 *
 * unlink()s the file it runs from (/proc/self/exe), prints "deleted",
 * then waits for a line on stdin, or with "exit" exits at once.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char self[PATH_MAX], line[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return 100;
	self[n] = '\0';
	if (unlink(self))
		return 101;
	printf("deleted\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "exit"))
		return 0;
	return fgets(line, sizeof(line), stdin) ? 0 : 1;
}
