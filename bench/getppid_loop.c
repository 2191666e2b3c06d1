// SPDX-License-Identifier: GPL-2.0
/*
 * getppid_loop: N getppid() system calls in a row, then the elapsed wall
 * time (CLOCK_MONOTONIC) in seconds as one number.
 *
 *   getppid_loop [N]     N defaults to 10000000
 *
 * getppid is a syscall procmon does not watch: what it costs more with
 * procmon on is what watching other syscalls costs everyone else (once
 * any syscall tracepoint is attached, every syscall takes the kernel's
 * traced path).
 */
#include <stdio.h>
#include <stdlib.h>
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
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	double t0 = now_s();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid); /* not getppid(): never cached by libc */
	printf("%.4f\n", now_s() - t0);
	return 0;
}
