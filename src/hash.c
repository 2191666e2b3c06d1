// SPDX-License-Identifier: GPL-2.0
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define PM_HASH_BUCKETS 4096 /* power of two */
#define PM_HASH_READ_CHUNK (256 * 1024)

struct pm_hasher {
	struct pm_hash_entry *buckets[PM_HASH_BUCKETS];
	struct pm_hash_entry *oldest, *newest; /* age list, for eviction */
	size_t count, max_entries;
	/* job queue, shared with the worker */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pm_hash_entry *head, *tail;
	bool stop;
	pthread_t worker;
};

void pm_file_id_from_stat(struct pm_file_id *id, const struct stat *st)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_sec = st->st_mtim.tv_sec;
	id->mtime_nsec = st->st_mtim.tv_nsec;
	id->ctime_sec = st->st_ctim.tv_sec;
	id->ctime_nsec = st->st_ctim.tv_nsec;
}

bool pm_file_id_equal(const struct pm_file_id *a, const struct pm_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
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

void pm_hash_put(struct pm_hash_entry *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(e);
}

/* SHA-256 of everything fd holds, as "sha256:<hex>". 0 or -errno. */
static int sha256_fd(int fd, char out[sizeof("sha256:") + 64])
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

static void hash_job(struct pm_hash_entry *e)
{
	struct pm_file_id after;
	struct stat st;
	int state = PM_HASH_FAILED;

	if (sha256_fd(e->fd, e->hex) == 0 && fstat(e->fd, &st) == 0) {
		/* changed while we read it: the digest may mix two contents */
		pm_file_id_from_stat(&after, &st);
		if (pm_file_id_equal(&after, &e->id))
			state = PM_HASH_DONE;
	}
	close(e->fd);
	e->fd = -1;
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
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
		pthread_mutex_unlock(&h->lock);
		hash_job(e);
		pm_hash_put(e); /* the job's reference */
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct pm_hasher *pm_hasher_new(size_t max_entries)
{
	struct pm_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->max_entries = max_entries ? max_entries : 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_create(&h->worker, NULL, worker_main, h)) {
		free(h);
		return NULL;
	}
	return h;
}

void pm_hasher_free(struct pm_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->worker, NULL);
	for (struct pm_hash_entry *e = h->head, *next; e; e = next) {
		next = e->job_next;
		close(e->fd);
		e->fd = -1;
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

/* Open `path` and keep it only if it is exactly the executed content. */
static int open_if_same(const char *path, const struct pm_file_id *id)
{
	struct pm_file_id got;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		pm_file_id_from_stat(&got, &st);
		if (pm_file_id_equal(&got, id))
			return fd;
		pm_log_debug("%s: not the executed file (dev %llx/%llx ino %llu/%llu size %lld/%lld "
			     "mtime %lld.%u/%lld.%u ctime %lld.%u/%lld.%u)",
			     path, (unsigned long long)got.dev, (unsigned long long)id->dev,
			     (unsigned long long)got.ino, (unsigned long long)id->ino,
			     (long long)got.size, (long long)id->size, (long long)got.mtime_sec,
			     got.mtime_nsec, (long long)id->mtime_sec, id->mtime_nsec,
			     (long long)got.ctime_sec, got.ctime_nsec, (long long)id->ctime_sec,
			     id->ctime_nsec);
	}
	close(fd);
	return -1;
}

static size_t bucket_of(const struct pm_file_id *id)
{
	return (id->ino * 0x9e3779b97f4a7c15ull ^ id->dev) & (PM_HASH_BUCKETS - 1);
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
				       uint32_t pid, const char *path)
{
	struct pm_hash_entry *e;
	char exe[32];
	int fd;

	for (e = h->buckets[bucket_of(id)]; e; e = e->next)
		if (pm_file_id_equal(&e->id, id))
			return hash_get(e);

	/* /proc/PID/exe reaches the inode itself, deleted or memfd included,
	 * while the process lives; the path is the fallback once it is gone */
	snprintf(exe, sizeof(exe), "/proc/%u/exe", pid);
	fd = open_if_same(exe, id);
	if (fd < 0 && path && path[0] == '/')
		fd = open_if_same(path, id);
	if (fd < 0)
		return NULL;

	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		return NULL;
	}
	e->id = *id;
	e->fd = fd;
	e->refs = 3; /* the cache, the job, the caller */
	cache_insert(h, e);

	pthread_mutex_lock(&h->lock);
	if (h->tail)
		h->tail->job_next = e;
	else
		h->head = e;
	h->tail = e;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return e;
}
