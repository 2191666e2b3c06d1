/*
 * threads: a process whose threads end before the process does
 * (ProcessExit once per process, never per thread; no ProcessClone for
 * threads).
 *
 *   threads exit-group | leader-first
 *
 * Both modes start 8 threads; 7 of them return at once and are joined.
 * The 8th (the survivor) stays alive. Then a short-lived "marker" child is
 * forked and reaped and "marker PID" is printed: the marker's ProcessExit is
 * an event that certainly happened after the 7 threads ended, so the test can
 * check that no ProcessExit for this pid came before it. Finally the program
 * waits for a line on stdin and ends:
 *
 *   exit-group    the main thread forks the marker and then calls exit(0)
 *                 while the survivor is still running (exit_group: any of
 *                 the two threads may be the last to die).
 *   leader-first  the main thread (tid == pid) ends first with pthread_exit;
 *                 the survivor joins it (pthread_join on the main thread
 *                 waits for the kernel to clear its tid in exit_mm, after
 *                 the sched_process_exit tracepoint on this kernel), forks
 *                 the marker, then exit(7).
 *                 A sensor that reports the leader's exit as the process
 *                 exit fails here.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 8

static pthread_t main_thread;
static int leader_first;

static void die(const char *what)
{
	perror(what);
	exit(100);
}

static void fork_marker(void)
{
	fflush(stdout);
	pid_t marker = fork();
	if (marker < 0)
		die("fork");
	if (marker == 0)
		_exit(0);
	if (waitpid(marker, NULL, 0) != marker)
		die("waitpid");
	printf("marker %d\n", (int)marker);
	fflush(stdout);
}

static void wait_stdin_line(void)
{
	char line[64];
	if (!fgets(line, sizeof(line), stdin) && ferror(stdin))
		die("read stdin");
}

static void *short_lived(void *arg)
{
	return arg;
}

static void *survivor(void *arg)
{
	if (!leader_first) {
		/* exit-group mode: park until exit_group kills us. */
		int *park = arg;
		char c;
		while (read(park[0], &c, 1) != 0)
			;
		return NULL;
	}

	if (pthread_join(main_thread, NULL) != 0)
		die("pthread_join main");
	fork_marker();
	wait_stdin_line();
	exit(7);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "exit-group") && strcmp(argv[1], "leader-first"))) {
		fprintf(stderr, "usage: threads exit-group|leader-first\n");
		return 2;
	}
	leader_first = !strcmp(argv[1], "leader-first");
	main_thread = pthread_self();

	int park[2];
	if (pipe(park) < 0)
		die("pipe");

	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		void *(*fn)(void *) = i == NTHREADS - 1 ? survivor : short_lived;
		if (pthread_create(&t[i], NULL, fn, park) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < NTHREADS - 1; i++)
		if (pthread_join(t[i], NULL) != 0)
			die("pthread_join");

	if (leader_first)
		pthread_exit(NULL); /* the survivor carries on */

	fork_marker();
	wait_stdin_line();
	exit(0);
}
