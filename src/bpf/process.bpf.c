// SPDX-License-Identifier: GPL-2.0
/*
 * Process lifecycle: ProcessExec, ProcessClone, ProcessExit.
 *
 * Tracepoints only (this kernel refuses fentry/LSM and has no kprobes):
 * sched_process_exec hands us the linux_binprm, sched_process_fork the
 * new task, sched_process_exit the exiting one with group_dead.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "procmon/events.h"
#include "common/maps.bpf.h"
#include "common/task.bpf.h"
#include "common/repeat.bpf.h"
#include "common/path.bpf.h"
#include "common/filter.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGNAL_GROUP_EXIT 0x00000004 /* include/linux/sched/signal.h */


/* Set by user space: report the ELF interpreter's mapping (module_load). */
const volatile bool pm_want_interp = false;

#define PM_AT_BASE 7 /* include/uapi/linux/auxvec.h */
#define PM_AUXV_WORDS (sizeof(((struct mm_struct *)0)->saved_auxv) / sizeof(unsigned long))

/*
 * The new program's AT_BASE: where the kernel mapped its ELF interpreter.
 * The auxiliary vector is copied with one read into this CPU's exec
 * scratch (free again once the exec record is out) and searched there.
 */
static __always_inline __u64 pm_auxv_base(struct mm_struct *mm)
{
	struct pm_exec_scratch *s = pm_exec_scratch();
	unsigned long *auxv;

	if (!s || bpf_probe_read_kernel(s->raw, PM_AUXV_WORDS * sizeof(unsigned long),
					&mm->saved_auxv))
		return 0;
	auxv = (unsigned long *)s->raw;
	for (__u32 i = 0; i + 1 < PM_AUXV_WORDS; i += 2) {
		if (!auxv[i]) /* AT_NULL ends the vector */
			return 0;
		if (auxv[i] == PM_AT_BASE)
			return auxv[i + 1];
	}
	return 0;
}

struct pm_interp_vma {
	struct file *file;
	__u64 len;
};

static long pm_interp_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	struct pm_interp_vma *v = ctx;

	v->file = vma->vm_file;
	v->len = vma->vm_end - vma->vm_start;
	return 0;
}

/*
 * ModuleLoad for the ELF interpreter: the kernel mapped it at exec, not
 * through mmap, at AT_BASE. Sent right after the exec record.
 */
static __always_inline void pm_interp_module(struct task_struct *task)
{
	struct pm_exec_scratch *s;
	struct pm_interp_vma v = {};
	struct pm_module_event *ev;
	__u64 base = pm_auxv_base(task->mm), size;
	__u32 flags = 0, ncomps;

	if (!base || bpf_find_vma(task, base, pm_interp_vma_cb, &v, 0) || !v.file)
		return;
	/* built in the exec scratch (free again) and sent at its used length */
	s = pm_exec_scratch();
	if (!s)
		return;
	ev = (struct pm_module_event *)s->raw;
	__builtin_memset(ev, 0, offsetof(struct pm_module_event, path));
	ev->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	ev->hdr.type = PM_EVENT_MODULE_LOAD;
	pm_fill_task(&ev->task, task);
	pm_fill_file(&ev->file, v.file);
	ev->addr = base;
	ev->len = v.len;
	ev->path_len = pm_walk_path(&v.file->f_path, task, ev->path, false, &flags, &ncomps);
	ev->flags = flags;
	size = offsetof(struct pm_module_event, path) + ev->path_len;
	pm_barrier_var(size);
	if (size > sizeof(*ev))
		return;
	ev->hdr.size = size;
	pm_emit(ev, size, PM_DROP_MODULE_LOAD);
}

/* Set by user space: copy the environment too (process_environment). */
const volatile bool pm_want_env = false;

/*
 * argv or the environment as the new program sees it, [start, end) of its
 * own memory: the kernel has just copied the strings onto the new stack,
 * so the pages are there. At most `max` bytes (a constant); cutting sets
 * `cut` in *flags, a fault `unreadable`.
 */
static __always_inline __u32 pm_read_strings(char *out, unsigned long start, unsigned long end,
					     __u32 max, __u32 cut, __u32 unreadable,
					     __u32 *flags)
{
	__u64 len = end - start;

	if (end <= start)
		return 0;
	if (len > max) {
		len = max;
		*flags |= cut;
	}
	pm_barrier_var(len);
	if (len > max)
		return 0;
	if (bpf_probe_read_user(out, len, (void *)start)) {
		*flags |= unreadable;
		return 0;
	}
	return len;
}

/* The number N of "/dev/fd/N" or "/proc/self/fd/N", else -1. */
static __always_inline long pm_fd_of_name(const char *name)
{
	char buf[24] = {};
	long fd = 0;
	__u32 i;

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) < 0)
		return -1;
	if (buf[0] == '/' && buf[1] == 'd' && buf[2] == 'e' && buf[3] == 'v' && buf[4] == '/' &&
	    buf[5] == 'f' && buf[6] == 'd' && buf[7] == '/')
		i = 8;
	else if (buf[0] == '/' && buf[1] == 'p' && buf[2] == 'r' && buf[3] == 'o' &&
		 buf[4] == 'c' && buf[5] == '/' && buf[6] == 's' && buf[7] == 'e' &&
		 buf[8] == 'l' && buf[9] == 'f' && buf[10] == '/' && buf[11] == 'f' &&
		 buf[12] == 'd' && buf[13] == '/')
		i = 14;
	else
		return -1;
	if (buf[i] < '0' || buf[i] > '9')
		return -1;
	for (__u32 k = 0; k < 9; k++, i++) {
		if (i >= sizeof(buf))
			return -1;
		if (!buf[i])
			return fd;
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		fd = fd * 10 + buf[i] - '0';
	}
	return -1;
}

/*
 * A script run from a file descriptor (execve of /dev/fd/N, fexecve, or
 * /proc/self/fd/N) whose file has no link: a memfd holding "#!/bin/sh...".
 * The kernel executed the interpreter (bprm->file) and let go of the
 * script file, but the interpreter must read it through that fd, so the
 * fd is still open in the new program (the kernel refuses a close-on-exec
 * one: BINPRM_FLAGS_PATH_INACCESSIBLE). Only for scripts: bprm->interp,
 * the interpreter's name, differs from the name that was executed.
 */
static __always_inline void pm_script_fd(struct pm_exec_event *ev, struct task_struct *task,
					 struct linux_binprm *bprm)
{
	const char *filename = BPF_CORE_READ(bprm, filename);
	struct fdtable *fdt;
	struct file *f = NULL;
	long fd;

	if (BPF_CORE_READ(bprm, interp) == filename)
		return;
	fd = pm_fd_of_name(filename);
	fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	bpf_probe_read_kernel(&f, sizeof(f), &BPF_CORE_READ(fdt, fd)[fd]);
	if (!f || BPF_CORE_READ(f, f_inode, __i_nlink) != 0)
		return;
	pm_fill_file(&ev->script, f);
	ev->script_fd = fd;
	ev->flags |= PM_EXEC_SCRIPT_FILELESS;
}

/* Set by user space: hashing is on, pin what it may not reach later. */
const volatile bool pm_want_pins = false;

/*
 * Ask the pin thread to hold this exec's file now, first of all: the
 * process may exit within a millisecond, and a file without a link (or
 * renamed over right after the exec) is gone with it. Skipped for a file
 * user space has hashed already, so an exec storm of known binaries pays
 * one map lookup.
 */
static __always_inline void pm_pin_exec(struct pm_exec_event *ev, struct task_struct *task)
{
	struct pm_file_key key = pm_file_key_of(&ev->file);
	struct pm_proc_info *info;
	struct pm_pin *pin;
	bool known = ev->file.nlink && !(ev->flags & PM_EXEC_SCRIPT_FILELESS) &&
		     bpf_map_lookup_elem(&pm_known_files, &key);

	/* which exec the process runs now, for every pin of it to check:
	 * kept up to date once a pin made the storage */
	info = bpf_task_storage_get(&pm_proc_info, task, 0,
				    known ? 0 : BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (info)
		info->exec_ns = ev->hdr.ktime_ns;
	if (known)
		return;
	pin = bpf_ringbuf_reserve(&pm_pins, sizeof(*pin), 0);
	if (!pin) /* the exec record is still sent; its reader pins late */
		return;
	pin->ktime_ns = ev->hdr.ktime_ns;
	pin->pid = ev->task.pid;
	pin->script_fd = (ev->flags & PM_EXEC_SCRIPT_FILELESS) ? (__s32)ev->script_fd : -1;
	bpf_ringbuf_submit(pin, BPF_RB_FORCE_WAKEUP);
	ev->flags |= PM_EXEC_PINNED;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pm_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct pm_exec_scratch *s = bpf_map_lookup_elem(&pm_scratch, &cpu);
	struct file *file = BPF_CORE_READ(bprm, file);
	struct pm_exec_event *ev;
	char *data;
	__u32 flags = 0, path_len, args_len, env_len = 0, off, ncomps = 0;
	__u32 cwd_off, cwd_len, cwd_flags = 0, cwd_comps;
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 size;

	if (!s) /* cannot happen (one slot per CPU), but never silently */
		goto lost;
	ev = (struct pm_exec_event *)s->raw;
	data = s->raw + sizeof(*ev);
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	ev->hdr.type = PM_EVENT_EXEC;
	pm_fill_task(&ev->task, task);
	pm_fill_file(&ev->file, file);
	ev->per_clear = BPF_CORE_READ(bprm, per_clear);
	pm_script_fd(ev, task, bprm);
	if (pm_want_pins)
		pm_pin_exec(ev, task);
	/* no link: fileless when the exec went through an fd (the file had
	 * none to be found by), else deleted or replaced during the exec */
	if (ev->file.nlink == 0 && pm_fd_of_name(BPF_CORE_READ(bprm, filename)) >= 0)
		ev->flags |= PM_EXEC_VIA_FD;

	if (bpf_probe_read_kernel_str(data, PM_NAME_MAX,
				      BPF_CORE_READ(file, f_path.dentry, d_name.name)) < 0)
		data[0] = '\0';
	path_len = pm_walk_path(&file->f_path, task, s->raw + PM_PATH_REGION_OFF, true, &flags,
				&ncomps);
	if (pm_filter.process & PM_PF_BINARY) {
		struct pm_proc_info *info = bpf_task_storage_get(&pm_proc_info, task, 0,
								 BPF_LOCAL_STORAGE_GET_F_CREATE);

		if (info)
			info->binary_match = pm_binary_match(path_len, ncomps, flags);
	}

	off = PM_NAME_MAX + path_len;
	pm_barrier_var(off);
	if (off > PM_NAME_MAX + PM_PATH_MAX)
		goto lost;
	args_len = pm_read_strings(data + off, BPF_CORE_READ(mm, arg_start),
				   BPF_CORE_READ(mm, arg_end), PM_ARGS_MAX, PM_EXEC_ARGS_TRUNCATED,
				   PM_EXEC_ARGS_UNREADABLE, &flags);
	if (pm_want_env) {
		off += args_len;
		pm_barrier_var(off);
		if (off > PM_NAME_MAX + PM_PATH_MAX + PM_ARGS_MAX)
			goto lost;
		env_len = pm_read_strings(data + off, BPF_CORE_READ(mm, env_start),
					  BPF_CORE_READ(mm, env_end), PM_ENV_MAX,
					  PM_EXEC_ENV_TRUNCATED, PM_EXEC_ENV_UNREADABLE, &flags);
		off -= args_len;
	}
	/* the working directory, for Sigma's CurrentDirectory, after the rest */
	cwd_off = off + args_len + env_len;
	pm_barrier_var(cwd_off);
	if (cwd_off > PM_NAME_MAX + PM_PATH_MAX + PM_ARGS_MAX + PM_ENV_MAX)
		goto lost;
	cwd_len = pm_walk_path(&BPF_CORE_READ(task, fs)->pwd, task, data + cwd_off, false,
			       &cwd_flags, &cwd_comps);
	flags |= (cwd_flags & PM_EXEC_PATH_CUT ? PM_EXEC_CWD_CUT : 0) |
		 (cwd_flags & PM_EXEC_PATH_DELETED ? PM_EXEC_CWD_DELETED : 0);

	ev->flags |= flags;
	ev->path_len = path_len;
	ev->args_len = args_len;
	ev->env_len = env_len;
	ev->cwd_len = cwd_len;
	size = sizeof(*ev) + off + args_len + env_len + cwd_len;
	ev->hdr.size = size;
	pm_barrier_var(size);
	if (size > sizeof(*s))
		goto lost;
	/*
	 * A file without a link (memfd, deleted) can be read only through the
	 * process, which may be gone in a millisecond: the reader pins it via
	 * /proc/PID/exe as soon as it reads this record, so wake it now, unless
	 * the pin thread has it already. Such execs are rare; the others keep
	 * the batched wake-ups.
	 */
	pm_emit_wake(ev, size, PM_DROP_EXEC,
		     !(ev->flags & PM_EXEC_PINNED) &&
			     (ev->file.nlink == 0 || (ev->flags & PM_EXEC_SCRIPT_FILELESS)));
	if (pm_want_interp)
		pm_interp_module(task);
	return 0;
lost:
	pm_count_drop(PM_DROP_EXEC);
	return 0;
}

/* The record of a tp/syscalls/sys_exit_X tracepoint (syscalls.bpf.c has
 * why it is not vmlinux.h's). */
struct pm_sys_exit_rec {
	__u64 common;
	int nr;
	long ret;
};

/*
 * EXE_UNLINKED for task when its running executable has no link left:
 * the inode as it is now, while the process still runs it (so nobody can
 * have written it since the exec), for the hasher: the unlink or rename
 * changed the ctime it checks.
 */
static __always_inline void pm_exe_unlinked(struct task_struct *task)
{
	struct pm_file_event ev;
	struct file *exe;

	exe = task->mm->exe_file; /* direct loads: NULL for a kernel thread */
	if (!exe || exe->f_inode->__i_nlink != 0)
		return;
	__builtin_memset(&ev, 0, sizeof(ev));
	pm_record_start(&ev.hdr, PM_EVENT_EXE_UNLINKED, sizeof(ev), &ev.task, task);
	pm_fill_file(&ev.file, exe);
	/* the process may be about to exit: the reader pins its exe now */
	pm_emit_wake(&ev, sizeof(ev), PM_DROP_EXEC, true);
}

/*
 * An unlink or rename by a process that left its own running executable
 * with no link (an implant deleting itself at start). Loaded only with
 * ima_hash; a few loads per unlink, a record only then.
 */
static __always_inline int pm_on_unlink(long ret)
{
	if (ret == 0)
		pm_exe_unlinked(bpf_get_current_task_btf());
	return 0;
}

SEC("tp/syscalls/sys_exit_unlink")
int pm_exit_unlink(struct pm_sys_exit_rec *ctx)
{
	return pm_on_unlink(ctx->ret);
}

SEC("tp/syscalls/sys_exit_unlinkat")
int pm_exit_unlinkat(struct pm_sys_exit_rec *ctx)
{
	return pm_on_unlink(ctx->ret);
}

SEC("tp/syscalls/sys_exit_rename")
int pm_exit_rename(struct pm_sys_exit_rec *ctx)
{
	return pm_on_unlink(ctx->ret);
}

SEC("tp/syscalls/sys_exit_renameat")
int pm_exit_renameat(struct pm_sys_exit_rec *ctx)
{
	return pm_on_unlink(ctx->ret);
}

SEC("tp/syscalls/sys_exit_renameat2")
int pm_exit_renameat2(struct pm_sys_exit_rec *ctx)
{
	return pm_on_unlink(ctx->ret);
}

/* Set by user space: report NewRemoteThread (remote_thread). */
const volatile bool pm_want_remote_thread = false;

/*
 * A thread created in a process that another process ptraces: the tracer
 * can have made the tracee call clone (or be debugging a program that
 * does). `creator` is the thread that called clone, `thread` the new one.
 */
static __always_inline void pm_remote_thread(struct task_struct *creator,
					      struct task_struct *thread)
{
	struct task_struct *tracer;
	struct pm_priv_event *ev;

	if (!BPF_CORE_READ(creator, ptrace))
		return;
	tracer = BPF_CORE_READ(creator, parent); /* the tracer, while traced */
	if (!tracer || BPF_CORE_READ(tracer, tgid) == BPF_CORE_READ(creator, tgid))
		return;
	ev = pm_reserve(sizeof(*ev), PM_EVENT_REMOTE_THREAD, PM_DROP_REMOTE_THREAD, creator);
	if (!ev)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	pm_record_start(&ev->hdr, PM_EVENT_REMOTE_THREAD, sizeof(*ev), &ev->task, tracer);
	pm_fill_task(&ev->target, thread);
	pm_submit(ev);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pm_clone, struct task_struct *parent, struct task_struct *child)
{
	struct pm_clone_event ev;

	/* a new thread of an existing process is not a new process */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) {
		if (pm_want_remote_thread)
			pm_remote_thread(parent, child);
		return 0;
	}
	__builtin_memset(&ev, 0, sizeof(ev));
	pm_record_start(&ev.hdr, PM_EVENT_CLONE, sizeof(ev), &ev.task, child);
	ev.forker_pid = BPF_CORE_READ(parent, tgid);
	ev.forker_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	if (pm_filter.process & PM_PF_BINARY) {
		/* the child runs its parent's binary until it execs */
		struct pm_proc_info *from =
			bpf_task_storage_get(&pm_proc_info, parent->group_leader, 0, 0);
		struct pm_proc_info *to = from ? bpf_task_storage_get(&pm_proc_info, child, 0,
								      BPF_LOCAL_STORAGE_GET_F_CREATE)
					       : NULL;

		if (to)
			to->binary_match = from->binary_match;
	}
	pm_emit(&ev, sizeof(ev), PM_DROP_CLONE);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pm_exit, struct task_struct *task, bool group_dead)
{
	struct signal_struct *signal;
	struct pm_exit_event ev;

	/* one event per process: only the thread that ends the group reports */
	if (!group_dead)
		return 0;
	pm_repeat_flush(task);
	/* a file deleted or renamed over while it ran (by anyone): its
	 * identity now, the last moment nobody can have written it */
	if (pm_want_pins)
		pm_exe_unlinked(task);
	__builtin_memset(&ev, 0, sizeof(ev));
	pm_record_start(&ev.hdr, PM_EVENT_EXIT, sizeof(ev), &ev.task, task);
	/* the status wait(2) would report, as wait_task_zombie() computes it */
	signal = BPF_CORE_READ(task, signal);
	if (BPF_CORE_READ(signal, flags) & SIGNAL_GROUP_EXIT)
		ev.exit_code = BPF_CORE_READ(signal, group_exit_code);
	else
		ev.exit_code = BPF_CORE_READ(task, group_leader, exit_code);
	pm_emit(&ev, sizeof(ev), PM_DROP_EXIT);
	return 0;
}
