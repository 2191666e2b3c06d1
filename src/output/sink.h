/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where event lines go: stdout or an append-only file (checked and opened
 * by safe_file.c, reopened on SIGHUP for log rotation). Sinks only move
 * bytes, and count every line: queued = written + lost + pending.
 *
 * A file never holds part of a line: a write cut short (a full disk, a
 * file-size limit) is cut back to the last whole line with ftruncate, and
 * the lines that could not be written are counted as lost. A pipe cannot
 * be cut back, so there the rest of a cut line stays queued and completes
 * it on the next write.
 */
#ifndef PROCMON_SINK_H
#define PROCMON_SINK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "log.h"
#include "output/rotate.h"

struct pm_sink {
	int fd;
	char *path;    /* NULL for stdout */
	bool regular;  /* fd is a regular file: cut back on errors, never waits */
	struct pm_buf out; /* lines not yet written, from a line's start */
	uint64_t pending;    /* lines in out */
	uint64_t lines_written; /* lines that reached the output */
	uint64_t lines_lost;    /* lines that could not be queued or written */
	uint64_t write_errors;  /* failed writes */
	uint64_t bytes_written; /* bytes that reached the output */
	int last_error;         /* -errno of the last write, 0 once one succeeds (health) */
	uint64_t reopen_next_ns; /* a removed output is recreated at most this often */
	struct pm_log_limit errors; /* write errors, rate-limited on stderr */
	/* built-in rotation (rotate.h): off while max_bytes is 0 */
	uint64_t max_bytes;
	unsigned backups;
	bool compress;
	uint64_t rotations;
	uint64_t rotate_next_ns; /* after a failed rotation, the next try */
	struct pm_rotate_gz gz;
};

/* 0, or -errno with why filled in (a refused or unopenable file). */
int pm_sink_open(struct pm_sink *s, const char *path, char *why, size_t whylen);
/*
 * Rotate the output file once a write would take it past max_bytes (0:
 * never): before that write, so both files end on a line boundary.
 * Only for a file (not stdout).
 */
void pm_sink_set_rotation(struct pm_sink *s, uint64_t max_bytes, unsigned backups,
			  bool compress);
/* Open the output path anew (SIGHUP): on failure the old file stays. */
int pm_sink_reopen(struct pm_sink *s, char *why, size_t whylen);
/* Queue one line (a newline is added). */
void pm_sink_line(struct pm_sink *s, const char *line, size_t len);
/*
 * Write everything queued. A reader that stopped reading is waited for
 * until *give_up is set (a signal): then -EINTR, with the unwritten lines
 * kept for a later flush. Other errors count the lines that could not be
 * written as lost. -EPIPE when the reader went away.
 */
int pm_sink_flush(struct pm_sink *s, const volatile sig_atomic_t *give_up);
/* Write what the output takes without waiting: 0 when all of it went,
 * -EAGAIN when some stays queued, or an error as pm_sink_flush. */
int pm_sink_flush_nowait(struct pm_sink *s);
/* As pm_sink_flush, waiting at most ms milliseconds: -ETIMEDOUT then. */
int pm_sink_flush_within(struct pm_sink *s, unsigned ms);
/* Count whatever is still queued as lost and drop it. */
void pm_sink_discard(struct pm_sink *s);
/* Print what the rate limit held back (the periodic report). */
void pm_sink_report(struct pm_sink *s);
void pm_sink_close(struct pm_sink *s);

#endif
