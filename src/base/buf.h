/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A growable byte buffer: the JSON writer's (render/json.h) and the
 * output's queue of lines not yet written (output/sink.h). An allocation
 * that fails sets oom and drops every later write, so a caller checks
 * once, after a whole line.
 */
#ifndef PROCMON_BASE_BUF_H
#define PROCMON_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct pm_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* set once an allocation failed; further writes are dropped */
};

void pm_buf_init(struct pm_buf *b);
void pm_buf_free(struct pm_buf *b);
/* Grow to take extra more bytes; false (and oom) if it cannot. */
bool pm_buf_grow(struct pm_buf *b, size_t extra);

/* Room for extra more bytes. Inline: every fragment of every event comes
 * through here, and the room is nearly always there already. */
static inline bool pm_buf_reserve(struct pm_buf *b, size_t extra)
{
	if (__builtin_expect(!b->oom && b->cap - b->len >= extra, 1))
		return true;
	return pm_buf_grow(b, extra);
}

static inline void pm_buf_put(struct pm_buf *b, const void *s, size_t n)
{
	if (n && pm_buf_reserve(b, n)) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
	}
}

#endif
