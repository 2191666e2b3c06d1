/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event identity (contract section 8), shared by the renderers, the fleet
 * output and procmon-tail: event_id and seq, the UUID shape, and the
 * subject token of a host name.
 */
#ifndef PROCMON_BASE_EVENT_ID_H
#define PROCMON_BASE_EVENT_ID_H

#include <stddef.h>
#include <stdint.h>

/* An event_id, NUL included: "8-4-4-4-12" hex digits. */
#define PM_EVENT_ID_LEN 37

/* A version 4 UUID (8-4-4-4-12 hex digits, version 4, RFC 4122 variant) from 16
 * random bytes. */
void pm_uuid4_format(const uint8_t random[16], char out[PM_EVENT_ID_LEN]);

/*
 * event_id (the message id) and seq. event_id is a UUID-shaped string:
 * 8 bytes of a prefix random per boot (the fleet output keeps it in its
 * spool directory, so seq goes on across procmon restarts of one boot)
 * or per run (no fleet output), then seq.
 */
struct pm_event_ids {
	uint8_t prefix[8];
	uint64_t seq;      /* the last one given out */
	uint64_t reserved; /* persisted: the next start begins here */
	/* persists `next` (0 or -errno); NULL: nothing is persisted */
	int (*reserve)(void *arg, uint64_t next);
	void *reserve_arg;
};

/* seq numbers persisted ahead of the last one given out */
#define PM_EVENT_IDS_RESERVE 65536

void pm_event_ids_init(struct pm_event_ids *ids);
/* The next seq, and its event_id in id. */
uint64_t pm_event_ids_next(struct pm_event_ids *ids, char id[PM_EVENT_ID_LEN]);

/*
 * The subject token of a host name: `.`, `*`, `>`, whitespace and
 * controls become `_`, and an empty name is `_`, so that every host has
 * a token a subject can hold.
 */
void pm_host_token(const char *host, char *out, size_t outlen);

#endif
