/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Detections (contract section 10): the Sigma rules of the `detections`
 * block, evaluated on every ProcessExec as it is written; each rule that
 * matches is a Detection event written right after it. The rules engine
 * is src/detect/sigma.h; this is the daemon's side of it: which rules,
 * the exec's facts as Sigma's process_creation fields, the counts.
 */
#ifndef PROCMON_DETECTIONS_H
#define PROCMON_DETECTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "collect/event.h"
#include "config/config.h"
#include "detect/sigma.h"
#include "enrich/users.h"

#define PM_SIGMA_LEVELS (PM_SIGMA_CRITICAL + 1)
#define PM_DETECT_SAMPLE 8

struct pm_detections {
	struct pm_sigma_rules *rules; /* NULL: detections off */
	struct pm_sigma_scratch *scratch;
	const struct pm_users *users;  /* User: names by uid (shared, not owned) */
	uint64_t by_level[PM_SIGMA_LEVELS]; /* Detection events made, by rule level */
	uint64_t errors;               /* evaluations that failed (memory): counted */
	uint64_t evaluated;            /* ProcessExec events the rules ran on */
	/* the cost: thread CPU time of every PM_DETECT_SAMPLE-th evaluation
	 * (the clock is a system call: timing each would add to the cost) */
	uint64_t timed, timed_ns;
	struct pm_buf cmd, parent_cmd;   /* the command lines, joined */
};

/*
 * Load the rules cfg names (problems logged, file:line and reason each).
 * Detections stay off (d->rules NULL, returns 0) when cfg turns them off,
 * or when `enabled` is absent and no rule loads. -ENOENT with why filled in
 * when `enabled: true` and no rule loads: the sensor must not pretend to
 * detect; -ENOMEM.
 */
int pm_detections_load(struct pm_detections *d, const struct pm_detections_config *cfg,
		       const struct pm_users *users, char *why, size_t whylen);

/*
 * SIGHUP: load cfg's rules afresh; in force only when that worked (a new
 * set that loads no rule while the old one had some keeps the old one,
 * with a message). The counts carry over.
 */
void pm_detections_reload(struct pm_detections *d, const struct pm_detections_config *cfg);

void pm_detections_free(struct pm_detections *d);

/* The rules' CPU time per evaluation, in ns, from the timed ones (0: none yet). */
double pm_detections_ns_per_exec(const struct pm_detections *d);

/* Number of rules in force (0: off). */
size_t pm_detections_count(const struct pm_detections *d);

/*
 * Sigma's process_creation fields of a ProcessExec (docs/detections.md has
 * the mapping). Command lines are joined into the two buffers; strings
 * point into the event's snapshots and the buffers. -ENOMEM.
 */
int pm_sigma_event_of(const struct pm_event *exec, const struct pm_users *users,
		      struct pm_buf *cmd, struct pm_buf *parent_cmd,
		      struct pm_sigma_event *out);

/*
 * Evaluate the rules on a ProcessExec being written (event_id: the id it
 * was written under, NULL if it was not) and pass each Detection to emit,
 * in the rules' load order.
 */
void pm_detections_run(struct pm_detections *d, const struct pm_event *exec,
		       const char *event_id,
		       void (*emit)(void *arg, const struct pm_event *ev), void *arg);

#endif
