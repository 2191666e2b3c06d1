/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns kernel records into events: validates each record, keeps the
 * process cache current, attaches hashes and parents, and queues the
 * event for output.
 */
#ifndef PROCMON_READER_H
#define PROCMON_READER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "collect/decode.h"
#include "enrich/derive.h"
#include "enrich/container.h"
#include "collect/event.h"
#include "enrich/hash.h"
#include "enrich/injection.h"
#include "collect/pin.h"
#include "collect/proc_cache.h"

struct pm_reader {
	struct pm_proc_cache *cache;
	struct pm_hasher *hasher; /* NULL when hashing is off */
	struct pm_pinner *pinner; /* the exec-pin thread, or NULL */
	int known_fd; /* pm_known_files: hashed files, so the kernel pins no more; -1 */
	struct pm_containers *containers;
	struct pm_event_queue queue;
	uint32_t boot_id_prefix;
	const struct pm_config *cfg;         /* which events are on: its blocks */
	struct pm_derive derive;             /* the events derived from the decoded ones */
	uint64_t malformed; /* records that failed validation (dropped, counted) */
	uint64_t user_drops; /* events lost to allocation failure */
	/* events summarised by RepeatedEvents records, by type (not lost) */
	uint64_t repeated[PM_EVENT_TYPE_END];
};

/* Set up a reader for cfg (which must outlive it): 0 or -ENOMEM. */
int pm_reader_init(struct pm_reader *r, const struct pm_config *cfg);
/* Free what pm_reader_init made and every event still queued. */
void pm_reader_free(struct pm_reader *r);

/*
 * Queue an event of `type` about p (a reference is taken), stamped now,
 * with p's parent from the cache: for what user space itself reports
 * (ExistingProcess). The queued event, or NULL when it was lost.
 */
struct pm_event *pm_reader_queue_process(struct pm_reader *r, uint32_t type,
					 struct pm_process *p);


/*
 * The queue's length at which the reader stops taking records until the
 * caller has drained it: a flood (a tracer tracing procmon's own reads
 * makes one) must fill the ring buffer, where the kernel counts what it
 * drops, not procmon's memory, and must not keep the main loop from
 * seeing a SIGTERM.
 */
#define PM_QUEUE_PAUSE 65536

/* ring_buffer_sample_fn: 0, or -EAGAIN once PM_QUEUE_PAUSE events wait
 * (the record itself is taken): drain, then read on. A bad record is
 * counted (malformed), never an error. */
int pm_reader_on_record(void *ctx, void *data, size_t size);

#endif
