/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ModuleLoad: mmap and mprotect adding PROT_EXEC to a file mapping.
 * Part of syscalls.bpf.c (one BPF object: its programs share its helpers,
 * rodata switches and the maps of process.bpf.c).
 */
#ifndef PROCMON_BPF_SYSCALLS_MODULES_H
#define PROCMON_BPF_SYSCALLS_MODULES_H

/* ---- ModuleLoad ---- */

#define PM_PROT_EXEC 0x4
#define PM_MAP_ANONYMOUS 0x20

/* A ModuleLoad record for `file` mapped executable at [addr, addr + len). */
static __always_inline void pm_module_emit(struct task_struct *task, struct file *file,
					   __u64 addr, __u64 len, __u64 pgoff)
{
	struct pm_module_event *ev = pm_reserve(sizeof(*ev), PM_EVENT_MODULE_LOAD, PM_DROP_MODULE_LOAD, task);
	__u32 flags = 0, ncomps;

	if (!ev)
		return;
	ev->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	ev->hdr.type = PM_EVENT_MODULE_LOAD;
	ev->hdr.size = sizeof(*ev);
	__builtin_memset(&ev->task, 0, sizeof(ev->task));
	pm_fill_task(&ev->task, task);
	pm_fill_file(&ev->file, file);
	ev->addr = addr;
	ev->len = len;
	ev->pgoff = pgoff;
	ev->path_len = pm_walk_path(&file->f_path, task, ev->path, false, &flags, &ncomps);
	ev->flags = flags;
	/* a file without a link (a memfd) is reachable only through the
	 * mapping: wake the reader now, it pins /proc/PID/map_files/... */
	bpf_ringbuf_submit(ev, ev->file.nlink == 0 ? BPF_RB_FORCE_WAKEUP : pm_wakeup_flag());
}

/*
 * mmap of a file with PROT_EXEC: the dynamic loader maps each shared
 * object's code segment this way (LD_PRELOAD, DT_NEEDED, dlopen), once per
 * object. Checked with direct loads first: this runs at every mmap.
 */
SEC("tp/syscalls/sys_exit_mmap")
int pm_exit_mmap(struct pm_sys_exit *ctx)
{
	struct task_struct *task;
	struct pt_regs *regs;
	struct file *file;

	if (ctx->ret < 0 && ctx->ret > -4096) /* an error, not an address */
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!(PT_REGS_PARM3_SYSCALL(regs) & PM_PROT_EXEC) ||
	    (PT_REGS_PARM4_SYSCALL(regs) & PM_MAP_ANONYMOUS))
		return 0;
	file = pm_fd_file(task, (int)PT_REGS_PARM5_SYSCALL(regs));
	if (file)
		pm_module_emit(task, file, ctx->ret, PT_REGS_PARM2_SYSCALL(regs),
			       PM_SYSCALL_ARG6(regs));
	return 0;
}

struct pm_vma_facts {
	struct file *file;
	__u64 start, end, pgoff;
};

static long pm_vma_facts_cb(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	struct pm_vma_facts *v = ctx;

	v->file = vma->vm_file;
	v->start = vma->vm_start;
	v->end = vma->vm_end;
	v->pgoff = vma->vm_pgoff;
	return 0;
}

/*
 * mprotect adding PROT_EXEC to a file mapping (text relocations, loaders
 * that map first and protect after). Anonymous memory (JITs) is not a
 * module. The mapping's facts come from its vma.
 */
SEC("tp/syscalls/sys_exit_mprotect")
int pm_exit_mprotect(struct pm_sys_exit *ctx)
{
	struct task_struct *task;
	struct pt_regs *regs;
	struct pm_vma_facts v = {};

	if (ctx->ret != 0)
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!(PT_REGS_PARM3_SYSCALL(regs) & PM_PROT_EXEC) ||
	    bpf_find_vma(task, PT_REGS_PARM1_SYSCALL(regs), pm_vma_facts_cb, &v, 0) || !v.file)
		return 0;
	pm_module_emit(task, v.file, v.start, v.end - v.start, v.pgoff << 12 /* PAGE_SHIFT */);
	return 0;
}

#endif
