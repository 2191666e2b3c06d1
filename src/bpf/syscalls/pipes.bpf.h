/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NewNamedPipe and OpenNamedPipe (mknod, open); the open hooks also report /proc/PID/mem opens for PtraceAccessCheck.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_PIPES_H
#define PROCMON_BPF_SYSCALLS_PIPES_H

/* ---- NewNamedPipe, OpenNamedPipe ---- */

/* Set by user space: report FIFOs created and opened (named_pipe), and
 * /proc/PID/mem opens (the ptrace-class blocks): the open hooks serve both. */
const volatile bool pm_want_named_pipe = false;
const volatile bool pm_want_proc_mem = false;

#define PM_S_IFMT 0170000
#define PM_S_IFIFO 0010000
#define PM_AT_FDCWD -100

static __always_inline struct pm_fifo_event *pm_fifo_begin(__u32 type, struct task_struct *task)
{
	struct pm_fifo_event *ev = pm_reserve(sizeof(*ev), type, PM_DROP_NAMED_PIPE, task);

	if (!ev)
		return NULL;
	/* the path buffers are sent as they are: only [0, *_len) is read */
	ev->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	ev->hdr.type = type;
	ev->hdr.size = sizeof(*ev);
	__builtin_memset(&ev->task, 0, sizeof(ev->task));
	pm_fill_task(&ev->task, task);
	ev->flags = 0;
	ev->dir_len = 0;
	ev->name_len = 0;
	ev->pad = 0;
	return ev;
}

/*
 * mknod(at) made a FIFO called `uname`: the name as given, and for a
 * relative one the path of the directory it is relative to (dirfd's, or
 * the cwd), walked now while both are certain.
 */
static __always_inline void pm_new_fifo(long dfd, const char *uname)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pm_fifo_event *ev = pm_fifo_begin(PM_EVENT_NEW_NAMED_PIPE, task);
	__u32 flags = 0, ncomps;
	long n;

	if (!ev)
		return;
	n = bpf_probe_read_user_str(ev->name, sizeof(ev->name), uname);
	if (n <= 0) {
		ev->name[0] = '\0';
		n = 1;
		flags |= PM_EXEC_PATH_CUT;
	} else if (n == sizeof(ev->name)) {
		flags |= PM_EXEC_PATH_CUT;
	}
	ev->name_len = n;
	if (ev->name[0] != '/') {
		struct file *dir = dfd == PM_AT_FDCWD ? NULL : pm_fd_file(task, dfd);
		const struct path *base = dir ? &dir->f_path : &task->fs->pwd;

		ev->dir_len = pm_walk_path(base, task, ev->path, false, &flags, &ncomps);
	}
	ev->flags = flags;
	pm_submit(ev);
}

static __always_inline bool pm_is_fifo_mode(__u64 mode)
{
	return (mode & PM_S_IFMT) == PM_S_IFIFO;
}

SEC("tp/syscalls/sys_exit_mknodat")
int pm_exit_mknodat(struct pm_sys_exit *ctx)
{
	struct pt_regs *regs = pm_syscall_regs(bpf_get_current_task_btf());

	if (ctx->ret == 0 && pm_is_fifo_mode(PT_REGS_PARM3_CORE_SYSCALL(regs)))
		pm_new_fifo(PT_REGS_PARM1_CORE_SYSCALL(regs),
			    (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs));
	return 0;
}

SEC("tp/syscalls/sys_exit_mknod")
int pm_exit_mknod(struct pm_sys_exit *ctx)
{
	struct pt_regs *regs = pm_syscall_regs(bpf_get_current_task_btf());

	if (ctx->ret == 0 && pm_is_fifo_mode(PT_REGS_PARM2_CORE_SYSCALL(regs)))
		pm_new_fifo(PM_AT_FDCWD, (const char *)PT_REGS_PARM1_CORE_SYSCALL(regs));
	return 0;
}

/* An open that returned a FIFO with a name (not an anonymous pipe). */
static __always_inline void pm_open_fifo(struct task_struct *task, struct file *file)
{
	struct pm_fifo_event *ev = pm_fifo_begin(PM_EVENT_OPEN_NAMED_PIPE, task);
	__u32 flags = 0, ncomps;

	if (!ev)
		return;
	ev->dir_len = pm_walk_path(&file->f_path, task, ev->path, false, &flags, &ncomps);
	ev->flags = flags;
	if (flags & PM_EXEC_PATH_PSEUDO) { /* pipefs: /proc/PID/fd/N of a pipe */
		bpf_ringbuf_discard(ev, 0);
		return;
	}
	pm_submit(ev);
}

/*
 * Every open: a FIFO (named_pipe), or a /proc/PID/mem file, by any path
 * (.../task/TID/mem too): proc_mem_open() checked PTRACE_MODE_ATTACH with
 * the filesystem credentials, and the target is the pid of the proc inode.
 */
static __always_inline int pm_on_open(struct pm_sys_exit *ctx)
{
	struct task_struct *task;
	struct file *file;
	struct proc_inode *pi;

	if (ctx->ret < 0)
		return 0;
	task = bpf_get_current_task_btf();
	file = pm_fd_file(task, ctx->ret);
	if (!file)
		return 0;
	/* direct loads: this runs at every open */
	if (pm_want_named_pipe && pm_is_fifo_mode(file->f_inode->i_mode)) {
		pm_open_fifo(task, file);
		return 0;
	}
	if (!pm_want_proc_mem || !pm_mem_open || (__u64)file->f_op->open != pm_mem_open)
		return 0;
	pi = container_of(BPF_CORE_READ(file, f_inode), struct proc_inode, vfs_inode);
	/* f_mode: opened for writing is thread_injection's "writes memory" */
	pm_access_event(PM_ACCESS_PROC_MEM, PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_FSCREDS,
			ctx->ret, pm_pid_task(BPF_CORE_READ(pi, pid)), 0,
			BPF_CORE_READ(file, f_mode));
	return 0;
}

PM_SYS_EXIT(open, pm_on_open)
PM_SYS_EXIT(openat, pm_on_open)
PM_SYS_EXIT(openat2, pm_on_open)

#endif
