/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The whole kernel/user ABI of procmon: event types, drop categories,
 * limits and the records the BPF programs write into the ring buffer.
 *
 * Included by the BPF objects (after vmlinux.h) and by user space (after
 * <linux/types.h>). Only fixed-width types and explicit padding, so both
 * compilers agree on the layout; the _Static_asserts at the end pin it.
 */
#ifndef PROCMON_EVENTS_H
#define PROCMON_EVENTS_H

#ifndef __VMLINUX_H__ /* user space; the BPF side has vmlinux.h */
#include <linux/types.h>
#endif

/* Limits. Anything cut at one of them is flagged in the record. */
#define PM_COMM_LEN 16
#define PM_NAME_MAX 256    /* one dentry name, NUL included (NAME_MAX + 1) */
#define PM_PATH_MAX 4096   /* bytes of path components the dentry walk keeps */
#define PM_PATH_DEPTH 128  /* dentries the walk visits before giving up */
#define PM_ARGS_MAX 32768  /* bytes of argv copied at exec (power of two) */

enum pm_event_type {
	PM_EVENT_EXEC = 1,
	PM_EVENT_CLONE = 2,
	PM_EVENT_EXIT = 3,
};

/* Ring-buffer reservation failures are counted per category. */
enum pm_drop_category {
	PM_DROP_EXEC = 0,
	PM_DROP_CLONE = 1,
	PM_DROP_EXIT = 2,
	PM_DROP_MAX = 8, /* room for the hook families of later issues */
};

/* pm_exec_event.flags */
enum pm_exec_flags {
	PM_EXEC_ARGS_TRUNCATED = 1 << 0, /* argv longer than PM_ARGS_MAX */
	PM_EXEC_ARGS_UNREADABLE = 1 << 1, /* reading argv faulted */
	PM_EXEC_PATH_CUT = 1 << 2,       /* walk hit PM_PATH_MAX/PM_PATH_DEPTH */
	PM_EXEC_PATH_DELETED = 1 << 3,   /* d_path would append " (deleted)" */
	PM_EXEC_PATH_PSEUDO = 1 << 4,    /* no parent dentry: memfd and friends */
};

/* Facts about one task, taken in the kernel at the moment of the event. */
struct pm_task {
	__u64 start_ns;        /* task->start_boottime of the thread-group leader */
	__u64 parent_start_ns; /* same, for real_parent's thread-group leader */
	__u64 cgroup_id;       /* kernfs id of the task's default-hierarchy cgroup */
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid; /* real_parent's tgid */
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 egid;
	__u32 auid; /* loginuid, 4294967295 when unset */
	char comm[PM_COMM_LEN];
};

struct pm_header {
	__u64 ktime_ns; /* bpf_ktime_get_boot_ns() at the event */
	__u32 type;     /* enum pm_event_type */
	__u32 size;     /* bytes of the whole record */
};

/*
 * ProcessExec. Followed by `data`:
 *   [0, PM_NAME_MAX)                 filename: the executed dentry's name
 *   [PM_NAME_MAX, +path_len)         path components, each NUL-terminated,
 *                                    leaf first (user space reverses them)
 *   [PM_NAME_MAX + path_len, +args_len) argv[0..], each NUL-terminated
 * Only PM_NAME_MAX + path_len + args_len bytes of data are sent.
 */
struct pm_exec_event {
	struct pm_header hdr;
	struct pm_task task;
	/* identity of the executed inode, for the hash cache (contract 5.3) */
	__u64 ino;
	__u64 isize;
	__s64 mtime_sec;
	__s64 ctime_sec;
	__u32 mtime_nsec;
	__u32 ctime_nsec;
	__u32 mnt_id; /* the mount it was executed through (statx STATX_MNT_ID) */
	__u32 nlink;
	__u32 mode;
	__u32 per_clear; /* linux_binprm.per_clear: PER_CLEAR_ON_SETID etc. */
	__u32 flags;     /* enum pm_exec_flags */
	__u32 path_len;
	__u32 args_len;
	__u32 pad;
	char data[];
};

/*
 * ProcessClone: task is the new thread-group leader. The forker is the
 * process that called fork/clone: usually task.ppid, but with
 * CLONE_PARENT the child's parent is the forker's parent, while the
 * binary it runs is still the forker's.
 */
struct pm_clone_event {
	struct pm_header hdr;
	struct pm_task task;
	__u64 forker_start_ns;
	__u32 forker_pid;
	__u32 pad;
};

/* ProcessExit: sent once, by the last thread of the group. */
struct pm_exit_event {
	struct pm_header hdr;
	struct pm_task task;
	__u32 exit_code; /* wait status: (status << 8) | signal, as wait(2) */
	__u32 pad;
};

#define PM_EXEC_DATA_MAX (PM_NAME_MAX + PM_PATH_MAX + PM_NAME_MAX + PM_ARGS_MAX)

_Static_assert(sizeof(struct pm_task) == 96, "pm_task layout");
_Static_assert(sizeof(struct pm_header) == 16, "pm_header layout");
_Static_assert(sizeof(struct pm_exec_event) == 184, "pm_exec_event layout");
/* both sides address the payload as the end of the fixed part */
_Static_assert(__builtin_offsetof(struct pm_exec_event, data) == sizeof(struct pm_exec_event),
	       "pm_exec_event data follows the fixed part with no padding");
_Static_assert(sizeof(struct pm_clone_event) == 128, "pm_clone_event layout");
_Static_assert(sizeof(struct pm_exit_event) == 120, "pm_exit_event layout");
_Static_assert((PM_ARGS_MAX & (PM_ARGS_MAX - 1)) == 0, "PM_ARGS_MAX power of two");

#endif /* PROCMON_EVENTS_H */
