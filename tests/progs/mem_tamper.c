/*
 * mem_tamper: write another process's memory the ways an injector does,
 * harmlessly (each write puts back the byte it read).
 *
 *   mem_tamper STEP [STEP...]     each prints "STEP RESULT" (bytes, or -errno)
 *     open:PID,MODE        open /proc/PID/mem with MODE r, w or rw, close it
 *     pwrite:PID,ADDR      open /proc/PID/mem O_RDWR, pread one byte at
 *                          ADDR, pwrite it back
 *     write:PID,ADDR       the same with lseek + read, lseek + write
 *     vm-write:PID,ADDR    process_vm_readv one byte at ADDR, then
 *                          process_vm_writev it back
 *     vm-read-gone         fork a child, process_vm_readv one byte of it,
 *                          kill and reap it at once: the target is gone
 *                          before anyone can look it up by pid; the result
 *                          is the child's pid
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static long neg(long r)
{
	return r < 0 ? -errno : r;
}

static long proc_mem(pid_t pid, unsigned long addr, int positioned)
{
	char path[64], byte;
	long r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	if (positioned) {
		r = pread(fd, &byte, 1, addr);
		if (r == 1)
			r = neg(pwrite(fd, &byte, 1, addr));
	} else {
		r = lseek(fd, addr, SEEK_SET) == (off_t)addr ? read(fd, &byte, 1) : -1;
		if (r == 1)
			r = lseek(fd, addr, SEEK_SET) == (off_t)addr ? write(fd, &byte, 1) : -1;
		r = neg(r);
	}
	close(fd);
	return r;
}

static long vm_write(pid_t pid, unsigned long addr)
{
	char byte;
	struct iovec local = { &byte, 1 }, remote = { (void *)addr, 1 };
	long r = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (r == 1)
		r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	return neg(r);
}

static long vm_read_gone(void)
{
	static char byte = 7;
	char got;
	struct iovec local = { &got, 1 }, remote = { &byte, 1 };
	int ready[2];
	pid_t child;
	long r;

	if (pipe(ready))
		return -errno;
	child = fork();
	if (child == 0) {
		close(ready[0]);
		write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &got, 1) != 1)
		return -EIO;
	r = process_vm_readv(child, &local, 1, &remote, 1, 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return r == 1 ? child : neg(r);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *arg = strchr(argv[i], ':'), name[32];
		unsigned long addr = 0;
		pid_t pid = 0;
		long r = -EINVAL;

		snprintf(name, sizeof(name), "%.*s", arg ? (int)(arg - argv[i]) : 31, argv[i]);
		if (arg) {
			pid = strtol(arg + 1, &arg, 10);
			if (*arg == ',')
				arg++;
		}
		if (!strcmp(name, "open")) {
			int flags = !strcmp(arg, "r") ? O_RDONLY : !strcmp(arg, "w") ? O_WRONLY : O_RDWR;
			char path[64];
			int fd;

			snprintf(path, sizeof(path), "/proc/%d/mem", pid);
			fd = open(path, flags);
			r = fd < 0 ? -errno : 0;
			if (fd >= 0)
				close(fd);
		} else if (!strcmp(name, "pwrite") || !strcmp(name, "write") ||
			   !strcmp(name, "vm-write")) {
			addr = strtoul(arg, NULL, 10);
			r = name[0] == 'v' ? vm_write(pid, addr) : proc_mem(pid, addr, name[0] == 'p');
		} else if (!strcmp(name, "vm-read-gone")) {
			r = vm_read_gone();
		}
		printf("%s %ld\n", argv[i], r);
	}
	return 0;
}
