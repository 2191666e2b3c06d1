/* SPDX-License-Identifier: GPL-2.0 */
/* Renderers: pure functions of (event, snapshots) -> one JSON line. */
#ifndef PROCMON_RENDER_H
#define PROCMON_RENDER_H

#include <stdint.h>

#include "event.h"
#include "json.h"

struct pm_render_ctx {
	int64_t boot_to_unix_ns; /* add to a boot-time ns value to get Unix ns */
	unsigned cap_last;       /* /proc/sys/kernel/cap_last_cap */
};

/* Append one Bombini-format JSON object (no newline) for ev to b. */
void pm_render_bombini(struct json_buf *b, const struct pm_event *ev,
		       const struct pm_render_ctx *ctx);

#endif
