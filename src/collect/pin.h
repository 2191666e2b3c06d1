/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exec-pin fast path: a thread that reads the kernel's pm_pins ring
 * buffer (woken by every record) and does one thing, an O_PATH open of
 * /proc/PID/exe (and of a fileless script's /proc/PID/fd/N), so that the
 * file of a process that exits at once is still held when the reader
 * gets to its exec record. It runs at real-time priority when it may:
 * under load a normal thread wakes too late (docs/design.md).
 *
 * The reader takes the held fds by (pid, exec time); the hasher checks
 * them like any other (a pin never makes a hash, it only keeps a file
 * reachable). Held fds are bounded: the oldest unclaimed is closed.
 */
#ifndef PROCMON_PIN_H
#define PROCMON_PIN_H

#include <stdbool.h>
#include <stdint.h>

#include "enrich/hash.h"

struct pm_pinner;

/* Start the thread on the pm_pins ring buffer map ring_fd, checking
 * pins against pm_proc_info (info_fd); realtime: ask for SCHED_FIFO.
 * 0 or -errno. */
int pm_pinner_start(struct pm_pinner **out, int ring_fd, int info_fd, bool realtime);
/* Stop the thread, close every fd still held (NULL: nothing). */
void pm_pinner_stop(struct pm_pinner *p);

/*
 * The fds held for pid's exec at ktime_ns (each -1 when none), now the
 * caller's; waits up to wait_ms for the pin thread to get there.
 * *has_id: *id is *exe's identity at the pin, proven to be the executed
 * content's (the process still ran that exec, so nobody could have
 * written the file: pin.c has the proof), for pm_hasher_lookup_exec();
 * hex its digest when the pin thread hashed it already, else "".
 */
void pm_pinner_take(struct pm_pinner *p, uint32_t pid, uint64_t ktime_ns, int wait_ms, int *exe,
		    int *script, struct pm_file_id *id, bool *has_id,
		    char hex[sizeof("sha256:") + 64]);

/* Counts for the metrics page and the tests of design.md's numbers. */
struct pm_pin_stats {
	uint64_t pinned;  /* records handled */
	uint64_t failed;  /* /proc/PID/exe could not be opened: the process was gone */
	uint64_t unclaimed; /* closed without the reader taking them */
};
void pm_pinner_stats(struct pm_pinner *p, struct pm_pin_stats *st);

#endif
