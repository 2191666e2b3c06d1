// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* statx, O_PATH */
#include "collect/proc_scan.h"

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
#include "base/caps.h"
#include "collect/procfs.h"
#include "procmon/events.h"

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
		/*
		 * No link: how it was executed is no longer known. A pseudo
		 * file (memfd, anonymous shmem) reads as "/NAME (deleted)",
		 * one component; anything else was a file in a directory,
		 * deleted or replaced since.
		 */
		if (fstat(fd, &st) == 0 && st.st_nlink == 0) {
			if (pm_exe_is_pseudo(exe))
				img->secureexec |= PM_SECUREEXEC_FILELESS_EXEC;
			else
				img->binary_deleted = true;
		}
		if (r->hasher && pm_file_id_of_fd(fd, &id) == 0)
			img->hash = pm_hasher_lookup(r->hasher, &id, pid, NULL, -1);
	}
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	n = pm_procfs_read(path, args, PM_ARGS_MAX + 1);
	if (n < 0)
		n = 0;
	/* a full buffer means there may be more: say so rather than guess */
	img->args_truncated = n == PM_ARGS_MAX;
	if (!img->args_truncated)
		n = pm_trim_empty_args(args, n);
	img->args_from_proc = true;
	img->args = pm_join_args(args, n, &img->args_len);
	img->argv0 = pm_argv0(args, n, &img->argv0_len);
	if (!img->filename || !img->binary_path || !img->args || !img->argv0)
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
	if (pm_procfs_read(path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	p = pm_process_new();
	if (!p)
		return -ENOMEM;
	p->pid = p->tid = pid;
	if (pm_procfs_parse_stat(buf, &p->ppid, &start_ticks)) {
		pm_process_put(p);
		return -EINVAL;
	}
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (lp && rp > lp)
		snprintf(comm, sizeof(comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	p->start_ns = start_ticks * pm_clock_tick_ns();

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (pm_procfs_read(path, buf, sizeof(buf)) > 0)
		parse_status(buf, p);
	snprintf(path, sizeof(path), "/proc/%u/loginuid", pid);
	p->auid = UINT32_MAX;
	if (pm_procfs_read(path, buf, sizeof(buf)) > 0)
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

static bool process_gone(const struct pm_process *p, void *arg)
{
	(void)arg;
	return pm_proc_gone(p->pid, p->start_ns);
}

void pm_proc_scan_sweep(struct pm_reader *r, uint64_t now_ns)
{
	pm_proc_cache_sweep(r->cache, now_ns, process_gone, NULL);
}
