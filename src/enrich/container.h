/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Container ids from cgroup paths. Runtimes name a container's cgroup
 * after its 64-hex id (docker-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope, libpod-<id>.scope, /docker/<id>, kubepods .../<id>).
 * Each cgroup is resolved once and remembered by its kernel id, which on
 * cgroup v2 is the inode number of its directory (the id the BPF side
 * reads is the default hierarchy's). Where cgroup v1 hierarchies hold the
 * containers (v1-only or hybrid hosts), /proc/PID/cgroup is read instead.
 */
#ifndef PROCMON_CONTAINER_H
#define PROCMON_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_CONTAINER_ID_LEN 64

/* Pure: the id in a cgroup path (the last component holding a run of
 * exactly 64 hex digits) copied into out, or 0 when there is none. */
int pm_container_id_from_cgroup_path(const char *path, char out[PM_CONTAINER_ID_LEN + 1]);

struct pm_containers;

struct pm_containers *pm_containers_new(void);
void pm_containers_free(struct pm_containers *c);

/* The container id of cgroup `cgroup_id` (NULL when not a container). An
 * unknown id is resolved with open_by_handle_at() on the cgroup v2 mount,
 * in constant time. The string is owned by the cache. */
const char *pm_containers_lookup(struct pm_containers *c, uint64_t cgroup_id);

/*
 * Same, and when cgroup v1 hierarchies are mounted and the default
 * hierarchy's cgroup names no container: `inherited` when `inherit` (a
 * new child, in its forker's cgroups), else the first v1 hierarchy that
 * names one in /proc/PID/cgroup (NULL when the process is gone).
 */
const char *pm_containers_lookup_task(struct pm_containers *c, uint64_t cgroup_id, uint32_t pid,
				      bool inherit, const char *inherited);

/* Same, for a running process whose cgroup id is not known (/proc scan). */
const char *pm_containers_lookup_pid(struct pm_containers *c, uint32_t pid);

#endif
