/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns kernel records into events: validates each record, keeps the
 * process cache current, attaches hashes and parents, and queues the
 * event for output.
 */
#ifndef PROCMON_READER_H
#define PROCMON_READER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "container.h"
#include "event.h"
#include "hash.h"
#include "injection.h"
#include "proc_cache.h"

struct pm_reader {
	struct pm_proc_cache *cache;
	struct pm_hasher *hasher; /* NULL when hashing is off */
	struct pm_containers *containers;
	struct pm_event_queue queue;
	uint32_t boot_id_prefix;
	bool report_ptrace_access;           /* ptrace_access_check is on */
	bool report_remote_thread;           /* remote_thread is on */
	struct pm_injections *injections;    /* thread_injection's tracker; NULL: off */
	const struct pm_strlist *sensitive;  /* sensitive_process_access.processes; NULL: off */
	const struct pm_strlist *redact;     /* process_environment.redact globs */
	uint64_t malformed; /* records that failed validation (dropped, counted) */
	uint64_t user_drops; /* events lost to allocation failure */
};

/* Set up a reader for cfg (which must outlive it): 0 or -ENOMEM. */
int pm_reader_init(struct pm_reader *r, const struct pm_config *cfg);
/* Free what pm_reader_init made and every event still queued. */
void pm_reader_free(struct pm_reader *r);

/*
 * Queue an event of `type` about p (a reference is taken), stamped now,
 * with p's parent from the cache: for what user space itself reports
 * (ExistingProcess). The queued event, or NULL when it was lost.
 */
struct pm_event *pm_reader_queue_process(struct pm_reader *r, uint32_t type,
					 struct pm_process *p);

/* Whether an access to target reaches a sensitive process: PID 1, or one
 * whose binary name is in the list. */
bool pm_is_sensitive_target(const struct pm_process *target, const struct pm_strlist *names);

/* ring_buffer_sample_fn: always returns 0 so one bad record stops nothing. */
int pm_reader_on_record(void *ctx, void *data, size_t size);

/*
 * Pure helpers, unit-tested.
 * pm_join_args: argv as the kernel sent it (NUL-separated, maybe cut) to
 * argv[1..] joined by single spaces. Returns a malloc'd buffer and its
 * length in *out_len, NULL on allocation failure.
 * pm_build_path: components leaf first, NUL-terminated, into the string
 * d_path would print (see PM_EXEC_PATH_* flags). Malloc'd, NULL on OOM.
 */
char *pm_join_args(const char *argv, size_t len, size_t *out_len);
char *pm_build_path(const char *comps, size_t len, uint32_t flags);

/*
 * The environment as the kernel sent it (NAME=VALUE strings, each
 * NUL-terminated; the last may be cut) with the value of every variable
 * whose name matches one of the globs (fnmatch) replaced by "<redacted>".
 * Malloc'd, its length in *out_len; NULL on allocation failure.
 */
char *pm_redact_env(const char *env, size_t len, const struct pm_strlist *globs,
		    size_t *out_len);

/*
 * A FIFO's path from a pm_fifo_event: the walked components (dir, leaf
 * first, see pm_build_path) and, for a creation, the name given to mknod
 * (absolute, or relative to dir). Malloc'd; NULL on allocation failure.
 */
char *pm_fifo_path(const char *dir, size_t dir_len, uint32_t flags, const char *name,
		   size_t name_len);

/* What secureexec is derived from, all in the exec record. */
struct pm_secureexec_facts {
	uint32_t per_clear;   /* linux_binprm.per_clear */
	uint32_t mode, nlink; /* of the executed inode */
	uint32_t uid, euid, gid, egid; /* after the exec */
};
unsigned pm_secureexec_flags(const struct pm_secureexec_facts *f);

#endif
