/* SPDX-License-Identifier: GPL-2.0 */
/* Renderers: pure functions of (event, snapshots) -> one JSON line. */
#ifndef PROCMON_RENDER_H
#define PROCMON_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/event_id.h"
#include "collect/event.h"
#include "render/json.h"

#include "enrich/users.h"

struct pm_render_ctx {
	int64_t boot_to_unix_ns; /* add to a boot-time ns value to get Unix ns */
	unsigned cap_last;       /* /proc/sys/kernel/cap_last_cap */
	bool caps_hex;           /* caps_format: hex (pm_json_caps_hex) */
	/* --format limacharlie */
	const char *hostname;
	uint8_t atom_key[16];        /* this host's: atoms differ between hosts */
	const struct pm_users *users; /* USER_NAME */
	/* fleet identity (contract section 8): host, event_id, seq of the
	 * event being rendered; no event_id: not rendered (unit tests) */
	const char *event_id;
	uint64_t seq;
};

typedef void (*pm_renderer)(struct json_buf *b, const struct pm_event *ev,
			    const struct pm_render_ctx *ctx);

/* Append one Bombini-format JSON object (no newline) for ev to b. */
void pm_render_bombini(struct json_buf *b, const struct pm_event *ev,
		       const struct pm_render_ctx *ctx);

/* Append one LimaCharlie {"routing":…,"event":…} object for ev to b. */
void pm_render_limacharlie(struct json_buf *b, const struct pm_event *ev,
			   const struct pm_render_ctx *ctx);

/* A Detection's "rule" member (contract section 10): id, title, level,
 * status, tags, file. The sensor's Detection and --replay's alike. */
void pm_render_sigma_rule(struct json_buf *b, const struct pm_sigma_rule_info *r);

/* A format's keys for the ids a Setuid or Setgid left, and its flags:
 * [0] for a uid call, [1] for a gid call. */
struct pm_setid_keys {
	const char *id, *eid, *fsid, *flags;
};

/* A Setuid or Setgid's real, effective and fs ids and its flags, under
 * keys (both renderers); effective_first: the effective id first. */
void pm_json_setid(struct json_buf *b, const struct pm_event *ev,
		   const struct pm_setid_keys keys[2], bool effective_first);

/*
 * A process's atom: 32 hex digits, unique per process instance and host,
 * the same in every event of the process. Its exec_id (boot id, start
 * tick, pid) XOR the host's key.
 */
void pm_atom(const char exec_id[33], const uint8_t key[16], char out[33]);


#endif
