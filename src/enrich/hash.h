/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Binary hashes (contract 5.3): SHA-256 of exactly the executed inode,
 * computed off the event path by a worker thread and cached by device,
 * inode, size, mtime and ctime. An entry is shared by every process that
 * ran that content; it is DONE with a digest, FAILED, or still PENDING.
 *
 * Entries are reference-counted: the cache, a queued job and each process
 * image hold one. The cache keeps at most max_entries (PM_HASH_CACHE_MAX in
 * the daemon) and
 * forgets the oldest first, so executing endless distinct files cannot
 * grow procmon without bound; a forgotten entry lives on while an image
 * still uses it.
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

/*
 * The identity of a file's content as the kernel saw it at exec. The mount
 * id, not st_dev, names the filesystem: on btrfs st_dev is a per-subvolume
 * number the BPF side cannot see, while both sides agree on the mount.
 */
struct pm_file_id {
	uint64_t mnt_id;
	uint64_t ino;
	int64_t size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
};

#define PM_HASH_CACHE_MAX 8192
/* Files waiting for the worker; beyond that a new file gets no hash (not
 * cached, so a later exec tries again), counted in pm_hasher_skipped(). */
#define PM_HASH_QUEUE_MAX 4096
/* Larger files are not hashed: one would keep the worker busy for
 * seconds while every other new binary waits (about 1 s per GiB here). */
#define PM_HASH_MAX_BYTES (512ll << 20)
/* Pins kept after a failed hash, for an identity the process's unlink or
 * exit may still report; each holds a file that may have no link. */
#define PM_HASH_KEPT_PINS 32

struct pm_hash_entry {
	struct pm_file_id id;
	int state; /* enum pm_hash_state; read with pm_hash_state() */
	unsigned refs; /* atomic: the worker drops the job's reference */
	char hex[sizeof("sha256:") + 64];
	struct pm_hash_entry *next;     /* cache chain */
	struct pm_hash_entry *age_next; /* cache insertion order, oldest first */
	struct pm_hash_entry *job_next;
	/*
	 * The same content after its running process unlinked it: the unlink
	 * changed only the ctime (to this one), which the kernel reported at
	 * the call. Set under the hasher's lock; alt_gen counts the changes.
	 */
	int64_t alt_ctime_sec;
	uint32_t alt_ctime_nsec;
	unsigned alt_gen;
	int fd;       /* the file, opened early by the caller (owned), or -1 */
	/* fd's identity when it was pinned, proven to be the executed
	 * content (pm_hasher_lookup_exec): accepted beside id */
	struct pm_file_id fd_id;
	bool fd_has_id;
	bool fd_kept; /* fd is a pin kept after a failure (PM_HASH_KEPT_PINS) */
	uint32_t pid; /* for /proc/PID/exe, tried first */
	char *path;   /* the fallback, or NULL */
};

struct pm_hasher;

struct pm_hasher *pm_hasher_new(size_t max_entries);
void pm_hasher_free(struct pm_hasher *h);

/*
 * A new reference to the entry for the executed file `id`, starting the
 * hash when it is new; release it with pm_hash_put().
 * The worker reads the content through /proc/PID/exe when it still is
 * that inode (works for deleted and memfd files), else through `path`.
 * Either is first opened O_PATH, which opens no device, FIFO or other
 * special file, and read only when its statx matches id exactly, so the
 * digest is never that of other content (the entry is then FAILED).
 * `pin`, when not -1, is an O_PATH fd of the file opened early (from
 * pm_hasher_pin_exe()); it is tried first, checked the same way, and
 * always taken over (closed when done or not needed).
 * Returns NULL, counted as skipped, when the file is too large or the
 * queue is full.
 */
struct pm_hash_entry *pm_hasher_lookup(struct pm_hasher *h, const struct pm_file_id *id,
				       uint32_t pid, const char *path, int pin);

/*
 * The same for an exec whose `pin` was opened while the process still ran
 * that very exec, `pin_id` (or NULL) being the pinned inode's identity
 * then (src/collect/pin.h has how that is proven). Nobody can write a
 * file being run, so pin_id is the executed content's identity as much as
 * `id` is, even when its ctime moved in between (renamed over, deleted):
 * the pin is hashed when it matches either, exactly, before and after
 * reading. `hex`, when not NULL, is the content's digest already (the pin
 * thread hashed a small file at once): the entry is made DONE with it.
 */
struct pm_hash_entry *pm_hasher_lookup_exec(struct pm_hasher *h, const struct pm_file_id *id,
					    uint32_t pid, const char *path, int pin,
					    const struct pm_file_id *pin_id, const char *hex);
/*
 * SHA-256 of the file pinned at `pin` when its identity is `id`, the same
 * before and after reading: 0, or -errno (-ESTALE: not that file or it
 * changed). `hex` of pm_hasher_lookup_exec(), from the pin thread.
 */
int pm_hash_pinned(int pin, const struct pm_file_id *id, char out[sizeof("sha256:") + 64]);

/* /proc/PID/exe opened O_PATH (one open: no statx, no driver open, so it
 * cannot block on a hung mount), or -1: holds the inode for the hasher. */
int pm_hasher_pin_exe(uint32_t pid);
/* The same for /proc/PID/<what> ("fd/3", "map_files/START-END"): a link
 * to a file the process holds. */
int pm_hasher_pin(uint32_t pid, const char *what);

/*
 * The running executable of `pid`, hashed as `e` (its id from the exec),
 * was unlinked by the process itself: the kernel reports the inode as it
 * is after the call, `now`. While a process runs a file nobody can write
 * it (ETXTBSY), so when only the ctime differs from e's id the content
 * is still the executed one, and `now` is accepted as a second identity
 * of it; a failed hash is tried again. Anything else differing: nothing.
 * `pin` (an O_PATH fd of /proc/PID/exe, or -1) is taken over.
 * Returns true when `now` was accepted.
 */
bool pm_hasher_accept_unlinked(struct pm_hasher *h, struct pm_hash_entry *e,
			       const struct pm_file_id *now, int pin);

/* The process of e's exec is gone, and with it any identity still to
 * come: close the pin a failed hash kept, if any. */
void pm_hasher_release_pin(struct pm_hasher *h, struct pm_hash_entry *e);

int pm_hash_state(const struct pm_hash_entry *e);
void pm_hash_put(struct pm_hash_entry *e);

/* Entries in the cache now (at most max_entries). */
size_t pm_hasher_cached(const struct pm_hasher *h);
/* Files not hashed because too large, the queue was full, or no memory. */
uint64_t pm_hasher_skipped(const struct pm_hasher *h);

/* For the metrics page (main thread; the worker's counts read relaxed). */
struct pm_hash_stats {
	uint64_t cached;        /* entries in the cache */
	uint64_t hits, misses;  /* lookups that found an entry, that started one */
	uint64_t skipped;       /* as pm_hasher_skipped() */
	uint64_t hashed, failed; /* jobs the worker finished, with a digest or not */
	uint64_t hash_ns;       /* the worker's time on them */
};
void pm_hasher_stats(const struct pm_hasher *h, struct pm_hash_stats *st);

/* The identity of the regular file open at fd (O_PATH is enough): 0,
 * -EINVAL when it is not a regular file, or -errno. */
int pm_file_id_of_fd(int fd, struct pm_file_id *id);
bool pm_file_id_equal(const struct pm_file_id *a, const struct pm_file_id *b);

#endif /* PROCMON_HASH_H */
