/*
 * fork_exit: fork without exec (ProcessClone, ProcessExit exit_code/signal).
 *
 * Forks two children that never exec, so their ProcessClone and ProcessExit
 * events carry cloned: true and this program's binary fields:
 *   - the first calls _exit(3)              -> exit_code 3, signal ""
 *   - the second blocks reading a pipe that nobody writes, and the parent
 *     SIGKILLs it                           -> signal "SIGKILL"
 * After reaping both it prints "exit3 PID" and "killed PID" and exits 0.
 * Arguments are ignored (the test passes some to check that a clone
 * inherits its parent's args).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(100);
}

static pid_t fork_or_die(void)
{
	/* Flush first so a child never repeats buffered output. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

static void reap(pid_t pid, int *status)
{
	if (waitpid(pid, status, 0) != pid)
		die("waitpid");
}

int main(void)
{
	int status;

	pid_t quitter = fork_or_die();
	if (quitter == 0)
		_exit(3);

	int block[2];
	if (pipe(block) < 0)
		die("pipe");
	pid_t victim = fork_or_die();
	if (victim == 0) {
		char c;
		close(block[1]);
		/* Never returns: the parent keeps the write end open. */
		while (read(block[0], &c, 1) != 0)
			;
		_exit(0);
	}
	close(block[0]);

	reap(quitter, &status);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 3)
		die("first child did not exit with 3");

	if (kill(victim, SIGKILL) < 0)
		die("kill");
	reap(victim, &status);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		die("second child was not killed by SIGKILL");

	printf("exit3 %d\nkilled %d\n", (int)quitter, (int)victim);
	return 0;
}
