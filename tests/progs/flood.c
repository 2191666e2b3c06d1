/*
 * flood: what an unprivileged process does to drown a sensor (issue 23):
 * prctl(PR_SET_NAME) and dlopen/dlclose of LIB in a loop for SECONDS.
 *
 *   flood SECONDS LIB
 *
 * Prints "ready" before the loop, then, when done, "prctl N" (calls that
 * succeeded) and "dlopen N" (dlopens that mapped LIB anew: it was not
 * loaded before, so each maps its code once), and exits 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long prctls = 0, dlopens = 0;
	double end;
	char name[16];

	if (argc != 3) {
		fprintf(stderr, "usage: flood SECONDS LIB\n");
		return 100;
	}
	if (dlopen(argv[2], RTLD_NOLOAD | RTLD_LAZY)) {
		fprintf(stderr, "%s is loaded already\n", argv[2]);
		return 100;
	}
	printf("ready\n");
	fflush(stdout);
	end = now() + atof(argv[1]);
	while (now() < end) {
		for (int i = 0; i < 64; i++) {
			snprintf(name, sizeof(name), "flood%d", i);
			if (prctl(PR_SET_NAME, name, 0, 0, 0) == 0)
				prctls++;
		}
		void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);

		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 100;
		}
		dlopens++;
		dlclose(h);
	}
	printf("prctl %lu\ndlopen %lu\n", prctls, dlopens);
	return 0;
}
