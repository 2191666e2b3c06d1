/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Built-in rotation of the output file (output_max_mb, output_backups,
 * output_compress; contract section 9), for hosts without logrotate. The
 * sink (sink.c) decides when, between two writes, so every file holds
 * whole lines; this file does the renames and the compression:
 *
 *   FILE.N(.gz) is removed, FILE.i(.gz) becomes FILE.i+1(.gz), FILE
 *   becomes FILE.1, and the sink opens a new FILE. With compression, a
 *   thread then writes FILE.1.gz from the old file (through its own
 *   descriptor) and removes FILE.1; the next rotation waits for it first.
 */
#ifndef PROCMON_ROTATE_H
#define PROCMON_ROTATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct pm_rotate_gz {
	pthread_t thread;
	bool running;
	int fd;          /* the rotated file, read from its start */
	char *plain, *gz; /* FILE.1, FILE.1.gz */
};

/* Shift the backups and rename path to path.1: 0, or -errno with why. */
int pm_rotate_shift(const char *path, unsigned backups, char *why, size_t whylen);

/* Compress path.1 to path.1.gz in a thread, reading fd (taken over):
 * 0, or -errno (path.1 then stays as it is). */
int pm_rotate_gz_start(struct pm_rotate_gz *z, const char *path, int fd);
/* Wait for a compression started before (none: returns at once). */
void pm_rotate_gz_wait(struct pm_rotate_gz *z);

#endif
