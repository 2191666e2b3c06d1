/*
 * exec_swap: change an executable right after it was executed, before the
 * sensor has had time to hash it (binary_ima_hash must never be the hash of
 * the new content).
 *
 *   exec_swap unlink    PATH           delete PATH while the process runs
 *   exec_swap rename    PATH NEWFILE   rename NEWFILE over PATH while it runs
 *   exec_swap rename-exit PATH NEWFILE as rename, for a PATH that exits at
 *                                      once by itself (a copy of true)
 *   exec_swap overwrite PATH NEWFILE   after the process exited, write
 *                                      NEWFILE's bytes into PATH in place (same
 *                                      inode) and restore PATH's mtime, so
 *                                      only the ctime (and content) changes
 *
 * PATH must be a program that reads one line from stdin and exits (a copy
 * of wait_line). The exec is detected through a close-on-exec pipe: its
 * read end sees EOF the moment execve succeeded, so the change follows the
 * exec by microseconds. Prints "child PID" when done and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(100);
}

/* Fork a child running PATH with its stdin on a pipe; returns once exec'd. */
static pid_t spawn(const char *path, int *stdin_w)
{
	int in[2], sync[2];

	if (pipe(in) < 0 || pipe2(sync, O_CLOEXEC) < 0)
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		close(sync[0]);
		char *av[] = { (char *)path, NULL };
		execv(path, av);
		int err = errno;
		if (write(sync[1], &err, sizeof(err)) < 0)
			_exit(101);
		_exit(100);
	}
	close(in[0]);
	close(sync[1]);
	int err;
	if (read(sync[0], &err, sizeof(err)) != 0) {
		fprintf(stderr, "exec %s failed\n", path);
		exit(100);
	}
	close(sync[0]);
	*stdin_w = in[1];
	return pid;
}

static void finish(pid_t pid, int stdin_w)
{
	int status;

	if (write(stdin_w, "\n", 1) != 1)
		die("write child stdin");
	close(stdin_w);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child failed: status %#x\n", status);
		exit(100);
	}
}

/* Same inode, new bytes, old mtime: only ctime tells the content changed. */
static void overwrite_in_place(const char *path, const char *newfile)
{
	char buf[65536];
	ssize_t n;
	struct stat st;

	/* Before O_TRUNC, which itself updates the mtime. */
	if (stat(path, &st) < 0)
		die("stat");
	int in = open(newfile, O_RDONLY | O_CLOEXEC);
	int out = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (in < 0 || out < 0)
		die("open");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			die("write");
	if (n < 0)
		die("read");
	struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, st.st_mtim };
	if (futimens(out, times) < 0)
		die("futimens");
	close(in);
	close(out);
}

int main(int argc, char **argv)
{
	int w;

	if (argc == 3 && !strcmp(argv[1], "unlink")) {
		pid_t pid = spawn(argv[2], &w);
		if (unlink(argv[2]) < 0)
			die("unlink");
		finish(pid, w);
		printf("child %d\n", (int)pid);
	} else if (argc == 4 && !strcmp(argv[1], "rename")) {
		pid_t pid = spawn(argv[2], &w);
		if (rename(argv[3], argv[2]) < 0)
			die("rename");
		finish(pid, w);
		printf("child %d\n", (int)pid);
	} else if (argc == 4 && !strcmp(argv[1], "rename-exit")) {
		pid_t pid = spawn(argv[2], &w);
		int status;

		if (rename(argv[3], argv[2]) < 0)
			die("rename");
		close(w);
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid");
		printf("child %d\n", (int)pid);
	} else if (argc == 4 && !strcmp(argv[1], "overwrite")) {
		pid_t pid = spawn(argv[2], &w);
		finish(pid, w); /* a running binary cannot be written (ETXTBSY) */
		overwrite_in_place(argv[2], argv[3]);
		printf("child %d\n", (int)pid);
	} else {
		fprintf(stderr, "usage: exec_swap unlink PATH | rename PATH NEWFILE | rename-exit PATH NEWFILE | "
				"overwrite PATH NEWFILE\n");
		return 2;
	}
	return 0;
}
