// SPDX-License-Identifier: GPL-2.0
/*
 * Privilege and access events (Bombini's ProcessEvent sub-types): Setuid,
 * Setgid, Setcaps, Prctl, CreateUserNs, PtraceAccessCheck.
 *
 * Bombini takes these from LSM hooks; this kernel refuses LSM programs, so
 * they come from per-syscall tracepoints (never the global raw
 * sys_enter/sys_exit: unmonitored syscalls must not pay). A call is
 * reported at its sys_exit, when its result is known: credential changes
 * only when they took effect, with the credentials they produced (read
 * from current->cred); ptrace-class accesses also when denied, with the
 * error. Where a filter needs the state before the call (process_filter
 * on the caller's uid/euid, create_user_ns's cap_filter), the sys_enter
 * of that syscall notes it in the thread's pm_pending; without such a
 * filter no sys_enter program is loaded at all (pm_note_at_enter), which
 * spares every other syscall the kernel's sys_enter probe.
 *
 * User space loads only the programs of the enabled hooks.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "procmon/events.h"
#include "common/maps.bpf.h"
#include "common/task.bpf.h"
#include "common/path.bpf.h"
#include "common/filter.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define CLONE_NEWUSER 0x10000000
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define EPERM 1
#define EACCES 13

/*
 * The records of tp/syscalls/sys_{enter,exit}_X (struct syscall_trace_enter
 * and syscall_trace_exit in kernel/trace/trace_syscalls.c): the syscall
 * number is an int, not the long of vmlinux.h's trace_event_raw_sys_*.
 */
struct pm_sys_enter {
	__u64 common; /* struct trace_entry */
	int nr;
	unsigned long args[6];
};

struct pm_sys_exit {
	__u64 common;
	int nr;
	long ret;
};

/*
 * The address of .open of /proc/PID/mem's file_operations (mem_open):
 * identifies the file whatever path opened it. Set from /proc/kallsyms by
 * user space, 0 when the kernel shows no such symbol. Not a __ksym: libbpf
 * would read all of /proc/kallsyms once more at every start.
 */
const volatile __u64 pm_mem_open = 0;

/* What a sys_enter noted for its sys_exit, per thread. */
struct pm_pending {
	__s64 nr;    /* syscall number; -1 when consumed */
	__u64 caps;  /* effective capabilities before the call */
	__u64 arg0;
	__u32 pass;  /* process_filter's verdict before the call */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pm_pending);
} pm_pending SEC(".maps");

/* Set by user space: the sys_enter programs are loaded and note the state
 * before each call. Otherwise the sys_exit programs read it themselves. */
const volatile bool pm_note_at_enter = false;

static __always_inline void pm_note_enter(struct pm_sys_enter *ctx, __u32 category)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pm_pending *p = bpf_task_storage_get(&pm_pending, task, 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!p) { /* no memory for the note: the event will be missing */
		pm_count_drop(category);
		return;
	}
	p->nr = ctx->nr;
	p->arg0 = ctx->args[0];
	p->caps = BPF_CORE_READ(task, cred, cap_effective.val);
	p->pass = pm_process_filter_pass(task);
}

/*
 * The state before this syscall, into *before: from the note its sys_enter
 * made (consumed), or, when no filter needs it, from what the call left
 * (the first argument from the saved registers). False: nothing to report.
 */
static __always_inline bool pm_before_call(struct pm_sys_exit *ctx, struct pm_pending *before)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pm_pending *p;

	if (!pm_note_at_enter) {
		before->arg0 = PT_REGS_PARM1_CORE_SYSCALL((struct pt_regs *)bpf_task_pt_regs(task));
		before->caps = task->cred->cap_effective.val;
		return pm_process_filter_pass(task);
	}
	p = bpf_task_storage_get(&pm_pending, task, 0, 0);
	if (!p || p->nr != ctx->nr || !p->pass)
		return false;
	p->nr = -1;
	*before = *p;
	return true;
}

/* A zeroed ProcessEvent record of `type` for the current task, or NULL. */
static __always_inline struct pm_priv_event *pm_priv_begin(__u32 type, __u32 category,
							    struct task_struct *task)
{
	struct pm_priv_event *ev = pm_reserve(sizeof(*ev), category);

	if (!ev)
		return NULL;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	ev->hdr.type = type;
	ev->hdr.size = sizeof(*ev);
	pm_fill_task(&ev->task, task);
	return ev;
}

static __always_inline struct pt_regs *pm_syscall_regs(struct task_struct *task)
{
	return (struct pt_regs *)bpf_task_pt_regs(task);
}

/* libbpf 1.1 has no PT_REGS_PARM6_SYSCALL */
#if defined(__TARGET_ARCH_x86)
#define PM_SYSCALL_ARG6(regs) ((regs)->r9)
#elif defined(__TARGET_ARCH_arm64)
#define PM_SYSCALL_ARG6(regs) ((regs)->regs[5])
#else
#error "PM_SYSCALL_ARG6: add this architecture's sixth syscall argument register"
#endif

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

/* ---- PtraceAccessCheck ---- */

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
	struct pm_priv_event *ev;

	if (!pm_want_ptrace_requests || ret != 0 ||
	    (request != PTRACE_POKETEXT && request != PTRACE_POKEDATA &&
	     request != PTRACE_POKEUSER && request != PTRACE_SETREGS &&
	     request != PTRACE_SETREGSET))
		return;
	ev = pm_target_begin(PM_EVENT_PTRACE_REQUEST, ret, NULL, vpid);
	if (!ev)
		return;
	ev->arg[0] = request;
	ev->arg[1] = addr;
	pm_submit(ev);
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
	pm_access_event(request == PTRACE_ATTACH ? PM_ACCESS_PTRACE_ATTACH : PM_ACCESS_PTRACE_SEIZE,
			PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_REALCREDS, ctx->ret, target,
			PT_REGS_PARM2_CORE_SYSCALL(regs), 0);
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
static __always_inline int pm_on_vm_access(struct pm_sys_exit *ctx, __u32 access)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = pm_syscall_regs(task);
	long ret = ctx->ret;

	if (ret > 0 || ret == -EPERM || ret == -EACCES ||
	    (ret == -EFAULT && pm_vm_access_checked(task, regs)))
		pm_access_event(access, PM_PTRACE_MODE_ATTACH | PM_PTRACE_MODE_REALCREDS, ret,
				NULL, PT_REGS_PARM1_CORE_SYSCALL(regs), 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_process_vm_readv")
int pm_exit_process_vm_readv(struct pm_sys_exit *ctx)
{
	return pm_on_vm_access(ctx, PM_ACCESS_VM_READV);
}

SEC("tp/syscalls/sys_exit_process_vm_writev")
int pm_exit_process_vm_writev(struct pm_sys_exit *ctx)
{
	return pm_on_vm_access(ctx, PM_ACCESS_VM_WRITEV);
}

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

/* ---- ModuleLoad ---- */

#define PM_PROT_EXEC 0x4
#define PM_MAP_ANONYMOUS 0x20

/* A ModuleLoad record for `file` mapped executable at [addr, addr + len). */
static __always_inline void pm_module_emit(struct task_struct *task, struct file *file,
					   __u64 addr, __u64 len, __u64 pgoff)
{
	struct pm_module_event *ev = pm_reserve(sizeof(*ev), PM_DROP_MODULE_LOAD);
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
	pm_submit(ev);
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
	struct pm_fifo_event *ev = pm_reserve(sizeof(*ev), PM_DROP_NAMED_PIPE);

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

SEC("tp/syscalls/sys_exit_open")
int pm_exit_open(struct pm_sys_exit *ctx)
{
	return pm_on_open(ctx);
}

SEC("tp/syscalls/sys_exit_openat")
int pm_exit_openat(struct pm_sys_exit *ctx)
{
	return pm_on_open(ctx);
}

SEC("tp/syscalls/sys_exit_openat2")
int pm_exit_openat2(struct pm_sys_exit *ctx)
{
	return pm_on_open(ctx);
}
