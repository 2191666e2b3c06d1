/* SPDX-License-Identifier: GPL-2.0 */
/* Extract the facts of struct pm_task from a task_struct. */
#ifndef PROCMON_TASK_BPF_H
#define PROCMON_TASK_BPF_H

static __always_inline void pm_fill_task(struct pm_task *t, struct task_struct *task)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	const struct cred *cred = BPF_CORE_READ(task, cred);

	t->pid = BPF_CORE_READ(task, tgid);
	t->tid = BPF_CORE_READ(task, pid);
	t->ppid = BPF_CORE_READ(parent, tgid);
	/*
	 * The leader's start time identifies the process instance: together
	 * with the pid it survives pid reuse, and user space derives exec_id
	 * and cache keys from it.
	 */
	t->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	t->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	t->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);

	t->uid = BPF_CORE_READ(cred, uid.val);
	t->euid = BPF_CORE_READ(cred, euid.val);
	t->gid = BPF_CORE_READ(cred, gid.val);
	t->egid = BPF_CORE_READ(cred, egid.val);
	t->auid = BPF_CORE_READ(task, loginuid.val);
	t->cap_effective = BPF_CORE_READ(cred, cap_effective.val);
	t->cap_permitted = BPF_CORE_READ(cred, cap_permitted.val);
	t->cap_inheritable = BPF_CORE_READ(cred, cap_inheritable.val);
	BPF_CORE_READ_STR_INTO(&t->comm, task, comm);
}

#endif /* PROCMON_TASK_BPF_H */
