// SPDX-License-Identifier: GPL-2.0
/* Lookups in /proc: the reader's and the start-up scan's one source. */
#include "collect/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/proc_cache.h" /* clock ticks */

static const char deleted_suffix[] = " (deleted)";

char *pm_filename_from_exe(const char *exe)
{
	const char *slash = strrchr(exe, '/');
	const char *name = slash ? slash + 1 : exe;
	size_t n = strlen(name), sl = sizeof(deleted_suffix) - 1;

	if (n >= sl && !strcmp(name + n - sl, deleted_suffix))
		n -= sl;
	return strndup(name, n);
}

/* Read a small /proc file into buf (NUL-terminated); bytes read or -1. */
ssize_t pm_procfs_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < size - 1 && (n = read(fd, buf + total, size - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

/* ppid and start time (ticks) from /proc/PID/stat; comm may hold any byte,
 * so the fields are counted from its closing parenthesis. */
int pm_procfs_parse_stat(const char *stat, uint32_t *ppid, uint64_t *start_ticks)
{
	const char *p = strrchr(stat, ')');
	unsigned long long v;
	int field = 2;

	if (!p)
		return -EINVAL;
	for (p++; *p && field < 22; p++) {
		if (*p != ' ')
			continue;
		field++;
		if (field == 4 && sscanf(p + 1, "%u", ppid) != 1)
			return -EINVAL;
		if (field == 22) {
			if (sscanf(p + 1, "%llu", &v) != 1)
				return -EINVAL;
			*start_ticks = v;
		}
	}
	return field == 22 ? 0 : -EINVAL;
}

int pm_proc_start_ns(uint32_t pid, uint64_t *start_ns)
{
	char path[64], buf[4096];
	uint64_t start_ticks;
	uint32_t ppid;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (pm_procfs_read(path, buf, sizeof(buf)) <= 0 || pm_procfs_parse_stat(buf, &ppid, &start_ticks))
		return -ENOENT;
	*start_ns = start_ticks * pm_clock_tick_ns();
	return 0;
}

uint32_t pm_proc_tgid(uint32_t tid)
{
	char path[64], buf[16384];
	const char *tgid;

	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	if (pm_procfs_read(path, buf, sizeof(buf)) <= 0 || !(tgid = strstr(buf, "\nTgid:")))
		return 0;
	return strtoul(tgid + 6, NULL, 10);
}

bool pm_proc_gone(uint32_t pid, uint64_t start_ns)
{
	char path[64], buf[4096], status[16384];
	const char *threads;
	uint64_t start_ticks;
	uint32_t ppid;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (pm_procfs_read(path, buf, sizeof(buf)) <= 0 || pm_procfs_parse_stat(buf, &ppid, &start_ticks))
		return true;
	if (start_ticks != pm_start_ticks(start_ns))
		return true; /* the pid was reused */
	/* the state follows the last ')' (comm may hold any byte) */
	if (strrchr(buf, ')')[2] != 'Z')
		return false;
	/*
	 * A zombie keeps its /proc entry until reaped. But a leader that
	 * ended with pthread_exit is a zombie too while its other threads
	 * run: the process is alive until the last thread ends.
	 */
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (pm_procfs_read(path, status, sizeof(status)) <= 0)
		return true;
	threads = strstr(status, "\nThreads:");
	return !threads || strtoul(threads + 9, NULL, 10) <= 1;
}

