/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure decoders of what the kernel sends (decode.c): argv, dentry paths,
 * FIFO paths, the environment with its secrets redacted, secureexec.
 * No state, no I/O: unit-tested on hostile bytes.
 */
#ifndef PROCMON_DECODE_H
#define PROCMON_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/yaml_schema.h" /* struct pm_strlist */

/*
 * pm_join_args: argv as the kernel sent it (NUL-separated, maybe cut) to
 * argv[1..] joined by single spaces. Returns a malloc'd buffer and its
 * length in *out_len, NULL on allocation failure.
 * pm_build_path: components leaf first, NUL-terminated, into the string
 * d_path would print (see PM_EXEC_PATH_* flags). Malloc'd, NULL on OOM.
 */
char *pm_join_args(const char *argv, size_t len, size_t *out_len);
/* len without the trailing empty arguments of argv as /proc/PID/cmdline
 * gives it: a process that zeroed its argv area reads back as argv[0]
 * followed by empty arguments, which say nothing. */
size_t pm_trim_empty_args(const char *argv, size_t len);
/* Whether an exe link as /proc prints it names a pseudo file (a memfd,
 * "/memfd:x (deleted)"): one component, no directory. */
bool pm_exe_is_pseudo(const char *exe);
/* argv[0] of the same (the program's name for itself, raw bytes), or NULL
 * on no memory; "" when argv is empty. */
char *pm_argv0(const char *argv, size_t len, size_t *out_len);
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
	uint32_t exec_flags;  /* the record's PM_EXEC_*: how it was reached */
	uint32_t uid, euid, gid, egid; /* after the exec */
};
unsigned pm_secureexec_flags(const struct pm_secureexec_facts *f);
/*
 * Whether an executed inode with nlink links, reached as exec_flags
 * (PM_EXEC_*) say, is fileless: anonymous (memfd) or run from an fd after
 * its last link was gone. An on-disk file that lost its link while the
 * exec ran (deleted, renamed over) is not: pm_image.binary_deleted.
 */
bool pm_exec_fileless(uint32_t nlink, uint32_t exec_flags);

#endif
