/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A recorded ProcessExec (native format, one JSON object) as the facts
 * Sigma's process_creation fields read: the one mapping --replay uses,
 * the same as the daemon's (docs/detections.md, "Field mapping").
 */
#ifndef PROCMON_DETECT_SIGMA_JSON_H
#define PROCMON_DETECT_SIGMA_JSON_H

#include <json-c/json.h>

#include "detect/sigma.h"

/* Storage for the joined command lines; reused from event to event. */
struct pm_sigma_json_buf {
	char *cmd, *parent_cmd;
	size_t cmd_cap, parent_cmd_cap;
};
void pm_sigma_json_buf_free(struct pm_sigma_json_buf *b);

/*
 * Fill ev from exec, a parsed ProcessExec: 0, -EINVAL when it is not one
 * (no "process" object), -ENOMEM. ev's strings point into exec and b:
 * valid while both are.
 */
int pm_sigma_event_from_json(struct json_object *exec, struct pm_sigma_event *ev,
			     struct pm_sigma_json_buf *b);

#endif
