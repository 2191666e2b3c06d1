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

#define PM_NATS_DEFAULT_SERVER "nats://127.0.0.1:4222"
#define PM_NATS_DEFAULT_STREAM "PROCMON"
#define PM_NATS_DEFAULT_PREFIX "procmon"
#define PM_NATS_DEFAULT_SPOOL_DIR "/var/lib/procmon/spool"
#define PM_NATS_DEFAULT_SPOOL_MAX_MB 1024
#define PM_NATS_DEFAULT_BATCH_MS 50
#define PM_NATS_MAX_BATCH_MS 1000
/* a batch's limits (nats.batch_events, nats.batch_bytes: its lines,
 * before compression); see docs/performance.md for how they were chosen */
#define PM_NATS_DEFAULT_BATCH_EVENTS 256
#define PM_NATS_MAX_BATCH_EVENTS 65536
#define PM_NATS_DEFAULT_BATCH_BYTES (512u << 10)
#define PM_NATS_MIN_BATCH_BYTES (4u << 10)
#define PM_NATS_MAX_BATCH_BYTES (64u << 20)

enum pm_nats_message {
	PM_NATS_MESSAGE_BATCH, /* a message: consecutive events of one type */
	PM_NATS_MESSAGE_EVENT, /* a message: one event, plain */
};

enum pm_nats_compression {
	PM_NATS_COMPRESSION_ZSTD,
	PM_NATS_COMPRESSION_NONE,
};

/* The `nats:` block. Strings are NULL or "" when unset. */
struct pm_nats_config {
	bool enabled;
	char **servers;
	size_t n_servers;
	char *stream;
	bool create_stream;
	char *subject_prefix;
	char *spool_dir;
	uint64_t spool_max_mb;
	uint32_t batch_ms; /* a busy host's batch waits this long for more events */
	uint32_t batch_events, batch_bytes; /* and holds at most this many */
	enum pm_nats_message message;
	enum pm_nats_compression compression;
	char *token, *user, *password, *creds;
	char *tls_ca, *tls_cert, *tls_key;
};

static inline bool pm_nats_is_set(const char *s)
{
	return s && *s;
}

/* Fill in the contract's defaults: 0 or -ENOMEM. */
int pm_nats_config_defaults(struct pm_nats_config *c);
void pm_nats_config_free(struct pm_nats_config *c);
/* Replace the servers with one URL (--nats URL). */
int pm_nats_config_set_server(struct pm_nats_config *c, const char *url);

/* Checks of single values, for the configuration parser: NULL when fine,
 * else what is wrong. */
const char *pm_nats_check_url(const char *url);
const char *pm_nats_check_stream(const char *name);
const char *pm_nats_check_prefix(const char *prefix);
/* The whole block (at most one authentication, cert with key, ...). */
const char *pm_nats_check(const struct pm_nats_config *c);

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


#endif
