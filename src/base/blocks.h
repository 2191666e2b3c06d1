/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration's blocks, one row each: what a block is called in
 * YAML, the keys it takes, where its cred_filter goes in the kernel, what
 * a SIGHUP may change of it, and what it needs loaded in the kernel. The
 * table generates enum pm_block; struct pm_config holds the blocks'
 * switches as an array indexed by it, and the schema, --print-config,
 * the reload and the loader all walk pm_blocks[] (config.c): adding a
 * block is one row here plus, for new keys, their field table in
 * config.c. Columns:
 *
 *   ID      PM_BLOCK_<ID>; the event table's CONFIG column names it
 *   KEY     the YAML key
 *   FIELDS  its keys: a struct pm_yaml_field table of config.c
 *   AT      what FIELDS' offsets count from: HOOK, the block's own
 *           struct pm_hook (cfg->block[ID]); CONFIG, struct pm_config
 *           itself (a block with settings of its own, kept as members of
 *           pm_config: its fields name them); FILTER, process_filter
 *   CRED    its cred_filter's slot in the kernel's pm_filter_conf.cred
 *           (PM_HOOK_*) and id list (PM_IDS_*), or NONE, NONE
 *   RELOAD  what SIGHUP does with a change of `enabled`: LIVE (read in
 *           user space), LOADED (live if what it needs is loaded, and
 *           always when turned off), RESTART (the running value stays)
 *   NEEDS   the syscalls object's BPF programs (exact names) and the
 *           objects' switches (rodata) it needs; a program no row lists
 *           stops the start-up, so none is forgotten
 */
#ifndef PROCMON_BASE_BLOCKS_H
#define PROCMON_BASE_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#define PM_SETID_PROGRAMS(call) "pm_enter_" #call, "pm_exit_" #call
/* every way to reach another process's memory or execution */
#define PM_ACCESS_PROGRAMS                                                                 \
	"pm_exit_ptrace", "pm_exit_process_vm_readv", "pm_exit_process_vm_writev",         \
		"pm_exit_pidfd_getfd", "pm_exit_open", "pm_exit_openat", "pm_exit_openat2"
#define PM_NO_NEEDS NULL

#define PM_BLOCK_TABLE(X)                                                                        \
	X(SETUID, "setuid", uid_hook_fields, HOOK, SETUID, SETUID_EUID, RESTART,                 \
	  PM_SETID_PROGRAMS(setuid), PM_SETID_PROGRAMS(setreuid),                                \
	  PM_SETID_PROGRAMS(setresuid), PM_SETID_PROGRAMS(setfsuid))                             \
	X(SETGID, "setgid", gid_hook_fields, HOOK, SETGID, SETGID_EGID, RESTART,                 \
	  PM_SETID_PROGRAMS(setgid), PM_SETID_PROGRAMS(setregid),                                \
	  PM_SETID_PROGRAMS(setresgid), PM_SETID_PROGRAMS(setfsgid))                             \
	X(CAPSET, "capset", uid_hook_fields, HOOK, CAPSET, CAPSET_EUID, RESTART,                 \
	  PM_SETID_PROGRAMS(capset))                                                             \
	X(PRCTL, "prctl", hook_fields, HOOK, NONE, NONE, RESTART, "pm_exit_prctl")               \
	X(CREATE_USER_NS, "create_user_ns", uid_hook_fields, HOOK, USER_NS, USER_NS_EUID,        \
	  RESTART, PM_SETID_PROGRAMS(unshare), "pm_exit_clone", "pm_exit_clone3")                \
	X(PTRACE_ACCESS_CHECK, "ptrace_access_check", hook_fields, HOOK, NONE, NONE, LOADED,     \
	  PM_ACCESS_PROGRAMS)                                                                    \
	X(PROCESS_FILTER, "process_filter", process_filter_fields, FILTER, NONE, NONE, LIVE,     \
	  PM_NO_NEEDS)                                                                           \
	X(EXISTING_PROCESS, "existing_process", hook_fields, HOOK, NONE, NONE, LIVE,             \
	  PM_NO_NEEDS)                                                                           \
	X(CODE_IDENTITY, "code_identity", hook_fields, HOOK, NONE, NONE, RESTART, PM_NO_NEEDS)   \
	X(ONGOING_IDENTITY, "ongoing_identity", hook_fields, HOOK, NONE, NONE, LIVE,             \
	  PM_NO_NEEDS)                                                                           \
	X(MODULE_LOAD, "module_load", hook_fields, HOOK, NONE, NONE, RESTART, "pm_exit_mmap",    \
	  "pm_exit_mprotect", "pm_want_interp")                                                  \
	/* mkfifo makes a pipe, open(2) opens one */                                             \
	X(NAMED_PIPE, "named_pipe", hook_fields, HOOK, NONE, NONE, RESTART, "pm_exit_mknod",     \
	  "pm_exit_mknodat", "pm_exit_open", "pm_exit_openat", "pm_exit_openat2",                \
	  "pm_want_named_pipe")                                                                  \
	X(PROCESS_ENVIRONMENT, "process_environment", process_environment_fields, CONFIG,        \
	  NONE, NONE, RESTART, "pm_want_env")                                                    \
	/* a remote thread is also a step of a thread injection */                               \
	X(REMOTE_THREAD, "remote_thread", hook_fields, HOOK, NONE, NONE, LOADED,                 \
	  "pm_want_remote_thread")                                                               \
	/* and writes into another process's code through /proc/PID/mem */                       \
	X(THREAD_INJECTION, "thread_injection", hook_fields, HOOK, NONE, NONE, RESTART,          \
	  PM_ACCESS_PROGRAMS, "pm_exit_write", "pm_exit_pwrite64", "pm_want_remote_thread",      \
	  "pm_want_ptrace_requests")                                                             \
	X(SENSITIVE_PROCESS_ACCESS, "sensitive_process_access", sensitive_process_access_fields, \
	  CONFIG, NONE, NONE, LOADED, PM_ACCESS_PROGRAMS)                                        \
	X(NAMESPACES, "namespaces", hook_fields, HOOK, NONE, NONE, RESTART, "pm_exit_setns",     \
	  "pm_exit_unshare_ns")                                                                  \
	/* Sigma rules, in user space; SIGHUP reads them again (main.c) */                       \
	X(DETECTIONS, "detections", detections_fields, CONFIG, NONE, NONE, LIVE, PM_NO_NEEDS)

/* NONE (0): no block, always on (the event table's events without one). */
#define PM_BLOCK_ENUM_ROW(id, ...) PM_BLOCK_##id,
enum pm_block { PM_BLOCK_NONE, PM_BLOCK_TABLE(PM_BLOCK_ENUM_ROW) PM_BLOCK_COUNT };
#undef PM_BLOCK_ENUM_ROW

enum pm_reload {
	PM_RELOAD_LIVE,
	PM_RELOAD_LOADED,
	PM_RELOAD_RESTART,
};

#define PM_BLOCK_NEEDS_MAX 16

struct pm_yaml_field;

/* One row of PM_BLOCK_TABLE. */
struct pm_block_info {
	const char *key;
	const struct pm_yaml_field *fields;
	size_t at;         /* offset in struct pm_config of what fields count from */
	int cred_hook;     /* enum pm_cred_hook, or -1 */
	uint32_t cred_ids; /* enum pm_id_list of its cred_filter's euid/egid, or 0 */
	enum pm_reload reload;
	const char *needs[PM_BLOCK_NEEDS_MAX]; /* NULL-terminated */
};

/* Indexed by enum pm_block; [PM_BLOCK_NONE] is empty. */
extern const struct pm_block_info pm_blocks[PM_BLOCK_COUNT];

#endif
