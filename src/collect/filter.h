/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration's filters in the form the BPF side evaluates them
 * (see src/bpf/common/filter.bpf.h), and process_filter's binary part in
 * user space, for processes that were running before procmon. Pure
 * functions, unit-tested.
 */
#ifndef PROCMON_FILTER_H
#define PROCMON_FILTER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "procmon/events.h"

/* The flags and cap sets of cfg's process_filter and cred_filters. */
void pm_filter_conf_from_config(const struct pm_config *cfg, struct pm_filter_conf *out);

/*
 * Encode one binary name, path or prefix as the exec hook compares it
 * (struct pm_filter_pattern). Paths must be absolute; a path's "." and
 * ".." are not resolved (the kernel's walk never yields them). -EINVAL
 * when the text cannot be encoded (relative, too long).
 */
int pm_filter_pattern_encode(struct pm_filter_pattern *p, enum pm_pattern_kind kind,
			     const char *text);

/* Every pattern of cfg's process_filter into out[] (at most max). Returns
 * the count or -EINVAL. */
int pm_filter_patterns_from_config(const struct pm_config *cfg, struct pm_filter_pattern *out,
				   size_t max);

/*
 * Call add(list, id, arg) for each id of each id list in force; stops and
 * returns the first non-zero result.
 */
int pm_filter_for_each_id(const struct pm_config *cfg,
			  int (*add)(__u32 list, __u32 id, void *arg), void *arg);

/* process_filter's binary part: name OR path OR prefix (string prefix). */
bool pm_filter_binary_matches(const struct pm_process_filter *pf, const char *name,
			      const char *path);

#endif
