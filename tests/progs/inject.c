/*
 * inject PID: the steps of a code injection, done harmlessly.
 *
 * PTRACE_ATTACH to PID, wait for the stop, read its registers, read the
 * word at its instruction pointer and PTRACE_POKETEXT the same word back,
 * PTRACE_SETREGS the same registers, detach: the target runs on as
 * before. Prints "ip N" (the address written, decimal).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	struct user_regs_struct regs;
	pid_t pid;
	long word;
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: inject PID\n");
		return 2;
	}
	pid = atoi(argv[1]);
	if (ptrace(PTRACE_ATTACH, pid, 0, 0))
		die("PTRACE_ATTACH");
	if (waitpid(pid, &status, __WALL) != pid)
		die("waitpid");
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs))
		die("PTRACE_GETREGS");
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, (void *)regs.rip, 0);
	if (errno)
		die("PTRACE_PEEKTEXT");
	if (ptrace(PTRACE_POKETEXT, pid, (void *)regs.rip, (void *)word))
		die("PTRACE_POKETEXT");
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs))
		die("PTRACE_SETREGS");
	if (ptrace(PTRACE_DETACH, pid, 0, 0))
		die("PTRACE_DETACH");
	printf("ip %llu\n", (unsigned long long)regs.rip);
	return 0;
}
