/* SPDX-License-Identifier: GPL-2.0 */
/* Every map procmon's BPF programs share, in one place. */
#ifndef PROCMON_MAPS_BPF_H
#define PROCMON_MAPS_BPF_H

/*
 * One ring buffer for all CPUs: records come out in the order they were
 * committed, so exec is seen before exit and clone before exec. Its size is
 * set from the configuration (ring_buffer_kb) before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} pm_events SEC(".maps");

/*
 * The exec-pin fast path (struct pm_pin): small, and every record wakes
 * its reader thread at once; only execs of files not in pm_known_files
 * (or without a link) use it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} pm_pins SEC(".maps");

/* Files whose hash user space has, filled by it: their execs need no pin.
 * LRU: a forgotten file costs one pin more, nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct pm_file_key);
	__type(value, __u8);
} pm_known_files SEC(".maps");

/* Failed ring-buffer writes, per enum pm_drop_category, summed by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} pm_drops SEC(".maps");

/*
 * Per-CPU scratch space where a variable-size record is assembled before
 * it is copied into the ring buffer with exactly its used length. A plain
 * ARRAY indexed by CPU, because a PERCPU_ARRAY value cannot exceed 32 KiB
 * and an exec record can (argv alone is PM_ARGS_MAX). User space sets
 * max_entries to the number of possible CPUs. Safe because
 * sched_process_exec runs with preemption disabled and pm_exec is the
 * slot's only user: nothing else can run on this CPU mid-record. A hook
 * that may sleep or be preempted (syscall tracepoints are faultable since
 * 6.14) must not share it.
 */
struct pm_exec_scratch {
	char raw[sizeof(struct pm_exec_event) + PM_EXEC_DATA_MAX];
	/* where each path component starts in the path region (leaf first),
	 * for process_filter's prefixes; not sent */
	__u16 comp_off[PM_PATH_DEPTH];
	__u32 ncomps;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_exec_scratch);
} pm_scratch SEC(".maps");

/*
 * What the kernel keeps per process, in the task storage of its
 * thread-group leader: freed with the task, so no table to prune. Set at
 * exec, copied at fork, seeded by user space (through a pidfd) for the
 * processes that were running before procmon.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pm_proc_info);
} pm_proc_info SEC(".maps");

static __always_inline void pm_count_drop(__u32 category)
{
	__u64 *n = bpf_map_lookup_elem(&pm_drops, &category);

	if (n)
		*n += 1;
}

/*
 * When to wake the reader. Waking it for every record cost the exec path
 * ~10 us and a storm of execs ~30% of its speed (bench/exec_storm.sh), so
 * a record wakes it only when the last wake-up is PM_WAKEUP_GAP_NS old or
 * a backlog of pm_wakeup_bytes (set from user space) is waiting. A lone
 * event is read at once, a burst at most PM_WAKEUP_GAP_NS late, and the
 * tail of a burst on the reader's next pass, PM_POLL_BURST_MS later. The
 * time is shared by both BPF objects and all CPUs; a race between CPUs
 * costs one wake-up more or less, nothing else.
 */
#define PM_WAKEUP_GAP_NS (10 * 1000 * 1000)

const volatile __u64 pm_wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pm_last_wakeup SEC(".maps");

static __always_inline __u64 pm_wakeup_flag(void)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&pm_last_wakeup, &zero);
	__u64 now = bpf_ktime_get_ns();

	if ((last && now - *last >= PM_WAKEUP_GAP_NS) ||
	    bpf_ringbuf_query(&pm_events, BPF_RB_AVAIL_DATA) >= pm_wakeup_bytes) {
		if (last)
			*last = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* Copy a finished record into the ring buffer, counting the loss if full;
 * `now`: wake the reader at once, whatever pm_wakeup_flag() says. */
static __always_inline void pm_emit_wake(void *rec, __u64 size, __u32 category, bool now)
{
	if (bpf_ringbuf_output(&pm_events, rec, size,
			       now ? BPF_RB_FORCE_WAKEUP : pm_wakeup_flag()))
		pm_count_drop(category);
}

static __always_inline void pm_emit(void *rec, __u64 size, __u32 category)
{
	pm_emit_wake(rec, size, category, false);
}

static __always_inline void pm_submit(void *rec)
{
	bpf_ringbuf_submit(rec, pm_wakeup_flag());
}

#endif /* PROCMON_MAPS_BPF_H */
