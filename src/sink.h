/* SPDX-License-Identifier: GPL-2.0 */
/* Where event lines go: stdout or an append-only file (0600, reopened on
 * SIGHUP for log rotation). Sinks only move bytes. */
#ifndef PROCMON_SINK_H
#define PROCMON_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct pm_sink {
	int fd;
	char *path; /* NULL for stdout */
	struct json_buf out; /* lines not yet written */
	uint64_t lines_lost; /* lines a failed write could not deliver */
};

int pm_sink_open(struct pm_sink *s, const char *path);
int pm_sink_reopen(struct pm_sink *s);
/* Queue one line (a newline is added). */
void pm_sink_line(struct pm_sink *s, const char *line, size_t len);
/* Write everything queued. -EPIPE when the reader went away. */
int pm_sink_flush(struct pm_sink *s);
void pm_sink_close(struct pm_sink *s);

#endif
