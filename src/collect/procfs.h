/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Lookups in /proc (procfs.c), for the reader (a target it has not seen,
 * a thread's process) and the start-up scan (proc_scan.c).
 */
#ifndef PROCMON_PROCFS_H
#define PROCMON_PROCFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Read a small /proc file into buf (NUL-terminated): bytes read, or -1. */
ssize_t pm_procfs_read(const char *path, char *buf, size_t size);

/* ppid and start time (clock ticks) from the text of /proc/PID/stat. */
int pm_procfs_parse_stat(const char *stat, uint32_t *ppid, uint64_t *start_ticks);

#endif
