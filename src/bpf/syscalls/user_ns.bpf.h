/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CreateUserNs: unshare and clone with CLONE_NEWUSER.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_USER_NS_H
#define PROCMON_BPF_SYSCALLS_USER_NS_H

/* ---- CreateUserNs ---- */

/* `caps`: the caller's effective set before the new namespace. */
static __always_inline void pm_user_ns_event(struct task_struct *task, __u64 caps)
{
	struct pm_priv_event *ev;

	if (!pm_cred_filter_pass(PM_HOOK_USER_NS, PM_IDS_USER_NS_EUID,
				 BPF_CORE_READ(task, cred, euid.val), caps))
		return;
	ev = pm_priv_begin(PM_EVENT_CREATE_USER_NS, PM_DROP_USER_NS, task);
	if (ev)
		pm_submit(ev);
}

/* unshare(CLONE_NEWUSER) gives the caller new credentials: note the old. */
SEC("tp/syscalls/sys_enter_unshare")
int pm_enter_unshare(struct pm_sys_enter *ctx)
{
	if (ctx->args[0] & CLONE_NEWUSER)
		pm_note_enter(ctx, PM_DROP_USER_NS);
	return 0;
}

SEC("tp/syscalls/sys_exit_unshare")
int pm_exit_unshare(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pm_pending before;

	/* the note first: a failed call must not leave it for the next unshare */
	if (!pm_before_call(ctx, &before) || ctx->ret != 0)
		return 0;
	/* a call with CLONE_NEWUSER; without a note, only the flags say so */
	if (pm_note_at_enter || (before.arg0 & CLONE_NEWUSER))
		pm_user_ns_event(task, before.caps);
	return 0;
}

/* clone: the child gets the namespace, the caller keeps its credentials.
 * Only the caller's return (the child's pid) counts, not the child's 0. */
static __always_inline void pm_on_clone_exit(long ret, __u64 flags)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (ret > 0 && (flags & CLONE_NEWUSER) && pm_process_filter_pass(task))
		pm_user_ns_event(task, task->cred->cap_effective.val);
}

SEC("tp/syscalls/sys_exit_clone")
int pm_exit_clone(struct pm_sys_exit *ctx)
{
	if (ctx->ret > 0)
		pm_on_clone_exit(ctx->ret, PT_REGS_PARM1_CORE_SYSCALL(
						   pm_syscall_regs(bpf_get_current_task_btf())));
	return 0;
}

SEC("tp/syscalls/sys_exit_clone3")
int pm_exit_clone3(struct pm_sys_exit *ctx)
{
	struct clone_args *uargs;
	__u64 flags = 0;

	if (ctx->ret <= 0)
		return 0;
	uargs = (void *)PT_REGS_PARM1_CORE_SYSCALL(pm_syscall_regs(bpf_get_current_task_btf()));
	if (!bpf_probe_read_user(&flags, sizeof(flags), &uargs->flags))
		pm_on_clone_exit(ctx->ret, flags);
	return 0;
}

#endif
