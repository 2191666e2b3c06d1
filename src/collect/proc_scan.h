/* SPDX-License-Identifier: GPL-2.0 */
/* Seed the process cache from /proc, for processes started before procmon. */
#ifndef PROCMON_PROC_SCAN_H
#define PROCMON_PROC_SCAN_H

#include "collect/reader.h"

/* Returns the number of processes added. Races with exiting processes are
 * expected and skipped. */
int pm_proc_scan(struct pm_reader *r);

/* Mark exited the cached processes that /proc says are gone (a missing
 * pid, or one that now has another start time). */
void pm_proc_scan_sweep(struct pm_reader *r, uint64_t now_ns);
#endif
