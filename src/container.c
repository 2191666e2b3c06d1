// SPDX-License-Identifier: GPL-2.0
#include "container.h"

#include <ctype.h>
#include <dirent.h>
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

static struct pm_cgroup_entry **bucket(struct pm_containers *c, uint64_t cgroup_id)
{
	return &c->buckets[(cgroup_id * 0x9e3779b97f4a7c15ull) >> 54 & (PM_CGROUP_BUCKETS - 1)];
}

static struct pm_cgroup_entry *find(struct pm_containers *c, uint64_t cgroup_id)
{
	for (struct pm_cgroup_entry *e = *bucket(c, cgroup_id); e; e = e->next)
		if (e->cgroup_id == cgroup_id)
			return e;
	return NULL;
}

static void remember(struct pm_containers *c, uint64_t cgroup_id, const char *path)
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

#define PM_CGROUP_WALK_DEPTH 32

/*
 * Remember every cgroup under dirfd (whose path below the mount is
 * `path`): on cgroup v2 a cgroup's id is its directory's inode number.
 */
static void walk(struct pm_containers *c, int dirfd, char *path, size_t len, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int fd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + n >= PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		remember(c, de->d_ino, path);
		if (depth < PM_CGROUP_WALK_DEPTH &&
		    (fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
			walk(c, fd, path, len + 1 + n, depth + 1);
		path[len] = '\0';
	}
	closedir(d);
}

const char *pm_containers_lookup(struct pm_containers *c, uint64_t cgroup_id)
{
	struct pm_cgroup_entry *e = find(c, cgroup_id);
	char path[PATH_MAX] = "";
	int fd;

	if (e)
		return e->container_id;
	if (!c->cgroup2_mount)
		return NULL;
	/*
	 * A cgroup not seen yet: learn every cgroup that exists now in one
	 * walk (a few hundred directories on a busy host), so the process need
	 * not be alive any more. One that is already gone is remembered as
	 * "no container", so it costs one walk, not one per event.
	 */
	fd = open(c->cgroup2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		walk(c, fd, path, 0, 0);
	remember(c, cgroup_id, NULL);
	return find(c, cgroup_id)->container_id;
}

const char *pm_containers_lookup_pid(struct pm_containers *c, uint32_t pid)
{
	char path[PATH_MAX], dir[PATH_MAX * 2];
	struct stat st;

	if (!c->cgroup2_mount || !read_cgroup_path(pid, path, sizeof(path)))
		return NULL;
	snprintf(dir, sizeof(dir), "%s%s", c->cgroup2_mount, path);
	if (stat(dir, &st))
		return NULL;
	remember(c, st.st_ino, path);
	return find(c, st.st_ino) ? find(c, st.st_ino)->container_id : NULL;
}
