// SPDX-License-Identifier: GPL-2.0
/*
 * Every per-syscall tracepoint program: the privilege and access events
 * (Bombini's ProcessEvent sub-types Setuid, Setgid, Setcaps, Prctl,
 * CreateUserNs, PtraceAccessCheck), ModuleLoad and the named pipes. One
 * object, so that the families share the helpers below and one set of
 * rodata switches; each family's programs are in syscalls/<family>.bpf.h.
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
#include "common/repeat.bpf.h"
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

/* The sys_exit program of a call whose work is a body several calls
 * share: body(ctx, the rest). */
#define PM_SYS_EXIT(call, body, ...)                      \
	SEC("tp/syscalls/sys_exit_" #call)                \
	int pm_exit_##call(struct pm_sys_exit *ctx)       \
	{                                                 \
		return body(ctx, ##__VA_ARGS__);          \
	}

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
	struct pm_priv_event *ev = pm_reserve(sizeof(*ev), type, category, task);

	if (!ev)
		return NULL;
	__builtin_memset(ev, 0, sizeof(*ev));
	pm_record_start(&ev->hdr, type, sizeof(*ev), &ev->task, task);
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

/* the families, each a header of programs */
#include "syscalls/creds.bpf.h"
#include "syscalls/prctl.bpf.h"
#include "syscalls/user_ns.bpf.h"
#include "syscalls/access.bpf.h"
#include "syscalls/modules.bpf.h"
#include "syscalls/pipes.bpf.h"
#include "syscalls/namespaces.bpf.h"
