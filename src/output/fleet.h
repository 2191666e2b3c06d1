/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fleet output (contract section 8): every event line also goes to a NATS
 * JetStream stream, at least once.
 *
 * The main loop only appends the line to the write-ahead spool (spool.h)
 * and writes the spool once per pass: it never waits on the network. A
 * publisher thread reads the spool in order and publishes asynchronously
 * with a bounded window of unacknowledged messages; JetStream's acks
 * advance the spool's cursor. After a reconnect, an ack error or a
 * restart it sends again from the cursor: the `Nats-Msg-Id` header (the
 * event's event_id) lets the stream's duplicate window drop what it
 * already has.
 */
#ifndef PROCMON_FLEET_H
#define PROCMON_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/event_id.h"

#include "output/fleet_config.h"

struct pm_fleet;

/*
 * Open the spool and start the publisher. ids is set up from the spool
 * directory (and must outlive the fleet). 0, or -errno with why filled
 * in: a spool directory that cannot be created or is unsafe, an unusable
 * TLS or creds file (configuration errors). The server being away is not
 * an error: procmon spools and retries.
 */
int pm_fleet_open(struct pm_fleet **f, const struct pm_nats_config *c, const char *hostname,
		  struct pm_event_ids *ids, char *why, size_t whylen);
/* One event line (without newline), its type (the subject's last token:
 * Bombini `type` or LimaCharlie `routing.event_type`) and event_id. It
 * joins the open batch of its type (fleet_batch.h). The thread that owns
 * the fleet (procmon's main loop). */
void pm_fleet_line(struct pm_fleet *f, const char *type, const char *line, size_t len,
		   const char *event_id);
/* Seal the batches that are due and write them to the spool. Same
 * thread, each pass of its loop. */
void pm_fleet_flush(struct pm_fleet *f);
/* A poll timeout of ms (-1: none) shortened to when the next open batch is
 * due, so that pm_fleet_flush is called in time. */
int pm_fleet_poll_ms(struct pm_fleet *f, int ms);
/* The fleet output's counters (contract section 8), in events but
 * messages (published messages, batches or not) and the bytes of the
 * messages formed: line_bytes of lines went into body_bytes of bodies. */
struct pm_fleet_stats {
	uint64_t published, acknowledged, pending; /* pending: sent, not yet acknowledged */
	uint64_t messages, line_bytes, body_bytes;
	uint64_t spooled, spooled_bytes;           /* in the spool, not yet acknowledged */
	uint64_t dropped_bound, dropped_damaged, dropped_write, refused; /* lost, by cause */
	uint64_t reconnects, duplicates;
};

void pm_fleet_stats(struct pm_fleet *f, struct pm_fleet_stats *s);
/* Counters on stderr: always at exit, otherwise when they changed. */
void pm_fleet_report(struct pm_fleet *f, bool at_exit);
/* Flush, wait up to wait_ms for outstanding acknowledgements (not when
 * disconnected), stop the publisher. */
void pm_fleet_stop(struct pm_fleet *f, unsigned wait_ms);
void pm_fleet_close(struct pm_fleet *f);

/* A host's partition (0 .. n-1) of its subject token: FNV-1a 32, as
 * nats-server's partition() mapping hashes a token, mod n. */
uint32_t pm_fleet_partition(const char *host_token, uint32_t n);

#endif
