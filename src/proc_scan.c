// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* statx, O_PATH */
#include "proc_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "names.h"
#include "procmon/events.h"

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
static ssize_t read_file(const char *path, char *buf, size_t size)
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
static int parse_stat(const char *stat, uint32_t *ppid, uint64_t *start_ticks)
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

static void parse_status(const char *status, struct pm_process *p)
{
	const char *line = status;
	unsigned long long v;

	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (sscanf(line, "Uid: %u %u", &p->uid, &p->euid) == 2)
			continue;
		if (sscanf(line, "Gid: %u %u", &p->gid, &p->egid) == 2)
			continue;
		if (sscanf(line, "CapInh: %llx", &v) == 1)
			p->cap_inheritable = v;
		else if (sscanf(line, "CapPrm: %llx", &v) == 1)
			p->cap_permitted = v;
		else if (sscanf(line, "CapEff: %llx", &v) == 1)
			p->cap_effective = v;
	}
}

static struct pm_image *scan_image(struct pm_reader *r, uint32_t pid, const char *comm)
{
	struct pm_image *img = pm_image_new();
	char path[64], exe[PATH_MAX + 1];
	char *args = malloc(PM_ARGS_MAX + 1);
	struct stat st;
	ssize_t n;
	int fd;

	if (!img || !args)
		goto fail;
	/*
	 * One O_PATH open of /proc/PID/exe gives both the name and the
	 * identity of the same file, even if the process execs meanwhile.
	 */
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	fd = open(path, O_PATH | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (fd < 0 || (n = readlink(path, exe, sizeof(exe) - 1)) < 0) {
		/* kernel thread: no binary, only its name */
		img->filename = strdup(comm);
		img->binary_path = strdup("");
	} else {
		struct pm_file_id id;

		exe[n] = '\0';
		img->filename = pm_filename_from_exe(exe);
		img->binary_path = strdup(exe);
		if (fstat(fd, &st) == 0 && st.st_nlink == 0)
			img->secureexec |= PM_SECUREEXEC_FILELESS_EXEC;
		if (r->hasher && pm_file_id_of_fd(fd, &id) == 0)
			img->hash = pm_hasher_lookup(r->hasher, &id, pid, NULL, -1);
	}
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	n = read_file(path, args, PM_ARGS_MAX + 1);
	if (n < 0)
		n = 0;
	/* a full buffer means there may be more: say so rather than guess */
	img->args_truncated = n == PM_ARGS_MAX;
	img->args = pm_join_args(args, n, &img->args_len);
	if (!img->filename || !img->binary_path || !img->args)
		goto fail;
	free(args);
	return img;
fail:
	free(args);
	pm_image_put(img);
	return NULL;
}

static int scan_one(struct pm_reader *r, uint32_t pid)
{
	/* status grows with the Groups: line; the Cap* lines come after it */
	char path[64], buf[16384];
	struct pm_process *p;
	uint64_t start_ticks = 0;
	const char *lp, *rp;
	char comm[PM_COMM_LEN + 1] = "";

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	p = pm_process_new();
	if (!p)
		return -ENOMEM;
	p->pid = p->tid = pid;
	if (parse_stat(buf, &p->ppid, &start_ticks)) {
		pm_process_put(p);
		return -EINVAL;
	}
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (lp && rp > lp)
		snprintf(comm, sizeof(comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	p->start_ns = start_ticks * pm_clock_tick_ns();

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (read_file(path, buf, sizeof(buf)) > 0)
		parse_status(buf, p);
	snprintf(path, sizeof(path), "/proc/%u/loginuid", pid);
	p->auid = UINT32_MAX;
	if (read_file(path, buf, sizeof(buf)) > 0)
		sscanf(buf, "%u", &p->auid);
	p->image = scan_image(r, pid, comm);
	p->container_id = pm_containers_lookup_pid(r->containers, pid);
	pm_process_set_exec_id(p, r->boot_id_prefix);
	if (!p->image || pm_proc_cache_update(r->cache, p)) {
		pm_process_put(p);
		return -ENOMEM;
	}
	pm_process_put(p);
	return 0;
}

int pm_proc_scan(struct pm_reader *r)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (!isdigit((unsigned char)de->d_name[0]) || *end || !pid || pid > UINT32_MAX)
			continue;
		if (!scan_one(r, pid))
			n++;
	}
	closedir(d);
	return n;
}

int pm_proc_start_ns(uint32_t pid, uint64_t *start_ns)
{
	char path[64], buf[4096];
	uint64_t start_ticks;
	uint32_t ppid;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || parse_stat(buf, &ppid, &start_ticks))
		return -ENOENT;
	*start_ns = start_ticks * pm_clock_tick_ns();
	return 0;
}

uint32_t pm_proc_tgid(uint32_t tid)
{
	char path[64], buf[16384];
	const char *tgid;

	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !(tgid = strstr(buf, "\nTgid:")))
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
	if (read_file(path, buf, sizeof(buf)) <= 0 || parse_stat(buf, &ppid, &start_ticks))
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
	if (read_file(path, status, sizeof(status)) <= 0)
		return true;
	threads = strstr(status, "\nThreads:");
	return !threads || strtoul(threads + 9, NULL, 10) <= 1;
}

static bool process_gone(const struct pm_process *p, void *arg)
{
	(void)arg;
	return pm_proc_gone(p->pid, p->start_ns);
}

void pm_proc_scan_sweep(struct pm_reader *r, uint64_t now_ns)
{
	pm_proc_cache_sweep(r->cache, now_ns, process_gone, NULL);
}
