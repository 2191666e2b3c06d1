/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What keeps one process's flood from hiding everything else: per-process
 * repetition limits with summaries, and the ring buffer's reserve for
 * lifecycle records. Every non-lifecycle record is reserved through
 * pm_reserve() here.
 */
#ifndef PROCMON_REPEAT_BPF_H
#define PROCMON_REPEAT_BPF_H

/*
 * Repetition (set by user space from repeat_limit): of each event type, a
 * process has at most pm_repeat_max written per pm_repeat_interval_ns;
 * the rest of the interval is counted and sent as one RepeatedEvents
 * record. Clone, exec and exit are never limited.
 */
const volatile __u64 pm_repeat_max = 100;
const volatile __u64 pm_repeat_interval_ns = 1000000000;

/*
 * The part of the ring buffer only lifecycle records (clone, exec, exit
 * and what an exec sends) may fill: the other kinds are refused, and
 * counted, once pm_ring_bytes - pm_ring_reserve is waiting, so no flood of
 * them leaves an exec without room. Set by user space.
 */
const volatile __u64 pm_ring_bytes = 16 << 20;
const volatile __u64 pm_ring_reserve = 4 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pm_repeats);
} pm_repeats SEC(".maps");

/*
 * A RepeatedEvents record for n held-back events of `kind`. When it cannot
 * be sent (ring buffer full) the count goes back to the state, for the
 * next summary, unless `last` (the process is ending): then it is a loss.
 */
static __always_inline void pm_repeat_summary(struct task_struct *task, __u32 kind, __u64 n,
					      __u64 first, __u64 last_ns,
					      struct pm_repeat_state *s, bool last)
{
	struct pm_repeat_event *ev = bpf_ringbuf_reserve(&pm_events, sizeof(*ev), 0);

	if (!ev) {
		if (last) {
			pm_count_drop(PM_DROP_REPEATS);
		} else if (!__sync_fetch_and_add(&s->suppressed, n)) {
			s->first_ns = first;
		}
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	ev->hdr.type = PM_EVENT_REPEATS;
	ev->hdr.size = sizeof(*ev);
	pm_fill_task(&ev->task, task);
	ev->kind = kind;
	ev->count = n;
	ev->first_ns = first;
	ev->last_ns = last_ns;
	bpf_ringbuf_submit(ev, pm_wakeup_flag());
}

/*
 * Whether this event of `type` by task's process is written (true) or
 * held back for a summary (false). Threads of one process may race here:
 * the counts are atomic, so every event is either written or in exactly
 * one summary; only the window's first/last times are best effort.
 */
static __always_inline bool pm_repeat_pass(__u32 type, struct task_struct *task)
{
	struct pm_repeats *r;
	struct pm_repeat_state *s;
	__u64 now, start, held;

	if (type >= PM_REPEAT_KINDS)
		return true;
	r = bpf_task_storage_get(&pm_repeats, task->group_leader, 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!r) /* no memory for the state: write it rather than hide it */
		return true;
	s = &r->kind[type];
	now = bpf_ktime_get_boot_ns();
	start = s->window_start;
	if (now - start >= pm_repeat_interval_ns &&
	    __sync_val_compare_and_swap(&s->window_start, start, now) == start) {
		/* this thread opened the new window: it closes the old one */
		__sync_lock_test_and_set(&s->count, 0);
		held = __sync_lock_test_and_set(&s->suppressed, 0);
		if (held)
			pm_repeat_summary(task, type, held, s->first_ns, s->last_ns, s, false);
	}
	if (__sync_fetch_and_add(&s->count, 1) < pm_repeat_max)
		return true;
	if (!__sync_fetch_and_add(&s->suppressed, 1))
		s->first_ns = now;
	s->last_ns = now;
	return false;
}

/*
 * Room for a fixed-size, non-lifecycle record of `type` filled in place,
 * or NULL: held back as a repetition (counted in its summary), or lost
 * (counted in `category`: the ring buffer is full, or only its
 * lifecycle reserve is left).
 */
static __always_inline void *pm_reserve(__u64 size, __u32 type, __u32 category,
					struct task_struct *task)
{
	void *rec;

	if (!pm_repeat_pass(type, task))
		return NULL;
	if (bpf_ringbuf_query(&pm_events, BPF_RB_AVAIL_DATA) + size >
	    pm_ring_bytes - pm_ring_reserve) {
		pm_count_drop(category);
		return NULL;
	}
	rec = bpf_ringbuf_reserve(&pm_events, size, 0);
	if (!rec)
		pm_count_drop(category);
	return rec;
}

struct pm_repeat_flush {
	struct task_struct *task;
	struct pm_repeats *r;
};

static long pm_repeat_flush_step(__u32 i, void *arg)
{
	struct pm_repeat_flush *f = arg;
	struct pm_repeats *r = f->r;
	struct pm_repeat_state *s;
	__u64 held;

	if (i >= PM_REPEAT_KINDS)
		return 1;
	s = &r->kind[i];
	if (!s->suppressed)
		return 0;
	held = __sync_lock_test_and_set(&s->suppressed, 0);
	if (held)
		pm_repeat_summary(f->task, i, held, s->first_ns, s->last_ns, s, true);
	return 0;
}

/* At a process's exit: the summaries of what it still held back. */
static __always_inline void pm_repeat_flush(struct task_struct *task)
{
	struct pm_repeat_flush f = { .task = task };

	f.r = bpf_task_storage_get(&pm_repeats, task->group_leader, 0, 0);
	if (f.r)
		bpf_loop(PM_REPEAT_KINDS, pm_repeat_flush_step, &f, 0);
}

#endif /* PROCMON_REPEAT_BPF_H */
