/* SPDX-License-Identifier: GPL-2.0 */
/* Extract the facts of struct pm_task from a task_struct. */
#ifndef PROCMON_TASK_BPF_H
#define PROCMON_TASK_BPF_H

/* A kernel pointer read as a number, typed again for direct (fault-safe)
 * loads. The verifier inlines it: no call is made. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* Set by the loader: see enum pm_cgroup_v1. */
const volatile __u32 pm_cgroup_v1 = PM_CGROUP_V1_NONE;

/* A v1 controller's cgroup of the task: its index in css_set.subsys is the
 * running kernel's (CO-RE enum relocation); a controller this kernel lacks
 * is never chosen, and its branch is dead code to the verifier. */
#define PM_V1_CGROUP(cgroups, ctl)                                                   \
	(bpf_core_enum_value_exists(enum cgroup_subsys_id, ctl)                        \
		 ? (cgroups)->subsys[bpf_core_enum_value(enum cgroup_subsys_id, ctl)]->cgroup->kn->id \
		 : 0)

static __always_inline __u64 pm_cgroup_v1_id(struct css_set *cgroups)
{
	switch (pm_cgroup_v1) {
	case PM_CGROUP_V1_PIDS:
		return PM_V1_CGROUP(cgroups, pids_cgrp_id);
	case PM_CGROUP_V1_MEMORY:
		return PM_V1_CGROUP(cgroups, memory_cgrp_id);
	case PM_CGROUP_V1_CPU:
		return PM_V1_CGROUP(cgroups, cpu_cgrp_id);
	case PM_CGROUP_V1_DEVICES:
		return PM_V1_CGROUP(cgroups, devices_cgrp_id);
	case PM_CGROUP_V1_FREEZER:
		return PM_V1_CGROUP(cgroups, freezer_cgrp_id);
	case PM_CGROUP_V1_BLKIO:
		return PM_V1_CGROUP(cgroups, io_cgrp_id);
	}
	return 0;
}

/*
 * Direct loads through a BTF pointer, not BPF_CORE_READ: each
 * bpf_probe_read_kernel() is a helper call, and these ~20 reads run for
 * every event (at every clone, exec, exit and module load). The verifier
 * makes a load through an untrusted BTF pointer fault-safe (a bad pointer
 * reads as 0, as probe_read would have), and CO-RE still relocates every
 * field. The cast lets callers pass any task pointer, also one read as a
 * number (a tracer found through ->parent).
 */
static __always_inline void pm_fill_task(struct pm_task *t, struct task_struct *any)
{
	struct task_struct *task = bpf_rdonly_cast(any, bpf_core_type_id_kernel(struct task_struct));
	struct task_struct *parent = task->real_parent;
	const struct cred *cred = task->cred;

	t->pid = task->tgid;
	t->tid = task->pid;
	t->ppid = parent->tgid;
	/*
	 * The leader's start time identifies the process instance: together
	 * with the pid it survives pid reuse, and user space derives exec_id
	 * and cache keys from it.
	 */
	t->start_ns = task->group_leader->start_boottime;
	t->parent_start_ns = parent->group_leader->start_boottime;
	t->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	t->cgroup_v1_id = pm_cgroup_v1_id(task->cgroups);

	t->uid = cred->uid.val;
	t->euid = cred->euid.val;
	t->gid = cred->gid.val;
	t->egid = cred->egid.val;
	t->auid = task->loginuid.val;
	t->cap_effective = cred->cap_effective.val;
	t->cap_permitted = cred->cap_permitted.val;
	t->cap_inheritable = cred->cap_inheritable.val;
	bpf_probe_read_kernel_str(&t->comm, sizeof(t->comm), task->comm);
}

/* The start of a record: its header, stamped now, and the task's facts. */
static __always_inline void pm_record_start(struct pm_header *h, __u32 type, __u32 size,
					    struct pm_task *t, struct task_struct *task)
{
	h->ktime_ns = bpf_ktime_get_boot_ns();
	h->type = type;
	h->size = size;
	pm_fill_task(t, task);
}

#endif /* PROCMON_TASK_BPF_H */
