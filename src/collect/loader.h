/* SPDX-License-Identifier: GPL-2.0 */
/* Open, configure, load and attach the BPF programs (libbpf skeletons). */
#ifndef PROCMON_LOADER_H
#define PROCMON_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "procmon/events.h"

struct pm_loader;

/*
 * Check what procmon needs from the system: root privileges, then the
 * kernel's BTF, ring buffer, tracepoints, helpers and kfuncs the BPF
 * objects use (probed, quietly, before anything loads). Returns 0, or
 * -errno with one line in msg saying what is missing and which kernel
 * works.
 */
int pm_loader_check_environment(char *msg, size_t len);

/* 0 or -errno (message logged). cgroup_v1: the v1 controller hierarchy
 * whose cgroup ids the BPF side reads (pm_containers_v1_controller). */
int pm_loader_open(struct pm_loader **out, const struct pm_config *cfg,
		   enum pm_cgroup_v1 cgroup_v1);
int pm_loader_ringbuf_fd(const struct pm_loader *l);
/* The exec-pin ring buffer (struct pm_pin) and the known-files map. */
int pm_loader_pins_fd(const struct pm_loader *l);
int pm_loader_known_files_fd(const struct pm_loader *l);
int pm_loader_proc_info_fd(const struct pm_loader *l);
/* Sum of the per-CPU kernel drop counters, per enum pm_drop_category. */
int pm_loader_read_drops(const struct pm_loader *l, uint64_t drops[PM_DROP_MAX]);
/* Whether process_filter has a binary part, which needs seeding. */
bool pm_loader_binary_filter(const struct pm_loader *l);
/*
 * Tell the kernel side process_filter's binary verdict for a process that
 * was running before procmon (its exec was never seen), or whose verdict
 * a reload changed (replace: over the one its exec made). 0 or -errno.
 */
int pm_loader_seed_process(const struct pm_loader *l, uint32_t pid, bool binary_match,
			   bool replace);
/*
 * Put cfg's process_filter and cred_filters in force in the running
 * programs (SIGHUP): the id and pattern maps and each object's filter
 * flags, without reloading anything. -EBUSY when the new filters need the
 * sys_enter programs and they were not loaded (why names the keys), or
 * another -errno with why; then the old filters stay in force, except
 * after a failed map update.
 */
int pm_loader_update_filters(struct pm_loader *l, const struct pm_config *cfg, char *why,
			     size_t len);

/* Detach every program: after this no record is added to the ring buffer. */
void pm_loader_detach(struct pm_loader *l);
void pm_loader_close(struct pm_loader *l);

#endif
