// SPDX-License-Identifier: GPL-2.0
/*
 * Fleet output, framing: records (one message each) and the batcher that
 * forms them (see fleet_batch.h).
 */
#include "output/fleet_batch.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SLOTS 32          /* event types with an open batch at once */
#define BUSY_EVENTS 4     /* a sealing round this large: the host is busy */
#define ZSTD_LEVEL 1      /* the fastest level: storm events compress ~100x anyway */
#define HEADERS_ROOM 1024 /* subject and headers, within max_payload */
#define NATS_MAX_PAYLOAD 1048576 /* the server's default, until it says */
#define NSEC_PER_MSEC 1000000ull

struct slot {
	const char *type_ptr; /* the caller's string: the fast match */
	char type[64];
	char id[64];          /* the first event's event_id */
	char *buf;            /* the lines, each ending in '\n' */
	size_t len, cap;
	uint32_t n;
	uint64_t first_ns;    /* when its first event came */
};

struct pm_batcher {
	const struct pm_nats_config *cfg;
	char host[256];
	struct pm_spool *spool;
	ZSTD_CCtx *zc;
	struct slot slot[SLOTS];
	size_t nslot;
	char *rec; /* the record being formed */
	size_t reccap;
	_Atomic uint64_t max_payload;
	uint64_t round_ns; /* the last round that sealed something */
	size_t round_events;
	struct pm_batcher_stats st;
};

int pm_fleet_rec_decode(const char *d, size_t len, struct pm_fleet_rec *r)
{
	size_t o = 0, sl, il;

	memset(r, 0, sizeof(*r));
	if (len >= 2 && d[0] == PM_FLEET_REC_MARK) {
		r->flags = (uint8_t)d[1];
		o = 2;
	}
	if (r->flags & ~(unsigned)(PM_FLEET_REC_ZSTD | PM_FLEET_REC_BATCH))
		return -EINVAL;
	if (o + 1 > len || !(sl = (uint8_t)d[o]) || o + 1 + sl + 1 > len)
		return -EINVAL;
	r->suffix = d + o + 1;
	r->suffix_len = sl;
	o += 1 + sl;
	il = (uint8_t)d[o];
	if (o + 1 + il > len)
		return -EINVAL;
	r->id = d + o + 1;
	r->id_len = il;
	o += 1 + il;
	r->body = d + o;
	r->body_len = len - o;
	if (r->flags & PM_FLEET_REC_ZSTD) {
		/* the frame's block headers, walked without decompressing: a
		 * body cut short or grown does not end where its frame does */
		size_t fs = ZSTD_findFrameCompressedSize(r->body, r->body_len);

		if (ZSTD_isError(fs) || fs != r->body_len ||
		    ZSTD_getFrameContentSize(r->body, r->body_len) == ZSTD_CONTENTSIZE_ERROR)
			return -EBADMSG;
	}
	return 0;
}

struct pm_batcher *pm_batcher_new(const struct pm_nats_config *c, const char *host,
				  struct pm_spool *spool)
{
	struct pm_batcher *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cfg = c;
	b->spool = spool;
	snprintf(b->host, sizeof(b->host), "%s", host);
	atomic_init(&b->max_payload, NATS_MAX_PAYLOAD);
	if (c->message == PM_NATS_MESSAGE_BATCH && c->compression == PM_NATS_COMPRESSION_ZSTD &&
	    !(b->zc = ZSTD_createCCtx())) {
		free(b);
		return NULL;
	}
	return b;
}

void pm_batcher_free(struct pm_batcher *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		free(b->slot[i].buf);
	ZSTD_freeCCtx(b->zc);
	free(b->rec);
	free(b);
}

void pm_batcher_set_max_payload(struct pm_batcher *b, uint64_t max)
{
	if (max > 2 * HEADERS_ROOM)
		atomic_store_explicit(&b->max_payload, max, memory_order_relaxed);
}

void pm_batcher_stats(const struct pm_batcher *b, struct pm_batcher_stats *s)
{
	*s = b->st;
}

/* The most bytes of lines a batch may hold: the configured limit, and
 * what keeps the message (compressed or not, with its headers) within
 * the server's max_payload. */
static size_t byte_limit(struct pm_batcher *b)
{
	uint64_t mp = atomic_load_explicit(&b->max_payload, memory_order_relaxed);
	uint64_t fit = (mp - HEADERS_ROOM) / 256 * 255; /* ZSTD_compressBound's margin */

	return b->cfg->batch_bytes < fit ? b->cfg->batch_bytes : (size_t)fit;
}

/* Append one record: header, then body (compressed with zc). */
static void put_record(struct pm_batcher *b, unsigned flags, const char *type, const char *id,
		       const char *body, size_t len, uint32_t count)
{
	char suffix[330];
	size_t sl = (size_t)snprintf(suffix, sizeof(suffix), "%s.%s", b->host, type);
	size_t il = strlen(id), hdr, need, out = len;

	if (sl > 255)
		sl = 255;
	if (il > 255)
		il = 255;
	hdr = 4 + sl + il;
	need = hdr + (flags & PM_FLEET_REC_ZSTD ? ZSTD_compressBound(len) : len);
	if (need > b->reccap) {
		char *n = realloc(b->rec, need);

		if (!n) {
			pm_spool_append(b->spool, NULL, SIZE_MAX, count); /* counted as lost */
			return;
		}
		b->rec = n;
		b->reccap = need;
	}
	if (flags & PM_FLEET_REC_ZSTD) {
		out = ZSTD_compressCCtx(b->zc, b->rec + hdr, need - hdr, body, len, ZSTD_LEVEL);
		if (ZSTD_isError(out)) { /* then plain: it still goes */
			flags &= ~PM_FLEET_REC_ZSTD;
			out = len;
		}
	}
	if (!(flags & PM_FLEET_REC_ZSTD))
		memcpy(b->rec + hdr, body, len);
	b->rec[0] = PM_FLEET_REC_MARK;
	b->rec[1] = (char)flags;
	b->rec[2] = (char)sl;
	memcpy(b->rec + 3, suffix, sl);
	b->rec[3 + sl] = (char)il;
	memcpy(b->rec + 4 + sl, id, il);
	if (!pm_spool_append(b->spool, b->rec, hdr + out, count))
		return;
	b->st.batches++;
	b->st.events += count;
	b->st.line_bytes += len;
	b->st.body_bytes += out;
}

static void seal(struct pm_batcher *b, struct slot *s)
{
	if (!s->n)
		return;
	put_record(b, PM_FLEET_REC_BATCH | (b->zc ? PM_FLEET_REC_ZSTD : 0), s->type, s->id, s->buf,
		   s->len, s->n);
	s->n = 0;
	s->len = 0;
}

static struct slot *slot_of(struct pm_batcher *b, const char *type)
{
	for (size_t i = 0; i < b->nslot; i++)
		if (b->slot[i].type_ptr == type || !strcmp(b->slot[i].type, type))
			return &b->slot[i];
	if (b->nslot == SLOTS) { /* more types than slots: start again */
		for (size_t i = 0; i < SLOTS; i++)
			seal(b, &b->slot[i]);
		b->nslot = 0;
	}
	struct slot *s = &b->slot[b->nslot++];

	s->type_ptr = type;
	snprintf(s->type, sizeof(s->type), "%s", type);
	return s;
}

void pm_batcher_add(struct pm_batcher *b, const char *type, const char *line, size_t len,
		    const char *event_id, uint64_t now)
{
	struct slot *s;
	size_t limit;

	if (b->cfg->message == PM_NATS_MESSAGE_EVENT) {
		put_record(b, 0, type, event_id, line, len, 1);
		return;
	}
	s = slot_of(b, type);
	limit = byte_limit(b);
	if (s->n && s->len + len + 1 > limit)
		seal(b, s);
	if (s->len + len + 1 > s->cap) {
		/* kept from batch to batch: growing it again for each batch of
		 * a busy spell was a tenth of procmon's CPU (realloc copies) */
		size_t cap = s->cap ? s->cap : 64u << 10;
		char *n;

		while (cap < s->len + len + 1)
			cap *= 2;
		if (!(n = realloc(s->buf, cap))) {
			pm_spool_append(b->spool, NULL, SIZE_MAX, 1); /* counted as lost */
			return;
		}
		s->buf = n;
		s->cap = cap;
	}
	if (!s->n) {
		snprintf(s->id, sizeof(s->id), "%s", event_id);
		s->first_ns = now;
	}
	memcpy(s->buf + s->len, line, len);
	s->buf[s->len + len] = '\n';
	s->len += len + 1;
	s->n++;
	if (s->n >= b->cfg->batch_events || s->len >= limit)
		seal(b, s);
}

/*
 * A quiet host's events go at once: the last sealing round was small or
 * is batch_ms old, so a lone command's clone, exec and exit each go as
 * they come. A busy host's batches wait batch_ms from their first event
 * for more: every message costs the publisher, libnats and the server a
 * round of work that a batch shares among its events.
 */
size_t pm_batcher_seal(struct pm_batcher *b, uint64_t now, bool all)
{
	uint64_t wait = (uint64_t)b->cfg->batch_ms * NSEC_PER_MSEC;
	bool quiet = b->round_events < BUSY_EVENTS || now - b->round_ns >= wait;
	size_t sealed = 0;

	for (size_t i = 0; i < b->nslot; i++) {
		struct slot *s = &b->slot[i];

		if (s->n && (all || quiet || now - s->first_ns >= wait)) {
			sealed += s->n;
			seal(b, s);
		}
	}
	if (sealed) {
		b->round_ns = now;
		b->round_events = sealed;
	}
	return sealed;
}

uint64_t pm_batcher_due(const struct pm_batcher *b)
{
	uint64_t due = 0;

	for (size_t i = 0; i < b->nslot; i++) {
		const struct slot *s = &b->slot[i];
		uint64_t t = s->first_ns + (uint64_t)b->cfg->batch_ms * NSEC_PER_MSEC;

		if (s->n && (!due || t < due))
			due = t;
	}
	return due;
}
