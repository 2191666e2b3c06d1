/*
 * memfd_dlopen LIB: a library loaded from memory, as a fileless implant
 * loads its payload.
 *
 * Copies LIB into memfd_create("libpayload.so", MFD_CLOEXEC), dlopens it
 * as /proc/self/fd/N, prints "loaded", then waits for a line on stdin
 * (so the mapping lives until the caller lets it go).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[65536], path[64], line[16];
	int fd, src;
	ssize_t n;

	if (argc != 2 || (src = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: memfd_dlopen LIB\n");
		return 2;
	}
	fd = memfd_create("libpayload.so", MFD_CLOEXEC);
	while (fd >= 0 && (n = read(src, buf, sizeof(buf))) > 0)
		if (write(fd, buf, n) != n)
			return 100;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (fd < 0 || !dlopen(path, RTLD_NOW)) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 100;
	}
	printf("loaded\n");
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) ? 0 : 1;
}
