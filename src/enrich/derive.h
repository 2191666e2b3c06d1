/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Derived events: what procmon concludes from the events it decoded,
 * one small rule each (derive.c).
 *
 *   SensitiveProcessAccess  a granted PtraceAccessCheck whose target is
 *                           PID 1 or named in sensitive_process_access
 *   ThreadInjection         memory written, then execution changed, by
 *                           one process in another (injection.c keeps
 *                           the trails)
 *   CodeIdentity            the first exec or load of a (path, hash) pair
 *   OngoingIdentity         every exec or load, with its hash
 *
 * ExistingProcess, the fourth, is the start-up scan's (proc_scan.c) and is
 * written by main.c before the ready line.
 */
#ifndef PROCMON_DERIVE_H
#define PROCMON_DERIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "collect/event.h"
#include "enrich/identity.h"
#include "enrich/injection.h"
#include "collect/proc_cache.h"
#include "procmon/events.h"

struct pm_derive {
	const struct pm_config *cfg;        /* which rules are on: its blocks */
	struct pm_injections *injections;   /* thread_injection's trails; NULL: off */
	struct pm_identities *identities;   /* code_identity's seen pairs; NULL: off */
};

/* The rules cfg turns on (cfg must outlive d): 0 or -ENOMEM. */
int pm_derive_init(struct pm_derive *d, const struct pm_config *cfg);
void pm_derive_free(struct pm_derive *d);

/* Whether a granted access to target is a SensitiveProcessAccess. */
bool pm_derive_sensitive_access(const struct pm_derive *d, const struct pm_process *target);

/*
 * Feed one record about another process (an access, a ptrace request, a
 * remote thread) to the ThreadInjection rule: the completed trail to
 * report (malloc'd), or NULL. An allocation failure counts in *lost.
 */
struct pm_injection_trail *pm_derive_injection(struct pm_derive *d, const struct pm_priv_event *e,
					       const struct pm_process *source,
					       const struct pm_process *target, bool granted,
					       uint64_t *lost);

/*
 * CodeIdentity and OngoingIdentity of a ProcessExec or ModuleLoad that is
 * being written, once its hash is known (one whose hash missed its wait
 * has none; a later exec or load of the file brings it, from the hash
 * cache): each is passed to emit.
 */
void pm_derive_identities(struct pm_derive *d, const struct pm_event *from,
			  void (*emit)(void *arg, const struct pm_event *ev), void *arg);

#endif
