/* SPDX-License-Identifier: GPL-2.0 */
/* Where event lines go: stdout or an append-only file (0600, reopened on
 * SIGHUP for log rotation). Sinks only move bytes. */
#ifndef PROCMON_SINK_H
#define PROCMON_SINK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct pm_sink {
	int fd;
	char *path; /* NULL for stdout */
	struct json_buf out; /* lines not yet written */
	uint64_t lines_lost; /* lines that could not be queued or written */
};

int pm_sink_open(struct pm_sink *s, const char *path);
int pm_sink_reopen(struct pm_sink *s);
/* Queue one line (a newline is added). */
void pm_sink_line(struct pm_sink *s, const char *line, size_t len);
/*
 * Write everything queued. A write that blocks (a reader that stopped
 * reading) is abandoned when a signal interrupts it and *give_up is set:
 * -EINTR, with the unwritten bytes kept for a later flush. Other errors
 * count the lines that could not be written as lost; a line cut by the
 * error keeps its unwritten rest, so the output never holds two lines
 * glued together. -EPIPE when the reader went away.
 */
int pm_sink_flush(struct pm_sink *s, const volatile sig_atomic_t *give_up);
/* Write what the output takes without waiting: 0 when all of it went,
 * -EAGAIN when some stays queued, or an error as pm_sink_flush. */
int pm_sink_flush_nowait(struct pm_sink *s);
/* Count whatever is still queued as lost and drop it. */
void pm_sink_discard(struct pm_sink *s);
void pm_sink_close(struct pm_sink *s);

#endif
