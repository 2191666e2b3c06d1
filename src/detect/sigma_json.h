/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A recorded ProcessExec (native format, one JSON line) as the facts
 * Sigma's process_creation fields read: the one mapping --replay uses,
 * the same as the daemon's (docs/detections.md, "Field mapping").
 *
 * The line goes through yajl's event parser, not a DOM: the members the
 * mapping names are copied out, everything else (most of a line) is
 * passed over as it streams by. That is what lets a replay keep up with
 * the rules (docs/detections.md, "Replay speed").
 */
#ifndef PROCMON_DETECT_SIGMA_JSON_H
#define PROCMON_DETECT_SIGMA_JSON_H

#include <stddef.h>

#include "detect/sigma.h"

/* Deeper lines are unreadable: json-c's bound, which writes detections. */
#define PM_SIGMA_JSON_MAX_DEPTH 32

struct pm_sigma_json;

int pm_sigma_json_new(struct pm_sigma_json **out);
void pm_sigma_json_free(struct pm_sigma_json *r);

/*
 * Read one line into ev: 0 for a ProcessExec, 1 for a JSON object of
 * another type (or none), -EINVAL for a line that is not one JSON object
 * of at most PM_SIGMA_JSON_MAX_DEPTH levels, or a ProcessExec whose
 * "process" is not an object, -ENOMEM. A key given twice counts once,
 * its last value (as a DOM would keep it). ev's strings point into r:
 * valid until the next read.
 */
int pm_sigma_json_read(struct pm_sigma_json *r, const char *line, size_t len,
		       struct pm_sigma_event *ev);

/*
 * The same from json-c's DOM of a line (NULL: json-c could not read it):
 * the baseline bench/rules_replay.sh measures the event parser against
 * (PROCMON_REPLAY_PARSER=json-c), through the same mapping.
 */
struct json_object;
int pm_sigma_json_read_dom(struct pm_sigma_json *r, struct json_object *exec,
			   struct pm_sigma_event *ev);

#endif
