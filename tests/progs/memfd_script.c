/*
 * memfd_script: a fileless script, as a stager runs one.
 *
 *   memfd_script HOW SCRIPT
 *
 * Writes SCRIPT (e.g. "#!/bin/sh\n...") into memfd_create("payload", 0)
 * and executes the memfd, HOW being "fexecve" (execveat(fd, "",
 * AT_EMPTY_PATH): the kernel runs /dev/fd/N) or "proc" (execve of
 * /proc/self/fd/N). The kernel runs the script's interpreter with the
 * script's fd path as its argument, in this same pid.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	char path[64];
	char *args[] = { "payload", NULL };
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: memfd_script fexecve|proc SCRIPT\n");
		return 2;
	}
	fd = memfd_create("payload", 0); /* the interpreter must read it: no CLOEXEC */
	if (fd < 0 || write(fd, argv[2], strlen(argv[2])) != (ssize_t)strlen(argv[2])) {
		perror("memfd");
		return 100;
	}
	if (!strcmp(argv[1], "fexecve")) {
		fexecve(fd, args, environ);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		execve(path, args, environ);
	}
	perror("exec");
	return 100;
}
