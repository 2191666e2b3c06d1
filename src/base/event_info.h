/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event table's rows for user space: each event type's names in both
 * formats, the block that enables it, its record shape and drop category.
 * Vocabulary of every stage (the reader's dispatch, the derive rules, the
 * renderers, the metrics, the fleet subject), so it sits on the ground
 * floor beside the table itself (include/procmon/events.h).
 */
#ifndef PROCMON_BASE_EVENT_INFO_H
#define PROCMON_BASE_EVENT_INFO_H

#include <stdint.h>

#include "procmon/events.h"

/* One row of PM_EVENT_TABLE (include/procmon/events.h), for user space. */
struct pm_event_info {
	const char *native;      /* native `type`; NULL: never written */
	const char *subtype;     /* ProcessEvent's process_event.type, or NULL */
	const char *limacharlie; /* LimaCharlie routing.event_type */
	uint8_t block;           /* enum pm_block that enables it; PM_BLOCK_NONE: always on */
	uint8_t record;          /* enum pm_record_kind */
	uint8_t drop;            /* enum pm_drop_category */
};

/* The row of an event type; NULL for a number no row has. */
const struct pm_event_info *pm_event_info(uint32_t type);
/* Each drop category's name in the loss report (PM_DROP_TABLE); NULL: unused. */
extern const char *const pm_drop_names[PM_DROP_MAX];

#endif
