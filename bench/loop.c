// SPDX-License-Identifier: GPL-2.0
/*
 * loop: one operation N times in a row, then the elapsed wall time
 * (CLOCK_MONOTONIC) in seconds as one number.
 *
 *   loop getppid N        raw getppid(), a syscall procmon does not watch
 *   loop write N          write(2) of one byte to /dev/null: the write exit
 *                         hook (code writes through /proc/PID/mem) runs
 *   loop open N PATH      open(PATH, O_RDONLY) + close: the openat exit
 *                         hook runs each time (named pipes, /proc/PID/mem)
 *   loop dlopen N LIB     dlopen(LIB) + dlclose: maps and unmaps a shared
 *                         object (what module loads will watch)
 *   loop openmap N PATH LIB
 *                         open(PATH) + mmap of its first page PROT_READ +
 *                         munmap + close, then dlopen(LIB) + dlclose: the
 *                         file and mapping work of a program starting up.
 *                         LIB must be a library this program does not link
 *                         (e.g. libz.so.1), so that each dlopen maps it anew.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	const char *what = argc > 1 ? argv[1] : "";
	double t0;

	if (n <= 0 || (strcmp(what, "getppid") && strcmp(what, "write") && argc < 4) ||
	    (!strcmp(what, "openmap") && argc < 5)) {
		fprintf(stderr, "usage: loop getppid N | loop write N | loop open N PATH | loop dlopen N LIB"
				" | loop openmap N PATH LIB\n");
		return 2;
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		if (!strcmp(what, "getppid")) {
			syscall(SYS_getppid); /* not getppid(): never cached by libc */
		} else if (!strcmp(what, "write")) {
			static int null = -1;

			if (null < 0 && (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
				return 1;
			if (write(null, "x", 1) != 1)
				return 1;
		} else if (!strcmp(what, "open")) {
			int fd = open(argv[3], O_RDONLY | O_CLOEXEC);

			if (fd < 0) {
				perror(argv[3]);
				return 1;
			}
			close(fd);
		} else if (!strcmp(what, "openmap")) {
			int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
			void *p, *h;

			if (fd < 0) {
				perror(argv[3]);
				return 1;
			}
			p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p == MAP_FAILED) {
				perror("mmap");
				return 1;
			}
			munmap(p, 4096);
			close(fd);
			h = dlopen(argv[4], RTLD_NOW | RTLD_LOCAL);
			if (!h) {
				fprintf(stderr, "%s\n", dlerror());
				return 1;
			}
			dlclose(h);
		} else {
			void *h = dlopen(argv[3], RTLD_NOW | RTLD_LOCAL);

			if (!h) {
				fprintf(stderr, "%s\n", dlerror());
				return 1;
			}
			dlclose(h);
		}
	}
	printf("%.4f\n", now_s() - t0);
	return 0;
}
