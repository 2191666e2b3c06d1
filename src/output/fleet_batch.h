/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fleet output, framing: the messages, formed once when their events are
 * spooled (contract section 8).
 *
 * A spool record is one message, byte for byte what is sent: resent
 * after a reconnect or a restart it is the same body under the same
 * Nats-Msg-Id, and the stream's duplicate window drops it. Its payload:
 *
 *     0x00 | flags u8 | u8 length, "<host>.<type>" | u8 length, Nats-Msg-Id | body
 *
 * flags: PM_FLEET_REC_BATCH (a batch: its lines, each ending in '\n';
 * header Procmon-Events: <the record's count>), PM_FLEET_REC_ZSTD (the
 * body is one zstd frame; header Content-Encoding: zstd). A record of
 * the previous version starts with the subject's length (never 0) and
 * holds one plain event: it is sent as it always was.
 *
 * The batcher runs on the thread that hands over the lines (procmon's
 * main loop): it keeps one open batch per event type, so a message holds
 * consecutive events of one host and one type, and seals a batch into
 * the spool when it is full, when it is due (batch_ms), or at once while
 * the host is quiet.
 */
#ifndef PROCMON_FLEET_BATCH_H
#define PROCMON_FLEET_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/fleet.h"
#include "output/spool.h"

#define PM_FLEET_REC_MARK 0x00
#define PM_FLEET_REC_ZSTD 0x01
#define PM_FLEET_REC_BATCH 0x02

/* A spool record's payload, decoded: pointers into it. */
struct pm_fleet_rec {
	const char *suffix; /* "<host>.<type>": the subject after the prefix */
	size_t suffix_len;
	const char *id; /* Nats-Msg-Id */
	size_t id_len;
	const char *body;
	size_t body_len;
	unsigned flags;
};

/* 0; -EINVAL for a payload that is not a message of ours; -EBADMSG for a
 * compressed body that is not one whole zstd frame (cut short, damaged). */
int pm_fleet_rec_decode(const char *data, size_t len, struct pm_fleet_rec *r);

struct pm_batcher;

struct pm_batcher_stats {
	uint64_t batches;    /* records sealed */
	uint64_t events;     /* events in them */
	uint64_t line_bytes; /* their lines, newlines included */
	uint64_t body_bytes; /* their bodies as spooled and sent (compressed) */
};

/* host: the subject token of the host name. NULL on no memory. */
struct pm_batcher *pm_batcher_new(const struct pm_nats_config *c, const char *host,
				  struct pm_spool *spool);
void pm_batcher_free(struct pm_batcher *b);
/* One event's line (no newline), its subject type token and event_id. now:
 * CLOCK_MONOTONIC ns. */
void pm_batcher_add(struct pm_batcher *b, const char *type, const char *line, size_t len,
		    const char *event_id, uint64_t now);
/* Seal into the spool the batches that are due, or all of them: the number
 * of events sealed. The caller commits the spool. */
size_t pm_batcher_seal(struct pm_batcher *b, uint64_t now, bool all);
/* When the earliest open batch is due; 0: none is open. */
uint64_t pm_batcher_due(const struct pm_batcher *b);
/* The server's max_payload, once known (any thread): no batch is formed
 * larger. */
void pm_batcher_set_max_payload(struct pm_batcher *b, uint64_t max);
void pm_batcher_stats(const struct pm_batcher *b, struct pm_batcher_stats *s);

#endif
