/*
 * proc_tree: a known fork/exec tree, for procmon-tail --tree.
 *
 *   proc_tree (top)
 *   ├─ a: fork, exec /usr/bin/true tree-a
 *   └─ b: fork, no exec
 *      └─ c: fork, exec /usr/bin/true tree-c
 *
 * a is started and reaped before b, so the tree's order is known. Prints
 * "top PID", "a PID", "b PID", "c PID" (b passes c's pid up a pipe) and
 * exits 0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t spawn_true(const char *arg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(100);
	}
	if (pid == 0) {
		execl("/usr/bin/true", "true", arg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "child %d failed\n", pid);
		exit(100);
	}
}

int main(void)
{
	int fds[2];
	pid_t a, b, c;

	printf("top %d\n", getpid());
	a = spawn_true("tree-a");
	reap(a);
	printf("a %d\n", a);
	if (pipe(fds))
		return 100;
	fflush(stdout);
	b = fork();
	if (b < 0)
		return 100;
	if (b == 0) {
		c = spawn_true("tree-c");
		reap(c);
		if (write(fds[1], &c, sizeof(c)) != sizeof(c))
			_exit(100);
		_exit(0);
	}
	reap(b);
	if (read(fds[0], &c, sizeof(c)) != sizeof(c))
		return 100;
	printf("b %d\nc %d\n", b, c);
	return 0;
}
