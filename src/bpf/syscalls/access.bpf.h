/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PtraceAccessCheck: ptrace attach/seize, process_vm_readv/writev, pidfd_getfd (and ptrace requests for ThreadInjection); opening /proc/PID/mem is in pipes.bpf.h's open hooks.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_ACCESS_H
#define PROCMON_BPF_SYSCALLS_ACCESS_H

/* ---- PtraceAccessCheck ---- */

/*
 * The task a pid of the caller's pid namespace names, held (release with
 * bpf_task_release), or NULL. At the syscall's exit, so the target named
 * by a bare pid (process_vm_*, ptrace requests, a refused attach) is
 * identified by the kernel while it is certainly the one the call meant,
 * not by user space later, when it may have exited or its pid been reused.
 * Weak, as every kfunc here: the loader's check of the kernel's BTF
 * (loader.c, kernel_needs) names one that is missing before the load.
 */
extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

#define PM_VM_EXEC 0x4 /* include/linux/mm.h VM_EXEC */

static long pm_vma_exec_cb(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	*(bool *)ctx = vma->vm_flags & PM_VM_EXEC;
	return 0;
}

/* Is [addr, addr + len) of target's memory, at either end, mapped executable? */
static __always_inline bool pm_exec_range(struct task_struct *target, __u64 addr, __u64 len)
{
	bool exec = false;

	if (!len)
		return false;
	bpf_find_vma(target, addr, pm_vma_exec_cb, &exec, 0);
	if (!exec && len > 1)
		bpf_find_vma(target, addr + len - 1, pm_vma_exec_cb, &exec, 0);
	return exec;
}

/* The task a struct pid names (its PIDTYPE_PID user), or NULL. */
static __always_inline struct task_struct *pm_pid_task(struct pid *pid)
{
	struct hlist_node *first = BPF_CORE_READ(pid, tasks[PIDTYPE_PID].first);

	return first ? container_of(first, struct task_struct, pid_links[PIDTYPE_PID]) : NULL;
}

/*
 * The open file at `fd` of `task` (the current one), or NULL. Runs at
 * every open's exit: direct BTF loads (fault-safe, no helper call), one
 * probe read for the array element.
 */
static __always_inline struct file *pm_fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *f = NULL;

	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	return f ? bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file)) : NULL;
}

/* task's process id as its own pid namespace sees it, and that level. */
static __always_inline __u32 pm_task_vpid(struct task_struct *task, __u32 *level)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	__u32 l = BPF_CORE_READ(pid, level);
	struct upid up = {};

	*level = l;
	bpf_probe_read_kernel(&up, sizeof(up),
			      (void *)pid + bpf_core_field_offset(struct pid, numbers) +
				      (l & 31) * bpf_core_type_size(struct upid));
	return up.nr;
}

/*
 * Is this result an access worth a record? Granted, or refused as such
 * (EPERM, EACCES); not a call that never got to the check (no such
 * process, bad arguments, a fault reading the caller's own buffers).
 */
static __always_inline bool pm_access_result(long ret)
{
	return ret >= 0 || ret == -EPERM || ret == -EACCES;
}

/*
 * A record of `type` about something the current task did to another
 * process: `target` when the kernel side knows the task, otherwise `vpid`,
 * a pid in the caller's namespace. NULL for a process acting on itself
 * (not an event), one process_filter holds back, or a full ring buffer.
 */
static __always_inline struct pm_priv_event *pm_target_begin(__u32 type, long ret,
							      struct task_struct *target,
							      __u32 vpid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pm_priv_event *ev;
	__u32 level = 0;

	if (target && BPF_CORE_READ(target, tgid) == task->tgid)
		return NULL;
	if (!target && vpid == pm_task_vpid(task, &level))
		return NULL;
	if (!pm_process_filter_pass(task))
		return NULL;
	ev = pm_priv_begin(type, PM_DROP_PTRACE, task);
	if (!ev)
		return NULL;
	ev->ret = ret;
	if (target) {
		pm_fill_task(&ev->target, target);
	} else {
		ev->target_vpid = vpid;
		ev->pidns_level = level;
	}
	return ev;
}

/* One PtraceAccessCheck by the current task; arg0: see pm_priv_event. */
static __always_inline void pm_access_event(__u32 access, __u32 mode, long ret,
					    struct task_struct *target, __u32 vpid, __u64 arg0)
{
	struct pm_priv_event *ev = pm_target_begin(PM_EVENT_PTRACE_ACCESS, ret, target, vpid);

	if (!ev)
		return;
	ev->access = access;
	ev->flags = mode;
	ev->arg[0] = arg0;
	pm_submit(ev);
}

/* Set by user space: report the ptrace requests thread_injection correlates. */
const volatile bool pm_want_ptrace_requests = false;

#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSER 6
#define PTRACE_SETREGS 13
#define PTRACE_SETREGSET 0x4205

/* A request that writes the tracee's memory or registers, and succeeded. */
static __always_inline void pm_ptrace_request(long request, long ret, __u32 vpid, __u64 addr)
{
	struct task_struct *target;
	struct pm_priv_event *ev;

	if (!pm_want_ptrace_requests || ret != 0 ||
	    (request != PTRACE_POKETEXT && request != PTRACE_POKEDATA &&
	     request != PTRACE_POKEUSER && request != PTRACE_SETREGS &&
	     request != PTRACE_SETREGSET))
		return;
	target = bpf_task_from_vpid(vpid);
	ev = pm_target_begin(PM_EVENT_PTRACE_REQUEST, ret, target, vpid);
	if (ev) {
		ev->arg[0] = request;
		ev->arg[1] = addr;
		pm_submit(ev);
	}
	if (target)
		bpf_task_release(target);
}

SEC("tp/syscalls/sys_exit_ptrace")
int pm_exit_ptrace(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = pm_syscall_regs(task);
	long request = PT_REGS_PARM1_CORE_SYSCALL(regs);
	struct task_struct *target = NULL;

	if (request != PTRACE_ATTACH && request != PTRACE_SEIZE) {
		pm_ptrace_request(request, ctx->ret, PT_REGS_PARM2_CORE_SYSCALL(regs),
				  PT_REGS_PARM3_CORE_SYSCALL(regs));
		return 0;
	}
	if (!pm_access_result(ctx->ret))
		return 0;
	/*
	 * ptrace_link() has just put the tracee first on the tracer's list;
	 * it is the one asked for only if its pid says so (it may have died
	 * and been reaped since, by another thread of the tracer). Otherwise,
	 * and from a nested pid namespace, user space resolves the pid.
	 */
	if (ctx->ret == 0) {
		struct list_head *first = task->ptraced.next;

		if (first != &task->ptraced) {
			struct task_struct *t = container_of(first, struct task_struct, ptrace_entry);

			if (BPF_CORE_READ(t, pid) == (pid_t)PT_REGS_PARM2_CORE_SYSCALL(regs))
				target = t;
		}
	}
	if (target) {
		pm_access_event(request == PTRACE_ATTACH ? PM_ACCESS_PTRACE_ATTACH
							 : PM_ACCESS_PTRACE_SEIZE,
				PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_REALCREDS, ctx->ret, target,
				0, 0);
		return 0;
	}
	/* refused: the process the pid names now, in the kernel */
	target = bpf_task_from_vpid(PT_REGS_PARM2_CORE_SYSCALL(regs));
	pm_access_event(request == PTRACE_ATTACH ? PM_ACCESS_PTRACE_ATTACH : PM_ACCESS_PTRACE_SEIZE,
			PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_REALCREDS, ctx->ret, target,
			PT_REGS_PARM2_CORE_SYSCALL(regs), 0);
	if (target)
		bpf_task_release(target);
	return 0;
}

#define EFAULT 14
#define PM_UIO_MAXIOV 1024 /* include/uapi/linux/uio.h UIO_MAXIOV */

/* One iovec array, as process_vm_rw() copies and checks it. */
struct pm_iov_scan {
	const struct iovec *vec;
	__u64 user_end; /* local buffers must end below it (access_ok); 0: remote */
	bool ok;
};

static long pm_iov_step(__u32 i, void *ctx)
{
	struct pm_iov_scan *s = ctx;
	struct iovec v;
	__u64 base, end;

	if (bpf_probe_read_user(&v, sizeof(v), &s->vec[i]) || (long)v.iov_len < 0) {
		s->ok = false;
		return 1;
	}
	base = (__u64)v.iov_base;
	end = base + v.iov_len;
	if (s->user_end && (end < base || end >= s->user_end)) {
		s->ok = false;
		return 1;
	}
	return 0;
}

/*
 * Did a process_vm_* call that failed with EFAULT get past mm_access()?
 * process_vm_rw() faults before the check only on its own arguments: an
 * iovec array it cannot copy (lvec, then rvec), or a local buffer that is
 * not a user address (import_iovec's access_ok). With both arrays
 * readable and every local buffer in user space, the EFAULT came after
 * the check granted access: from the remote range (pin_user_pages_remote)
 * or from copying into a local buffer. (Empty iovecs return 0 first, bad
 * counts or flags EINVAL, a missing target ESRCH, a refusal EPERM.) The
 * arrays are read again here, at the call's return: only the caller's
 * own threads, racing their own call, could make the answer differ from
 * what the kernel saw, about a call that moved no byte.
 */
static __always_inline bool pm_vm_access_checked(struct task_struct *task, struct pt_regs *regs)
{
	unsigned long liovcnt = PT_REGS_PARM3_CORE_SYSCALL(regs);
	unsigned long riovcnt = PT_REGS_PARM5_CORE_SYSCALL(regs);
	struct pm_iov_scan s = {
		.vec = (const struct iovec *)PT_REGS_PARM2_CORE_SYSCALL(regs),
		.user_end = BPF_CORE_READ(task, mm, task_size),
		.ok = true,
	};

	if (PM_SYSCALL_ARG6(regs) != 0 || !liovcnt || liovcnt > PM_UIO_MAXIOV || !riovcnt ||
	    riovcnt > PM_UIO_MAXIOV || !s.user_end)
		return false;
	bpf_loop(liovcnt, pm_iov_step, &s, 0);
	if (!s.ok)
		return false;
	s.vec = (const struct iovec *)PT_REGS_PARM4_CORE_SYSCALL(regs);
	s.user_end = 0;
	bpf_loop(riovcnt, pm_iov_step, &s, 0);
	return s.ok;
}

/*
 * process_vm_readv/writev: bytes moved, a refusal, or a copy that faulted
 * after access was granted (EFAULT, see above). With empty iovecs they
 * copy nothing and check nothing (they return 0): no access.
 */
/* A write into executable memory of another process: a ThreadInjection
 * step of its own (user space correlates; never written itself). */
static __always_inline void pm_code_write(struct task_struct *target, __u32 access, __u64 addr,
					  long bytes)
{
	struct pm_priv_event *ev = pm_target_begin(PM_EVENT_CODE_WRITE, bytes, target, 0);

	if (!ev)
		return;
	ev->access = access;
	ev->arg[1] = addr;
	ev->arg[2] = bytes;
	pm_submit(ev);
}

#define PM_VM_CODE_IOVS 4 /* remote ranges of a process_vm_writev checked for code */

/*
 * process_vm_writev that wrote: does any of its first remote ranges
 * (at either end) lie in an executable mapping of the target? Only
 * writable+executable memory (JIT, RWX pages) takes such a write.
 */
static __always_inline void pm_vm_code_write(struct task_struct *target, struct pt_regs *regs,
					     long ret)
{
	const struct iovec *rvec = (const struct iovec *)PT_REGS_PARM4_CORE_SYSCALL(regs);
	unsigned long riovcnt = PT_REGS_PARM5_CORE_SYSCALL(regs);

	for (__u32 i = 0; i < PM_VM_CODE_IOVS && i < riovcnt; i++) {
		struct iovec v;

		if (bpf_probe_read_user(&v, sizeof(v), &rvec[i]))
			return;
		if (pm_exec_range(target, (__u64)v.iov_base, v.iov_len)) {
			pm_code_write(target, PM_ACCESS_VM_WRITEV, (__u64)v.iov_base, ret);
			return;
		}
	}
}

static __always_inline int pm_on_vm_access(struct pm_sys_exit *ctx, __u32 access)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = pm_syscall_regs(task);
	struct task_struct *target;
	__u32 vpid = PT_REGS_PARM1_CORE_SYSCALL(regs);
	long ret = ctx->ret;

	if (!(ret > 0 || ret == -EPERM || ret == -EACCES ||
	      (ret == -EFAULT && pm_vm_access_checked(task, regs))))
		return 0;
	target = bpf_task_from_vpid(vpid);
	pm_access_event(access, PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_REALCREDS, ret, target,
			vpid, 0);
	if (target) {
		if (access == PM_ACCESS_VM_WRITEV && ret > 0 && pm_want_ptrace_requests &&
		    target->tgid != task->tgid)
			pm_vm_code_write(target, regs, ret);
		bpf_task_release(target);
	}
	return 0;
}

PM_SYS_EXIT(process_vm_readv, pm_on_vm_access, PM_ACCESS_VM_READV)
PM_SYS_EXIT(process_vm_writev, pm_on_vm_access, PM_ACCESS_VM_WRITEV)

SEC("tp/syscalls/sys_exit_pidfd_getfd")
int pm_exit_pidfd_getfd(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *pidfd;
	struct pid *pid;

	if (!pm_access_result(ctx->ret))
		return 0;
	pidfd = pm_fd_file(task, PT_REGS_PARM1_CORE_SYSCALL(pm_syscall_regs(task)));
	/* pidfs keeps the struct pid in the inode; older kernels in the file */
	pid = BPF_CORE_READ(pidfd, f_inode, i_private);
	if (!pid)
		pid = BPF_CORE_READ(pidfd, private_data);
	if (pid)
		pm_access_event(PM_ACCESS_PIDFD_GETFD,
				PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_REALCREDS, ctx->ret,
				pm_pid_task(pid), 0, 0);
	return 0;
}

/*
 * write/pwrite64 to a /proc/PID/mem file (recognised as its open is, by
 * f_op->open): at an executable mapping of the target, a code write.
 * Runs at every write that wrote; direct loads until the file is one.
 * The file's mm must still be the target's (not an mm it exec'd away).
 */
static __always_inline int pm_on_mem_write(struct pm_sys_exit *ctx, bool positioned)
{
	struct task_struct *task, *t, *target;
	struct proc_inode *pi;
	struct pt_regs *regs;
	struct file *file;
	__u64 addr;
	long ret = ctx->ret;

	if (ret <= 0 || !pm_want_ptrace_requests || !pm_mem_open)
		return 0;
	task = bpf_get_current_task_btf();
	regs = pm_syscall_regs(task);
	file = pm_fd_file(task, PT_REGS_PARM1_CORE_SYSCALL(regs));
	if (!file || (__u64)file->f_op->open != pm_mem_open)
		return 0;
	/* pwrite64's position, or where write(2) started: f_pos moved by ret */
	addr = positioned ? PT_REGS_PARM4_CORE_SYSCALL(regs) : file->f_pos - ret;
	pi = container_of(BPF_CORE_READ(file, f_inode), struct proc_inode, vfs_inode);
	t = pm_pid_task(BPF_CORE_READ(pi, pid));
	if (!t)
		return 0;
	target = bpf_task_from_pid(BPF_CORE_READ(t, pid));
	if (!target)
		return 0;
	if ((void *)target->mm == BPF_CORE_READ(file, private_data) &&
	    pm_exec_range(target, addr, ret))
		pm_code_write(target, PM_ACCESS_PROC_MEM, addr, ret);
	bpf_task_release(target);
	return 0;
}

PM_SYS_EXIT(write, pm_on_mem_write, false)
PM_SYS_EXIT(pwrite64, pm_on_mem_write, true)

#endif
