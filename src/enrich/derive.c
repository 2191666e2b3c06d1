// SPDX-License-Identifier: GPL-2.0
/*
 * The events procmon derives from the decoded ones (derive.h): each a
 * small rule, fed by the reader (accesses) or at write time (identities).
 */
#include "enrich/derive.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/hash.h"

/* Whether the block of a derived event is on. */
static bool rule_on(const struct pm_derive *d, uint32_t type)
{
	return d->cfg->block[pm_event_info(type)->block].enabled;
}

int pm_derive_init(struct pm_derive *d, const struct pm_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	/* the state of rules a reload cannot turn on (blocks.h: RESTART) */
	if (rule_on(d, PM_EVENT_THREAD_INJECTION) &&
	    !(d->injections = calloc(1, sizeof(*d->injections))))
		return -ENOMEM;
	if (rule_on(d, PM_EVENT_CODE_IDENTITY) &&
	    !(d->identities = pm_identities_new(PM_IDENTITY_MAX)))
		return -ENOMEM;
	return 0;
}

void pm_derive_free(struct pm_derive *d)
{
	free(d->injections);
	pm_identities_free(d->identities);
	memset(d, 0, sizeof(*d));
}

/* ---- SensitiveProcessAccess ---- */

bool pm_derive_sensitive_access(const struct pm_derive *d, const struct pm_process *target)
{
	const char *name = target && target->image ? target->image->filename : NULL;
	const struct pm_strlist *sensitive = &d->cfg->sensitive_processes;

	if (!rule_on(d, PM_EVENT_SENSITIVE_ACCESS) || !target)
		return false;
	if (target->pid == 1)
		return true;
	for (size_t i = 0; name && i < sensitive->n; i++)
		if (!strcmp(sensitive->v[i], name))
			return true;
	return false;
}

/* ---- ThreadInjection ---- */

/* x86-64: offsetof(struct user, regs.rip) */
#define PM_USER_IP_OFFSET (16 * 8)
#define PM_NT_PRSTATUS 1
#define PM_FMODE_WRITE 0x2
/* include/uapi/linux/ptrace.h */
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSER 6
#define PTRACE_SETREGS 13
#define PTRACE_SETREGSET 0x4205

/* The ThreadInjection step a record is, or 0. */
static uint32_t injection_step(const struct pm_priv_event *e, bool granted)
{
	switch (e->hdr.type) {
	case PM_EVENT_REMOTE_THREAD:
		return PM_STEP_REMOTE_THREAD;
	case PM_EVENT_PTRACE_ACCESS:
		if (!granted)
			return 0;
		switch (e->access) {
		case PM_ACCESS_PTRACE_ATTACH:
			return PM_STEP_ATTACH;
		case PM_ACCESS_PTRACE_SEIZE:
			return PM_STEP_SEIZE;
		case PM_ACCESS_VM_WRITEV:
			/* granted but faulted (EFAULT): nothing was written */
			return e->ret > 0 ? PM_STEP_VM_WRITEV : 0;
		case PM_ACCESS_PROC_MEM:
			return e->arg[0] & PM_FMODE_WRITE ? PM_STEP_PROC_MEM_WRITE : 0;
		}
		return 0;
	case PM_EVENT_CODE_WRITE:
		return e->access == PM_ACCESS_PROC_MEM ? PM_STEP_PROC_MEM_CODE
						       : PM_STEP_VM_WRITEV_CODE;
	case PM_EVENT_PTRACE_REQUEST:
		switch (e->arg[0]) {
		case PTRACE_POKETEXT:
			return PM_STEP_POKETEXT;
		case PTRACE_POKEDATA:
			return PM_STEP_POKEDATA;
		case PTRACE_POKEUSER:
			return e->arg[1] == PM_USER_IP_OFFSET ? PM_STEP_POKEUSER_IP : 0;
		case PTRACE_SETREGS:
			return PM_STEP_SETREGS;
		case PTRACE_SETREGSET:
			return e->arg[1] == PM_NT_PRSTATUS ? PM_STEP_SETREGSET : 0;
		}
	}
	return 0;
}

struct pm_injection_trail *pm_derive_injection(struct pm_derive *d, const struct pm_priv_event *e,
					       const struct pm_process *source,
					       const struct pm_process *target, bool granted,
					       uint64_t *lost)
{
	struct pm_injection_step step = {
		.kind = injection_step(e, granted),
		.ktime_ns = e->hdr.ktime_ns,
		.addr = e->arg[1],
		.thread_id = e->target.tid,
	};
	struct pm_injection_trail trail, *out;

	if (!d->injections || !step.kind || !source || !target)
		return NULL;
	/* instances by start tick: exact ns and /proc's ticks name one process */
	if (!pm_injection_observe(d->injections,
				  (struct pm_injection_key){ source->pid,
							     pm_start_ticks(source->start_ns) },
				  (struct pm_injection_key){ target->pid,
							     pm_start_ticks(target->start_ns) },
				  &step, &trail))
		return NULL;
	out = malloc(sizeof(*out));
	if (out)
		*out = trail;
	else
		(*lost)++;
	return out;
}

/* ---- CodeIdentity, OngoingIdentity ---- */

/*
 * CodeIdentity and OngoingIdentity follow the ProcessExec or ModuleLoad
 * they come from, once its hash is known (one whose hash missed its wait
 * has none; a later exec or load of the file brings it, from the hash
 * cache).
 */
void pm_derive_identities(struct pm_derive *d, const struct pm_event *from,
			  void (*emit)(void *arg, const struct pm_event *ev), void *arg)
{
	const struct pm_image *img = from->proc ? from->proc->image : NULL;
	struct pm_event ev = *from;

	if (from->type == PM_EVENT_EXEC && img) {
		ev.code = (struct pm_code_facts){
			.path = img->binary_path,
			.hash = img->hash,
			.size = img->size,
			.mtime_sec = img->mtime_sec,
			.mode = img->mode,
			.owner_uid = img->owner_uid,
			.owner_gid = img->owner_gid,
		};
	} else if (pm_event_info(from->type)->record == PM_RECORD_MODULE) {
		ev.code.hash = from->module_hash;
	} else {
		return;
	}
	if (!ev.code.hash || pm_hash_state(ev.code.hash) != PM_HASH_DONE)
		return;
	if (d->identities && pm_identity_first(d->identities, ev.code.path, ev.code.hash->hex)) {
		ev.type = PM_EVENT_CODE_IDENTITY;
		emit(arg, &ev);
	}
	if (rule_on(d, PM_EVENT_ONGOING_IDENTITY)) {
		ev.type = PM_EVENT_ONGOING_IDENTITY;
		emit(arg, &ev);
	}
}
