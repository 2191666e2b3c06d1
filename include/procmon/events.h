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
#define PM_ENV_MAX 32768   /* bytes of the environment copied at exec, when asked */

/*
 * Every event procmon reports, one row each: the kernel's records and the
 * events user space derives from them alike. Adding an event: a row here,
 * a BPF program (kernel events), its fields in render_bombini.c and
 * render_limacharlie.c, an entry in docs/events.md. Columns:
 *
 *   NAME    PM_EVENT_<NAME>
 *   NUM     its number: the ring buffer's ABI, pinned (64 and up: derived in
 *           user space, never in a record)
 *   RECORD  the record shape that carries it (enum pm_record_kind)
 *   TYPE    native `type`
 *   SUB     ProcessEvent's `process_event.type`, or 0
 *   LC      LimaCharlie `routing.event_type`
 *   CONFIG  the configuration block that enables it (PM_BLOCK_<CONFIG>,
 *           src/config/blocks.h), or NONE (always on)
 *   DROP    the category its failed reservations count in (PM_DROP_<DROP>)
 *
 * PTRACE_REQUEST and CODE_WRITE are observations for ThreadInjection,
 * EXE_UNLINKED one for the hasher (loaded with ima_hash); never written.
 * User space expands the strings; the BPF side only the enum.
 */
#define PM_EVENT_TABLE(X)                                                                               \
	X(EXEC, 1, EXEC, "ProcessExec", 0, "NEW_PROCESS", NONE, EXEC)                                   \
	X(CLONE, 2, CLONE, "ProcessClone", 0, "PROCESS_CLONE", NONE, CLONE)                             \
	X(EXIT, 3, EXIT, "ProcessExit", 0, "TERMINATE_PROCESS", NONE, EXIT)                             \
	X(SETUID, 4, PRIV, "ProcessEvent", "Setuid", "SETUID", SETUID, CREDS)                           \
	X(SETGID, 5, PRIV, "ProcessEvent", "Setgid", "SETGID", SETGID, CREDS)                           \
	X(SETCAPS, 6, PRIV, "ProcessEvent", "Setcaps", "SETCAPS", CAPSET, CREDS)                        \
	X(PRCTL, 7, PRIV, "ProcessEvent", "Prctl", "PRCTL", PRCTL, PRCTL)                               \
	X(CREATE_USER_NS, 8, PRIV, "ProcessEvent", "CreateUserNs", "CREATE_USER_NS", CREATE_USER_NS,    \
	  USER_NS)                                                                                      \
	X(PTRACE_ACCESS, 9, PRIV, "ProcessEvent", "PtraceAccessCheck", "REMOTE_PROCESS_HANDLE",         \
	  PTRACE_ACCESS_CHECK, PTRACE)                                                                  \
	X(REMOTE_THREAD, 10, PRIV, "NewRemoteThread", 0, "NEW_REMOTE_THREAD", REMOTE_THREAD,            \
	  REMOTE_THREAD)                                                                                \
	X(PTRACE_REQUEST, 11, PRIV, 0, 0, 0, THREAD_INJECTION, PTRACE)                                  \
	X(NEW_NAMED_PIPE, 12, FIFO, "NewNamedPipe", 0, "NEW_NAMED_PIPE", NAMED_PIPE, NAMED_PIPE)        \
	X(OPEN_NAMED_PIPE, 13, FIFO, "OpenNamedPipe", 0, "OPEN_NAMED_PIPE", NAMED_PIPE, NAMED_PIPE)     \
	X(MODULE_LOAD, 14, MODULE, "ModuleLoad", 0, "MODULE_LOAD", MODULE_LOAD, MODULE_LOAD)            \
	X(CODE_WRITE, 15, PRIV, 0, 0, 0, THREAD_INJECTION, PTRACE)                                      \
	X(SETNS, 16, PRIV, "ProcessEvent", "SetNs", "SETNS", NAMESPACES, NAMESPACES)                    \
	X(UNSHARE, 17, PRIV, "ProcessEvent", "Unshare", "UNSHARE", NAMESPACES, NAMESPACES)              \
	X(EXE_UNLINKED, 18, FILE, 0, 0, 0, NONE, EXEC)                                                  \
	X(REPEATS, 19, REPEATS, "RepeatedEvents", 0, "REPEATED_EVENTS", NONE, REPEATS)                  \
	X(EXISTING_PROCESS, 64, NONE, "ExistingProcess", 0, "EXISTING_PROCESS", EXISTING_PROCESS, NONE) \
	X(SENSITIVE_ACCESS, 65, NONE, "SensitiveProcessAccess", 0, "SENSITIVE_PROCESS_ACCESS",          \
	  SENSITIVE_PROCESS_ACCESS, NONE)                                                               \
	X(ENVIRONMENT, 66, NONE, "ProcessEnvironment", 0, "PROCESS_ENVIRONMENT", PROCESS_ENVIRONMENT,   \
	  NONE)                                                                                         \
	X(CODE_IDENTITY, 67, NONE, "CodeIdentity", 0, "CODE_IDENTITY", CODE_IDENTITY, NONE)             \
	X(ONGOING_IDENTITY, 68, NONE, "OngoingIdentity", 0, "ONGOING_IDENTITY", ONGOING_IDENTITY, NONE) \
	X(THREAD_INJECTION, 69, NONE, "ThreadInjection", 0, "THREAD_INJECTION", THREAD_INJECTION, NONE) \
	X(DETECTION, 70, NONE, "Detection", 0, "DETECTION", DETECTIONS, NONE)

#define PM_EVENT_ENUM_ROW(name, num, ...) PM_EVENT_##name = num,
enum pm_event_type { PM_EVENT_TABLE(PM_EVENT_ENUM_ROW) PM_EVENT_TYPE_END };
#undef PM_EVENT_ENUM_ROW

/* The record shapes of the ring buffer; NONE: derived in user space. */
enum pm_record_kind {
	PM_RECORD_NONE = 0,
	PM_RECORD_EXEC,   /* struct pm_exec_event */
	PM_RECORD_CLONE,  /* struct pm_clone_event */
	PM_RECORD_EXIT,   /* struct pm_exit_event */
	PM_RECORD_PRIV,   /* struct pm_priv_event */
	PM_RECORD_FIFO,   /* struct pm_fifo_event */
	PM_RECORD_MODULE, /* struct pm_module_event */
	PM_RECORD_FILE,   /* struct pm_file_event */
	PM_RECORD_REPEATS, /* struct pm_repeat_event */
	PM_RECORD_KINDS,
};

/*
 * Ring-buffer reservation failures are counted per category: X(NAME,
 * number, the name the loss report gives it). NONE counts nothing.
 */
#define PM_DROP_TABLE(X)                  \
	X(EXEC, 0, "exec")                \
	X(CLONE, 1, "clone")              \
	X(EXIT, 2, "exit")                \
	X(CREDS, 3, "setid/capset")       \
	X(PRCTL, 4, "prctl")              \
	X(USER_NS, 5, "user_ns")          \
	X(PTRACE, 6, "ptrace_access")     \
	X(REMOTE_THREAD, 7, "remote_thread") \
	X(NAMED_PIPE, 8, "named_pipe")    \
	X(MODULE_LOAD, 9, "module_load")  \
	X(NAMESPACES, 10, "namespaces")    \
	X(REPEATS, 11, "repeated_events")

#define PM_DROP_ENUM_ROW(name, num, ...) PM_DROP_##name = num,
enum pm_drop_category {
	PM_DROP_TABLE(PM_DROP_ENUM_ROW)
	PM_DROP_MAX = 16, /* room for the hook families of later issues */
	PM_DROP_NONE = PM_DROP_MAX,
};
#undef PM_DROP_ENUM_ROW

/* pm_exec_event.flags */
enum pm_exec_flags {
	PM_EXEC_ARGS_TRUNCATED = 1 << 0, /* argv longer than PM_ARGS_MAX */
	PM_EXEC_ARGS_UNREADABLE = 1 << 1, /* reading argv faulted */
	PM_EXEC_PATH_CUT = 1 << 2,       /* walk hit PM_PATH_MAX/PM_PATH_DEPTH */
	PM_EXEC_PATH_DELETED = 1 << 3,   /* d_path would append " (deleted)" */
	PM_EXEC_PATH_PSEUDO = 1 << 4,    /* no parent dentry: memfd and friends */
	PM_EXEC_ENV_TRUNCATED = 1 << 5,  /* environment longer than PM_ENV_MAX */
	PM_EXEC_ENV_UNREADABLE = 1 << 6, /* reading the environment faulted */
	PM_EXEC_SCRIPT_FILELESS = 1 << 7, /* a script run from an fd of a file
					   * without a link (memfd): `script` */
	/* the working directory's walk (cwd_len), as PATH_CUT / PATH_DELETED */
	PM_EXEC_CWD_CUT = 1 << 14,
	PM_EXEC_CWD_DELETED = 1 << 15,
	PM_EXEC_PINNED = 1 << 9,          /* a struct pm_pin went out for it */
	PM_EXEC_VIA_FD = 1 << 8,         /* a file without a link run from an fd
					   * (fexecve, execveat AT_EMPTY_PATH,
					   * /proc/self/fd/N): it had none before */
};

/* The cgroup v1 controller whose hierarchy the BPF side reads a task's
 * cgroup_v1_id from (a v1 or hybrid host: containers are named there);
 * the loader sets it from what is mounted (pm_containers_v1_controller). */
enum pm_cgroup_v1 {
	PM_CGROUP_V1_NONE,
	PM_CGROUP_V1_PIDS,
	PM_CGROUP_V1_MEMORY,
	PM_CGROUP_V1_CPU,
	PM_CGROUP_V1_DEVICES,
	PM_CGROUP_V1_FREEZER,
	PM_CGROUP_V1_BLKIO,
};

/* Facts about one task, taken in the kernel at the moment of the event. */
struct pm_task {
	__u64 start_ns;        /* task->start_boottime of the thread-group leader */
	__u64 parent_start_ns; /* same, for real_parent's thread-group leader */
	__u64 cgroup_id;       /* kernfs id of the task's default-hierarchy cgroup */
	__u64 cgroup_v1_id;    /* same in the v1 hierarchy of pm_cgroup_v1; 0: none */
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
 *   [... + args_len, +env_len)       the environment, NAME=VALUE each
 *                                    NUL-terminated (only when asked for)
 *   [... + env_len, +cwd_len)        the working directory's components, as
 *                                    the path's (Sigma's CurrentDirectory)
 * Only PM_NAME_MAX + path_len + args_len + env_len + cwd_len bytes of data
 * are sent.
 */
/*
 * A file's inode facts: its identity for the hash cache (contract 5.3:
 * mount, inode, size, mtime, ctime), and what CodeIdentity and secureexec
 * tell about it.
 */
struct pm_file_facts {
	__u64 ino;
	__u64 isize;
	__s64 mtime_sec;
	__s64 ctime_sec;
	__u32 mtime_nsec;
	__u32 ctime_nsec;
	__u32 mnt_id; /* the mount it was reached through (statx STATX_MNT_ID) */
	__u32 nlink;
	__u32 mode;
	__u32 owner_uid;
	__u32 owner_gid;
	__u32 pad;
};

struct pm_exec_event {
	struct pm_header hdr;
	struct pm_task task;
	struct pm_file_facts file; /* the executed inode */
	__u32 per_clear; /* linux_binprm.per_clear: PER_CLEAR_ON_SETID etc. */
	__u32 flags;     /* enum pm_exec_flags */
	__u32 path_len;
	__u32 args_len;
	__u32 env_len;
	__u32 script_fd; /* PM_EXEC_SCRIPT_FILELESS: the fd the script was run from */
	/*
	 * PM_EXEC_SCRIPT_FILELESS: the script file itself (`file` is then its
	 * interpreter, which the kernel executed): execve of /dev/fd/N or
	 * /proc/self/fd/N of a memfd or deleted file holding "#!...".
	 */
	struct pm_file_facts script;
	__u32 cwd_len;
	__u32 cwd_pad;
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

/*
 * ProcessEvent (Setuid ... PtraceAccessCheck). `task` is the caller after
 * the call; `target` the process it accessed (PtraceAccessCheck only,
 * target.pid 0 when the kernel side could not name it: then target_vpid,
 * a pid in the caller's pid namespace, is resolved by user space).
 */
struct pm_priv_event {
	struct pm_header hdr;
	struct pm_task task;
	struct pm_task target;
	__s64 ret;      /* the syscall's return value; < 0: a denied access */
	__u64 arg[3];   /* Prctl: option, arg2, arg3; PtraceAccessCheck of
			 * /proc/PID/mem: arg[0] the file's f_mode; ptrace
			 * request: arg[0] request, arg[1] addr; CODE_WRITE:
			 * arg[1] address, arg[2] bytes (access: how); SetNs:
			 * arg[0] the namespace's inode number (an nsfs fd),
			 * arg[1] enum pm_setns_fd */
	__u32 flags;    /* Setuid/Setgid: enum pm_setid_flags; Ptrace: enum pm_ptrace_mode;
			 * SetNs/Unshare: the namespaces' CLONE_NEW* bits */
	__u32 fsid;     /* Setuid: fsuid, Setgid: fsgid, after the call */
	__u32 access;   /* PtraceAccessCheck: enum pm_access_kind */
	__u32 target_vpid;
	__u32 pidns_level; /* of the caller: 0 when target_vpid is a global pid */
	__u32 pad;
	char name[PM_COMM_LEN]; /* Prctl PR_SET_NAME: the new name */
};

/*
 * NewNamedPipe, OpenNamedPipe: a FIFO created by mknod/mknodat, or opened.
 * path[0, dir_len): components of a path, leaf first, NUL-terminated, as
 * the exec record's; for an open the FIFO's own, for a creation the
 * directory a relative name is resolved against (dirfd or cwd).
 * name[0, name_len): the name mknod was given (creation only), as the
 * caller wrote it; absolute when it starts with '/'.
 */
struct pm_fifo_event {
	struct pm_header hdr;
	struct pm_task task;
	__u32 flags;    /* PM_EXEC_PATH_* of the walk */
	__u32 dir_len;
	__u32 name_len; /* NUL included; 0 for an open */
	__u32 pad;
	char path[PM_PATH_MAX + PM_NAME_MAX];
	char name[PM_PATH_MAX];
};

/*
 * ModuleLoad: a file mapped executable by mmap (a shared object's code
 * segment, as the dynamic loader maps it), or the ELF interpreter the
 * kernel mapped at exec (addr its base, pgoff 0). path as in the exec
 * record; a record may end right after path_len bytes of it.
 */
struct pm_module_event {
	struct pm_header hdr;
	struct pm_task task;
	struct pm_file_facts file; /* the mapped file, for its hash */
	__u64 addr;   /* where the executable mapping starts */
	__u64 len;    /* its length */
	__u64 pgoff;  /* its offset in the file, bytes */
	__u32 flags;  /* PM_EXEC_PATH_* of the walk */
	__u32 path_len;
	char path[PM_PATH_MAX + PM_NAME_MAX];
};

/*
 * A process's running executable lost its last link by an unlink or
 * rename the process itself made: `file` is the inode as the call left
 * it (its ctime changed, nothing else could: a running file cannot be
 * written), so the hasher may accept exactly that ctime (EXE_UNLINKED).
 */
struct pm_file_event {
	struct pm_header hdr;
	struct pm_task task;
	struct pm_file_facts file;
};

/*
 * RepeatedEvents: `count` events of type `kind` by this process, from
 * `first_ns` to `last_ns` (boot time), that were not written one by one:
 * beyond pm_repeat_max of that kind within one pm_repeat_interval_ns.
 * Sent when the process makes that kind of event again after the
 * interval, and when it exits. `task` is the thread that sent it.
 */
struct pm_repeat_event {
	struct pm_header hdr;
	struct pm_task task;
	__u64 count;
	__u64 first_ns;
	__u64 last_ns;
	__u32 kind; /* enum pm_event_type */
	__u32 pad;
};

/*
 * Per process (task storage of its leader), per event type below
 * PM_REPEAT_KINDS: the current interval and what it held back.
 */
#define PM_REPEAT_KINDS 24
struct pm_repeat_state {
	__u64 window_start; /* boot-time ns */
	__u64 count;        /* events of the window, written or not */
	__u64 suppressed;   /* not written since the last summary */
	__u64 first_ns, last_ns; /* of those */
};

struct pm_repeats {
	struct pm_repeat_state kind[PM_REPEAT_KINDS];
};

/*
 * The exec-pin fast path (ring buffer pm_pins, its own reader thread):
 * an exec whose file's hash user space may not know yet, or that has no
 * link, asks for /proc/PID/exe (and the script's fd) to be opened at once,
 * before the process can exit and take its file with it. Matched to the
 * exec record by (pid, ktime_ns).
 */
struct pm_pin {
	__u64 ktime_ns; /* the exec record's hdr.ktime_ns */
	__u32 pid;
	__s32 script_fd; /* PM_EXEC_SCRIPT_FILELESS: pin /proc/PID/fd/N too; else -1 */
};

/* A file whose hash user space has (pm_known_files): no pin needed. */
struct pm_file_key {
	__u64 ino;
	__u64 isize;
	__s64 mtime_sec;
	__s64 ctime_sec;
	__u32 mtime_nsec;
	__u32 ctime_nsec;
	__u32 mnt_id;
	__u32 pad;
};

/* The key of a file the kernel described (both sides build it alike). */
static inline __attribute__((always_inline)) struct pm_file_key
pm_file_key_of(const struct pm_file_facts *f)
{
	struct pm_file_key key = {
		.ino = f->ino,
		.isize = f->isize,
		.mtime_sec = f->mtime_sec,
		.ctime_sec = f->ctime_sec,
		.mtime_nsec = f->mtime_nsec,
		.ctime_nsec = f->ctime_nsec,
		.mnt_id = f->mnt_id,
	};

	return key;
}

/* LSM_SETID_* of include/linux/security.h: which call changed the ids */
enum pm_setid_flags {
	PM_SETID_ID = 1,  /* setuid, setgid */
	PM_SETID_RE = 2,  /* setreuid, setregid */
	PM_SETID_RES = 4, /* setresuid, setresgid */
	PM_SETID_FS = 8,  /* setfsuid, setfsgid */
};

/* PTRACE_MODE_* of include/linux/ptrace.h, as ptrace_may_access gets them */
enum pm_ptrace_mode {
	PM_PTRACE_MODE_READ = 0x01,
	PM_PTRACE_MODE_ATTACH = 0x02,
	PM_PTRACE_MODE_NOAUDIT = 0x04,
	PM_PTRACE_MODE_FSCREDS = 0x08,
	PM_PTRACE_MODE_REALCREDS = 0x10,
};

/* What setns(2) was given. */
enum pm_setns_fd {
	PM_SETNS_NSFS = 1,  /* a namespace file (/proc/PID/ns/X): arg[0] its inode */
	PM_SETNS_PIDFD = 2, /* a pidfd: `target` is that process */
};

/* How a PtraceAccessCheck was made. */
enum pm_access_kind {
	PM_ACCESS_PTRACE_ATTACH = 1,
	PM_ACCESS_PTRACE_SEIZE = 2,
	PM_ACCESS_VM_READV = 3,
	PM_ACCESS_VM_WRITEV = 4,
	PM_ACCESS_PROC_MEM = 5, /* open of /proc/PID/mem, any path form */
	PM_ACCESS_PIDFD_GETFD = 6,
};

/*
 * Filters evaluated in the kernel (contract section 4), set by user space
 * before load. process_filter's binary part (name OR path OR prefix) is
 * decided at exec and kept per process (struct pm_proc_info); its id
 * lists live in the pm_filter_ids map.
 */
enum pm_process_filter_flags {
	PM_PF_UID = 1 << 0,    /* the uid list is in force */
	PM_PF_EUID = 1 << 1,
	PM_PF_AUID = 1 << 2,
	PM_PF_BINARY = 1 << 3, /* some name, path or prefix is listed */
	PM_PF_DENY = 1 << 4,   /* deny_list: report what does NOT match */
};

enum pm_cred_filter_flags {
	PM_CF_IDS = 1 << 0,      /* uid_filter.euid / gid_filter.egid in force */
	PM_CF_CAPS = 1 << 1,     /* cap_filter.effective in force */
	PM_CF_CAPS_ANY = 1 << 2, /* ... and lists ANY */
	PM_CF_CAPS_DENY = 1 << 3,
};

/* Hooks with a cred_filter, the index into pm_filter_conf.cred */
enum pm_cred_hook {
	PM_HOOK_SETUID = 0,
	PM_HOOK_SETGID = 1,
	PM_HOOK_CAPSET = 2,
	PM_HOOK_USER_NS = 3,
	PM_CRED_HOOKS = 4,
};

struct pm_cred_filter_conf {
	__u64 caps;  /* capabilities the new effective set must all hold */
	__u32 flags; /* enum pm_cred_filter_flags */
	__u32 pad;
};

struct pm_filter_conf {
	__u32 process;   /* enum pm_process_filter_flags */
	__u32 npatterns; /* entries used in pm_filter_patterns */
	struct pm_cred_filter_conf cred[PM_CRED_HOOKS];
};

/* Key of pm_filter_ids: which list, and one id in it. */
enum pm_id_list {
	PM_IDS_UID = 1,
	PM_IDS_EUID = 2,
	PM_IDS_AUID = 3,
	PM_IDS_SETUID_EUID = 4, /* setuid's uid_filter.euid */
	PM_IDS_SETGID_EGID = 5, /* setgid's gid_filter.egid */
	PM_IDS_CAPSET_EUID = 6, /* capset's uid_filter.euid */
	PM_IDS_USER_NS_EUID = 7,
};

struct pm_id_key {
	__u32 list; /* enum pm_id_list */
	__u32 id;
};

/*
 * One binary name, path or prefix of process_filter, in the form the exec
 * hook compares against: a path's components leaf first, each followed
 * by a NUL, as the dentry walk writes them ("/usr/bin/id" -> "id\0bin\0usr\0").
 * A prefix "/usr/bin/ca" is its whole components ("bin\0usr\0") plus a
 * partial one ("ca") the next component must start with.
 */
#define PM_FILTER_PATTERN_MAX 256 /* bytes of `bytes` and of `partial` */
#define PM_FILTER_PATTERNS_MAX 192

enum pm_pattern_kind {
	PM_PATTERN_NAME = 1,
	PM_PATTERN_PATH = 2,
	PM_PATTERN_PREFIX = 3,
};

struct pm_filter_pattern {
	__u32 kind;        /* enum pm_pattern_kind */
	__u32 len;         /* bytes of `bytes` */
	__u32 ncomps;      /* whole components in `bytes` */
	__u32 partial_len; /* PREFIX: bytes of `partial` */
	char bytes[PM_FILTER_PATTERN_MAX];
	char partial[PM_FILTER_PATTERN_MAX];
};

/* What the kernel side keeps per process (task storage of the leader). */
struct pm_proc_info {
	__u32 binary_match; /* process_filter's binary part matched at exec */
	__u32 pad;
	/* hdr.ktime_ns of its last exec, once a pin was asked for it (0:
	 * unknown): the pin thread's proof that /proc/PID/exe is still that
	 * exec's file */
	__u64 exec_ns;
};

#define PM_EXEC_DATA_MAX                                                                   \
	(PM_NAME_MAX + PM_PATH_MAX + PM_NAME_MAX + PM_ARGS_MAX + PM_ENV_MAX + PM_PATH_MAX + \
	 PM_NAME_MAX)

_Static_assert(sizeof(struct pm_task) == 104, "pm_task layout");
_Static_assert(sizeof(struct pm_header) == 16, "pm_header layout");
_Static_assert(sizeof(struct pm_file_facts) == 64, "pm_file_facts layout");
_Static_assert(sizeof(struct pm_exec_event) == 280, "pm_exec_event layout");
/* both sides address the payload as the end of the fixed part */
_Static_assert(__builtin_offsetof(struct pm_exec_event, data) == sizeof(struct pm_exec_event),
	       "pm_exec_event data follows the fixed part with no padding");
_Static_assert(sizeof(struct pm_clone_event) == 136, "pm_clone_event layout");
_Static_assert(sizeof(struct pm_file_event) == 184, "pm_file_event layout");
_Static_assert(sizeof(struct pm_exit_event) == 128, "pm_exit_event layout");
_Static_assert(sizeof(struct pm_repeat_event) == 152, "pm_repeat_event layout");
_Static_assert(sizeof(struct pm_pin) == 16, "pm_pin layout");
_Static_assert(sizeof(struct pm_file_key) == 48, "pm_file_key layout");
_Static_assert(PM_EVENT_REPEATS < PM_REPEAT_KINDS, "every kernel event has a repeat state");
_Static_assert(sizeof(struct pm_priv_event) == 296, "pm_priv_event layout");
_Static_assert(sizeof(struct pm_filter_conf) == 72, "pm_filter_conf layout");
_Static_assert(sizeof(struct pm_module_event) == 216 + PM_PATH_MAX + PM_NAME_MAX,
	       "pm_module_event layout");
_Static_assert(sizeof(struct pm_fifo_event) == 136 + PM_PATH_MAX + PM_NAME_MAX + PM_PATH_MAX,
	       "pm_fifo_event layout");
_Static_assert(sizeof(struct pm_filter_pattern) == 16 + 2 * PM_FILTER_PATTERN_MAX,
	       "pm_filter_pattern layout");
_Static_assert((PM_ARGS_MAX & (PM_ARGS_MAX - 1)) == 0, "PM_ARGS_MAX power of two");
_Static_assert((PM_ENV_MAX & (PM_ENV_MAX - 1)) == 0, "PM_ENV_MAX power of two");

#endif /* PROCMON_EVENTS_H */
