// SPDX-License-Identifier: GPL-2.0
/*
 * Fleet output: the NATS JetStream publisher (see fleet.h).
 */
#define _GNU_SOURCE
#include "output/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "output/fleet_batch.h"
#include "output/spool.h"

#define WINDOW 4096          /* messages published and not yet acknowledged */
#define WINDOW_BYTES (32u << 20) /* and their bodies' bytes */
#define ACK_WAIT_MS 10000    /* an ack not back by then: send again */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define SYNC_EVERY_MS 500    /* spool durable, cursor persisted */
#define IDLE_WAIT_MS 100
#define IO_BUF_BYTES (256 << 10)
#define SEND_BATCH 256       /* records built and entered in the window at once */
#define STUCK_REJECTS 5      /* the same record refused this often: given up */
#define DUPLICATE_WINDOW_NS (120ll * 1000000000)
#define MAX_AGE_NS (7ll * 24 * 3600 * 1000000000)
#define IDENTITY_FILE "identity"
#define NSEC_PER_MSEC 1000000ull

struct inflight {
	natsMsg *msg;
	uint64_t rn;
	uint32_t n;       /* its events */
	uint32_t bytes;   /* its body's */
	uint64_t sent_ns; /* for ACK_WAIT_MS */
	bool acked;
};

struct pm_fleet {
	const struct pm_nats_config *cfg;
	char host[256];     /* subject token */
	char servers[512];  /* for messages */
	char boot_id[40];
	struct pm_spool *spool;
	struct pm_event_ids *ids;
	struct pm_batcher *batcher; /* main thread */

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	bool stop, wake, connected, rewind, closed, ack_failed;
	bool waits_for_events; /* idle: the main thread's new events wake it */
	bool waits_for_room;   /* a full window: acknowledgements wake it */
	uintptr_t gen; /* the connection callbacks are about: stale ones are ignored */
	uint64_t deadline_ns;
	struct inflight ring[WINDOW];
	size_t head, count;
	uint64_t bytes; /* the window's */
	uint64_t stuck_rn;
	unsigned stuck_n;
	/* in events, but messages: published messages */
	uint64_t published, acked, duplicates, rejected, damaged, ack_errors, reconnects;
	uint64_t messages;
	struct pm_log_limit ack_log;

	/* publisher thread */
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	bool stream_ok;
	bool js_used; /* an async publish happened on js: it has a pending list */
	char last_problem[512];
	uint64_t last_problem_ns;
	struct pm_fleet_stats reported; /* what the last report said */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- event identity ---- */

/* struct pm_event_ids' reserve: the numbering in the spool directory */
static int write_identity(void *arg, uint64_t next)
{
	struct pm_fleet *f = arg;
	char path[4096], tmp[4200], line[160];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/" IDENTITY_FILE, f->cfg->spool_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "procmon-identity %s %02x%02x%02x%02x%02x%02x%02x%02x %" PRIu64 "\n",
		     f->boot_id, f->ids->prefix[0], f->ids->prefix[1], f->ids->prefix[2],
		     f->ids->prefix[3], f->ids->prefix[4], f->ids->prefix[5], f->ids->prefix[6],
		     f->ids->prefix[7], next);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		err = -errno;
	else if (write(fd, line, n) != n || fsync(fd))
		err = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		/* without it a restart must not reuse this prefix: a new one then */
		unlink(tmp);
		unlink(path);
		pm_log_warn("nats: cannot record the event numbering in %s: %s", path,
			    strerror(-err));
	}
	return err;
}

static void load_identity(struct pm_fleet *f)
{
	char path[4096], boot[64] = "", hex[32] = "";
	unsigned long long next = 0;
	FILE *in;

	in = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (in) {
		if (fscanf(in, "%39s", f->boot_id) != 1)
			f->boot_id[0] = '\0';
		fclose(in);
	}
	snprintf(path, sizeof(path), "%s/" IDENTITY_FILE, f->cfg->spool_dir);
	in = fopen(path, "re");
	if (in) {
		if (fscanf(in, "procmon-identity %63s %31s %llu", boot, hex, &next) != 3)
			next = 0;
		fclose(in);
	}
	if (next && f->boot_id[0] && !strcmp(boot, f->boot_id) && strlen(hex) == 16) {
		for (int i = 0; i < 8; i++) {
			unsigned v;

			sscanf(hex + 2 * i, "%2x", &v);
			f->ids->prefix[i] = (uint8_t)v;
		}
		f->ids->seq = next - 1;
	}
	f->ids->reserve = write_identity;
	f->ids->reserve_arg = f;
	f->ids->reserved = f->ids->seq + 1 + PM_EVENT_IDS_RESERVE;
	if (write_identity(f, f->ids->reserved))
		f->ids->reserved = UINT64_MAX; /* nothing to keep up to date */
}

/* ---- main thread: into the spool ---- */

void pm_fleet_line(struct pm_fleet *f, const char *type, const char *line, size_t len,
		   const char *event_id)
{
	pm_batcher_add(f->batcher, type, line, len, event_id, now_ns());
}

/* Seal what is due (all: everything), write it, wake the publisher when
 * it waits for it. */
static void flush(struct pm_fleet *f, bool all)
{
	uint64_t end;

	if (!f->spool || !f->batcher)
		return;
	end = pm_spool_end(f->spool);
	pm_batcher_seal(f->batcher, now_ns(), all);
	if (pm_spool_commit(f->spool) || pm_spool_end(f->spool) == end)
		return;
	pthread_mutex_lock(&f->mu);
	if (f->waits_for_events) {
		f->wake = true;
		pthread_cond_signal(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
}

void pm_fleet_flush(struct pm_fleet *f)
{
	flush(f, false);
}

int pm_fleet_poll_ms(struct pm_fleet *f, int ms)
{
	uint64_t due = f && f->batcher ? pm_batcher_due(f->batcher) : 0, now;

	if (!due)
		return ms;
	now = now_ns();
	if (due <= now)
		return 0;
	due = (due - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return ms < 0 || due < (uint64_t)ms ? (int)due : ms;
}

/* ---- the publisher thread ---- */

static const char *nats_why(natsStatus s)
{
	const char *e = nats_GetLastError(NULL);

	return e && *e ? e : natsStatus_GetText(s);
}

/* A problem worth a line on stderr: once, again when it changes, and
 * every minute while it lasts. */
static void problem(struct pm_fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct pm_fleet *f, const char *fmt, ...)
{
	char msg[512];
	uint64_t now = now_ns();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, f->last_problem) || now - f->last_problem_ns > 60 * 1000000000ull) {
		pm_log_warn("nats: %s; events are kept in %s and sent when it works", msg,
			    f->cfg->spool_dir);
		snprintf(f->last_problem, sizeof(f->last_problem), "%s", msg);
		f->last_problem_ns = now;
	}
}

static void url_of(natsConnection *nc, char *buf, size_t len)
{
	if (natsConnection_GetConnectedUrl(nc, buf, len) != NATS_OK || !*buf)
		snprintf(buf, len, "?");
}

/* The one fleet output; connection callbacks carry their connection's
 * generation as closure, so a late one about a closed connection is
 * ignored. */
static struct pm_fleet *the_fleet;

static struct pm_fleet *fleet_of(void *closure)
{
	struct pm_fleet *f = the_fleet;

	pthread_mutex_lock(&f->mu);
	if (f->gen != (uintptr_t)closure) {
		pthread_mutex_unlock(&f->mu);
		return NULL;
	}
	return f; /* locked */
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct pm_fleet *f = fleet_of(closure);

	(void)nc;
	if (!f)
		return;
	if (f->connected && !f->stop)
		pm_log_warn("nats: disconnected from %s: reconnecting, events are spooled",
			    f->servers);
	f->connected = false;
	pthread_mutex_unlock(&f->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct pm_fleet *f;
	char url[256];

	url_of(nc, url, sizeof(url));
	if (!(f = fleet_of(closure)))
		return;
	f->connected = true;
	f->rewind = true;
	f->reconnects++;
	f->wake = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pm_log_info("nats: reconnected to %s", url);
}

static void on_closed(natsConnection *nc, void *closure)
{
	struct pm_fleet *f = fleet_of(closure);

	(void)nc;
	if (!f)
		return;
	f->closed = true;
	f->connected = false;
	f->wake = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	struct pm_fleet *f;
	const char *why = NULL;

	(void)sub;
	if (natsConnection_GetLastError(nc, &why) != err || !why || !*why)
		why = natsStatus_GetText(err);
	if (!(f = fleet_of(closure)))
		return;
	pm_log_error_limited(&f->ack_log, "nats: %s: %s", f->servers, why);
	pthread_mutex_unlock(&f->mu);
}

/* The window's oldest messages, as far as they are acknowledged, move the
 * spool's cursor (locked). */
static void advance(struct pm_fleet *f)
{
	uint64_t upto = 0;

	while (f->count && f->ring[f->head].acked) {
		upto = f->ring[f->head].rn + f->ring[f->head].n;
		f->bytes -= f->ring[f->head].bytes;
		f->head = (f->head + 1) % WINDOW;
		f->count--;
	}
	if (upto)
		pm_spool_ack(f->spool, upto);
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct pm_fleet *f = closure;

	(void)js;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->count; i++) {
		struct inflight *e = &f->ring[(f->head + i) % WINDOW];

		if (e->acked || e->msg != msg)
			continue;
		if (pa) {
			e->acked = true;
			f->acked += e->n;
			f->duplicates += pa->Duplicate ? e->n : 0;
		} else {
			int code = pae ? (int)pae->ErrCode : 0;
			natsStatus st = pae ? pae->Err : NATS_ERR;

			f->ack_errors++;
			if (code && e->rn == f->stuck_rn && ++f->stuck_n >= STUCK_REJECTS) {
				/* the server refuses this one event for good: do not let
				 * it hold back every later one */
				e->acked = true;
				f->rejected += e->n;
				pm_log_error_limited(&f->ack_log,
						     "nats: the server refuses a message for good "
						     "(%s, error %d): its %u events dropped",
						     pae->ErrText ? pae->ErrText : natsStatus_GetText(st),
						     code, e->n);
			} else {
				if (code && e->rn != f->stuck_rn) {
					f->stuck_rn = e->rn;
					f->stuck_n = 1;
				}
				f->rewind = true;
				f->ack_failed = true;
				pm_log_error_limited(&f->ack_log,
						     "nats: no acknowledgement from %s (%s%s%s): "
						     "sending again",
						     f->servers, natsStatus_GetText(st),
						     pae && pae->ErrText ? ": " : "",
						     pae && pae->ErrText ? pae->ErrText : "");
			}
		}
		e->msg = NULL;
		break;
	}
	advance(f);
	/* The publisher waits for acknowledgements only with a full window
	 * (woken when half of it is free, to send the next half at once),
	 * a rewind to do, or at the stop: a wake-up per acknowledgement was
	 * most of what publishing cost. */
	if ((f->waits_for_room && f->count <= WINDOW / 2 && f->bytes <= WINDOW_BYTES / 2) ||
	    f->rewind || f->stop) {
		f->wake = true;
		pthread_cond_signal(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	natsMsg_Destroy(msg);
}

/* Forget what is in flight and read again from the cursor (locked). */
static void rewind_window(struct pm_fleet *f)
{
	natsMsgList pl = { 0 };

	/* (libnats 3.4 crashes asking a context that never published) */
	if (f->js && f->js_used && js_PublishAsyncGetPendingList(&pl, f->js) == NATS_OK)
		natsMsgList_Destroy(&pl);
	f->head = f->count = 0;
	f->bytes = 0;
	f->rewind = false;
	pm_spool_rewind(f->spool);
}

static void drop_connection(struct pm_fleet *f)
{
	pthread_mutex_lock(&f->mu);
	rewind_window(f);
	f->connected = false;
	f->gen++;
	pthread_mutex_unlock(&f->mu);
	if (f->js)
		jsCtx_Destroy(f->js);
	f->js = NULL;
	f->js_used = false;
	if (f->nc) {
		natsConnection_Close(f->nc);
		natsConnection_Destroy(f->nc);
	}
	f->nc = NULL;
	f->stream_ok = false;
	pthread_mutex_lock(&f->mu);
	f->closed = false;
	pthread_mutex_unlock(&f->mu);
}

static int connect_once(struct pm_fleet *f)
{
	natsConnection *nc = NULL;
	jsOptions jo;
	char url[256];
	natsStatus s;

	pthread_mutex_lock(&f->mu);
	f->gen++;
	pthread_mutex_unlock(&f->mu);
	s = natsOptions_SetDisconnectedCB(f->opts, on_disconnected, (void *)f->gen);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(f->opts, on_reconnected, (void *)f->gen);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(f->opts, on_closed, (void *)f->gen);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(f->opts, on_error, (void *)f->gen);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, f->opts);
	if (s != NATS_OK) {
		problem(f, "cannot connect to %s: %s", f->servers, nats_why(s));
		return -1;
	}
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	jo.PublishAsync.MaxPending = WINDOW + 64;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = f;
	s = natsConnection_JetStream(&f->js, nc, &jo);
	if (s != NATS_OK) {
		problem(f, "JetStream on %s: %s", f->servers, nats_why(s));
		natsConnection_Destroy(nc);
		return -1;
	}
	f->nc = nc;
	pm_batcher_set_max_payload(f->batcher, (uint64_t)natsConnection_GetMaxPayload(nc));
	url_of(nc, url, sizeof(url));
	pthread_mutex_lock(&f->mu);
	f->connected = true;
	f->closed = false;
	pthread_mutex_unlock(&f->mu);
	pm_log_info("nats: connected to %s", url);
	f->last_problem[0] = '\0';
	return 0;
}

/* Replicas for a new stream: the cluster's size, at most 3. */
static int replicas(struct pm_fleet *f)
{
	char **found = NULL;
	int n = 0, r = (int)f->cfg->n_servers;

	if (natsConnection_GetDiscoveredServers(f->nc, &found, &n) == NATS_OK) {
		for (int i = 0; i < n; i++)
			free(found[i]);
		free(found);
		if (n + 1 > r)
			r = n + 1;
	}
	return r > 3 ? 3 : r < 1 ? 1 : r;
}

static int ensure_stream(struct pm_fleet *f)
{
	const struct pm_nats_config *c = f->cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsStreamConfig sc;
	char subject[300];
	const char *subj = subject;
	natsStatus s;

	s = js_GetStreamInfo(&si, f->js, c->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		problem(f, "cannot look up stream %s on %s: %s", c->stream, f->servers,
			nats_why(s));
		return -1;
	}
	snprintf(subject, sizeof(subject), "%s.>", c->subject_prefix);
	if (!c->create_stream) {
		problem(f, "stream %s does not exist on %s: create it (subjects \"%s\") or set "
			"nats.create_stream: true",
			c->stream, f->servers, subject);
		return -1;
	}
	jsStreamConfig_Init(&sc);
	sc.Name = c->stream;
	sc.Subjects = &subj;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Retention = js_LimitsPolicy;
	sc.Discard = js_DiscardOld;
	sc.MaxAge = MAX_AGE_NS;
	sc.Duplicates = DUPLICATE_WINDOW_NS;
	sc.Replicas = replicas(f);
	s = js_AddStream(&si, f->js, &sc, NULL, &jerr);
	if (s == NATS_OK || jerr == JSStreamNameExistErr) {
		if (s == NATS_OK)
			pm_log_info("nats: created stream %s (subjects %s, file storage, %" PRId64
				    " replica%s, duplicate window 2 min, 7 days)",
				    c->stream, subject, sc.Replicas, sc.Replicas > 1 ? "s" : "");
		jsStreamInfo_Destroy(si);
		return 0;
	}
	problem(f, "cannot create stream %s on %s: %s", c->stream, f->servers, nats_why(s));
	return -1;
}

/* A spool record as a message: subject, headers, body. 0, 1 (not a
 * whole message of ours: counted as damaged and passed over) or -1 (no
 * memory). */
static int build_message(struct pm_fleet *f, const char *data, size_t len, uint32_t count,
			 natsMsg **out)
{
	char subject[600], id[256], events[16];
	struct pm_fleet_rec r;
	natsMsg *m = NULL;
	natsStatus st;

	*out = NULL;
	if (pm_fleet_rec_decode(data, len, &r))
		return 1;
	snprintf(subject, sizeof(subject), "%s.%.*s", f->cfg->subject_prefix, (int)r.suffix_len,
		 r.suffix);
	memcpy(id, r.id, r.id_len);
	id[r.id_len] = '\0';
	if (natsMsg_Create(&m, subject, NULL, r.body, (int)r.body_len) != NATS_OK)
		return -1;
	st = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	if (st == NATS_OK && (r.flags & PM_FLEET_REC_BATCH)) {
		snprintf(events, sizeof(events), "%u", count);
		st = natsMsgHeader_Set(m, "Procmon-Events", events);
	}
	if (st == NATS_OK && (r.flags & PM_FLEET_REC_ZSTD))
		st = natsMsgHeader_Set(m, "Content-Encoding", "zstd");
	if (st != NATS_OK) {
		natsMsg_Destroy(m);
		return -1;
	}
	*out = m;
	return 0;
}

/* The window entry of the n-th newest message (locked). */
static struct inflight *from_tail(struct pm_fleet *f, size_t n)
{
	return &f->ring[(f->head + f->count - n) % WINDOW];
}

/*
 * Send what the spool holds, as far as the window has room, SEND_BATCH
 * records at a time: they are read and built first, entered in the window
 * under one lock, then published, so the publisher and the
 * acknowledgement thread meet on the lock once per batch, not three
 * times per message. The number published, or -1 after a failure (the
 * rest is sent again from the cursor). *idle: the spool has no more.
 */
static int send_batch(struct pm_fleet *f, bool *idle)
{
	struct { natsMsg *m; uint64_t rn; uint32_t n, bytes; } out[SEND_BATCH];
	size_t k = 0, room, bytes = 0, budget;
	int sent = 0, failed = 0;
	uint64_t events = 0;
	bool ok;

	pthread_mutex_lock(&f->mu);
	room = WINDOW - f->count;
	budget = f->bytes < WINDOW_BYTES ? WINDOW_BYTES - f->bytes : 0;
	ok = f->connected && !f->rewind && f->stream_ok;
	pthread_mutex_unlock(&f->mu);
	if (!ok || !budget)
		return 0;
	if (room > SEND_BATCH)
		room = SEND_BATCH;
	while (k < room && bytes < budget) {
		const char *data;
		size_t len;
		int r;

		if (pm_spool_next(f->spool, &out[k].rn, &out[k].n, &data, &len)) {
			*idle = true;
			break;
		}
		r = build_message(f, data, len, out[k].n, &out[k].m);
		if (r < 0) {
			failed = 1; /* this record and the rest: from the cursor again */
			break;
		}
		out[k].bytes = (uint32_t)len;
		bytes += len;
		k++;
	}
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < k; i++) {
		/* a record that is not a whole message (NULL) is counted and
		 * passed over in order, as if acknowledged */
		f->ring[(f->head + f->count) % WINDOW] = (struct inflight){
			.msg = out[i].m, .rn = out[i].rn, .n = out[i].n, .bytes = out[i].bytes,
			.sent_ns = now_ns(), .acked = !out[i].m
		};
		f->count++;
		f->bytes += out[i].bytes;
		if (!out[i].m) {
			f->damaged += out[i].n;
			pm_log_error_limited(&f->ack_log, "spool %s: a damaged record of %u events: "
					     "not sent", f->cfg->spool_dir, out[i].n);
		}
	}
	advance(f);
	pthread_mutex_unlock(&f->mu);

	for (size_t i = 0; i < k; i++) {
		natsMsg *m = out[i].m;
		natsStatus st;

		if (!m)
			continue;
		f->js_used = true;
		st = js_PublishMsgAsync(f->js, &m, NULL);
		if (st == NATS_OK) {
			sent++;
			events += out[i].n;
			continue;
		}
		pthread_mutex_lock(&f->mu);
		if (st == NATS_MAX_PAYLOAD) {
			/* larger than the server takes: it never will; in order,
			 * as if acknowledged */
			struct inflight *e = from_tail(f, k - i);

			e->msg = NULL;
			e->acked = true;
			f->rejected += out[i].n;
			advance(f);
			pm_log_error_limited(&f->ack_log, "nats: a message of %d bytes (%u events) is "
					     "larger than %s accepts: dropped",
					     natsMsg_GetDataLength(out[i].m), out[i].n, f->servers);
			pthread_mutex_unlock(&f->mu);
			natsMsg_Destroy(out[i].m);
			continue;
		}
		/* still ours, and the rest unsent: out of the window, from the
		 * cursor again */
		f->count -= k - i;
		for (size_t j = i; j < k; j++) {
			f->bytes -= out[j].bytes;
			f->damaged -= out[j].m ? 0 : out[j].n; /* counted again when read again */
		}
		f->rewind = true;
		pthread_mutex_unlock(&f->mu);
		pm_log_debug("nats: publish: %s", nats_why(st));
		for (size_t j = i; j < k; j++)
			natsMsg_Destroy(out[j].m);
		failed = 1;
		break;
	}
	pthread_mutex_lock(&f->mu);
	f->published += events;
	f->messages += (uint64_t)sent;
	if (failed && !f->rewind)
		f->rewind = true;
	pthread_mutex_unlock(&f->mu);
	return failed ? -1 : sent;
}

/*
 * The oldest message in flight has waited ACK_WAIT_MS for its
 * acknowledgement: the server lost it (a leader change, a restart the
 * connection did not notice). Send everything from the cursor again; the
 * duplicate window drops what did arrive. (Our own clock, not libnats'
 * MaxWait: that one arms a timer per message and delivers a second,
 * timeout message for each, acknowledged or not.)
 */
static void check_ack_wait(struct pm_fleet *f)
{
	uint64_t now = now_ns();

	pthread_mutex_lock(&f->mu);
	if (f->count && !f->rewind && !f->ring[f->head].acked &&
	    now - f->ring[f->head].sent_ns >= ACK_WAIT_MS * NSEC_PER_MSEC) {
		f->ack_errors++;
		f->rewind = true;
		f->ack_failed = true;
		pm_log_error_limited(&f->ack_log,
				     "nats: no acknowledgement from %s within %d s: sending again",
				     f->servers, ACK_WAIT_MS / 1000);
	}
	pthread_mutex_unlock(&f->mu);
}

static struct timespec mono_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
				  .tv_nsec = (long)(ns % 1000000000ull) };
}

/* Wait ms or until woken: by the stop, a reconnect or a failed
 * acknowledgement; with for_events by the main thread's next events, with
 * for_room by the acknowledgements that free half the window. */
static void wait_ms_for(struct pm_fleet *f, unsigned ms, bool for_events, bool for_room)
{
	struct timespec ts = mono_ts(now_ns() + ms * NSEC_PER_MSEC);

	pthread_mutex_lock(&f->mu);
	f->waits_for_events = for_events;
	f->waits_for_room = for_room;
	/* what would wake it may have happened already: then no wait (the
	 * main thread commits before it looks at waits_for_events, under mu) */
	if ((for_room && f->count <= WINDOW / 2 && f->bytes <= WINDOW_BYTES / 2) ||
	    (for_events && pm_spool_readable(f->spool)))
		f->wake = true;
	while (!f->wake)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
			break;
	f->wake = false;
	f->waits_for_events = f->waits_for_room = false;
	pthread_mutex_unlock(&f->mu);
}

static void wait_ms(struct pm_fleet *f, unsigned ms)
{
	wait_ms_for(f, ms, false, false);
}

static unsigned jitter(unsigned ms)
{
	return ms - ms / 5 + (unsigned)(rand() % (ms / 5 * 2 + 1));
}

static void *publisher(void *arg)
{
	struct pm_fleet *f = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	uint64_t next_sync = now_ns() + SYNC_EVERY_MS * NSEC_PER_MSEC;

	for (;;) {
		bool stop, connected, closed, rewind, full = false, idle = false;
		size_t sent;
		uint64_t deadline;

		pthread_mutex_lock(&f->mu);
		stop = f->stop;
		deadline = f->deadline_ns;
		connected = f->connected;
		closed = f->closed;
		rewind = f->rewind;
		pthread_mutex_unlock(&f->mu);

		if (stop) {
			/* done when everything is acknowledged, the time is up, or
			 * there is nobody to wait for */
			if (!connected || now_ns() >= deadline ||
			    pm_spool_drained(f->spool))
				break;
		}
		if (closed || (f->nc && !connected && !f->stream_ok))
			drop_connection(f);
		if (!f->nc) {
			if (stop || connect_once(f)) {
				if (stop)
					break;
				wait_ms(f, jitter(backoff));
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
		}
		if (!f->stream_ok && connected) {
			if (ensure_stream(f)) {
				if (stop)
					break;
				wait_ms(f, jitter(backoff));
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			f->stream_ok = true;
			pthread_mutex_lock(&f->mu);
			f->rewind = true;
			pthread_mutex_unlock(&f->mu);
			rewind = true;
		}
		if (rewind && connected && f->stream_ok) {
			bool failed;

			pthread_mutex_lock(&f->mu);
			failed = f->ack_failed;
			f->ack_failed = false;
			rewind_window(f);
			pthread_mutex_unlock(&f->mu);
			/* an ack error: give the cluster a moment (a leader election),
			 * and look at the stream again (deleted?) */
			if (failed) {
				f->stream_ok = false;
				wait_ms(f, jitter(backoff));
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			}
		}
		/* send while there is room in the window */
		sent = 0;
		for (;;) {
			int r = send_batch(f, &idle);

			if (r < 0) {
				wait_ms(f, jitter(backoff));
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				break;
			}
			sent += (size_t)r;
			if (r)
				backoff = BACKOFF_MIN_MS;
			pthread_mutex_lock(&f->mu);
			full = f->count >= WINDOW || f->bytes >= WINDOW_BYTES;
			connected = f->connected;
			pthread_mutex_unlock(&f->mu);
			if (idle || full || !connected || !r)
				break;
		}
		check_ack_wait(f);
		if (now_ns() >= next_sync) {
			int err = pm_spool_sync(f->spool, false);

			if (err)
				pm_log_debug("nats: spool sync: %s", strerror(-err));
			next_sync = now_ns() + SYNC_EVERY_MS * NSEC_PER_MSEC;
		}
		if (idle || full || !connected)
			wait_ms_for(f, stop ? 20 : IDLE_WAIT_MS, idle, full);
	}
	return NULL;
}

/* ---- open, report, stop ---- */

static int make_options(struct pm_fleet *f, char *why, size_t whylen)
{
	const struct pm_nats_config *c = f->cfg;
	bool secure = pm_nats_is_set(c->tls_ca) || pm_nats_is_set(c->tls_cert);
	natsStatus s;
	char name[300];

	s = natsOptions_Create(&f->opts);
	if (s != NATS_OK)
		goto fail;
	s = natsOptions_SetServers(f->opts, (const char **)c->servers, (int)c->n_servers);
	snprintf(name, sizeof(name), "procmon %s", f->host);
	if (s == NATS_OK)
		s = natsOptions_SetName(f->opts, name);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(f->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(f->opts, 500);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectJitter(f->opts, 250, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(f->opts, 2000);
	/* a batch in one write, not eight (the default is 32 KiB: eight
	 * events of a few KiB) */
	if (s == NATS_OK)
		s = natsOptions_SetIOBufSize(f->opts, IO_BUF_BYTES);
	if (s == NATS_OK && pm_nats_is_set(c->token))
		s = natsOptions_SetToken(f->opts, c->token);
	if (s == NATS_OK && pm_nats_is_set(c->user))
		s = natsOptions_SetUserInfo(f->opts, c->user, c->password);
	if (s == NATS_OK && pm_nats_is_set(c->creds))
		s = natsOptions_SetUserCredentialsFromFiles(f->opts, c->creds, NULL);
	if (s != NATS_OK)
		goto fail;
	for (size_t i = 0; i < c->n_servers; i++)
		secure |= !strncmp(c->servers[i], "tls://", 6);
	if (secure && (s = natsOptions_SetSecure(f->opts, true)) != NATS_OK)
		goto fail;
	if (pm_nats_is_set(c->tls_ca) && (s = natsOptions_LoadCATrustedCertificates(f->opts, c->tls_ca))) {
		snprintf(why, whylen, "nats.tls.ca %s: %s", c->tls_ca, nats_why(s));
		return -EINVAL;
	}
	if (pm_nats_is_set(c->tls_cert) &&
	    (s = natsOptions_LoadCertificatesChain(f->opts, c->tls_cert, c->tls_key))) {
		snprintf(why, whylen, "nats.tls.cert/key %s, %s: %s", c->tls_cert, c->tls_key,
			 nats_why(s));
		return -EINVAL;
	}
	return 0;
fail:
	snprintf(why, whylen, "nats: %s", nats_why(s));
	return -EINVAL;
}

/* A file the configuration names must be there and readable. */
static int check_file(const char *key, const char *path, char *why, size_t whylen)
{
	int fd;

	if (!pm_nats_is_set(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		snprintf(why, whylen, "%s %s: %s", key, path, strerror(-err));
		return err;
	}
	close(fd);
	return 0;
}

int pm_fleet_open(struct pm_fleet **fp, const struct pm_nats_config *c, const char *hostname,
		  struct pm_event_ids *ids, char *why, size_t whylen)
{
	struct pm_fleet *f;
	const char *bad;
	size_t n = 0;
	int err;

	*fp = NULL;
	if ((bad = pm_nats_check(c))) {
		snprintf(why, whylen, "%s", bad);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_servers; i++)
		if ((bad = pm_nats_check_url(c->servers[i]))) {
			snprintf(why, whylen, "nats server '%s': %s", c->servers[i], bad);
			return -EINVAL;
		}
	if ((err = check_file("nats.creds", c->creds, why, whylen)) ||
	    (err = check_file("nats.tls.ca", c->tls_ca, why, whylen)) ||
	    (err = check_file("nats.tls.cert", c->tls_cert, why, whylen)) ||
	    (err = check_file("nats.tls.key", c->tls_key, why, whylen)))
		return err;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = c;
	f->ids = ids;
	the_fleet = f;
	pthread_mutex_init(&f->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	pm_host_token(hostname, f->host, sizeof(f->host));
	for (size_t i = 0; i < c->n_servers && n < sizeof(f->servers); i++)
		n += snprintf(f->servers + n, sizeof(f->servers) - n, "%s%s", i ? "," : "",
			      c->servers[i]);
	err = pm_spool_open(&f->spool, c->spool_dir, c->spool_max_mb << 20, why, whylen);
	if (err) {
		char inner[512];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, whylen, "nats.spool_dir: %s", inner);
		goto fail;
	}
	if (!(f->batcher = pm_batcher_new(c, f->host, f->spool))) {
		err = -ENOMEM;
		snprintf(why, whylen, "nats: %s", strerror(-err));
		goto fail;
	}
	if (nats_Open(-1) != NATS_OK) {
		snprintf(why, whylen, "nats: cannot initialise the client library");
		err = -ENOMEM;
		goto fail;
	}
	err = make_options(f, why, whylen);
	if (err)
		goto fail;
	load_identity(f);
	{
		struct pm_spool_stats st;

		pm_spool_stats(f->spool, &st);
		if (st.recovered)
			pm_log_info("nats: %" PRIu64 " events from an earlier run are spooled in %s: "
				    "sending them first",
				    st.recovered, c->spool_dir);
	}
	srand((unsigned)now_ns());
	{
		sigset_t all, old;

		/* signals are the main loop's; libnats' threads, started from
		 * the publisher, inherit this mask too */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = -pthread_create(&f->thread, NULL, publisher, f);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!err)
		pthread_setname_np(f->thread, "pm-fleet");
	if (err) {
		snprintf(why, whylen, "nats: cannot start the publisher: %s", strerror(-err));
		goto fail;
	}
	f->started = true;
	*fp = f;
	return 0;
fail:
	pm_fleet_close(f);
	return err;
}

void pm_fleet_stats(struct pm_fleet *f, struct pm_fleet_stats *s)
{
	struct pm_spool_stats st;
	struct pm_batcher_stats bs;
	uint64_t pending = 0;

	pm_spool_stats(f->spool, &st);
	pm_batcher_stats(f->batcher, &bs);
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->count; i++) {
		const struct inflight *e = &f->ring[(f->head + i) % WINDOW];

		pending += e->acked ? 0 : e->n;
	}
	*s = (struct pm_fleet_stats){
		.published = f->published,
		.messages = f->messages,
		.line_bytes = bs.line_bytes,
		.body_bytes = bs.body_bytes,
		.acknowledged = f->acked,
		.pending = pending,
		.spooled = st.unacked,
		.spooled_bytes = st.disk_bytes,
		.dropped_bound = st.dropped,
		.dropped_damaged = st.corrupt_lost + f->damaged,
		.dropped_write = st.write_lost,
		.refused = f->rejected,
		.reconnects = f->reconnects,
		.duplicates = f->duplicates,
	};
	pthread_mutex_unlock(&f->mu);
}

void pm_fleet_report(struct pm_fleet *f, bool at_exit)
{
	struct pm_fleet_stats s;
	uint64_t dropped;

	if (!f)
		return;
	pm_fleet_stats(f, &s);
	pthread_mutex_lock(&f->mu);
	pm_log_limit_flush(&f->ack_log);
	pthread_mutex_unlock(&f->mu);
	if (!at_exit && !memcmp(&s, &f->reported, sizeof(s)))
		return;
	f->reported = s;
	dropped = s.dropped_bound + s.dropped_damaged + s.dropped_write + s.refused;
	(dropped ? pm_log_warn : pm_log_info)(
		"%s: nats: published=%" PRIu64 " acknowledged=%" PRIu64 " pending=%" PRIu64
		" spooled=%" PRIu64 " spooled_bytes=%" PRIu64 " dropped=%" PRIu64
		" (spool bound %" PRIu64 ", damaged spool %" PRIu64 ", spool write %" PRIu64
		", refused %" PRIu64 ") reconnects=%" PRIu64 " duplicates=%" PRIu64
		" messages=%" PRIu64 " events_per_message=%.1f compression=%.1f",
		at_exit ? "at exit" : "ongoing", s.published, s.acknowledged, s.pending, s.spooled,
		s.spooled_bytes, dropped, s.dropped_bound, s.dropped_damaged, s.dropped_write,
		s.refused, s.reconnects, s.duplicates, s.messages,
		s.messages ? (double)s.published / (double)s.messages : 0.0,
		s.body_bytes ? (double)s.line_bytes / (double)s.body_bytes : 1.0);
}

void pm_fleet_stop(struct pm_fleet *f, unsigned wait_ms_)
{
	if (!f)
		return;
	flush(f, true);
	if (f->started) {
		pthread_mutex_lock(&f->mu);
		f->stop = true;
		f->wake = true;
		f->deadline_ns = now_ns() + wait_ms_ * NSEC_PER_MSEC;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->thread, NULL);
		f->started = false;
	}
	if (f->nc || f->js)
		drop_connection(f);
	if (f->spool)
		pm_spool_sync(f->spool, true);
	/* a clean stop: the next start goes on from the next number */
	if (f->ids && f->ids->reserve_arg == f && f->ids->reserved != UINT64_MAX)
		write_identity(f, f->ids->seq + 1);
}

void pm_fleet_close(struct pm_fleet *f)
{
	if (!f)
		return;
	pm_fleet_stop(f, 0);
	if (f->ids && f->ids->reserve_arg == f) {
		f->ids->reserve = NULL;
		f->ids->reserve_arg = NULL;
	}
	pm_spool_close(f->spool);
	if (f->opts)
		natsOptions_Destroy(f->opts);
	nats_CloseAndWait(1000);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	pm_batcher_free(f->batcher);
	if (the_fleet == f)
		the_fleet = NULL;
	free(f);
}
