// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* statx, O_PATH */
#include "enrich/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PM_HASH_BUCKETS 4096 /* power of two */
#define PM_HASH_READ_CHUNK (256 * 1024)

struct pm_hasher {
	struct pm_hash_entry *buckets[PM_HASH_BUCKETS];
	struct pm_hash_entry *oldest, *newest; /* age list, for eviction */
	size_t count, max_entries;
	uint64_t skipped; /* files not hashed: too large, queue full, no memory */
	uint64_t hits, misses; /* lookups that found an entry, that made one */
	/* the worker's, read by the main loop with relaxed atomics */
	uint64_t hashed, failed, hash_ns;
	/* job queue, shared with the worker */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pm_hash_entry *head, *tail;
	size_t queued;
	bool stop; /* also read, unlocked, between chunks of a long file */
	pthread_t worker;
};

int pm_file_id_of_fd(int fd, struct pm_file_id *id)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &stx))
		return -errno;
	if (!S_ISREG(stx.stx_mode) || !(stx.stx_mask & STATX_MNT_ID))
		return -EINVAL;
	memset(id, 0, sizeof(*id));
	id->mnt_id = stx.stx_mnt_id;
	id->ino = stx.stx_ino;
	id->size = stx.stx_size;
	id->mtime_sec = stx.stx_mtime.tv_sec;
	id->mtime_nsec = stx.stx_mtime.tv_nsec;
	id->ctime_sec = stx.stx_ctime.tv_sec;
	id->ctime_nsec = stx.stx_ctime.tv_nsec;
	return 0;
}

bool pm_file_id_equal(const struct pm_file_id *a, const struct pm_file_id *b)
{
	return a->mnt_id == b->mnt_id && a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

int pm_hash_state(const struct pm_hash_entry *e)
{
	return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
}

static struct pm_hash_entry *hash_get(struct pm_hash_entry *e)
{
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

/* Pins kept now (hash_job), of every hasher: the bound is on fds */
static unsigned kept_pins;

/* e->fd, no longer a kept pin; -1 when none. Under the hasher's lock, or
 * when e has no other user. */
static int take_pin(struct pm_hash_entry *e)
{
	int fd = e->fd;

	if (e->fd_kept)
		__atomic_fetch_sub(&kept_pins, 1, __ATOMIC_RELAXED);
	e->fd = -1;
	e->fd_kept = false;
	return fd;
}

void pm_hash_put(struct pm_hash_entry *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		int fd = take_pin(e);

		if (fd >= 0)
			close(fd);
		free(e->path);
		free(e);
	}
}

/* SHA-256 of everything fd holds, as "sha256:<hex>". 0, -errno, or
 * -ECANCELED when procmon is stopping. */
static int sha256_fd(const bool *stop, int fd, char out[sizeof("sha256:") + 64]);
static int reopen_if_same(int fd, const char *what, const struct pm_file_id *id,
			  const struct pm_file_id *alt);

int pm_hash_pinned(int pin, const struct pm_file_id *id, char out[sizeof("sha256:") + 64])
{
	static const bool never = false;
	struct pm_file_id after;
	int fd = reopen_if_same(pin, "pinned exe", id, NULL), err;

	if (fd < 0)
		return -ESTALE;
	err = sha256_fd(&never, fd, out);
	if (!err && (pm_file_id_of_fd(fd, &after) || !pm_file_id_equal(&after, id)))
		err = -ESTALE; /* changed while read */
	close(fd);
	return err;
}

static int sha256_fd(const bool *stop, int fd, char out[sizeof("sha256:") + 64])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *buf = malloc(PM_HASH_READ_CHUNK);
	off_t off = 0;
	int err = 0;

	if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		/* pread: the fd may be shared with nobody, but do not depend on
		 * its file position (a /proc/PID/exe open starts at 0 anyway) */
		ssize_t n = pread(fd, buf, PM_HASH_READ_CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (__atomic_load_n(stop, __ATOMIC_RELAXED)) {
			err = -ECANCELED;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, n);
		off += n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
		err = -EIO;
		goto out;
	}
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < mdlen; i++) {
		out[7 + 2 * i] = hexd[md[i] >> 4];
		out[8 + 2 * i] = hexd[md[i] & 15];
	}
	out[7 + 64] = '\0';
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return err;
}

static int open_if_same(const char *path, const struct pm_file_id *id,
			const struct pm_file_id *alt);
static int reopen_if_same(int fd, const char *what, const struct pm_file_id *id,
			  const struct pm_file_id *alt);
/*
 * In the worker, never on the event path: opening and statx of a file on a
 * FUSE or dead NFS mount may never return, and that must not stop events.
 */
/* Is `got` e's content: its id, or the id its unlink left (`alt`)? */
static bool same_content(const struct pm_file_id *got, const struct pm_file_id *id,
			 const struct pm_file_id *alt)
{
	return pm_file_id_equal(got, id) || (alt && pm_file_id_equal(got, alt));
}

/* a and b are one inode with one content, seen at two ctimes. */
static bool ctime_only_differs(const struct pm_file_id *a, const struct pm_file_id *b)
{
	struct pm_file_id same_but_ctime = *a;

	same_but_ctime.ctime_sec = b->ctime_sec;
	same_but_ctime.ctime_nsec = b->ctime_nsec;
	return pm_file_id_equal(&same_but_ctime, b);
}

/* Append e to the worker's queue and wake it. Under h->lock. */
static void enqueue_job(struct pm_hasher *h, struct pm_hash_entry *e)
{
	e->job_next = NULL;
	if (h->tail)
		h->tail->job_next = e;
	else
		h->head = e;
	h->tail = e;
	h->queued++;
	pthread_cond_signal(&h->cond);
}

static void hash_job(struct pm_hasher *h, struct pm_hash_entry *e)
{
	struct pm_file_id after, alt_id = e->id, *alt = NULL, pin_id;
	bool pin_has_id;
	int state = PM_HASH_FAILED;
	struct timespec t0, t1;
	unsigned gen;
	char exe[32];
	int fd, pin;

	/* the file pinned at once (memfd, deleted, renamed over: nothing else
	 * reaches it once the process is gone); else /proc/PID/exe, which
	 * reaches the inode itself while the process lives; the path is the
	 * fallback once it is gone. Taken under the lock:
	 * pm_hasher_accept_unlinked() may hand one in. */
	pthread_mutex_lock(&h->lock);
	pin = take_pin(e);
	pin_has_id = e->fd_has_id;
	pin_id = e->fd_id;
	e->fd_has_id = false;
	pthread_mutex_unlock(&h->lock);
again:
	pthread_mutex_lock(&h->lock);
	gen = e->alt_gen;
	if (gen) {
		alt_id.ctime_sec = e->alt_ctime_sec;
		alt_id.ctime_nsec = e->alt_ctime_nsec;
		alt = &alt_id;
	}
	if (pin < 0 && e->fd >= 0) /* handed in since */
		pin = take_pin(e);
	pthread_mutex_unlock(&h->lock);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the pin's own proven identity stands in for an unlink's */
	fd = pin >= 0 ? reopen_if_same(pin, "pinned exe", &e->id,
				       alt ? alt : pin_has_id ? &pin_id : NULL)
		      : -1;
	if (fd >= 0 && !alt && pin_has_id)
		alt = &pin_id;
	snprintf(exe, sizeof(exe), "/proc/%u/exe", e->pid);
	if (fd < 0)
		fd = open_if_same(exe, &e->id, alt);
	if (fd < 0 && e->path)
		fd = open_if_same(e->path, &e->id, alt);
	/* changed while we read it: the digest may mix two contents */
	if (fd >= 0 && sha256_fd(&h->stop, fd, e->hex) == 0 && pm_file_id_of_fd(fd, &after) == 0 &&
	    same_content(&after, &e->id, alt))
		state = PM_HASH_DONE;
	if (fd >= 0)
		close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	__atomic_fetch_add(&h->hash_ns,
			   (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec)),
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(state == PM_HASH_DONE ? &h->hashed : &h->failed, 1, __ATOMIC_RELAXED);
	if (state != PM_HASH_DONE)
		pm_log_debug("pid %u: hash failed (pin %d with its identity %d)", e->pid, pin,
			     pin_has_id);
	pthread_mutex_lock(&h->lock);
	/* the unlink's identity came while this ran: once more with it */
	if (state != PM_HASH_DONE && e->alt_gen != gen) {
		pthread_mutex_unlock(&h->lock);
		goto again;
	}
	/*
	 * Failed with a pin: keep it (a few at a time) for the identity the
	 * process's exit or unlink may still report (the file renamed over
	 * while it ran), when nothing else reaches the file any more.
	 */
	if (state != PM_HASH_DONE && pin >= 0 && e->fd < 0 &&
	    __atomic_add_fetch(&kept_pins, 1, __ATOMIC_RELAXED) <= PM_HASH_KEPT_PINS) {
		e->fd = pin;
		e->fd_kept = true;
		pin = -1;
	} else if (state != PM_HASH_DONE && pin >= 0 && e->fd < 0) {
		__atomic_fetch_sub(&kept_pins, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&h->lock);
	if (pin >= 0)
		close(pin);
}

void pm_hasher_release_pin(struct pm_hasher *h, struct pm_hash_entry *e)
{
	int fd = -1;

	pthread_mutex_lock(&h->lock);
	if (e->fd_kept && pm_hash_state(e) == PM_HASH_FAILED)
		fd = take_pin(e);
	pthread_mutex_unlock(&h->lock);
	if (fd >= 0)
		close(fd);
}

bool pm_hasher_accept_unlinked(struct pm_hasher *h, struct pm_hash_entry *e,
			       const struct pm_file_id *now, int pin)
{
	bool requeue;

	if (pm_hash_state(e) == PM_HASH_DONE || pm_file_id_equal(now, &e->id) ||
	    !ctime_only_differs(now, &e->id)) {
		if (pin >= 0)
			close(pin);
		return false;
	}
	pthread_mutex_lock(&h->lock);
	e->alt_ctime_sec = now->ctime_sec;
	e->alt_ctime_nsec = now->ctime_nsec;
	e->alt_gen++;
	/* failed before the unlink's identity was known: hash it again */
	requeue = pm_hash_state(e) == PM_HASH_FAILED && !h->stop;
	if (requeue) {
		/* a new pin, or the one the failure kept */
		if (pin >= 0) {
			int old = take_pin(e);

			if (old >= 0)
				close(old);
			e->fd = pin;
			e->fd_has_id = false;
			pin = -1;
		}
		__atomic_store_n(&e->state, PM_HASH_PENDING, __ATOMIC_RELEASE);
		hash_get(e);
		enqueue_job(h, e);
	} else if (e->fd < 0) {
		e->fd = pin; /* pending: the worker takes it if it has not started */
		e->fd_has_id = false;
		pin = -1;
	}
	pthread_mutex_unlock(&h->lock);
	if (pin >= 0)
		close(pin);
	return true;
}

static void *worker_main(void *arg)
{
	struct pm_hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct pm_hash_entry *e;

		while (!h->head && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->stop)
			break;
		e = h->head;
		h->head = e->job_next;
		if (!h->head)
			h->tail = NULL;
		h->queued--;
		pthread_mutex_unlock(&h->lock);
		hash_job(h, e);
		pm_hash_put(e); /* the job's reference */
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct pm_hasher *pm_hasher_new(size_t max_entries)
{
	struct pm_hasher *h = calloc(1, sizeof(*h));
	sigset_t all, old;
	int err;

	if (!h)
		return NULL;
	h->max_entries = max_entries ? max_entries : 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	sigfillset(&all); /* signals are the main loop's */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&h->worker, NULL, worker_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(h);
		return NULL;
	}
	pthread_setname_np(h->worker, "pm-hash");
	return h;
}

void pm_hasher_free(struct pm_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->worker, NULL);
	for (struct pm_hash_entry *e = h->head, *next; e; e = next) {
		next = e->job_next;
		__atomic_store_n(&e->state, PM_HASH_FAILED, __ATOMIC_RELEASE);
		pm_hash_put(e);
	}
	for (struct pm_hash_entry *e = h->oldest, *next; e; e = next) {
		next = e->age_next;
		pm_hash_put(e);
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}

size_t pm_hasher_cached(const struct pm_hasher *h)
{
	return h->count;
}

uint64_t pm_hasher_skipped(const struct pm_hasher *h)
{
	return h ? h->skipped : 0;
}

/*
 * Open `path` for reading only if it is exactly the executed content. The
 * first open is O_PATH: it runs no driver open and cannot block, so a
 * path swapped for a FIFO, a device or a symlink to one is harmless; only
 * a regular file with the right identity is then reopened to be read.
 */
static int open_if_same(const char *path, const struct pm_file_id *id,
			const struct pm_file_id *alt)
{
	int fd = open(path, O_PATH | O_CLOEXEC), rfd;

	if (fd < 0)
		return -1;
	rfd = reopen_if_same(fd, path, id, alt);
	close(fd);
	return rfd;
}

/* An O_PATH fd reopened for reading if it is exactly `id`, else -1. */
static int reopen_if_same(int fd, const char *what, const struct pm_file_id *id,
			  const struct pm_file_id *alt)
{
	struct pm_file_id got = { 0 };
	char self[32];

	if (pm_file_id_of_fd(fd, &got) == 0 && same_content(&got, id, alt)) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		return open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	if (pm_log_verbose)
		pm_log_debug("%s: not the executed file: mnt %llu/%llu ino %llu/%llu size %lld/%lld "
			     "mtime %lld.%u/%lld.%u ctime %lld.%u/%lld.%u",
			     what, (unsigned long long)got.mnt_id, (unsigned long long)id->mnt_id,
			     (unsigned long long)got.ino, (unsigned long long)id->ino,
			     (long long)got.size, (long long)id->size, (long long)got.mtime_sec,
			     got.mtime_nsec, (long long)id->mtime_sec, id->mtime_nsec,
			     (long long)got.ctime_sec, got.ctime_nsec, (long long)id->ctime_sec,
			     id->ctime_nsec);
	return -1;
}

int pm_hasher_pin(uint32_t pid, const char *what)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%u/%s", pid, what);
	return open(path, O_PATH | O_CLOEXEC);
}

int pm_hasher_pin_exe(uint32_t pid)
{
	return pm_hasher_pin(pid, "exe");
}

static size_t bucket_of(const struct pm_file_id *id)
{
	return (id->ino * 0x9e3779b97f4a7c15ull ^ id->mnt_id) & (PM_HASH_BUCKETS - 1);
}

/* Forget the oldest entry: out of its chain and the age list. */
static void evict_oldest(struct pm_hasher *h)
{
	struct pm_hash_entry *e = h->oldest, **pp = &h->buckets[bucket_of(&e->id)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	h->oldest = e->age_next;
	if (!h->oldest)
		h->newest = NULL;
	h->count--;
	pm_hash_put(e);
}

static void cache_insert(struct pm_hasher *h, struct pm_hash_entry *e)
{
	size_t k = bucket_of(&e->id);

	if (h->count >= h->max_entries)
		evict_oldest(h);
	e->next = h->buckets[k];
	h->buckets[k] = e;
	if (h->newest)
		h->newest->age_next = e;
	else
		h->oldest = e;
	h->newest = e;
	h->count++;
}

struct pm_hash_entry *pm_hasher_lookup(struct pm_hasher *h, const struct pm_file_id *id,
				       uint32_t pid, const char *path, int pin)
{
	return pm_hasher_lookup_exec(h, id, pid, path, pin, NULL, NULL);
}

struct pm_hash_entry *pm_hasher_lookup_exec(struct pm_hasher *h, const struct pm_file_id *id,
					    uint32_t pid, const char *path, int pin,
					    const struct pm_file_id *pin_id, const char *hex)
{
	struct pm_hash_entry *e;
	bool full;

	/* a failed entry is not an answer: the failure may have been passing */
	for (e = h->buckets[bucket_of(id)]; e; e = e->next)
		if (pm_file_id_equal(&e->id, id) && pm_hash_state(e) != PM_HASH_FAILED) {
			if (pin >= 0)
				close(pin);
			h->hits++;
			return hash_get(e);
		}
	h->misses++;
	if (id->size > PM_HASH_MAX_BYTES) {
		h->skipped++;
		goto fail;
	}
	e = calloc(1, sizeof(*e));
	if (!e || (path && path[0] == '/' && !(e->path = strdup(path)))) {
		free(e);
		h->skipped++;
		goto fail;
	}
	e->id = *id;
	e->pid = pid;
	e->fd = pin;
	e->fd_has_id = pin >= 0 && pin_id;
	if (e->fd_has_id)
		e->fd_id = *pin_id;
	if (hex) { /* hashed already, by the pin thread: nothing to do */
		if (pin >= 0)
			close(pin);
		e->fd = -1;
		e->fd_has_id = false;
		snprintf(e->hex, sizeof(e->hex), "%s", hex);
		e->state = PM_HASH_DONE;
		__atomic_fetch_add(&h->hashed, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&h->lock);
		e->refs = 2; /* the cache, the caller */
		cache_insert(h, e);
		pthread_mutex_unlock(&h->lock);
		return e;
	}

	pthread_mutex_lock(&h->lock);
	full = h->queued >= PM_HASH_QUEUE_MAX;
	if (full) {
		pthread_mutex_unlock(&h->lock);
		free(e->path);
		free(e);
		h->skipped++;
		goto fail;
	}
	e->refs = 3; /* the cache, the job, the caller */
	cache_insert(h, e);
	enqueue_job(h, e);
	pthread_mutex_unlock(&h->lock);
	return e;
fail:
	if (pin >= 0)
		close(pin);
	return NULL;
}

void pm_hasher_stats(const struct pm_hasher *h, struct pm_hash_stats *st)
{
	st->cached = h->count;
	st->hits = h->hits;
	st->misses = h->misses;
	st->skipped = h->skipped;
	st->hashed = __atomic_load_n(&h->hashed, __ATOMIC_RELAXED);
	st->failed = __atomic_load_n(&h->failed, __ATOMIC_RELAXED);
	st->hash_ns = __atomic_load_n(&h->hash_ns, __ATOMIC_RELAXED);
}
