/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Container ids from cgroup paths. Runtimes name a container's cgroup
 * after its 64-hex id (docker-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope, libpod-<id>.scope, /docker/<id>, kubepods .../<id>).
 * Each cgroup is resolved once and remembered by its kernel id, which on
 * cgroup v2 is the inode number of its directory (the id the BPF side
 * reads is the default hierarchy's). Where cgroup v1 hierarchies hold the
 * containers (v1-only or hybrid hosts), the BPF side also reads the cgroup
 * of one v1 controller's hierarchy, resolved the same way; /proc/PID/cgroup
 * is read only where no such hierarchy is mounted.
 */
#ifndef PROCMON_CONTAINER_H
#define PROCMON_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procmon/events.h" /* enum pm_cgroup_v1 */

#define PM_CONTAINER_ID_LEN 64

/* Pure: the id in a cgroup path (the last component holding a run of
 * exactly 64 hex digits) copied into out, or 0 when there is none. */
int pm_container_id_from_cgroup_path(const char *path, char out[PM_CONTAINER_ID_LEN + 1]);

struct pm_containers;

struct pm_containers *pm_containers_new(void);
void pm_containers_free(struct pm_containers *c);

/*
 * The v1 controller whose hierarchy the BPF side is to read cgroup_v1_id
 * from: the first of pids, memory, cpu, devices, freezer, blkio mounted as
 * a cgroup v1 hierarchy here (and opened). PM_CGROUP_V1_NONE on a cgroup
 * v2 only host.
 */
enum pm_cgroup_v1 pm_containers_v1_controller(const struct pm_containers *c);

/*
 * The container id of a task (NULL when not a container; the string is
 * owned by the cache): that of its default-hierarchy cgroup `cgroup_id`,
 * an unknown one resolved with open_by_handle_at() on the cgroup v2 mount
 * in constant time. When cgroup v1 hierarchies are mounted and that
 * cgroup names no container: the
 * container of cgroup_v1_id in the chosen v1 controller's hierarchy; and
 * without one (0, or named v1 hierarchies only), `inherited` when
 * `inherit` (a new child, in its forker's cgroups), else the first v1
 * hierarchy that names one in /proc/PID/cgroup (NULL when it is gone).
 */
const char *pm_containers_lookup_task(struct pm_containers *c, uint64_t cgroup_id,
				      uint64_t cgroup_v1_id, uint32_t pid, bool inherit,
				      const char *inherited);

/* Same, for a running process whose cgroup id is not known (/proc scan). */
const char *pm_containers_lookup_pid(struct pm_containers *c, uint32_t pid);

#endif
