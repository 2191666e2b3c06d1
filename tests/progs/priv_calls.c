/*
 * priv_calls: make the privilege and access syscalls procmon reports as
 * ProcessEvent, one scenario per invocation, with raw syscalls (so the
 * call happens in this thread exactly as written, no libc emulation).
 *
 *   priv_calls STEP [STEP...]
 *
 * Steps run in order; each prints "STEP RESULT" (the return value, or
 * -errno) so a test can check that the call did what it expects:
 *   setuid:U  setreuid:R,E  setresuid:R,E,S  setfsuid:F
 *   setgid:G  setregid:R,E  setresgid:R,E,S  setfsgid:F
 *   capset:EFF,PRM,INH          (hex masks, low 64 bits)
 *   prctl:OPTION,ARG2[,ARG3]    (decimal)
 *   prctl-name:NAME             PR_SET_NAME
 *   unshare-user  clone-user  clone3-user
 *   unshare:FLAGS               (hex)
 *   chroot:DIR                  (unshare(CLONE_NEWUSER) then fails: EPERM)
 *   ptrace-attach:PID  ptrace-seize:PID   (then detach)
 *   vm-read:PID  vm-write:PID   (one byte of the target's first writable
 *                                mapping; write writes it back unchanged)
 *   vm-empty:PID                process_vm_readv with no iovecs (checks nothing)
 *   vm-fault-read:PID  vm-fault-write:PID
 *                               one byte at the target's address 8 (never
 *                               mapped): access is checked, then EFAULT
 *   vm-badvec:PID               process_vm_readv with an unreadable local
 *                               iovec array: EFAULT before any check
 *   vm-badbuf:PID               a local buffer at a kernel address: EFAULT
 *                               before any check
 *   mem:PATH                    open PATH (a /proc/.../mem form) read-only
 *   mem-at:DIR,NAME             openat(open(DIR), NAME)
 *   pidfd-getfd:PID             pidfd_getfd(pidfd_open(PID), 0)
 *   mkfifo:PATH                 mknodat(AT_FDCWD, PATH, S_IFIFO|0600)
 *   mkfifoat:DIR,NAME           mknodat(open(DIR), NAME, S_IFIFO|0600)
 *   mknod-fifo:PATH             mknod(PATH, S_IFIFO|0600)
 *   open-fifo:PATH              open(PATH, O_RDONLY|O_NONBLOCK)
 *   at-base                     getauxval(AT_BASE): where the ELF interpreter is
 *   map-then-exec:PATH          mmap PATH's first page PROT_READ, then
 *                               mprotect it PROT_READ|PROT_EXEC; the result
 *                               is the mapping's address
 *   dlopen:LIB                  dlopen(LIB); the result is where the object
 *                               starts in /proc/self/maps (its first line)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static long ret_of(long r)
{
	return r < 0 ? -errno : r;
}

/* Address of the first writable mapping in /proc/PID/maps; when that
 * cannot be read (another user's process), any address: the kernel
 * checks the access before it looks at the address. */
static uintptr_t writable_mapping(long pid)
{
	char path[64], line[512], perms[8];
	unsigned long start = 0x10000;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return start;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%*x %7s", &start, perms) == 2 && perms[1] == 'w')
			break;
	fclose(f);
	return start;
}

static long vm_access(long pid, int write)
{
	char byte = 0;
	struct iovec local = { &byte, 1 };
	struct iovec remote = { (void *)writable_mapping(pid), 1 };
	long r = ret_of(syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0));

	/* writing back what is there changes nothing in the target */
	if (write && r == 1)
		r = ret_of(syscall(SYS_process_vm_writev, pid, &local, 1, &remote, 1, 0));
	else if (write) /* still make the write call, to be reported as denied */
		r = ret_of(syscall(SYS_process_vm_writev, pid, &local, 1, &remote, 1, 0));
	return r;
}

/* process_vm_* calls that fault: "fault-read", "fault-write" after the
 * access check, "badvec", "badbuf" before it. */
static long vm_fault(long pid, const char *how)
{
	char byte = 0;
	struct iovec local = { &byte, 1 };
	struct iovec remote = { (void *)8, 1 };
	long nr = SYS_process_vm_readv;
	const void *lvec = &local;

	if (!strcmp(how, "fault-write")) {
		nr = SYS_process_vm_writev;
	} else if (!strcmp(how, "badvec")) {
		lvec = (void *)8;
		remote.iov_base = (void *)writable_mapping(pid);
	} else if (!strcmp(how, "badbuf")) {
		local.iov_base = (void *)0xffff888000000000UL;
		remote.iov_base = (void *)writable_mapping(pid);
	}
	return ret_of(syscall(nr, pid, lvec, 1, &remote, 1, 0));
}

/* dlopen(lib), then the start of the first /proc/self/maps line of it. */
static long dlopen_base(const char *lib)
{
	char line[512], *path;
	unsigned long start;
	struct link_map *map;
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	FILE *f;

	if (!h || dlinfo(h, RTLD_DI_LINKMAP, &map) || !(path = realpath(map->l_name, NULL)))
		return -ENOENT;
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) > strlen(path) && !strcmp(line + strlen(line) - strlen(path), path) &&
		    sscanf(line, "%lx-", &start) == 1) {
			fclose(f);
			free(path);
			return start;
		}
	}
	if (f)
		fclose(f);
	free(path);
	return -ENOENT;
}

static long ptrace_and_detach(long request, long pid)
{
	long r = ret_of(syscall(SYS_ptrace, request, pid, 0, 0));
	int status;

	if (r == 0) {
		if (request == PTRACE_ATTACH)
			waitpid(pid, &status, __WALL);
		syscall(SYS_ptrace, PTRACE_DETACH, pid, 0, 0);
	}
	return r;
}

static long clone_user(int use_clone3)
{
	long child;
	int status;

	if (use_clone3) {
		struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };

		child = syscall(SYS_clone3, &args, sizeof(args));
	} else {
		child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	}
	if (child == 0)
		_exit(0);
	if (child < 0)
		return -errno;
	waitpid(child, &status, 0);
	return child;
}

static long capset_masks(const char *spec)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	unsigned long long eff, prm, inh;

	if (sscanf(spec, "%llx,%llx,%llx", &eff, &prm, &inh) != 3)
		return -EINVAL;
	data[0].effective = eff;
	data[1].effective = eff >> 32;
	data[0].permitted = prm;
	data[1].permitted = prm >> 32;
	data[0].inheritable = inh;
	data[1].inheritable = inh >> 32;
	return ret_of(syscall(SYS_capset, &hdr, data));
}

static long step(const char *name, const char *arg)
{
	long a = 0, b = 0, c = 0;

	if (arg)
		sscanf(arg, "%ld,%ld,%ld", &a, &b, &c);
	if (!strcmp(name, "setuid"))
		return ret_of(syscall(SYS_setuid, a));
	if (!strcmp(name, "setreuid"))
		return ret_of(syscall(SYS_setreuid, a, b));
	if (!strcmp(name, "setresuid"))
		return ret_of(syscall(SYS_setresuid, a, b, c));
	if (!strcmp(name, "setfsuid"))
		return syscall(SYS_setfsuid, a); /* the previous fsuid, never an error */
	if (!strcmp(name, "setgid"))
		return ret_of(syscall(SYS_setgid, a));
	if (!strcmp(name, "setregid"))
		return ret_of(syscall(SYS_setregid, a, b));
	if (!strcmp(name, "setresgid"))
		return ret_of(syscall(SYS_setresgid, a, b, c));
	if (!strcmp(name, "setfsgid"))
		return syscall(SYS_setfsgid, a);
	if (!strcmp(name, "capset"))
		return capset_masks(arg);
	if (!strcmp(name, "prctl"))
		return ret_of(syscall(SYS_prctl, a, b, c, 0, 0));
	if (!strcmp(name, "prctl-name"))
		return ret_of(syscall(SYS_prctl, PR_SET_NAME, arg, 0, 0, 0));
	if (!strcmp(name, "unshare-user"))
		return ret_of(syscall(SYS_unshare, CLONE_NEWUSER));
	if (!strcmp(name, "chroot"))
		return ret_of(chroot(arg));
	if (!strcmp(name, "unshare"))
		return ret_of(syscall(SYS_unshare, strtoul(arg, NULL, 16)));
	if (!strcmp(name, "vm-empty"))
		return ret_of(syscall(SYS_process_vm_readv, a, NULL, 0, NULL, 0, 0));
	if (!strcmp(name, "clone-user"))
		return clone_user(0);
	if (!strcmp(name, "clone3-user"))
		return clone_user(1);
	if (!strcmp(name, "ptrace-attach"))
		return ptrace_and_detach(PTRACE_ATTACH, a);
	if (!strcmp(name, "ptrace-seize"))
		return ptrace_and_detach(PTRACE_SEIZE, a);
	if (!strncmp(name, "vm-fault-", 9) || !strcmp(name, "vm-badvec") ||
	    !strcmp(name, "vm-badbuf"))
		return vm_fault(a, name + 3);
	if (!strcmp(name, "vm-read"))
		return vm_access(a, 0);
	if (!strcmp(name, "vm-write"))
		return vm_access(a, 1);
	if (!strcmp(name, "mem"))
		return ret_of(open(arg, O_RDONLY | O_CLOEXEC));
	if (!strcmp(name, "map-then-exec")) {
		int fd = open(arg, O_RDONLY | O_CLOEXEC);
		void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);

		if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_EXEC))
			return -errno;
		return (long)p;
	}
	if (!strcmp(name, "at-base"))
		return getauxval(AT_BASE);
	if (!strcmp(name, "dlopen"))
		return dlopen_base(arg);
	if (!strcmp(name, "mkfifo"))
		return ret_of(syscall(SYS_mknodat, AT_FDCWD, arg, S_IFIFO | 0600, 0));
	if (!strcmp(name, "mknod-fifo"))
		return ret_of(syscall(SYS_mknod, arg, S_IFIFO | 0600, 0));
	if (!strcmp(name, "open-fifo"))
		return ret_of(open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	if (!strcmp(name, "mem-at") || !strcmp(name, "mkfifoat")) {
		char dir[256];
		const char *comma = strchr(arg, ',');
		int dfd;

		if (!comma || (size_t)(comma - arg) >= sizeof(dir))
			return -EINVAL;
		snprintf(dir, sizeof(dir), "%.*s", (int)(comma - arg), arg);
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		if (!strcmp(name, "mkfifoat"))
			return ret_of(syscall(SYS_mknodat, dfd, comma + 1, S_IFIFO | 0600, 0));
		return ret_of(openat(dfd, comma + 1, O_RDONLY | O_CLOEXEC));
	}
	if (!strcmp(name, "pidfd-getfd")) {
		int pidfd = syscall(SYS_pidfd_open, a, 0);

		if (pidfd < 0)
			return -errno;
		return ret_of(syscall(SYS_pidfd_getfd, pidfd, 0, 0));
	}
	fprintf(stderr, "unknown step %s\n", name);
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *name = strdup(argv[i]), *arg = strchr(name, ':');

		if (arg)
			*arg++ = '\0';
		printf("%s %ld\n", argv[i], step(name, arg));
		fflush(stdout);
		free(name);
	}
	return 0;
}
