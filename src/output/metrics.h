/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Metrics and health over HTTP (contract section 9; docs/metrics.md lists
 * every metric): `metrics: { listen: "127.0.0.1:9464" }` serves
 *
 *   GET /metrics   the Prometheus text format, names procmon_*, counters *_total
 *   GET /healthz   200 "ok", or 503 and a one-line reason
 *
 * from libmicrohttpd's own thread. Nothing on the event path knows about
 * it: the counters are the plain fields the pipeline keeps anyway, and
 * the main loop copies them into a snapshot under a mutex once per pass
 * (pm_metrics_publish); a request renders the page from the last
 * snapshot. The ring buffer's fill is read at request time from a
 * read-only mapping of its positions.
 *
 * Every label set is bounded: event types (the event table's rows),
 * drop categories, loss stages, cache results. Never a pid or a path.
 */
#ifndef PROCMON_METRICS_H
#define PROCMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/fleet.h"
#include "enrich/hash.h"
#include "detect/sigma.h"
#include "procmon/events.h"

/* A snapshot older than this means the main loop is stuck: /healthz 503. */
#define PM_METRICS_STALL_NS (5 * 1000000000ull)

struct pm_metrics_snapshot {
	uint64_t published_ns;  /* CLOCK_MONOTONIC of the copy */
	bool attached;          /* every probe attached, not yet detached */
	int output_error;       /* -errno of the last write to the output, 0: fine */
	uint64_t written[PM_EVENT_TYPE_END]; /* events rendered and queued, by type */
	uint64_t kernel_lost[PM_DROP_MAX];   /* reservations the kernel could not make */
	uint64_t user_lost, malformed, output_lost;
	uint64_t shaped_out;    /* events output_shaping left out (not lost) */
	uint64_t repeated[PM_EVENT_TYPE_END]; /* held back into RepeatedEvents, by type */
	uint64_t lines_written, bytes_written, write_errors, rotations;
	uint64_t queued;        /* decoded events waiting (for a hash, for order) */
	uint64_t proc_cache_entries, proc_cache_hits, proc_cache_misses;
	bool hashing;           /* ima_hash on: the hash fields mean something */
	struct pm_hash_stats hash;
	bool fleet;             /* the NATS output is on: fleet_stats mean something */
	struct pm_fleet_stats fleet_stats;
	uint64_t sigma_rules;   /* Sigma rules in force (0: detections off) */
	uint64_t detections[PM_SIGMA_CRITICAL + 1]; /* Detection events, by rule level */
	uint64_t detection_errors; /* rule evaluations that failed */
	uint64_t detection_evaluations, detection_ns; /* ProcessExecs evaluated, time taken */
};

struct pm_metrics;

/*
 * Listen on `listen` ("ADDRESS:PORT", checked by the configuration) and
 * serve from a thread of libmicrohttpd's with every signal blocked.
 * ring_fd/ring_bytes: the BPF ring buffer, for its fill (ring_fd -1: not
 * reported). output names the output in /healthz's reasons.
 * 0, or -errno with why filled in (the address is taken, say).
 */
int pm_metrics_start(struct pm_metrics **out, const char *listen, const char *version,
		     const char *output, int ring_fd, uint64_t ring_bytes, char *why,
		     size_t whylen);
/* Copy s for the next requests (the main loop, once per pass). */
void pm_metrics_publish(struct pm_metrics *m, const struct pm_metrics_snapshot *s);
/* Stop serving and free (NULL: nothing). */
void pm_metrics_stop(struct pm_metrics *m);

/* metrics.listen's "ADDRESS:PORT": AF_INET or AF_INET6 with host (the
 * address without brackets) and port filled in, or -EINVAL. */
int pm_listen_parse(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
