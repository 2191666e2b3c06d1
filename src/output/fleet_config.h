/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The `nats:` block (contract section 8): its defaults, limits and checks.
 * A header of its own so the configuration parser and the publisher both
 * read it without the block's code depending on the publisher.
 */
#ifndef PROCMON_FLEET_CONFIG_H
#define PROCMON_FLEET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_NATS_DEFAULT_SERVER "nats://127.0.0.1:4222"
#define PM_NATS_DEFAULT_STREAM "PROCMON"
#define PM_NATS_DEFAULT_PREFIX "procmon"
#define PM_NATS_DEFAULT_SPOOL_DIR "/var/lib/procmon/spool"
#define PM_NATS_DEFAULT_SPOOL_MAX_MB 1024
#define PM_NATS_DEFAULT_BATCH_MS 50
#define PM_NATS_MAX_BATCH_MS 1000
#define PM_NATS_MAX_PARTITIONS 1024
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
	uint32_t partitions; /* > 1: stream <stream>_<p>, subjects <prefix>.<p>.> */
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

#endif
