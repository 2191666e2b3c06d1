/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What procmon knows of each process instance, keyed by (pid, start time)
 * so that a reused pid is never mistaken for the process it replaced.
 *
 * A struct pm_process is an immutable, reference-counted snapshot: an
 * event holds the snapshots of its process and parent as they were when
 * the event happened, while the cache moves on to newer ones. The binary
 * a process runs (struct pm_image) is shared by reference between a
 * parent and its cloned children until one of them execs.
 */
#ifndef PROCMON_PROC_CACHE_H
#define PROCMON_PROC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enrich/hash.h"

/* The executed binary and its arguments, fixed at exec. */
struct pm_image {
	unsigned refs;
	char *filename;    /* executed dentry name ("memfd:x" for a memfd) */
	char *binary_path; /* absolute path as d_path prints it */
	char *args;        /* argv[1..] joined by single spaces (raw bytes) */
	size_t args_len;
	char *argv0;       /* argv[0] as the program got it; NULL when unknown */
	size_t argv0_len;
	unsigned secureexec; /* enum pm_secureexec */
	bool args_truncated;
	/* an on-disk binary that had no link left at the exec (deleted or
	 * replaced meanwhile), not a fileless one */
	bool binary_deleted;
	/* args read from /proc/PID/cmdline (the /proc scan), which the
	 * process itself can have rewritten, not at exec */
	bool args_from_proc;
	bool path_truncated;
	struct pm_hash_entry *hash; /* NULL when not hashed */
	/* a fileless script (memfd) run through its interpreter: the script's
	 * own path ("/memfd:x (deleted)") and hash; NULL otherwise */
	char *script_path;
	struct pm_hash_entry *script_hash;
	/* the executed inode, for CodeIdentity (zero for a /proc-scanned one) */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mode, owner_uid, owner_gid;
	bool executed; /* from an exec record, not the /proc scan */
	/* the working directory at exec (as binary_path); NULL when unknown */
	char *cwd;
	bool cwd_truncated;
};

struct pm_process {
	unsigned refs;
	/* pid ... auid and the three capability sets in struct pm_task's
	 * order: the reader copies each run whole (fill_from_task) */
	uint32_t pid, tid, ppid, uid, euid, gid, egid, auid;
	uint64_t cap_effective, cap_permitted, cap_inheritable;
	uint64_t start_ns;        /* boot-time ns of the thread-group leader */
	bool cloned;
	char exec_id[33];
	const char *container_id; /* owned by struct pm_containers; NULL: none */
	struct pm_image *image;
	/*
	 * This snapshot's process object as render_bombini.c writes it, kept
	 * once its hash is settled: a process object is rendered for every
	 * event of the process and of its children, and caching the bytes of
	 * a pure function of an immutable snapshot changes nothing else.
	 * Owned; never copied by pm_process_clone.
	 */
	char *rendered;
	size_t rendered_len;
	/* Its ProcessExit is written: no more rendering is memoized, so the
	 * memory of a process's rendering lasts as long as the process. */
	bool memo_closed;
};

/*
 * The command line as LimaCharlie's COMMAND_LINE and Sigma's CommandLine
 * mean it: argv joined by spaces, argv[0] as the program got it; without
 * a known argv (a process seen only through /proc), the path, then the
 * arguments. Sets up to 3 parts (no NULs inside) and returns their number.
 */
size_t pm_image_command_line(const struct pm_image *img, const char *parts[3], size_t lens[3]);

struct pm_image *pm_image_new(void);
struct pm_image *pm_image_get(struct pm_image *img);
void pm_image_put(struct pm_image *img);

struct pm_process *pm_process_new(void);
struct pm_process *pm_process_get(struct pm_process *p);
void pm_process_put(struct pm_process *p);
/* A new snapshot copying p (refs 1, shared image and strings re-referenced). */
struct pm_process *pm_process_clone(const struct pm_process *p);
/* Free p's memoized rendering and keep none from now on (its last event,
 * the ProcessExit, is written; a late child event renders it afresh). */
void pm_process_close_memo(struct pm_process *p);

/*
 * Start times identify process instances in clock ticks: /proc/PID/stat
 * gives floor(start_boottime / tick) and the kernel's exact nanoseconds
 * floor to the same tick, so a process seeded from /proc and seen later by
 * the BPF side is one instance, with one exec_id, across procmon restarts.
 */
uint64_t pm_clock_tick_ns(void);
uint64_t pm_start_ticks(uint64_t start_ns);

/* Set p->exec_id from the boot id, start tick and pid (32 hex digits). */
void pm_process_set_exec_id(struct pm_process *p, uint32_t boot_id_prefix);

struct pm_proc_cache;

struct pm_proc_cache *pm_proc_cache_new(void);
void pm_proc_cache_free(struct pm_proc_cache *c);

/*
 * The snapshot for (pid, start tick of start_ns), or NULL. The returned
 * reference is borrowed (valid until the next change).
 */
struct pm_process *pm_proc_cache_lookup(struct pm_proc_cache *c, uint32_t pid,
					uint64_t start_ns);

/* Make p the current snapshot of its process (takes a reference). */
int pm_proc_cache_update(struct pm_proc_cache *c, struct pm_process *p);

/*
 * The process ended at now_ns: keep it for late lookups (children whose
 * events were recorded before the reparenting), then drop it: after
 * linger_ns (pm_proc_cache_expire), or sooner once more than
 * PM_CACHE_EXITED_MAX exited processes are kept, oldest exit first, so a
 * host that creates processes faster than they expire cannot grow the
 * cache without bound.
 */
#define PM_CACHE_EXITED_MAX 8192
void pm_proc_cache_mark_exited(struct pm_proc_cache *c, uint32_t pid,
			       uint64_t start_ns, uint64_t now_ns);

/* Drop processes that exited more than linger_ns before now_ns (cost:
 * the number dropped, not the cache size). */
void pm_proc_cache_expire(struct pm_proc_cache *c, uint64_t now_ns, uint64_t linger_ns);

size_t pm_proc_cache_size(const struct pm_proc_cache *c);
/* How many pm_proc_cache_lookup() calls found the process, and did not. */
void pm_proc_cache_stats(const struct pm_proc_cache *c, uint64_t *hits, uint64_t *misses);

/*
 * Mark exited (so they expire) the running entries for which gone(p, arg)
 * says the process no longer exists: processes whose exit procmon never
 * saw (zombies at the /proc scan, an exit record the kernel dropped).
 */
void pm_proc_cache_sweep(struct pm_proc_cache *c, uint64_t now_ns,
			 bool (*gone)(const struct pm_process *p, void *arg), void *arg);

/* Call fn for every process not known to have exited. */
void pm_proc_cache_for_each(struct pm_proc_cache *c,
			    void (*fn)(const struct pm_process *p, void *arg), void *arg);

#endif /* PROCMON_PROC_CACHE_H */
