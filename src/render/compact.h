/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The compact format: one short line per event for a person at a
 * terminal (`procmon --format compact`, `procmon-tail -o compact`), in
 * the style of `tetra getevents -o compact`.
 *
 * It works from an event's JSON line, native or LimaCharlie, so one piece
 * of code serves procmon (which renders the native line, then compacts
 * it) and procmon-tail (which only ever has the lines). The JSON formats
 * stay the machine formats; this one is for eyes: fields are cut to a
 * terminal's width (marked with "…"), and every byte that could move the
 * cursor or fake a line is escaped.
 */
#ifndef PROCMON_COMPACT_H
#define PROCMON_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct json_object;
struct json_tokener;
struct pm_users;

/* A string in the parsed event: any bytes, n of them; s NULL when absent. */
struct pm_str {
	const char *s;
	size_t n;
};

/*
 * What an event says, whichever format it came in: the fields compact
 * lines, procmon-tail's filters and its --tree read. Strings point into
 * root and live as long as it does. Numbers are -1 when absent.
 */
struct pm_event_view {
	struct json_object *root;
	int type;             /* PM_EVENT_*, or -1 for a type procmon does not know */
	struct pm_str type_name; /* as written: native `type` or LimaCharlie event_type */
	bool limacharlie;
	struct pm_str host;
	int64_t time_ms;      /* Unix milliseconds */
	int64_t pid, ppid, uid, euid, seq;
	struct pm_str binary, args, user_name; /* user_name: LimaCharlie's USER_NAME */
	struct pm_str id, parent_id;           /* exec_id or atom: one process instance */
	struct pm_str parent_binary, parent_args;
	struct pm_str event_id;
	struct json_object *detail; /* native: process_event, code_identity ...; LC: event */
};

/* Parse one line (JSON object, any trailing newline ignored) into v.
 * 0, or -EINVAL when it is not a JSON object, -ENOMEM. */
int pm_event_view_parse(struct pm_event_view *v, const char *line, size_t len);
void pm_event_view_free(struct pm_event_view *v);

struct pm_compact_opts {
	bool color; /* ANSI SGR colours */
	/* user names for uids (enrich/users.h), for the events of local_host
	 * only (NULL: every event's): a uid names a user on its own host */
	const struct pm_users *users;
	const char *local_host;
};

/* Append v's compact line, ending in '\n', to out. */
void pm_compact_render(struct pm_buf *out, const struct pm_event_view *v,
		       const struct pm_compact_opts *o);

/* Both in one: a JSON line in, its compact line out; -EINVAL (nothing
 * appended) when line is not a JSON object. */
int pm_compact_line(struct pm_buf *out, const char *line, size_t len,
		    const struct pm_compact_opts *o);

/*
 * Append n bytes for a terminal: valid printable UTF-8 as is; control
 * characters, C1 controls, bidirectional overrides and '\' escaped (\n,
 * \t, \x1b, \u{202e}, \\); a byte that is not valid UTF-8 as \xNN. At
 * most max characters: a longer string is cut and marked with "…", at
 * its end (keep_end false) or its start (keep_end true: paths, whose
 * end says most).
 */
void pm_compact_put(struct pm_buf *out, const char *s, size_t n, size_t max, bool keep_end);

/* The native `type` or LimaCharlie event_type of an event procmon writes
 * (either spelling) to its PM_EVENT_* number; -1 when it has none. */
int pm_event_type_by_name(const char *name, size_t n);

/* "auto" | "always" | "never" -> 0/1 for isatty(fd) or the choice; -1 bad. */
int pm_color_choice(const char *arg, int fd);

#endif
