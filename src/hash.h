/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Binary hashes (contract 5.3): SHA-256 of exactly the executed inode,
 * computed off the event path by a worker thread and cached by device,
 * inode, size, mtime and ctime. An entry is shared by every process that
 * ran that content; it is DONE with a digest, FAILED, or still PENDING.
 */
#ifndef PROCMON_HASH_H
#define PROCMON_HASH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum pm_hash_state {
	PM_HASH_PENDING = 0,
	PM_HASH_DONE = 1,
	PM_HASH_FAILED = 2,
};

/* The identity of a file's content as the kernel saw it at exec. */
struct pm_file_id {
	uint64_t dev; /* user-space st_dev encoding */
	uint64_t ino;
	int64_t size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
};

struct pm_hash_entry {
	struct pm_file_id id;
	int state; /* enum pm_hash_state; read with pm_hash_state() */
	char hex[sizeof("sha256:") + 64];
	struct pm_hash_entry *next; /* cache chain */
	struct pm_hash_entry *job_next;
	int fd; /* open file while queued for the worker */
};

struct pm_hasher;

struct pm_hasher *pm_hasher_new(void);
void pm_hasher_free(struct pm_hasher *h);

/*
 * The entry for the executed file `id`, starting the hash when it is new.
 * The content is read through /proc/PID/exe when it still is that inode
 * (works for deleted and memfd files), else through `path`; either is
 * used only when its fstat matches id exactly, so the digest is never that
 * of other content. Returns NULL when neither matches (nothing to hash).
 */
struct pm_hash_entry *pm_hasher_lookup(struct pm_hasher *h, const struct pm_file_id *id,
				       uint32_t pid, const char *path);

int pm_hash_state(const struct pm_hash_entry *e);

/* Stats for the periodic report. */
uint64_t pm_hasher_hashed(const struct pm_hasher *h);

/* Pure: fill id from a struct stat. */
struct stat;
void pm_file_id_from_stat(struct pm_file_id *id, const struct stat *st);
bool pm_file_id_equal(const struct pm_file_id *a, const struct pm_file_id *b);

#endif /* PROCMON_HASH_H */
