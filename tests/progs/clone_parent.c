/*
 * clone_parent: clone(CLONE_PARENT) a child, so the child's parent is this
 * program's parent (the test) while the binary it runs is this program's.
 * Prints "child PID" and waits for the child to be reaped by... nobody
 * here: the child exits at once and the test, its parent, reaps it.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	/* raw clone: glibc's fork() has no CLONE_PARENT */
	long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);

	if (pid < 0) {
		perror("clone");
		return 1;
	}
	if (pid == 0)
		_exit(0);
	printf("child %ld\n", pid);
	return 0;
}
