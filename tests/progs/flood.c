/*
 * flood: what an unprivileged process does to drown a sensor (issue 23):
 * prctl(PR_SET_NAME) and dlopen/dlclose of LIB in a loop for SECONDS.
 *
 *   flood SECONDS LIB [TICKS]
 *
 * Prints "ready" before the loop, "tick" TICKS times spread evenly over
 * the loop (a caller acts on each, so what it does happens during the
 * flood), then, when done, "prctl N" (calls that succeeded) and "dlopen N"
 * (dlopens that mapped LIB anew: it was not loaded before, so each maps
 * its code once), and exits 0.
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
	double start, end, seconds;
	int ticks = 0, ticked = 0;
	char name[16];

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: flood SECONDS LIB [TICKS]\n");
		return 100;
	}
	if (argc == 4)
		ticks = atoi(argv[3]);
	if (dlopen(argv[2], RTLD_NOLOAD | RTLD_LAZY)) {
		fprintf(stderr, "%s is loaded already\n", argv[2]);
		return 100;
	}
	printf("ready\n");
	fflush(stdout);
	seconds = atof(argv[1]);
	start = now();
	end = start + seconds;
	while (now() < end) {
		/* tick k of TICKS at k/(TICKS+1) of the way */
		if (ticked < ticks && now() >= start + seconds * (ticked + 1) / (ticks + 1)) {
			ticked++;
			printf("tick\n");
			fflush(stdout);
		}
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
