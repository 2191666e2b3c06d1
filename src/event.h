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

#include "proc_cache.h"

#define PM_HASH_WAIT_NS (300 * 1000000ull)

struct pm_event {
	uint32_t type;     /* enum pm_event_type */
	uint64_t ktime_ns; /* boot-time ns */
	struct pm_process *proc;
	struct pm_process *parent; /* NULL when unknown */
	uint32_t exit_code;        /* ProcessExit: wait(2) status */
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
