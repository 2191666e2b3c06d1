/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SetNs and Unshare: a running process entering or making namespaces
 * (mount, pid, net, uts, ipc, cgroup, time; user ones too, listed with
 * the others). Container escapes and nsenter are made of these.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_NAMESPACES_H
#define PROCMON_BPF_SYSCALLS_NAMESPACES_H

/* include/uapi/linux/sched.h */
#define PM_CLONE_NEWTIME 0x00000080
#define PM_CLONE_NEWNS 0x00020000
#define PM_CLONE_NEWCGROUP 0x02000000
#define PM_CLONE_NEWUTS 0x04000000
#define PM_CLONE_NEWIPC 0x08000000
#define PM_CLONE_NEWPID 0x20000000
#define PM_CLONE_NEWNET 0x40000000
#define PM_CLONE_NEWNS_ALL                                                                     \
	(PM_CLONE_NEWTIME | PM_CLONE_NEWNS | PM_CLONE_NEWCGROUP | PM_CLONE_NEWUTS |            \
	 PM_CLONE_NEWIPC | CLONE_NEWUSER | PM_CLONE_NEWPID | PM_CLONE_NEWNET)

#define PM_NSFS_MAGIC 0x6e736673   /* include/uapi/linux/magic.h */
#define PM_PID_FS_MAGIC 0x50494446

/*
 * unshare(2) that made namespaces other than a user one (a new user
 * namespace alone is CreateUserNs). flags: every namespace it made.
 */
SEC("tp/syscalls/sys_exit_unshare")
int pm_exit_unshare_ns(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 flags = PT_REGS_PARM1_CORE_SYSCALL(pm_syscall_regs(task)) & PM_CLONE_NEWNS_ALL;
	struct pm_priv_event *ev;

	if (ctx->ret != 0 || !(flags & ~CLONE_NEWUSER) || !pm_process_filter_pass(task))
		return 0;
	ev = pm_priv_begin(PM_EVENT_UNSHARE, PM_DROP_NAMESPACES, task);
	if (!ev)
		return 0;
	ev->flags = flags;
	pm_submit(ev);
	return 0;
}

/*
 * setns(2) that took effect. Given a namespace file, the namespace's type
 * and inode number (which nsfs does not tie to a process); given a pidfd,
 * that process, whose namespaces (those nstype lists) the caller entered.
 */
SEC("tp/syscalls/sys_exit_setns")
int pm_exit_setns(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = pm_syscall_regs(task);
	struct file *file;
	struct inode *inode;
	struct pm_priv_event *ev;
	unsigned long magic;

	if (ctx->ret != 0 || !pm_process_filter_pass(task))
		return 0;
	file = pm_fd_file(task, PT_REGS_PARM1_CORE_SYSCALL(regs));
	if (!file)
		return 0;
	ev = pm_priv_begin(PM_EVENT_SETNS, PM_DROP_NAMESPACES, task);
	if (!ev)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic == PM_NSFS_MAGIC) {
		struct ns_common *ns = BPF_CORE_READ(inode, i_private);

		ev->flags = BPF_CORE_READ(ns, ns_type);
		ev->arg[0] = BPF_CORE_READ(ns, inum);
		ev->arg[1] = PM_SETNS_NSFS;
	} else if (magic == PM_PID_FS_MAGIC) {
		struct task_struct *target = pm_pid_task(BPF_CORE_READ(inode, i_private));

		ev->flags = PT_REGS_PARM2_CORE_SYSCALL(regs) & PM_CLONE_NEWNS_ALL;
		ev->arg[1] = PM_SETNS_PIDFD;
		if (target)
			pm_fill_task(&ev->target, target);
	}
	pm_submit(ev);
	return 0;
}

#endif
