// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* open_by_handle_at, O_PATH */
#include "enrich/container.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PM_CGROUP_BUCKETS 1024 /* power of two */

struct pm_cgroup_entry {
	uint64_t cgroup_id;
	char *container_id; /* NULL: resolved, not a container */
	struct pm_cgroup_entry *next;
};

/* A container id found in /proc/PID/cgroup, kept for the life of procmon. */
struct pm_id_entry {
	char id[PM_CONTAINER_ID_LEN + 1];
	struct pm_id_entry *next;
};

/* The cgroups of one hierarchy met so far, by kernfs id. */
struct pm_cgroup_table {
	struct pm_cgroup_entry *buckets[PM_CGROUP_BUCKETS];
	int mount_fd; /* the hierarchy's root, for open_by_handle_at(); -1: none */
};

struct pm_containers {
	struct pm_cgroup_table v2; /* the default hierarchy (cgroup_id) */
	struct pm_cgroup_table v1; /* the v1 controller's (cgroup_v1_id) */
	struct pm_id_entry *ids[PM_CGROUP_BUCKETS];
	char *cgroup2_mount; /* NULL: no cgroup v2 here */
	bool v1_mounted;     /* cgroup v1 hierarchies are mounted */
	enum pm_cgroup_v1 v1_controller; /* whose hierarchy v1 holds */
};

int pm_container_id_from_cgroup_path(const char *path, char out[PM_CONTAINER_ID_LEN + 1])
{
	const char *found = NULL;
	size_t run = 0;

	/* the last run of exactly 64 hex digits, bounded by non-hex */
	for (const char *p = path;; p++) {
		if (*p && isxdigit((unsigned char)*p)) {
			run++;
			continue;
		}
		if (run == PM_CONTAINER_ID_LEN)
			found = p - run;
		run = 0;
		if (!*p)
			break;
	}
	if (!found)
		return 0;
	for (int i = 0; i < PM_CONTAINER_ID_LEN; i++)
		out[i] = tolower((unsigned char)found[i]);
	out[PM_CONTAINER_ID_LEN] = '\0';
	return 1;
}

/* The v1 controllers whose hierarchy may tell containers apart, by
 * preference: runtimes put a container in every controller's hierarchy,
 * and pids is there wherever containers are limited. cpuset is left out
 * (a runtime may leave it alone). */
static const char *const v1_controllers[] = {
	[PM_CGROUP_V1_PIDS] = "pids",       [PM_CGROUP_V1_MEMORY] = "memory",
	[PM_CGROUP_V1_CPU] = "cpu",         [PM_CGROUP_V1_DEVICES] = "devices",
	[PM_CGROUP_V1_FREEZER] = "freezer", [PM_CGROUP_V1_BLKIO] = "blkio",
};

/*
 * From /proc/self/mountinfo (field 5 is the mount point; after " - " come
 * the type, the source and the super options, which name a v1
 * hierarchy's controllers): where cgroup v2 is mounted, whether v1
 * hierarchies are, and the v1 controller to read (the first of
 * v1_controllers mounted) with its mount point.
 */
static void find_cgroup_mounts(struct pm_containers *c, char **v1_mount)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096], opts[4096];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");
		char *tok, *save = NULL;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (!c->cgroup2_mount && !strncmp(sep + 3, "cgroup2 ", 8))
			c->cgroup2_mount = strdup(mnt);
		if (sscanf(sep + 3, "cgroup %*s %4095s", opts) != 1)
			continue;
		c->v1_mounted = true;
		for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			for (size_t k = 1; k < sizeof(v1_controllers) / sizeof(v1_controllers[0]); k++)
				if ((!c->v1_controller || k < (size_t)c->v1_controller) &&
				    !strcmp(tok, v1_controllers[k])) {
					c->v1_controller = (enum pm_cgroup_v1)k;
					free(*v1_mount);
					*v1_mount = strdup(mnt);
				}
	}
	fclose(f);
}

enum pm_cgroup_v1 pm_containers_v1_controller(const struct pm_containers *c)
{
	return c->v1.mount_fd >= 0 ? c->v1_controller : PM_CGROUP_V1_NONE;
}

static int open_dir(const char *path)
{
	return path ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

struct pm_containers *pm_containers_new(void)
{
	struct pm_containers *c = calloc(1, sizeof(*c));
	char *v1_mount = NULL;

	if (!c)
		return NULL;
	find_cgroup_mounts(c, &v1_mount);
	c->v2.mount_fd = open_dir(c->cgroup2_mount);
	c->v1.mount_fd = open_dir(v1_mount);
	free(v1_mount);
	return c;
}

void pm_containers_free(struct pm_containers *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < PM_CGROUP_BUCKETS; i++) {
		struct pm_cgroup_table *tables[] = { &c->v2, &c->v1 };

		for (size_t t = 0; t < 2; t++)
			for (struct pm_cgroup_entry *e = tables[t]->buckets[i], *next; e; e = next) {
				next = e->next;
				free(e->container_id);
				free(e);
			}
		for (struct pm_id_entry *e = c->ids[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	if (c->v2.mount_fd >= 0)
		close(c->v2.mount_fd);
	if (c->v1.mount_fd >= 0)
		close(c->v1.mount_fd);
	free(c->cgroup2_mount);
	free(c);
}

/*
 * From /proc/PID/cgroup: the cgroup v2 path of pid ("0::/system.slice/
 * docker-<id>.scope" gives "/system.slice/docker-<id>.scope") into v2, ""
 * when there is none, and, when `v1_id` is not NULL, the container id the
 * first cgroup v1 hierarchy line names ("8:pids:/docker/<id>"), "" when
 * none does. False when the file cannot be read (the process is gone).
 */
static bool read_cgroup_file(uint32_t pid, char *v2, size_t len,
			     char v1_id[PM_CONTAINER_ID_LEN + 1])
{
	char path[64], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	v2[0] = '\0';
	if (v1_id)
		v1_id[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		const char *colon = strchr(line, ':');

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0::", 3))
			snprintf(v2, len, "%s", line + 3);
		else if (v1_id && !v1_id[0] && colon && (colon = strchr(colon + 1, ':')))
			pm_container_id_from_cgroup_path(colon + 1, v1_id);
	}
	fclose(f);
	return true;
}

/* A container id found outside the cgroup table, kept once. */
static const char *intern_id(struct pm_containers *c, const char *id)
{
	unsigned h = 0;
	struct pm_id_entry *e, **b;

	for (int i = 0; i < 8; i++) /* the id is random hex: its start will do */
		h = h * 31 + (unsigned char)id[i];
	b = &c->ids[h & (PM_CGROUP_BUCKETS - 1)];

	for (e = *b; e; e = e->next)
		if (!strcmp(e->id, id))
			return e->id;
	if (!(e = malloc(sizeof(*e))))
		return NULL;
	memcpy(e->id, id, sizeof(e->id));
	e->next = *b;
	*b = e;
	return e->id;
}

static struct pm_cgroup_entry **bucket(struct pm_cgroup_table *c, uint64_t cgroup_id)
{
	return &c->buckets[(cgroup_id * 0x9e3779b97f4a7c15ull) >> 54 & (PM_CGROUP_BUCKETS - 1)];
}

static struct pm_cgroup_entry *find(struct pm_cgroup_table *c, uint64_t cgroup_id)
{
	for (struct pm_cgroup_entry *e = *bucket(c, cgroup_id); e; e = e->next)
		if (e->cgroup_id == cgroup_id)
			return e;
	return NULL;
}

static void remember(struct pm_cgroup_table *c, uint64_t cgroup_id, const char *path)
{
	char id[PM_CONTAINER_ID_LEN + 1];
	struct pm_cgroup_entry *e, **b = bucket(c, cgroup_id);

	if (find(c, cgroup_id) || !(e = calloc(1, sizeof(*e))))
		return;
	e->cgroup_id = cgroup_id;
	if (path && pm_container_id_from_cgroup_path(path, id))
		e->container_id = strdup(id);
	e->next = *b;
	*b = e;
}

/* include/linux/exportfs.h: kernfs file handles are the 64-bit node id */
#define PM_FILEID_KERNFS 0xfe

/*
 * The path of the cgroup with this id, or false. A cgroup's id is its
 * kernfs node id (v2 and v1 alike), which is also its file handle:
 * open_by_handle_at() finds the directory at once, however many cgroups
 * there are, and fails for one that no longer exists.
 */
static bool cgroup_path_of_id(const struct pm_cgroup_table *c, uint64_t cgroup_id, char *buf,
			      size_t len)
{
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = PM_FILEID_KERNFS } };
	char self[32];
	ssize_t n;
	int fd;

	memcpy(h.fh.f_handle, &cgroup_id, sizeof(cgroup_id));
	fd = open_by_handle_at(c->mount_fd, &h.fh, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, buf, len - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

static const char *lookup_in(struct pm_cgroup_table *c, uint64_t cgroup_id)
{
	struct pm_cgroup_entry *e = find(c, cgroup_id);
	char path[PATH_MAX];

	if (e)
		return e->container_id;
	if (c->mount_fd < 0)
		return NULL;
	/* a cgroup already gone is remembered as "no container" too */
	remember(c, cgroup_id, cgroup_path_of_id(c, cgroup_id, path, sizeof(path)) ? path : NULL);
	e = find(c, cgroup_id);
	return e ? e->container_id : NULL;
}

/*
 * On a host with cgroup v1 hierarchies (v1 only, or hybrid with v2 beside
 * them), a runtime's cgroupfs driver puts a container in /docker/<id> of
 * the v1 hierarchies, while in the default (v2) hierarchy it stays where
 * its runtime was (the root of a v1-only host). The BPF side reads the
 * cgroup of one v1 controller's hierarchy too (find_cgroup_mounts), so
 * that is a table lookup like v2's; only without such a hierarchy (named
 * ones alone) does the id come from /proc/PID/cgroup, which the kernel
 * builds under the cgroup lock: 15 us and more per exec in a storm.
 */
static const char *lookup_proc(struct pm_containers *c, uint32_t pid)
{
	char v2[PATH_MAX], id[PM_CONTAINER_ID_LEN + 1];

	if (!c->v1_mounted || !read_cgroup_file(pid, v2, sizeof(v2), id) || !id[0])
		return NULL;
	return intern_id(c, id);
}

const char *pm_containers_lookup_task(struct pm_containers *c, uint64_t cgroup_id,
				      uint64_t cgroup_v1_id, uint32_t pid, bool inherit,
				      const char *inherited)
{
	const char *id = lookup_in(&c->v2, cgroup_id);

	if (id || !c->v1_mounted)
		return id;
	if (c->v1.mount_fd >= 0 && cgroup_v1_id)
		return lookup_in(&c->v1, cgroup_v1_id);
	return inherit ? inherited : lookup_proc(c, pid);
}

const char *pm_containers_lookup_pid(struct pm_containers *c, uint32_t pid)
{
	char path[PATH_MAX], dir[PATH_MAX * 2], id[PM_CONTAINER_ID_LEN + 1];
	const char *found = NULL;
	struct stat st;

	if (!read_cgroup_file(pid, path, sizeof(path), c->v1_mounted ? id : NULL))
		return NULL;
	if (c->cgroup2_mount && path[0]) {
		snprintf(dir, sizeof(dir), "%s%s", c->cgroup2_mount, path);
		if (!stat(dir, &st)) {
			remember(&c->v2, st.st_ino, path);
			found = lookup_in(&c->v2, st.st_ino);
		}
	}
	if (!found && c->v1_mounted && id[0])
		found = intern_id(c, id);
	return found;
}
