/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer into a growable buffer.
 *
 * The escaping policy is a security property: whatever bytes a process
 * puts in its arguments or file names, the output is valid RFC 8259 JSON
 * in valid UTF-8: see json_escape_bytes() for the exact rule.
 */
#ifndef PROCMON_JSON_H
#define PROCMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct json_buf {
	struct pm_buf buf; /* the text; buf.oom: a write was dropped */
	/* comma bookkeeping: one bit per nesting level, "a value was written" */
	uint64_t need_comma;
	unsigned depth;
};

void json_init(struct json_buf *b);
void json_free(struct json_buf *b);
void json_reset(struct json_buf *b); /* len = 0, keeps the allocation */

void json_obj_begin(struct json_buf *b);
void json_obj_end(struct json_buf *b);
void json_arr_begin(struct json_buf *b);
void json_arr_end(struct json_buf *b);

/* Object members: the key, then exactly one value call. */
void json_key(struct json_buf *b, const char *key);

void json_str(struct json_buf *b, const char *s);            /* NUL-terminated */
void json_strn(struct json_buf *b, const char *s, size_t n); /* any bytes */
/* One string of the n parts (any bytes each) one after the other. */
void json_str_parts(struct json_buf *b, const char *const *parts, const size_t *lens, size_t n);
void json_u64(struct json_buf *b, uint64_t v);
void json_i64(struct json_buf *b, int64_t v);
void json_bool(struct json_buf *b, bool v);
void json_null(struct json_buf *b);

/* Shorthands for "key": value */
void json_kv_str(struct json_buf *b, const char *key, const char *s);
void json_kv_u64(struct json_buf *b, const char *key, uint64_t v);
void json_kv_i64(struct json_buf *b, const char *key, int64_t v);
void json_kv_bool(struct json_buf *b, const char *key, bool v);

/*
 * Append the JSON string body (no surrounding quotes) for n arbitrary
 * bytes. Valid UTF-8 is copied; '"', '\\' and bytes below 0x20 and 0x7f
 * are escaped (\n, \t, \", \\ ... or \u00XX); each byte that does not
 * start or continue a valid UTF-8 sequence is written as U+FFFD.
 */
void json_escape_bytes(struct json_buf *b, const char *s, size_t n);

/* Append raw, already valid JSON text. */
void json_raw(struct json_buf *b, const char *s, size_t n);

#endif /* PROCMON_JSON_H */
