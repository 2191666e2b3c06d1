/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fleet output's write-ahead spool (contract section 8): every event
 * bound for NATS is on disk here until JetStream has acknowledged it.
 *
 * A spool directory holds segment files, NNNNNNNNNNNNNNNN.seg (the first
 * record number, 16 hex digits), appended in batches by one writer (the
 * main loop), and a cursor file naming the first record not yet
 * acknowledged. A record is framed as
 *
 *     "PSR2" u32 | length u32 | number u64 | crc32 u32 | count u32 | payload
 *
 * (little-endian; the CRC, zlib's crc32, covers length, number, count and
 * payload), so a torn tail or a damaged block is detected. A record holds
 * `count` events (a batch, one message) and takes that many numbers: the
 * next record's number is number + count, so every count below (dropped,
 * lost, unacknowledged) is in events. Records of the previous version
 * ("PSR1", no count field, one event each) are read as well, so a spool
 * left by it is delivered after an upgrade. The good
 * records are kept, the ones in between are counted as lost (record
 * numbers are consecutive, so the gap says how many), nothing damaged is
 * ever handed out. Past max_bytes the oldest segment is dropped and its
 * unacknowledged records are counted.
 *
 * Thread model: one writer (pm_spool_append/commit), one reader
 * (pm_spool_next/rewind/ack/sync, the publisher thread); the shared
 * bookkeeping is behind a mutex inside.
 */
#ifndef PROCMON_SPOOL_H
#define PROCMON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pm_spool;

struct pm_spool_stats {
	uint64_t disk_bytes;   /* bytes in segment files now */
	uint64_t unacked;      /* records not yet acknowledged */
	uint64_t dropped;      /* unacknowledged records dropped by the size bound */
	uint64_t corrupt_lost; /* records lost to a damaged or torn spool */
	uint64_t write_lost;   /* records that could not be written (disk full ...) */
	uint64_t appended;     /* records appended since open */
	uint64_t recovered;    /* unacknowledged records found at open */
};

/*
 * Open (creating it 0700 when absent) the spool in dir, recover what is
 * there. The directory must pass pm_safe_check_dir_chain. 0, or -errno
 * with why filled in. Recovery problems (damage) are not errors: they are
 * logged and counted.
 */
int pm_spool_open(struct pm_spool **sp, const char *dir, uint64_t max_bytes, char *why,
		  size_t whylen);
void pm_spool_close(struct pm_spool *s);

/* Writer. Queue one record of count events (not on disk before commit);
 * its number, or 0 when it could not be queued (counted as lost). */
uint64_t pm_spool_append(struct pm_spool *s, const void *payload, size_t len, uint32_t count);
/* Write the queued records: 0, or -errno (they are counted as lost). */
int pm_spool_commit(struct pm_spool *s);

/* Reader. The next record to send: 0 with *rn, *count, *data, *len (valid
 * until the next call), or -EAGAIN when there is none yet. */
int pm_spool_next(struct pm_spool *s, uint64_t *rn, uint32_t *count, const char **data,
		  size_t *len);
/* Read again from the first unacknowledged record. */
void pm_spool_rewind(struct pm_spool *s);
/* Every record before number rn is acknowledged (a record's rn + count). */
void pm_spool_ack(struct pm_spool *s, uint64_t rn);
/* The number the next appended record will get. */
uint64_t pm_spool_end(struct pm_spool *s);
/* Every committed record is acknowledged. */
bool pm_spool_drained(struct pm_spool *s);
/* Reader: a committed record waits for pm_spool_next. */
bool pm_spool_readable(struct pm_spool *s);
/*
 * Save the cursor, remove segments whose records are all acknowledged,
 * and make the written records and the cursor durable (fdatasync) when
 * some records have waited since the previous call without an
 * acknowledgement, or with force when any is unacknowledged. Records the server acknowledges within one period are safe in
 * the stream: writing them to the disk as well would cost the host I/O
 * for nothing (they are removed unwritten), and a crash of procmon keeps
 * them in the page cache anyway.
 */
int pm_spool_sync(struct pm_spool *s, bool force);

void pm_spool_stats(struct pm_spool *s, struct pm_spool_stats *st);

/* Exposed for the unit tests. */
#define PM_SPOOL_MAGIC 0x32525350u    /* "PSR2" */
#define PM_SPOOL_HDR 24
#define PM_SPOOL_MAGIC_V1 0x31525350u /* "PSR1": the previous version's, read only */
#define PM_SPOOL_HDR_V1 20
#define PM_SPOOL_COUNT_MAX (1u << 20)
#define PM_SPOOL_RECORD_MAX (64u << 20)

#endif
