/* SPDX-License-Identifier: GPL-2.0 */
/* Seed the process cache from /proc, for processes started before procmon. */
#ifndef PROCMON_PROC_SCAN_H
#define PROCMON_PROC_SCAN_H

#include "reader.h"

/* Returns the number of processes added. Races with exiting processes are
 * expected and skipped. */
int pm_proc_scan(struct pm_reader *r);

/* Mark exited the cached processes that /proc says are gone (a missing
 * pid, or one that now has another start time). */
void pm_proc_scan_sweep(struct pm_reader *r, uint64_t now_ns);
/* Whether the process (pid, start) has ended: no such pid, another start
 * time, or a zombie with no thread left running. */
bool pm_proc_gone(uint32_t pid, uint64_t start_ns);

/* The start time of the process that has this pid now, in ns at clock-tick
 * precision (enough for pm_proc_cache_lookup). 0 or -ENOENT. */
int pm_proc_start_ns(uint32_t pid, uint64_t *start_ns);

/* The process a thread id belongs to (its Tgid), 0 when there is none. */
uint32_t pm_proc_tgid(uint32_t tid);

/* Pure: the executed file's name from a /proc/PID/exe link target
 * ("/usr/bin/ls" -> "ls", "/memfd:x (deleted)" -> "memfd:x"). Malloc'd. */
char *pm_filename_from_exe(const char *exe);

#endif
