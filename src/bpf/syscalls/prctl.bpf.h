/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prctl.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_PRCTL_H
#define PROCMON_BPF_SYSCALLS_PRCTL_H

/* ---- Prctl ---- */

SEC("tp/syscalls/sys_exit_prctl")
int pm_exit_prctl(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;
	struct pm_priv_event *ev;

	if (ctx->ret < 0 || !pm_process_filter_pass(task))
		return 0;
	ev = pm_priv_begin(PM_EVENT_PRCTL, PM_DROP_PRCTL, task);
	if (!ev)
		return 0;
	regs = pm_syscall_regs(task);
	ev->arg[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	ev->arg[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	ev->arg[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	ev->ret = ctx->ret;
	/* PR_SET_NAME: the name as the kernel stored it (cut to 15 bytes) */
	BPF_CORE_READ_STR_INTO(&ev->name, task, comm);
	pm_submit(ev);
	return 0;
}

#endif
