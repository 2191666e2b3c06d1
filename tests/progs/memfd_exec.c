/*
 * memfd_exec: fileless execution (secureexec FILELESS_EXEC).
 *
 * Copies /bin/true into memfd_create("fileless-exec-test", 0) and execs it
 * through /proc/self/fd/N with argv {"memfd-test", "fileless-exec-test"}, so
 * the same pid first execs this program, then the memfd:
 *   filename "memfd:fileless-exec-test",
 *   binary_path "/memfd:fileless-exec-test (deleted)", args "fileless-exec-test".
 *
 *   memfd_exec [SRC]   copies SRC instead of /bin/true
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
	perror(what);
	exit(100);
}

static void copy_fd(int from, int to)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(from, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, n - off);
			if (w < 0)
				die("write");
			off += w;
		}
	}
	if (n < 0)
		die("read");
}

int main(int argc, char **argv)
{
	const char *from = argc > 1 ? argv[1] : "/bin/true";

	int mfd = memfd_create("fileless-exec-test", 0);
	if (mfd < 0)
		die("memfd_create");

	int src = open(from, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		die(from);
	copy_fd(src, mfd);
	close(src);

	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	char *args[] = { "memfd-test", "fileless-exec-test", NULL };
	execve(path, args, environ);
	die("execve memfd");
}
