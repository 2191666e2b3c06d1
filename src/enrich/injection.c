// SPDX-License-Identifier: GPL-2.0
#include "enrich/injection.h"

#include <string.h>

/* How each step is shown, in both formats. */
static const struct pm_injection_step_info steps[PM_STEP_KINDS] = {
	[PM_STEP_ATTACH] = { .name = "PTRACE_ATTACH", .is_access = true },
	[PM_STEP_SEIZE] = { .name = "PTRACE_SEIZE", .is_access = true },
	[PM_STEP_POKETEXT] = { .name = "PTRACE_POKETEXT", .has_address = true },
	[PM_STEP_POKEDATA] = { .name = "PTRACE_POKEDATA", .has_address = true },
	[PM_STEP_VM_WRITEV] = { .name = "PROCESS_VM_WRITEV", .is_access = true },
	[PM_STEP_PROC_MEM_WRITE] = { .name = "PROC_PID_MEM_WRITE", .is_access = true },
	[PM_STEP_POKEUSER_IP] = { .name = "PTRACE_POKEUSER", .has_address = true },
	[PM_STEP_SETREGS] = { .name = "PTRACE_SETREGS" },
	[PM_STEP_SETREGSET] = { .name = "PTRACE_SETREGSET" },
	[PM_STEP_REMOTE_THREAD] = { .name = "NEW_REMOTE_THREAD", .has_thread = true },
	[PM_STEP_PROC_MEM_CODE] = { .name = "PROC_PID_MEM_CODE_WRITE", .has_address = true },
	[PM_STEP_VM_WRITEV_CODE] = { .name = "PROCESS_VM_WRITEV_CODE_WRITE", .has_address = true },
};

const struct pm_injection_step_info *pm_injection_step_info(uint32_t kind)
{
	static const struct pm_injection_step_info unknown = { .name = "UNKNOWN" };

	return kind < PM_STEP_KINDS && steps[kind].name ? &steps[kind] : &unknown;
}

const char *pm_injection_step_name(uint32_t kind)
{
	return pm_injection_step_info(kind)->name;
}

static bool writes_code(uint32_t kind)
{
	return kind == PM_STEP_PROC_MEM_CODE || kind == PM_STEP_VM_WRITEV_CODE;
}

static bool writes_memory(uint32_t kind)
{
	return (kind >= PM_STEP_POKETEXT && kind <= PM_STEP_PROC_MEM_WRITE) || writes_code(kind);
}

static bool changes_execution(uint32_t kind)
{
	return (kind >= PM_STEP_POKEUSER_IP && kind <= PM_STEP_REMOTE_THREAD) || writes_code(kind);
}

static bool same(struct pm_injection_key a, struct pm_injection_key b)
{
	return a.pid == b.pid && a.start == b.start;
}

/* When the pair last did something; 0 for a free slot. */
static uint64_t last_ns(const struct pm_injection_trail *p)
{
	return p->n ? p->steps[p->n - 1].ktime_ns : 0;
}

static struct pm_injection_trail *restart(struct pm_injection_trail *p,
					  struct pm_injection_key source,
					  struct pm_injection_key target)
{
	memset(p, 0, sizeof(*p));
	p->source = source;
	p->target = target;
	return p;
}

/* The pair's trail (restarted when its last step is outside the window),
 * else a free slot, else the one idle longest. */
static struct pm_injection_trail *trail_of(struct pm_injections *t, struct pm_injection_key source,
					   struct pm_injection_key target, uint64_t now)
{
	struct pm_injection_trail *pick = &t->pairs[0];

	for (size_t i = 0; i < PM_INJECTION_PAIRS; i++) {
		struct pm_injection_trail *p = &t->pairs[i];

		if (p->n && same(p->source, source) && same(p->target, target))
			return last_ns(p) + PM_INJECTION_WINDOW_NS < now ? restart(p, source, target)
									 : p;
		if (last_ns(p) < last_ns(pick))
			pick = p;
	}
	return restart(pick, source, target);
}

bool pm_injection_observe(struct pm_injections *t, struct pm_injection_key source,
			  struct pm_injection_key target, const struct pm_injection_step *step,
			  struct pm_injection_trail *out)
{
	struct pm_injection_trail *p = trail_of(t, source, target, step->ktime_ns);

	/* a long run of pokes keeps its first steps and its latest one */
	if (p->n == PM_INJECTION_STEPS)
		p->n--;
	p->steps[p->n++] = *step;
	p->wrote |= writes_memory(step->kind);
	if (!changes_execution(step->kind) || !p->wrote)
		return false;
	*out = *p;
	p->n = 0; /* forgotten: the next injection starts a new trail */
	return true;
}
