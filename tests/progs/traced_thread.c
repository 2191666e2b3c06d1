/*
 * traced_thread: a thread created in a process while another one ptraces
 * it (NewRemoteThread).
 *
 * Forks a tracee that asks to be traced (PTRACE_TRACEME) and stops; the
 * parent, its tracer, lets it go on; the tracee creates one thread and
 * exits. Prints "tracee PID" and "thread TID" (the new thread's id).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void *thread_main(void *arg)
{
	(void)arg;
	printf("thread %d\n", gettid());
	fflush(stdout);
	return NULL;
}

int main(void)
{
	pid_t child = fork();
	int status;

	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		pthread_t t;

		if (ptrace(PTRACE_TRACEME, 0, 0, 0)) {
			perror("PTRACE_TRACEME");
			_exit(1);
		}
		raise(SIGSTOP); /* the tracer sees this stop, then lets us run */
		if (pthread_create(&t, NULL, thread_main, NULL))
			_exit(1);
		pthread_join(t, NULL);
		_exit(0);
	}
	printf("tracee %d\n", child);
	fflush(stdout);
	/* every stop of the tracee (SIGSTOP, then whatever comes) is resumed */
	while (waitpid(child, &status, 0) == child && WIFSTOPPED(status))
		ptrace(PTRACE_CONT, child, 0,
		       WSTOPSIG(status) == SIGSTOP ? 0 : (void *)(long)WSTOPSIG(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
