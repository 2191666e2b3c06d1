/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Setuid, Setgid and Setcaps: credential changes that took effect.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_CREDS_H
#define PROCMON_BPF_SYSCALLS_CREDS_H

/* ---- Setuid, Setgid ---- */

/*
 * A set*id call that returned `ret`. `fs`: setfsuid/setfsgid, which
 * return the old id whatever happens: it took effect when the id is now
 * the one asked for and was not before (the only case Bombini's
 * task_fix_setuid hook sees).
 */
static __always_inline int pm_on_setid(struct pm_sys_exit *ctx, bool gid,
				       __u32 setid_flag)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	struct pm_pending before, *note = &before;
	struct pm_priv_event *ev;
	__u32 eid, fsid;

	if (!pm_before_call(ctx, &before))
		return 0;
	eid = gid ? cred->egid.val : cred->euid.val;
	fsid = gid ? cred->fsgid.val : cred->fsuid.val;
	if (setid_flag == PM_SETID_FS) {
		if (fsid != (__u32)note->arg0 || (__u32)ctx->ret == (__u32)note->arg0)
			return 0;
	} else if (ctx->ret != 0) {
		return 0;
	}
	if (!pm_cred_filter_pass(gid ? PM_HOOK_SETGID : PM_HOOK_SETUID,
				 gid ? PM_IDS_SETGID_EGID : PM_IDS_SETUID_EUID, eid,
				 cred->cap_effective.val))
		return 0;
	ev = pm_priv_begin(gid ? PM_EVENT_SETGID : PM_EVENT_SETUID, PM_DROP_CREDS, task);
	if (!ev)
		return 0;
	ev->flags = setid_flag;
	ev->fsid = fsid;
	ev->ret = ctx->ret;
	pm_submit(ev);
	return 0;
}

#define PM_SETID_HOOKS(call, gid, flag)                                         \
	SEC("tp/syscalls/sys_enter_" #call)                                     \
	int pm_enter_##call(struct pm_sys_enter *ctx)              \
	{                                                                       \
		pm_note_enter(ctx, PM_DROP_CREDS);                              \
		return 0;                                                       \
	}                                                                       \
	SEC("tp/syscalls/sys_exit_" #call)                                      \
	int pm_exit_##call(struct pm_sys_exit *ctx)                \
	{                                                                       \
		return pm_on_setid(ctx, gid, flag);                             \
	}

PM_SETID_HOOKS(setuid, false, PM_SETID_ID)
PM_SETID_HOOKS(setreuid, false, PM_SETID_RE)
PM_SETID_HOOKS(setresuid, false, PM_SETID_RES)
PM_SETID_HOOKS(setfsuid, false, PM_SETID_FS)
PM_SETID_HOOKS(setgid, true, PM_SETID_ID)
PM_SETID_HOOKS(setregid, true, PM_SETID_RE)
PM_SETID_HOOKS(setresgid, true, PM_SETID_RES)
PM_SETID_HOOKS(setfsgid, true, PM_SETID_FS)

/* ---- Setcaps ---- */

SEC("tp/syscalls/sys_enter_capset")
int pm_enter_capset(struct pm_sys_enter *ctx)
{
	pm_note_enter(ctx, PM_DROP_CREDS);
	return 0;
}

SEC("tp/syscalls/sys_exit_capset")
int pm_exit_capset(struct pm_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	struct pm_pending before;
	struct pm_priv_event *ev;

	if (ctx->ret != 0 || !pm_before_call(ctx, &before))
		return 0;
	if (!pm_cred_filter_pass(PM_HOOK_CAPSET, PM_IDS_CAPSET_EUID, cred->euid.val,
				 cred->cap_effective.val))
		return 0;
	ev = pm_priv_begin(PM_EVENT_SETCAPS, PM_DROP_CREDS, task);
	if (ev)
		pm_submit(ev);
	return 0;
}

#endif
