/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A decoded event waiting for output: the snapshots of its process and
 * parent as they were when it happened. Events leave in arrival order
 * (the ring buffer's order); one whose binary hash is still being computed
 * waits for it at most PM_HASH_WAIT_NS, so a large binary delays nothing
 * beyond the one-second delivery bound.
 */
#ifndef PROCMON_EVENT_H
#define PROCMON_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "detect/sigma.h"
#include "enrich/injection.h"
#include "procmon/events.h"
#include "collect/proc_cache.h"
#include "base/event_info.h"

#define PM_HASH_WAIT_NS (300 * 1000000ull)

/* What CodeIdentity and OngoingIdentity report of an executed or mapped file. */
struct pm_code_facts {
	const char *path;
	const struct pm_hash_entry *hash; /* done */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mode, owner_uid, owner_gid;
};

/* What a ProcessEvent adds (struct pm_priv_event's own fields). */
struct pm_priv_detail {
	int64_t ret;      /* the call's result; < 0 a denied access */
	uint64_t arg[3];  /* Prctl: option, arg2, arg3 */
	uint32_t flags;   /* enum pm_setid_flags, or enum pm_ptrace_mode */
	uint32_t fsid;    /* fsuid / fsgid after the call */
	uint32_t access;  /* enum pm_access_kind */
	uint32_t target_vpid; /* when the target could not be named */
	uint32_t thread_id;   /* NewRemoteThread: the new thread */
	char name[16];    /* Prctl: the task's name after the call */
};

struct pm_event {
	uint32_t type;     /* enum pm_event_type */
	uint64_t ktime_ns; /* boot-time ns */
	struct pm_process *proc;
	struct pm_process *parent; /* NULL when unknown */
	struct pm_process *target; /* PtraceAccessCheck's child; NULL when unknown */
	struct pm_priv_detail priv;
	uint32_t exit_code;        /* ProcessExit: wait(2) status */
	/* ProcessEnvironment: NAME=VALUE strings, each NUL-terminated, redacted */
	char *env;
	size_t env_len;
	bool env_truncated;
	struct pm_injection_trail *injection; /* ThreadInjection: its steps */
	char *file_path;           /* New/OpenNamedPipe, ModuleLoad: absolute path */
	uint64_t base_address, memory_size; /* ModuleLoad */
	struct pm_hash_entry *module_hash;  /* ModuleLoad: the file's, or NULL */
	/* Code/OngoingIdentity: the file; ModuleLoad: the mapped file's facts */
	struct pm_code_facts code;
	bool file_path_truncated;
	/* Detection: the rule that matched the ProcessExec (proc, parent, time
	 * are the exec's), and that event's event_id (NULL: not written) */
	const struct pm_sigma_rule_info *rule;
	const char *matched_event_id;
	/* RepeatedEvents: `count` events of type `kind` not written one by
	 * one, from first_ns to last_ns (boot time) */
	struct {
		uint32_t kind;
		uint64_t count, first_ns, last_ns;
	} repeat;
	uint64_t deadline_ns;      /* monotonic: emit by then, hash or not */
	struct pm_event *next;
};

struct pm_event_queue {
	struct pm_event *head, *tail;
	uint64_t len;
};

struct pm_event *pm_event_new(uint32_t type, uint64_t ktime_ns);
void pm_event_free(struct pm_event *ev);

void pm_event_queue_push(struct pm_event_queue *q, struct pm_event *ev);
/* The head if it may be written now (hashes settled or deadline passed,
 * or `force`), removed from the queue; else NULL. */
struct pm_event *pm_event_queue_pop_ready(struct pm_event_queue *q, uint64_t now_ns, bool force);

#endif /* PROCMON_EVENT_H */
