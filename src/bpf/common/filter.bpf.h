/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bombini's filters (contract section 4), evaluated in the kernel so that
 * filtered-out activity never reaches the ring buffer:
 *  - process_filter: uid AND euid AND auid AND binary (name OR path OR
 *    prefix), each empty list matching everything, deny_list inverting;
 *  - cred_filter: uid_filter OR cap_filter on the credentials the call
 *    produced, cap_filter's deny_list inverting the cap part.
 * The binary part is decided once per exec (pm_binary_match) and kept in
 * the process's pm_proc_info; the rest is read live at the event.
 */
#ifndef PROCMON_FILTER_BPF_H
#define PROCMON_FILTER_BPF_H

/*
 * Set by user space before load, and again when SIGHUP reloads the
 * configuration (each BPF object has its own copy, in its mmapped .bss):
 * a writable global rather than rodata, so the filters change without
 * reloading the programs.
 */
volatile struct pm_filter_conf pm_filter;

/* Every id list of the configuration, keyed by (list, id). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pm_id_key);
	__type(value, __u8);
} pm_filter_ids SEC(".maps");

static __always_inline bool pm_id_listed(__u32 list, __u32 id)
{
	struct pm_id_key key = { .list = list, .id = id };

	return bpf_map_lookup_elem(&pm_filter_ids, &key);
}

/*
 * The process_filter verdict for the current task: true to report.
 * A process whose exec procmon never saw has no binary verdict; it is
 * reported rather than hidden.
 */
static __always_inline bool pm_process_filter_pass(struct task_struct *task)
{
	__u32 pf = pm_filter.process;
	const struct cred *cred;
	bool match = true;

	if (!(pf & (PM_PF_UID | PM_PF_EUID | PM_PF_AUID | PM_PF_BINARY)))
		return true;
	cred = BPF_CORE_READ(task, cred);
	if (pf & PM_PF_UID)
		match = match && pm_id_listed(PM_IDS_UID, BPF_CORE_READ(cred, uid.val));
	if (pf & PM_PF_EUID)
		match = match && pm_id_listed(PM_IDS_EUID, BPF_CORE_READ(cred, euid.val));
	if (pf & PM_PF_AUID)
		match = match && pm_id_listed(PM_IDS_AUID, BPF_CORE_READ(task, loginuid.val));
	if (match && (pf & PM_PF_BINARY)) {
		struct pm_proc_info *info =
			bpf_task_storage_get(&pm_proc_info, task->group_leader, 0, 0);

		if (!info)
			return true;
		match = info->binary_match;
	}
	return (pf & PM_PF_DENY) ? !match : match;
}

/*
 * cred_filter of `hook`: true to report. `id` is the new euid (egid for
 * setgid), `caps` the effective set the check is about.
 */
static __always_inline bool pm_cred_filter_pass(__u32 hook, __u32 id_list, __u32 id, __u64 caps)
{
	struct pm_cred_filter_conf cf;
	bool caps_match;

	if (hook >= PM_CRED_HOOKS)
		return true;
	cf = pm_filter.cred[hook];
	if (!(cf.flags & (PM_CF_IDS | PM_CF_CAPS)))
		return true;
	if ((cf.flags & PM_CF_IDS) && pm_id_listed(id_list, id))
		return true;
	if (!(cf.flags & PM_CF_CAPS))
		return false;
	caps_match = (caps & cf.caps) == cf.caps && (!(cf.flags & PM_CF_CAPS_ANY) || caps);
	return (cf.flags & PM_CF_CAPS_DENY) ? !caps_match : caps_match;
}

/* process_filter's binary names, paths and prefixes (struct pm_filter_pattern) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PM_FILTER_PATTERNS_MAX);
	__type(key, __u32);
	__type(value, struct pm_filter_pattern);
} pm_filter_patterns SEC(".maps");

/*
 * a[0, len) == b[0, len), len <= PM_FILTER_PATTERN_MAX, both readable for
 * PM_FILTER_PATTERN_MAX bytes: a word at a time, the last one masked.
 */
static __always_inline bool pm_bytes_equal(const char *a, const char *b, __u32 len)
{
	__u64 diff = 0;

#pragma unroll
	for (__u32 w = 0; w < PM_FILTER_PATTERN_MAX / 8; w++) {
		__u64 x = *(const __u64 *)(a + 8 * w) ^ *(const __u64 *)(b + 8 * w);

		if (8 * w + 8 <= len)
			diff |= x;
		else if (8 * w < len) /* little-endian: the first bytes are the low ones */
			diff |= x & ((1ull << (8 * (len - 8 * w))) - 1);
	}
	return !diff;
}

/* What pm_binary_match compares: the exec record in this CPU's scratch. */
struct pm_binary_ctx {
	__u32 path_len;
	__u32 ncomps;
	__u32 path_flags; /* PM_EXEC_PATH_* */
	__u32 match;      /* 0 or 1 */
};

static long pm_pattern_step(__u32 i, void *arg)
{
	struct pm_binary_ctx *c = arg;
	struct pm_filter_pattern *p = bpf_map_lookup_elem(&pm_filter_patterns, &i);
	struct pm_exec_scratch *s = pm_exec_scratch();
	char *path;
	__u32 len, tail, prev;

	if (!p || !s)
		return 1;
	path = s->raw + PM_PATH_REGION_OFF;
	len = p->len;
	if (len > PM_FILTER_PATTERN_MAX)
		return 0;
	switch (p->kind) {
	case PM_PATTERN_NAME: /* the name sits NUL-terminated in PM_NAME_MAX bytes */
		if (len >= PM_NAME_MAX)
			return 0;
		c->match = s->raw[sizeof(struct pm_exec_event) + len] == '\0' &&
			   pm_bytes_equal(s->raw + sizeof(struct pm_exec_event), p->bytes, len);
		break;
	case PM_PATTERN_PATH: /* the whole path, and it is the file's real one */
		if (c->path_len != len ||
		    (c->path_flags & (PM_EXEC_PATH_CUT | PM_EXEC_PATH_DELETED | PM_EXEC_PATH_PSEUDO)))
			return 0;
		c->match = pm_bytes_equal(path, p->bytes, len);
		break;
	case PM_PATTERN_PREFIX:
		/* the root-side components, then one more starting with `partial` */
		if (c->path_len <= len || (c->path_flags & (PM_EXEC_PATH_CUT | PM_EXEC_PATH_PSEUDO)) ||
		    c->ncomps <= p->ncomps || p->partial_len > PM_FILTER_PATTERN_MAX)
			return 0;
		tail = c->path_len - len;
		if (tail >= PM_PATH_MAX)
			return 0;
		pm_barrier_var(tail);
		tail &= PM_PATH_MAX - 1;
		/* (path - 1)[tail]: the byte before the tail, kept in bounds for the verifier */
		if ((path - 1)[tail] != '\0' || !pm_bytes_equal(path + tail, p->bytes, len))
			return 0;
		prev = c->ncomps - p->ncomps - 1;
		if (prev >= PM_PATH_DEPTH)
			return 0;
		prev = s->comp_off[prev] & (PM_PATH_MAX - 1);
		c->match = pm_bytes_equal(path + prev, p->partial, p->partial_len);
		break;
	}
	return c->match & 1; /* 1 stops the loop: one match is enough */
}

/* process_filter's binary part for the exec being recorded in the scratch. */
static __always_inline bool pm_binary_match(__u32 path_len, __u32 ncomps, __u32 path_flags)
{
	struct pm_binary_ctx c = {
		.path_len = path_len,
		.ncomps = ncomps,
		.path_flags = path_flags,
	};

	bpf_loop(pm_filter.npatterns, pm_pattern_step, &c, 0);
	return c.match;
}

#endif /* PROCMON_FILTER_BPF_H */
