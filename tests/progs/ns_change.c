/*
 * ns_change: change namespaces the ways nsenter and container escapes do.
 *
 *   ns_change STEP [STEP...]     each prints "STEP RESULT" (0, or -errno)
 *     unshare:FLAGS          unshare(FLAGS), FLAGS in hex (CLONE_NEW* bits)
 *     setns-file:PATH        setns(open(PATH), 0): a namespace file such as
 *                            /proc/PID/ns/net
 *     setns-pidfd:PID,FLAGS  setns(pidfd_open(PID), FLAGS): enter those
 *                            namespaces of PID at once
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *arg = strchr(argv[i], ':');
		long r = -EINVAL;
		int fd = -1;

		if (!arg) {
			printf("%s %ld\n", argv[i], r);
			continue;
		}
		arg++;
		if (!strncmp(argv[i], "unshare:", 8)) {
			r = unshare(strtoul(arg, NULL, 16));
		} else if (!strncmp(argv[i], "setns-file:", 11)) {
			fd = open(arg, O_RDONLY);
			r = fd < 0 ? -1 : setns(fd, 0);
		} else if (!strncmp(argv[i], "setns-pidfd:", 12)) {
			char *flags;
			pid_t pid = strtol(arg, &flags, 10);

			fd = syscall(SYS_pidfd_open, pid, 0);
			r = fd < 0 ? -1 : setns(fd, strtoul(flags + 1, NULL, 16));
		}
		if (r < 0)
			r = -errno;
		if (fd >= 0)
			close(fd);
		printf("%s %ld\n", argv[i], r);
	}
	return 0;
}
