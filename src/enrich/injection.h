/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ThreadInjection: one process writes another's memory and then changes
 * its execution. The kernel side reports the steps (ptrace attach and
 * requests, process_vm_writev, /proc/PID/mem opened for writing, a thread
 * created in a traced process); this correlates them per (source, target)
 * within a window. Pure, unit-tested.
 */
#ifndef PROCMON_INJECTION_H
#define PROCMON_INJECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_INJECTION_WINDOW_NS (10 * 1000000000ull)
#define PM_INJECTION_STEPS 8   /* kept per pair: the first ones, then the last */
#define PM_INJECTION_PAIRS 64  /* pairs followed at once; the oldest goes */

enum pm_injection_step_kind {
	PM_STEP_ATTACH = 1,     /* PTRACE_ATTACH: context */
	PM_STEP_SEIZE,          /* PTRACE_SEIZE: context */
	PM_STEP_POKETEXT,       /* writes memory */
	PM_STEP_POKEDATA,       /* writes memory */
	PM_STEP_VM_WRITEV,      /* writes memory */
	PM_STEP_PROC_MEM_WRITE, /* /proc/PID/mem opened for writing */
	PM_STEP_POKEUSER_IP,    /* changes execution: the instruction pointer */
	PM_STEP_SETREGS,        /* changes execution */
	PM_STEP_SETREGSET,      /* changes execution (NT_PRSTATUS) */
	PM_STEP_REMOTE_THREAD,  /* changes execution: a thread while traced */
	PM_STEP_PROC_MEM_CODE,  /* a write through /proc/PID/mem into executable
				 * memory: writes and completes on its own */
	PM_STEP_VM_WRITEV_CODE, /* the same by process_vm_writev (RWX memory) */
	PM_STEP_KINDS
};

struct pm_injection_step {
	uint32_t kind;     /* enum pm_injection_step_kind */
	uint32_t thread_id; /* PM_STEP_REMOTE_THREAD */
	uint64_t ktime_ns;
	uint64_t addr;     /* POKETEXT/POKEDATA/POKEUSER, the code writes */
};

/* A process instance: pid and start time (any unit, used as given). */
struct pm_injection_key {
	uint32_t pid;
	uint64_t start;
};

struct pm_injection_trail {
	struct pm_injection_key source, target;
	struct pm_injection_step steps[PM_INJECTION_STEPS];
	size_t n;
	bool wrote;
};

struct pm_injections {
	struct pm_injection_trail pairs[PM_INJECTION_PAIRS];
};

/* How a step is shown (the same rule for both formats). */
struct pm_injection_step_info {
	const char *name; /* "PTRACE_POKETEXT" ... */
	bool is_access;   /* an access to the target (LimaCharlie: REMOTE_PROCESS_HANDLE) */
	bool has_address; /* carries the address it wrote */
	bool has_thread;  /* carries the new thread's id */
};

const struct pm_injection_step_info *pm_injection_step_info(uint32_t kind);
/* "PTRACE_POKETEXT" ... the name a step is shown by. */
const char *pm_injection_step_name(uint32_t kind);

/*
 * Record a step by source on target. When it changes execution and the
 * same source wrote the target's memory within the window, or it is a
 * write into the target's executable memory (which needs no register
 * change: the target runs the new code by itself), the pair's steps, in
 * order, go to *out, the pair is forgotten, and it returns true.
 */
bool pm_injection_observe(struct pm_injections *t, struct pm_injection_key source,
			  struct pm_injection_key target, const struct pm_injection_step *step,
			  struct pm_injection_trail *out);

#endif
