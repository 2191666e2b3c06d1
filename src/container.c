// SPDX-License-Identifier: GPL-2.0
#include "container.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PM_CGROUP_BUCKETS 1024 /* power of two */

struct pm_cgroup_entry {
	uint64_t cgroup_id;
	char *container_id; /* NULL: resolved, not a container */
	struct pm_cgroup_entry *next;
};

struct pm_containers {
	struct pm_cgroup_entry *buckets[PM_CGROUP_BUCKETS];
	char *cgroup2_mount; /* NULL: no cgroup v2 here, no container ids */
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

/* Where cgroup v2 is mounted, from /proc/self/mountinfo (field 5 is the
 * mount point, the type follows the " - " separator). */
static char *find_cgroup2_mount(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096], *found = NULL;

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (sep && !strncmp(sep + 3, "cgroup2 ", 8) &&
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
			found = strdup(mnt);
	}
	fclose(f);
	return found;
}

struct pm_containers *pm_containers_new(void)
{
	struct pm_containers *c = calloc(1, sizeof(*c));

	if (c)
		c->cgroup2_mount = find_cgroup2_mount();
	return c;
}

void pm_containers_free(struct pm_containers *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < PM_CGROUP_BUCKETS; i++) {
		struct pm_cgroup_entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->container_id);
			free(e);
		}
	}
	free(c->cgroup2_mount);
	free(c);
}

/* The cgroup v2 path of pid ("0::/system.slice/docker-<id>.scope"). */
static bool read_cgroup_path(uint32_t pid, char *buf, size_t len)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", line + 3);
		found = true;
		break;
	}
	fclose(f);
	return found;
}

/* The kernel id of the cgroup at `path` (its kernfs inode number), or 0. */
static uint64_t cgroup_id_of(const struct pm_containers *c, const char *path)
{
	char dir[8192];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s%s", c->cgroup2_mount, path);
	return stat(dir, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

const char *pm_containers_lookup(struct pm_containers *c, uint64_t cgroup_id, uint32_t pid)
{
	size_t k = (cgroup_id * 0x9e3779b97f4a7c15ull) >> 54 & (PM_CGROUP_BUCKETS - 1);
	char path[4096], id[PM_CONTAINER_ID_LEN + 1];
	struct pm_cgroup_entry *e;

	if (!c->cgroup2_mount)
		return NULL;
	for (e = c->buckets[k]; e; e = e->next)
		if (e->cgroup_id == cgroup_id)
			return e->container_id;
	/*
	 * The process may be gone already, or have moved to another cgroup
	 * since the record: only a path whose directory is this very cgroup
	 * (kernfs ino == cgroup id) may be remembered.
	 */
	if (!read_cgroup_path(pid, path, sizeof(path)) || cgroup_id_of(c, path) != cgroup_id)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cgroup_id = cgroup_id;
	if (pm_container_id_from_cgroup_path(path, id))
		e->container_id = strdup(id);
	e->next = c->buckets[k];
	c->buckets[k] = e;
	return e->container_id;
}

const char *pm_containers_lookup_pid(struct pm_containers *c, uint32_t pid)
{
	char path[4096];
	uint64_t id;

	if (!c->cgroup2_mount || !read_cgroup_path(pid, path, sizeof(path)) || !(id = cgroup_id_of(c, path)))
		return NULL;
	return pm_containers_lookup(c, id, pid);
}
