/*
 * deep_path: exec a binary whose path the dentry walk cannot (or can only
 * barely) print: deeper than 4096 bytes or 128 components, or with a
 * newline or invalid UTF-8 in a name.
 *
 *   deep_path BASE FILE DIR...
 *
 * chdir(BASE), then for each DIR in order mkdir(DIR) and chdir(DIR) by its
 * relative name (an absolute path this long could not be passed to any
 * syscall), copy /bin/true to FILE (relative open) and execv("./FILE").
 * Any bytes except '/' and NUL are fine in FILE and DIR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(100);
}

static void copy_true_to(const char *name)
{
	char buf[65536];
	ssize_t n;
	int in = open("/bin/true", O_RDONLY | O_CLOEXEC);
	int out = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);

	if (in < 0 || out < 0)
		die("open");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			die("write");
	if (n < 0)
		die("read");
	close(in);
	/* Closed before the exec, or execve fails with ETXTBSY. */
	if (close(out) < 0)
		die("close");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: deep_path BASE FILE DIR...\n");
		return 2;
	}
	if (chdir(argv[1]) < 0)
		die("chdir BASE");
	for (int i = 3; i < argc; i++) {
		if (mkdir(argv[i], 0755) < 0 && errno != EEXIST)
			die("mkdir");
		if (chdir(argv[i]) < 0)
			die("chdir");
	}
	copy_true_to(argv[2]);

	char exe[512];
	snprintf(exe, sizeof(exe), "./%s", argv[2]);
	char *av[] = { argv[2], NULL };
	execv(exe, av);
	die("execv");
}
