// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet output's write-ahead spool: see spool.h for the format and the
 * thread model.
 */
#define _GNU_SOURCE
#include "output/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "base/safe_file.h"

#define SEG_MIN (64u << 10)
#define SEG_MAX (16u << 20)
#define READ_CHUNK (256u << 10)
#define CURSOR_FILE "cursor"
#define CURSOR_TMP "cursor.tmp"

struct seg {
	uint64_t first; /* number of its first record (its name) */
	uint64_t end;   /* one past its last record's number */
	uint64_t bytes; /* committed bytes */
};

struct pm_spool {
	pthread_mutex_t mu;
	char *dir;
	int dirfd;
	uint64_t max_bytes, seg_max;

	/* shared, under mu */
	struct seg *segs;
	size_t nseg, capseg;
	uint64_t total;      /* bytes in segment files */
	uint64_t cursor;     /* first record not acknowledged */
	uint64_t committed;  /* one past the last committed record */
	uint64_t sync_mark;  /* committed at the previous pm_spool_sync */
	bool active_listed;  /* the last seg is the one wfd appends to */
	int *retired;        /* written segment fds to sync and close */
	size_t nretired, capretired;
	struct pm_spool_stats st;
	struct pm_log_limit drops_log; /* one line every few seconds while dropping */

	/* writer */
	int wfd;
	uint64_t next_rn;
	char *batch;
	size_t blen, bcap;
	uint64_t bfirst, brecs;

	/* reader */
	int rfd;
	uint64_t rseg;   /* first rn of the segment rfd reads; 0: none */
	uint64_t roff;   /* offset of the next record in it */
	uint64_t rnext;  /* the next record number wanted */
	char *rbuf;
	size_t rcap;
	uint64_t rbuf_off, rbuf_len;
	uint64_t cursor_saved;
	uint64_t lost_upto; /* live damage counted up to here */
};

/* ---- little-endian framing ---- */

static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static void put64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint32_t get32(const char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | (uint8_t)p[i];
	return v;
}

static uint64_t get64(const char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | (uint8_t)p[i];
	return v;
}

/* The header's size for a record's magic, or 0 for none of ours. */
static size_t hdr_size(uint32_t magic)
{
	return magic == PM_SPOOL_MAGIC ? PM_SPOOL_HDR : magic == PM_SPOOL_MAGIC_V1 ? PM_SPOOL_HDR_V1 : 0;
}

/* How many numbers a record takes: its count (a v1 record holds one). */
static uint32_t record_count(const char *hdr)
{
	return get32(hdr) == PM_SPOOL_MAGIC ? get32(hdr + 20) : 1;
}

static uint32_t record_crc(const char *hdr, const char *payload, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, (const Bytef *)hdr + 4, 12); /* length and number */
	if (get32(hdr) == PM_SPOOL_MAGIC)
		c = crc32(c, (const Bytef *)hdr + 20, 4); /* count */
	c = crc32(c, (const Bytef *)payload, (uInt)len);
	return (uint32_t)c;
}

/* A whole record at p (avail bytes there) whose magic, length, number and
 * count agree: its total size (*rn its number, *count how many), or 0. */
static size_t framed_record(const char *p, size_t avail, uint64_t min_rn, uint64_t *rn,
			    uint32_t *count)
{
	size_t hdr = avail >= PM_SPOOL_HDR_V1 ? hdr_size(get32(p)) : 0;
	uint32_t len;

	if (!hdr || avail < hdr)
		return 0;
	len = get32(p + 4);
	if (len > PM_SPOOL_RECORD_MAX || avail - hdr < len)
		return 0;
	*rn = get64(p + 8);
	*count = record_count(p);
	if (*rn < min_rn || *rn == 0 || !*count || *count > PM_SPOOL_COUNT_MAX)
		return 0;
	return hdr + len;
}

/* The same, and intact: its CRC agrees too. */
static size_t valid_record(const char *p, size_t avail, uint64_t min_rn, uint64_t *rn,
			   uint32_t *count)
{
	size_t n = framed_record(p, avail, min_rn, rn, count);
	size_t hdr = n ? hdr_size(get32(p)) : 0;

	if (!n || record_crc(p, p + hdr, n - hdr) != get32(p + 16))
		return 0;
	return n;
}

static void seg_name(char out[32], uint64_t first)
{
	snprintf(out, 32, "%016" PRIx64 ".seg", first);
}

/* ---- small helpers ---- */

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 8;
	void *nv;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	nv = realloc(*v, n * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = n;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		n -= w;
	}
	return 0;
}

/* mkdir -p, missing components 0700. */
static int make_dirs(const char *dir, char *why, size_t whylen)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p)) {
		snprintf(why, whylen, "'%s': not a usable directory path", dir);
		return -EINVAL;
	}
	memcpy(p, dir, n + 1);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			int err = -errno;

			snprintf(why, whylen, "cannot create %s: %s", p, strerror(-err));
			return err;
		}
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

/* ---- the cursor file ---- */

static uint64_t read_cursor(struct pm_spool *s, bool *bad)
{
	char buf[128] = "";
	unsigned long long rn;
	unsigned crc;
	ssize_t n;
	int fd = openat(s->dirfd, CURSOR_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*bad = false;
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0)
		buf[n] = '\0';
	if (n <= 0 || sscanf(buf, "procmon-spool-cursor %llx %x", &rn, &crc) != 2 ||
	    crc != (uint32_t)crc32(0, (const Bytef *)&rn, sizeof(rn))) {
		*bad = true;
		return 0;
	}
	return rn;
}

/* The cursor, replaced whole (rename); forced to disk with durable. A
 * cursor older than the truth after a power cut only sends acknowledged
 * events again, and the duplicate window drops them. */
static int write_cursor(struct pm_spool *s, uint64_t rn, bool durable)
{
	unsigned long long v = rn;
	char buf[128];
	int fd, n, err = 0;

	n = snprintf(buf, sizeof(buf), "procmon-spool-cursor %016llx %08x\n", v,
		     (unsigned)crc32(0, (const Bytef *)&v, sizeof(v)));
	fd = openat(s->dirfd, CURSOR_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0)
		return -errno;
	if ((err = write_all(fd, buf, n)) == 0 && durable && fdatasync(fd))
		err = -errno;
	close(fd);
	if (!err && renameat(s->dirfd, CURSOR_TMP, s->dirfd, CURSOR_FILE))
		err = -errno;
	return err;
}

/* ---- recovery ---- */

static int read_whole(int fd, char **data, size_t *len)
{
	struct stat st;
	char *buf;
	size_t n = 0;

	if (fstat(fd, &st))
		return -errno;
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		return -ENOMEM;
	while (n < (size_t)st.st_size) {
		ssize_t r = pread(fd, buf + n, st.st_size - n, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	*data = buf;
	*len = n;
	return 0;
}

/* The events a record cut short at p held: its count when its header is
 * there and names the number expected, else at least one. */
static uint32_t torn_records(const char *p, size_t avail, uint64_t exp)
{
	uint32_t c;

	if (avail < PM_SPOOL_HDR || get32(p) != PM_SPOOL_MAGIC || get64(p + 8) != exp)
		return 1;
	c = get32(p + 20);
	return c && c <= PM_SPOOL_COUNT_MAX ? c : 1;
}

/*
 * Check one segment: keep its intact records, count what lies between
 * them. *end is one past its last good record's number (first when none);
 * *expected on entry is the number the previous segment ended at.
 */
static int recover_segment(struct pm_spool *s, uint64_t first, bool last, uint64_t *expected,
			   struct seg *out)
{
	char name[32], tmp[40];
	size_t len = 0, off = 0, good_bytes = 0, nspans = 0, capspans = 0;
	struct { size_t off, len; } *spans = NULL;
	bool damaged = false, torn = false;
	uint64_t exp = *expected > first ? *expected : first, lost = 0, torn_count = 1;
	char *data = NULL;
	struct stat st;
	int fd, err;

	seg_name(name, first);
	fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		pm_log_warn("spool %s: %s is not a regular file: ignored", s->dir, name);
		return -EINVAL;
	}
	err = read_whole(fd, &data, &len);
	if (err) {
		close(fd);
		return err;
	}
	/* an earlier segment torn or missing: the numbers in between are gone */
	if (*expected && first > *expected)
		lost += first - *expected;
	while (off < len) {
		uint64_t rn = 0;
		uint32_t count = 0;
		size_t n = valid_record(data + off, len - off, exp, &rn, &count);

		if (n) {
			if (rn > exp)
				lost += rn - exp;
			exp = rn + count;
			if (grow((void **)&spans, &capspans, nspans + 1, sizeof(*spans))) {
				err = -ENOMEM;
				break;
			}
			if (nspans && spans[nspans - 1].off + spans[nspans - 1].len == off)
				spans[nspans - 1].len += n;
			else
				spans[nspans++] = (typeof(*spans)){ off, n };
			good_bytes += n;
			off += n;
			continue;
		}
		/* damage: look for the next intact record */
		damaged = true;
		torn_count = torn_records(data + off, len - off, exp);
		for (off++; off < len; off++)
			if (data[off] == (char)(PM_SPOOL_MAGIC & 0xff) &&
			    valid_record(data + off, len - off, exp, &rn, &count))
				break;
		if (off >= len)
			torn = true;
	}
	if (!err && torn)
		lost += torn_count; /* the record that was being written */
	if (!err && damaged) {
		pm_log_warn("spool %s: %s is damaged: %zu of %zu bytes intact, %" PRIu64
			    " records lost",
			    s->dir, name, good_bytes, len, lost);
		if (nspans == 1 && spans[0].off == 0) {
			/* only a tail: cut it */
			if (ftruncate(fd, good_bytes))
				err = -errno;
		} else {
			int tfd;

			snprintf(tmp, sizeof(tmp), "%s.tmp", name);
			tfd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
				     0600);
			if (tfd < 0)
				err = -errno;
			for (size_t i = 0; !err && i < nspans; i++)
				err = write_all(tfd, data + spans[i].off, spans[i].len);
			if (!err && fdatasync(tfd))
				err = -errno;
			if (tfd >= 0)
				close(tfd);
			if (!err && renameat(s->dirfd, tmp, s->dirfd, name))
				err = -errno;
			if (err)
				unlinkat(s->dirfd, tmp, 0);
		}
	}
	(void)last;
	close(fd);
	free(data);
	free(spans);
	if (err)
		return err;
	s->st.corrupt_lost += lost;
	out->first = first;
	out->end = nspans ? exp : first;
	out->bytes = good_bytes;
	if (nspans)
		*expected = exp;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int recover(struct pm_spool *s)
{
	uint64_t *firsts = NULL, expected = 0;
	size_t n = 0, cap = 0;
	bool bad_cursor;
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	s->cursor = read_cursor(s, &bad_cursor);
	if (bad_cursor)
		pm_log_warn("spool %s: cursor file unreadable: everything spooled is sent again "
			    "(the stream's duplicate window drops what it already has)",
			    s->dir);
	fd = dup(s->dirfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		unsigned long long v;
		int used = 0;

		if (sscanf(de->d_name, "%16llx.seg%n", &v, &used) == 1 && used == 20 &&
		    !de->d_name[used] && v) {
			if ((err = grow((void **)&firsts, &cap, n + 1, sizeof(*firsts))))
				break;
			firsts[n++] = v;
		} else if (strstr(de->d_name, ".tmp")) {
			unlinkat(s->dirfd, de->d_name, 0); /* an interrupted rewrite */
		}
	}
	closedir(d);
	qsort(firsts, n, sizeof(*firsts), cmp_u64);
	for (size_t i = 0; !err && i < n; i++) {
		struct seg sg;
		char name[32];
		int r = recover_segment(s, firsts[i], i + 1 == n, &expected, &sg);

		seg_name(name, firsts[i]);
		if (r == -ENOMEM) {
			err = r;
			break;
		}
		if (r) {
			pm_log_warn("spool %s: %s: %s: skipped", s->dir, name, strerror(-r));
			continue;
		}
		if (sg.end == sg.first || sg.end <= s->cursor) { /* empty, or all acknowledged */
			unlinkat(s->dirfd, name, 0);
			continue;
		}
		if ((err = grow((void **)&s->segs, &s->capseg, s->nseg + 1, sizeof(*s->segs))))
			break;
		s->segs[s->nseg++] = sg;
		s->total += sg.bytes;
		s->st.recovered += sg.end - (sg.first > s->cursor ? sg.first : s->cursor);
	}
	free(firsts);
	if (err)
		return err;
	s->next_rn = s->nseg ? s->segs[s->nseg - 1].end : 1;
	if (s->cursor > s->next_rn)
		s->next_rn = s->cursor;
	if (!s->next_rn)
		s->next_rn = 1;
	if (!s->cursor || (s->nseg && s->cursor < s->segs[0].first))
		s->cursor = s->nseg ? s->segs[0].first : s->next_rn;
	s->committed = s->next_rn;
	s->cursor_saved = s->cursor;
	/* go on appending to the last segment while it has room */
	if (s->nseg && s->segs[s->nseg - 1].bytes < s->seg_max) {
		char name[32];

		seg_name(name, s->segs[s->nseg - 1].first);
		s->wfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		s->active_listed = s->wfd >= 0;
	}
	return 0;
}

int pm_spool_open(struct pm_spool **sp, const char *dir, uint64_t max_bytes, char *why,
		  size_t whylen)
{
	struct pm_spool *s;
	int err;

	*sp = NULL;
	if (dir[0] != '/') {
		snprintf(why, whylen, "'%s' is not an absolute path", dir);
		return -EINVAL;
	}
	err = make_dirs(dir, why, whylen);
	if (err)
		return err;
	err = pm_safe_check_dir_chain(dir, why, whylen);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s->wfd = s->rfd = s->dirfd = -1;
	s->max_bytes = max_bytes;
	s->seg_max = max_bytes / 8;
	if (s->seg_max < SEG_MIN)
		s->seg_max = SEG_MIN;
	if (s->seg_max > SEG_MAX)
		s->seg_max = SEG_MAX;
	s->dir = strdup(dir);
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (!s->dir || s->dirfd < 0) {
		err = s->dir ? -errno : -ENOMEM;
		snprintf(why, whylen, "cannot open %s: %s", dir, strerror(-err));
		goto fail;
	}
	if (flock(s->dirfd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		snprintf(why, whylen, "%s is in use by another procmon (%s)", dir,
			 strerror(-err));
		goto fail;
	}
	err = recover(s);
	if (err) {
		snprintf(why, whylen, "recovering %s: %s", dir, strerror(-err));
		goto fail;
	}
	s->rnext = s->cursor;
	*sp = s;
	return 0;
fail:
	pm_spool_close(s);
	return err;
}

/* ---- writer ---- */

uint64_t pm_spool_append(struct pm_spool *s, const void *payload, size_t len, uint32_t count)
{
	char *p;
	uint64_t rn = s->next_rn;

	if (!count || count > PM_SPOOL_COUNT_MAX) {
		pthread_mutex_lock(&s->mu);
		s->st.write_lost += count;
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	if (len > PM_SPOOL_RECORD_MAX ||
	    grow((void **)&s->batch, &s->bcap, s->blen + PM_SPOOL_HDR + len, 1)) {
		pthread_mutex_lock(&s->mu);
		s->st.write_lost += count;
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	if (!s->brecs)
		s->bfirst = rn;
	p = s->batch + s->blen;
	put32(p, PM_SPOOL_MAGIC);
	put32(p + 4, (uint32_t)len);
	put64(p + 8, rn);
	put32(p + 20, count);
	memcpy(p + PM_SPOOL_HDR, payload, len);
	put32(p + 16, record_crc(p, p + PM_SPOOL_HDR, len));
	s->blen += PM_SPOOL_HDR + len;
	s->brecs += count;
	s->next_rn += count;
	return rn;
}

/* Stop appending to the active segment (locked). */
static void retire_active(struct pm_spool *s)
{
	if (s->wfd >= 0) {
		if (!grow((void **)&s->retired, &s->capretired, s->nretired + 1, sizeof(int)))
			s->retired[s->nretired++] = s->wfd;
		else
			close(s->wfd);
	}
	s->wfd = -1;
	s->active_listed = false;
}

/* Drop the oldest segment for the size bound (locked). */
static void drop_oldest(struct pm_spool *s)
{
	struct seg sg = s->segs[0];
	char name[32];

	if (sg.end > s->cursor) {
		s->st.dropped += sg.end - (sg.first > s->cursor ? sg.first : s->cursor);
		s->cursor = sg.end;
	}
	seg_name(name, sg.first);
	unlinkat(s->dirfd, name, 0);
	s->total -= sg.bytes;
	memmove(s->segs, s->segs + 1, (s->nseg - 1) * sizeof(*s->segs));
	s->nseg--;
}

static void batch_lost(struct pm_spool *s)
{
	pthread_mutex_lock(&s->mu);
	s->st.write_lost += s->brecs;
	pthread_mutex_unlock(&s->mu);
	/* numbers never on disk are given out again: no gap to mistake for damage */
	s->next_rn = s->bfirst;
	s->blen = 0;
	s->brecs = 0;
}

int pm_spool_commit(struct pm_spool *s)
{
	uint64_t dropped_before;
	bool new_seg;
	off_t old = 0;
	int err;

	if (!s->blen)
		return 0;
	pthread_mutex_lock(&s->mu);
	if (s->active_listed && s->segs[s->nseg - 1].bytes &&
	    s->segs[s->nseg - 1].bytes + s->blen > s->seg_max)
		retire_active(s);
	dropped_before = s->st.dropped;
	while (s->nseg && s->total + s->blen > s->max_bytes) {
		if (s->active_listed && s->nseg == 1)
			retire_active(s);
		drop_oldest(s);
	}
	if (s->st.dropped != dropped_before)
		pm_log_error_limited(&s->drops_log, "spool %s: over %" PRIu64 " MB: dropped the oldest %" PRIu64
			    " unacknowledged events (%" PRIu64 " so far)",
			    s->dir, s->max_bytes >> 20, s->st.dropped - dropped_before,
			    s->st.dropped);
	new_seg = !s->active_listed;
	pthread_mutex_unlock(&s->mu);

	if (new_seg) {
		char name[32];

		seg_name(name, s->bfirst);
		s->wfd = openat(s->dirfd, name,
				O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (s->wfd < 0) {
			err = -errno;
			pm_log_warn("spool %s: cannot create %s: %s", s->dir, name, strerror(-err));
			batch_lost(s);
			return err;
		}
	} else {
		old = lseek(s->wfd, 0, SEEK_END);
	}
	err = write_all(s->wfd, s->batch, s->blen);
	if (err) {
		/* whole records only: cut back what part of the batch went */
		if (ftruncate(s->wfd, old))
			pm_log_debug("spool: cannot cut back a failed write: %s", strerror(errno));
		pm_log_warn("spool %s: writing %" PRIu64 " events: %s: counted as lost", s->dir,
			    s->brecs, strerror(-err));
		if (new_seg) {
			char name[32];

			seg_name(name, s->bfirst);
			unlinkat(s->dirfd, name, 0);
			close(s->wfd);
			s->wfd = -1;
		}
		batch_lost(s);
		return err;
	}
	pthread_mutex_lock(&s->mu);
	if (new_seg) {
		if (grow((void **)&s->segs, &s->capseg, s->nseg + 1, sizeof(*s->segs))) {
			pthread_mutex_unlock(&s->mu);
			batch_lost(s);
			return -ENOMEM;
		}
		s->segs[s->nseg++] = (struct seg){ .first = s->bfirst, .end = s->bfirst };
		s->active_listed = true;
	}
	s->segs[s->nseg - 1].end = s->next_rn;
	s->segs[s->nseg - 1].bytes += s->blen;
	s->total += s->blen;
	s->committed = s->next_rn;
	s->st.appended += s->brecs;
	pthread_mutex_unlock(&s->mu);
	s->blen = 0;
	s->brecs = 0;
	return 0;
}

/* ---- reader ---- */

/* The segment holding rn, or the first one after it (locked). */
static struct seg *seg_for(struct pm_spool *s, uint64_t rn)
{
	for (size_t i = 0; i < s->nseg; i++)
		if (rn < s->segs[i].end)
			return &s->segs[i];
	return NULL;
}

/* Make [off, off + n) of the reader's segment available in rbuf, reading
 * no further than limit. A pointer to it, or NULL (short file, I/O error). */
static const char *rview(struct pm_spool *s, uint64_t off, size_t n, uint64_t limit)
{
	size_t want;
	ssize_t r;

	if (off >= s->rbuf_off && off + n <= s->rbuf_off + s->rbuf_len)
		return s->rbuf + (off - s->rbuf_off);
	want = n > READ_CHUNK ? n : READ_CHUNK;
	if (off + want > limit)
		want = limit - off;
	if (want < n)
		return NULL;
	if (grow((void **)&s->rbuf, &s->rcap, want, 1))
		return NULL;
	do
		r = pread(s->rfd, s->rbuf, want, off);
	while (r < 0 && errno == EINTR);
	if (r < (ssize_t)n)
		return NULL;
	s->rbuf_off = off;
	s->rbuf_len = r;
	return s->rbuf;
}

static void reader_close(struct pm_spool *s)
{
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
	s->rseg = 0;
	s->roff = 0;
	s->rbuf_len = 0;
}

int pm_spool_next(struct pm_spool *s, uint64_t *rn, uint32_t *count, const char **data,
		  size_t *len)
{
	for (;;) {
		uint64_t limit, seg_end, first, got = 0;
		uint32_t cnt = 0;
		bool last;
		const char *p;
		struct seg *sg;
		size_t n, hdr = 0;

		pthread_mutex_lock(&s->mu);
		if (s->rnext < s->cursor)
			s->rnext = s->cursor;
		sg = seg_for(s, s->rnext);
		if (!sg) {
			pthread_mutex_unlock(&s->mu);
			return -EAGAIN;
		}
		first = sg->first;
		limit = sg->bytes;
		seg_end = sg->end;
		last = sg == &s->segs[s->nseg - 1];
		if (s->rnext < first)
			s->rnext = first;
		pthread_mutex_unlock(&s->mu);

		if (s->rseg != first) {
			char name[32];

			reader_close(s);
			seg_name(name, first);
			s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (s->rfd < 0) {
				/* removed meanwhile (the size bound): look again */
				pthread_mutex_lock(&s->mu);
				sg = seg_for(s, s->rnext);
				if (sg && sg->first == first) { /* listed, yet gone */
					s->st.corrupt_lost += seg_end - s->rnext;
					s->rnext = seg_end;
				}
				pthread_mutex_unlock(&s->mu);
				continue;
			}
			s->rseg = first;
			s->roff = 0;
		}
		if (s->roff + PM_SPOOL_HDR_V1 > limit) {
			if (last)
				return -EAGAIN;
			s->rnext = seg_end;
			continue;
		}
		p = rview(s, s->roff, PM_SPOOL_HDR_V1, limit);
		n = p ? get32(p + 4) : 0;
		hdr = p ? hdr_size(get32(p)) : 0;
		if (hdr && n <= PM_SPOOL_RECORD_MAX && s->roff + hdr + n <= limit)
			p = rview(s, s->roff, hdr + n, limit);
		else
			p = NULL;
		/*
		 * The CRC is checked where a record can be torn or damaged: at
		 * open, over every segment an earlier run left (recover_segment
		 * keeps only intact records). What this run wrote since is read
		 * back from the page cache; its framing is checked (a segment
		 * cut short or overwritten by someone else), not its CRC again,
		 * which cost the publisher a fifth of its CPU.
		 */
		if (!p || !framed_record(p, hdr + n, first, &got, &cnt)) {
			/* damaged since it was written: the rest of this segment is lost */
			pthread_mutex_lock(&s->mu);
			if (seg_end > s->lost_upto) {
				uint64_t from = s->rnext > s->lost_upto ? s->rnext : s->lost_upto;

				s->st.corrupt_lost += seg_end - from;
				s->lost_upto = seg_end;
			}
			pthread_mutex_unlock(&s->mu);
			pm_log_warn("spool %s: damaged record in segment %016" PRIx64
				    ": skipping the rest of it",
				    s->dir, first);
			s->rnext = seg_end;
			reader_close(s);
			continue;
		}
		s->roff += hdr + n;
		if (got < s->rnext)
			continue; /* acknowledged already, or before a rewind's target */
		s->rnext = got + cnt;
		*rn = got;
		*count = cnt;
		*data = p + hdr;
		*len = n;
		return 0;
	}
}

void pm_spool_rewind(struct pm_spool *s)
{
	pthread_mutex_lock(&s->mu);
	s->rnext = s->cursor;
	pthread_mutex_unlock(&s->mu);
	reader_close(s);
}

void pm_spool_ack(struct pm_spool *s, uint64_t rn)
{
	pthread_mutex_lock(&s->mu);
	if (rn > s->committed)
		rn = s->committed;
	if (rn > s->cursor)
		s->cursor = rn;
	pthread_mutex_unlock(&s->mu);
}

uint64_t pm_spool_end(struct pm_spool *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->mu);
	v = s->committed;
	pthread_mutex_unlock(&s->mu);
	return v;
}

bool pm_spool_drained(struct pm_spool *s)
{
	bool v;

	pthread_mutex_lock(&s->mu);
	v = s->cursor >= s->committed;
	pthread_mutex_unlock(&s->mu);
	return v;
}

bool pm_spool_readable(struct pm_spool *s)
{
	bool v;

	pthread_mutex_lock(&s->mu);
	v = s->committed > (s->rnext > s->cursor ? s->rnext : s->cursor);
	pthread_mutex_unlock(&s->mu);
	return v;
}

int pm_spool_sync(struct pm_spool *s, bool force)
{
	uint64_t gone[64], cursor;
	int *retired = NULL, wfd = -1, err = 0;
	size_t nretired, ngone = 0;
	bool durable;

	pthread_mutex_lock(&s->mu);
	retired = s->retired;
	nretired = s->nretired;
	s->retired = NULL;
	s->nretired = s->capretired = 0;
	durable = s->cursor < (force ? s->committed : s->sync_mark);
	s->sync_mark = s->committed;
	if (s->wfd >= 0 && durable)
		wfd = dup(s->wfd);
	/* segments all of whose records are acknowledged, not the active one */
	while (s->nseg && ngone < 64 && s->segs[0].end <= s->cursor &&
	       !(s->active_listed && s->nseg == 1)) {
		gone[ngone++] = s->segs[0].first;
		s->total -= s->segs[0].bytes;
		memmove(s->segs, s->segs + 1, (s->nseg - 1) * sizeof(*s->segs));
		s->nseg--;
	}
	cursor = s->cursor;
	pthread_mutex_unlock(&s->mu);

	for (size_t i = 0; i < nretired; i++) {
		if (durable && fdatasync(retired[i]) && !err)
			err = -errno;
		close(retired[i]);
	}
	free(retired);
	if (wfd >= 0) {
		if (fdatasync(wfd) && !err)
			err = -errno;
		close(wfd);
	}
	for (size_t i = 0; i < ngone; i++) {
		char name[32];

		seg_name(name, gone[i]);
		unlinkat(s->dirfd, name, 0);
	}
	if (cursor != s->cursor_saved) {
		int r = write_cursor(s, cursor, durable);

		if (!r)
			s->cursor_saved = cursor;
		else if (!err)
			err = r;
	}
	return err;
}

void pm_spool_stats(struct pm_spool *s, struct pm_spool_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	st->disk_bytes = s->total;
	st->unacked = s->committed > s->cursor ? s->committed - s->cursor : 0;
	pthread_mutex_unlock(&s->mu);
}

void pm_spool_close(struct pm_spool *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		pm_spool_sync(s, true);
	pm_log_limit_flush(&s->drops_log);
	reader_close(s);
	if (s->wfd >= 0)
		close(s->wfd);
	for (size_t i = 0; i < s->nretired; i++)
		close(s->retired[i]);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->retired);
	free(s->segs);
	free(s->batch);
	free(s->rbuf);
	free(s->dir);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
