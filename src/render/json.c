// SPDX-License-Identifier: GPL-2.0
#include "render/json.h"

#include <stdlib.h>
#include <string.h>

/*
 * Comma bookkeeping: at depth 0 (top level) values are never separated;
 * inside the container at depth d (1..JSON_MAX_DEPTH) bit d-1 of
 * need_comma says "a member was written". json_key() emits the comma and
 * clears the bit, so the value that follows does not emit a second one.
 */
#define JSON_MAX_DEPTH 64
static inline bool reserve(struct json_buf *b, size_t extra)
{
	return pm_buf_reserve(&b->buf, extra);
}

static void put(struct json_buf *b, const void *s, size_t n)
{
	pm_buf_put(&b->buf, s, n);
}

static void putc1(struct json_buf *b, char c)
{
	if (reserve(b, 1))
		b->buf.data[b->buf.len++] = c;
}

/* Called before every value (and by json_key before the key). */
static void sep(struct json_buf *b)
{
	uint64_t bit;

	if (!b->depth)
		return;
	bit = 1ULL << (b->depth - 1);
	if (b->need_comma & bit)
		putc1(b, ',');
	b->need_comma |= bit;
}

void json_init(struct json_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void json_free(struct json_buf *b)
{
	pm_buf_free(&b->buf);
	json_init(b);
}

void json_reset(struct json_buf *b)
{
	b->buf.len = 0;
	b->buf.oom = false;
	b->need_comma = 0;
	b->depth = 0;
}

static void open_container(struct json_buf *b, char c)
{
	sep(b);
	/* Deeper nesting cannot be tracked: fail the whole buffer rather
	 * than emit misplaced commas. */
	if (b->depth >= JSON_MAX_DEPTH) {
		b->buf.oom = true;
		return;
	}
	putc1(b, c);
	b->depth++;
	b->need_comma &= ~(1ULL << (b->depth - 1));
}

static void close_container(struct json_buf *b, char c)
{
	if (!b->depth) {
		b->buf.oom = true;
		return;
	}
	putc1(b, c);
	b->depth--;
}

void json_obj_begin(struct json_buf *b)
{
	open_container(b, '{');
}

void json_obj_end(struct json_buf *b)
{
	close_container(b, '}');
}

void json_arr_begin(struct json_buf *b)
{
	open_container(b, '[');
}

void json_arr_end(struct json_buf *b)
{
	close_container(b, ']');
}

/*
 * Bytes 0x00..0x7f: 0 means copied as is, otherwise the character after
 * the backslash ('u' for \u00XX).
 */
static const char ascii_esc[128] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	['"'] = '"', ['\\'] = '\\', [0x7f] = 'u',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u',
};

/*
 * True when none of the 8 bytes at s needs a look: no control byte, '"',
 * '\\', DEL or non-ASCII. The usual SWAR zero-byte tests can misfire only
 * above a byte that really matches, so the verdict for the word is exact.
 */
static inline bool word_is_plain(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
	uint64_t w, q, bs, bad;

	memcpy(&w, s, sizeof(w));
	q = w ^ (ones * '"');
	bs = w ^ (ones * '\\');
	bad = ((w - ones * 0x20) & ~w) |  /* below 0x20 */
	      ((q - ones) & ~q) |         /* '"' */
	      ((bs - ones) & ~bs) |       /* '\\' */
	      w | (w + ones);             /* 0x80 and up, or 0x7f */
	return !(bad & high);
}

/*
 * Length of the valid UTF-8 sequence starting at s (RFC 3629 table: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* only the second byte has lead-dependent bounds */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* U+2028/U+2029 are valid JSON but end a line in JavaScript. */
static bool is_js_line_sep(const unsigned char *s, size_t len)
{
	return len == 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	       (s[2] == 0xa8 || s[2] == 0xa9);
}

/* Whether the n bytes at s are all ASCII that JSON takes as is. */
static bool is_plain_ascii(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80 || ascii_esc[s[i]])
			return false;
	return true;
}

void json_key(struct json_buf *b, const char *key)
{
	size_t n = key ? strlen(key) : 0;
	uint64_t bit = b->depth ? 1ULL << (b->depth - 1) : 0;
	char *o;

	/* Keys are procmon's own field names, a few plain bytes each: the
	 * separator, the quoted key and the colon in one reserve and copy,
	 * where the general path cost more than the key (it ran ~140k times
	 * in a 2000-exec storm). */
	if (!is_plain_ascii((const unsigned char *)key, n)) {
		sep(b);
		b->need_comma &= ~bit;
		putc1(b, '"');
		json_escape_bytes(b, key, n);
		put(b, "\":", 2);
		return;
	}
	if (!reserve(b, n + 4))
		return;
	o = b->buf.data + b->buf.len;
	if (b->need_comma & bit)
		*o++ = ',';
	b->need_comma &= ~bit; /* the value that follows writes no comma */
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->buf.len = (size_t)(o - b->buf.data);
}

void json_escape_bytes(struct json_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n && !b->buf.oom) {
		size_t run = i, len = 0;
		unsigned char c;
		char *o;

		/* gather the longest stretch that is copied verbatim */
		for (;;) {
			while (n - run >= 8 && word_is_plain(s + run))
				run += 8;
			while (run < n && s[run] < 0x80 && !ascii_esc[s[run]])
				run++;
			if (run == n || s[run] < 0x80)
				break;
			len = utf8_len(s + run, n - run);
			if (!len || is_js_line_sep(s + run, len))
				break;
			run += len;
		}
		put(b, s + i, run - i);
		i = run;
		if (i == n || !reserve(b, 6))
			break;

		o = b->buf.data + b->buf.len;
		c = s[i];
		if (c < 0x80 && ascii_esc[c] != 'u') {
			o[0] = '\\';
			o[1] = ascii_esc[c];
			b->buf.len += 2;
			i++;
		} else if (c < 0x80) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 0xf];
			b->buf.len += 6;
			i++;
		} else if (len) {
			/* the run stopped at U+2028 or U+2029 */
			memcpy(o, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
			b->buf.len += 6;
			i += 3;
		} else {
			/* one U+FFFD per byte that starts no valid sequence */
			memcpy(o, "\xef\xbf\xbd", 3);
			b->buf.len += 3;
			i++;
		}
	}
}

void json_strn(struct json_buf *b, const char *s, size_t n)
{
	sep(b);
	putc1(b, '"');
	json_escape_bytes(b, s, n);
	putc1(b, '"');
}

void json_str_parts(struct json_buf *b, const char *const *parts, const size_t *lens, size_t n)
{
	sep(b);
	putc1(b, '"');
	for (size_t i = 0; i < n; i++)
		json_escape_bytes(b, parts[i], lens[i]);
	putc1(b, '"');
}

void json_str(struct json_buf *b, const char *s)
{
	if (!s)
		json_null(b);
	else
		json_strn(b, s, strlen(s));
}

static void put_u64(struct json_buf *b, uint64_t v, bool neg)
{
	char tmp[21];
	char *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void json_u64(struct json_buf *b, uint64_t v)
{
	sep(b);
	put_u64(b, v, false);
}

void json_i64(struct json_buf *b, int64_t v)
{
	sep(b);
	/* negate in unsigned arithmetic so INT64_MIN does not overflow */
	if (v < 0)
		put_u64(b, -(uint64_t)v, true);
	else
		put_u64(b, (uint64_t)v, false);
}

void json_bool(struct json_buf *b, bool v)
{
	sep(b);
	if (v)
		put(b, "true", 4);
	else
		put(b, "false", 5);
}

void json_null(struct json_buf *b)
{
	sep(b);
	put(b, "null", 4);
}

/* "key": value, for each kind of value */
#define JSON_KV(kind, type)                                            \
	void json_kv_##kind(struct json_buf *b, const char *key, type v) \
	{                                                              \
		json_key(b, key);                                      \
		json_##kind(b, v);                                     \
	}
JSON_KV(str, const char *)
JSON_KV(u64, uint64_t)
JSON_KV(i64, int64_t)
JSON_KV(bool, bool)
#undef JSON_KV

/*
 * The text counts as one value (after json_key, or an array element) or
 * as one complete "key":value member, so the comma rules still hold.
 */
void json_raw(struct json_buf *b, const char *s, size_t n)
{
	sep(b);
	put(b, s, n);
}
