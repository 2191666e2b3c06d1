// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* strptime, timegm */
#include <json-c/json.h>

#include "render/compact.h"

#include <errno.h>
#include <stdlib.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enrich/users.h"
#include "procmon/events.h"

/* ---- the event types, from the one table ---- */

struct type_row {
	const char *native, *sub, *lc;
};

#define COMPACT_TYPE_ROW(name, num, rec, native, sub, lc, ...) [num] = { native, sub, lc },
static const struct type_row type_rows[PM_EVENT_TYPE_END] = { PM_EVENT_TABLE(COMPACT_TYPE_ROW) };
#undef COMPACT_TYPE_ROW

/* How each event looks: a glyph (an emoji, two columns wide), a word
 * (at most 7 characters) and a colour. Every type with a native name has
 * one (tests/unit/test_compact.c checks). */
enum tone { T_PROC, T_EXIT, T_PRIV, T_ALERT, T_INFO };

static const struct look {
	const char *glyph, *word;
	enum tone tone;
} looks[PM_EVENT_TYPE_END] = {
	[PM_EVENT_EXEC] = { "🚀", "exec", T_PROC },
	[PM_EVENT_CLONE] = { "🧬", "clone", T_PROC },
	[PM_EVENT_EXIT] = { "💥", "exit", T_EXIT },
	[PM_EVENT_SETUID] = { "🔑", "setuid", T_PRIV },
	[PM_EVENT_SETGID] = { "🔑", "setgid", T_PRIV },
	[PM_EVENT_SETCAPS] = { "🎩", "capset", T_PRIV },
	[PM_EVENT_PRCTL] = { "🔧", "prctl", T_PRIV },
	[PM_EVENT_CREATE_USER_NS] = { "👥", "userns", T_PRIV },
	[PM_EVENT_PTRACE_ACCESS] = { "🔍", "access", T_ALERT },
	[PM_EVENT_REMOTE_THREAD] = { "🧵", "rthread", T_ALERT },
	[PM_EVENT_NEW_NAMED_PIPE] = { "🚰", "mkfifo", T_INFO },
	[PM_EVENT_OPEN_NAMED_PIPE] = { "🚰", "fifo", T_INFO },
	[PM_EVENT_MODULE_LOAD] = { "🧩", "module", T_INFO },
	[PM_EVENT_SETNS] = { "🧭", "setns", T_PRIV },
	[PM_EVENT_UNSHARE] = { "🧭", "unshare", T_PRIV },
	[PM_EVENT_EXISTING_PROCESS] = { "📜", "running", T_PROC },
	[PM_EVENT_SENSITIVE_ACCESS] = { "🚨", "sensitv", T_ALERT },
	[PM_EVENT_ENVIRONMENT] = { "🌱", "environ", T_INFO },
	[PM_EVENT_CODE_IDENTITY] = { "🔏", "code", T_INFO },
	[PM_EVENT_ONGOING_IDENTITY] = { "🔏", "code", T_INFO },
	[PM_EVENT_THREAD_INJECTION] = { "💉", "inject", T_ALERT },
	[PM_EVENT_DETECTION] = { "🎯", "detect", T_ALERT },
	[PM_EVENT_REPEATS] = { "🔁", "repeat", T_INFO },
};
static const struct look unknown_look = { "❓", "event", T_INFO };

static bool str_is(const char *s, size_t n, const char *lit)
{
	return lit && s && strlen(lit) == n && !memcmp(s, lit, n);
}

int pm_event_type_by_name(const char *name, size_t n)
{
	for (int i = 0; i < PM_EVENT_TYPE_END; i++)
		if (type_rows[i].native && !type_rows[i].sub &&
		    (str_is(name, n, type_rows[i].native) || str_is(name, n, type_rows[i].lc)))
			return i;
	/* ProcessEvent's sub-types, and their LimaCharlie names */
	for (int i = 0; i < PM_EVENT_TYPE_END; i++)
		if (type_rows[i].sub &&
		    (str_is(name, n, type_rows[i].sub) || str_is(name, n, type_rows[i].lc)))
			return i;
	return -1;
}

int pm_color_choice(const char *arg, int fd)
{
	if (!strcmp(arg, "always"))
		return 1;
	if (!strcmp(arg, "never"))
		return 0;
	if (!strcmp(arg, "auto"))
		return isatty(fd) && !getenv("NO_COLOR");
	return -1;
}

/* ---- reading the event ---- */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
		       ? v
		       : NULL;
}

static struct pm_str str_of(struct json_object *o)
{
	struct pm_str s = { 0 };

	if (o && json_object_is_type(o, json_type_string)) {
		s.s = json_object_get_string(o);
		s.n = (size_t)json_object_get_string_len(o);
	}
	return s;
}

static struct pm_str sget(struct json_object *o, const char *key)
{
	return str_of(get(o, key));
}

static int64_t iget(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

/* "2026-11-22T07:41:41.123Z" -> Unix ms; -1 otherwise. */
static int64_t rfc3339_ms(struct pm_str t)
{
	struct tm tm = { 0 };
	char buf[40];
	const char *rest;
	int64_t ms = 0;

	if (!t.s || t.n >= sizeof(buf))
		return -1;
	memcpy(buf, t.s, t.n);
	buf[t.n] = '\0';
	rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	if (*rest == '.')
		for (int i = 0, scale = 100; i < 3 && rest[1 + i] >= '0' && rest[1 + i] <= '9';
		     i++, scale /= 10)
			ms += (rest[1 + i] - '0') * scale;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* COMMAND_LINE is argv0, a space, then the arguments. */
static struct pm_str after_first_word(struct pm_str s)
{
	const char *sp = s.s ? memchr(s.s, ' ', s.n) : NULL;

	if (!sp)
		return (struct pm_str){ s.s ? s.s + s.n : NULL, 0 };
	return (struct pm_str){ sp + 1, s.n - (size_t)(sp + 1 - s.s) };
}

static void view_limacharlie(struct pm_event_view *v, struct json_object *routing)
{
	struct json_object *ev = get(v->root, "event");
	struct json_object *parent = get(ev, "PARENT");

	v->limacharlie = true;
	v->type_name = sget(routing, "event_type");
	v->host = sget(routing, "hostname");
	v->time_ms = iget(routing, "event_time");
	v->seq = iget(routing, "seq");
	v->event_id = sget(routing, "event_id");
	v->id = sget(routing, "this");
	v->parent_id = sget(routing, "parent");
	v->pid = iget(ev, "PROCESS_ID");
	v->ppid = iget(ev, "PARENT_PROCESS_ID");
	v->uid = iget(ev, "USER_ID");
	v->user_name = sget(ev, "USER_NAME");
	v->binary = sget(ev, "FILE_PATH");
	v->args = after_first_word(sget(ev, "COMMAND_LINE"));
	v->parent_binary = sget(parent, "FILE_PATH");
	v->parent_args = after_first_word(sget(parent, "COMMAND_LINE"));
	v->detail = ev;
}

static void view_native(struct pm_event_view *v)
{
	struct json_object *p = get(v->root, "process"), *pp = get(v->root, "parent");
	static const char *const details[] = { "process_event", "remote_thread", "code_identity",
					       "thread_injection", "module_load", "repeated" };

	v->type_name = sget(v->root, "type");
	v->host = sget(v->root, "host");
	v->time_ms = rfc3339_ms(sget(v->root, "timestamp"));
	v->seq = iget(v->root, "seq");
	v->event_id = sget(v->root, "event_id");
	v->pid = iget(p, "pid");
	v->ppid = iget(p, "ppid");
	v->uid = iget(p, "uid");
	v->euid = iget(p, "euid");
	v->binary = sget(p, "binary_path");
	v->args = sget(p, "args");
	v->id = sget(p, "exec_id");
	v->parent_id = sget(pp, "exec_id");
	v->parent_binary = sget(pp, "binary_path");
	v->parent_args = sget(pp, "args");
	for (size_t i = 0; i < sizeof(details) / sizeof(details[0]) && !v->detail; i++)
		v->detail = get(v->root, details[i]);
}

int pm_event_view_parse(struct pm_event_view *v, const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *routing;
	enum json_tokener_error err;

	memset(v, 0, sizeof(*v));
	v->type = -1;
	v->time_ms = v->pid = v->ppid = v->uid = v->euid = v->seq = -1;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > INT32_MAX)
		return -EINVAL;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	v->root = json_tokener_parse_ex(tok, line, (int)len);
	err = json_tokener_get_error(tok);
	/* one whole object, nothing after it */
	if (v->root && (err != json_tokener_success || json_tokener_get_parse_end(tok) != len ||
			!json_object_is_type(v->root, json_type_object))) {
		json_object_put(v->root);
		v->root = NULL;
	}
	json_tokener_free(tok);
	if (!v->root)
		return -EINVAL;
	routing = get(v->root, "routing");
	if (routing)
		view_limacharlie(v, routing);
	else
		view_native(v);
	if (v->type_name.s) {
		struct json_object *sub = get(get(v->root, "process_event"), "type");
		struct pm_str s = str_of(sub);

		/* a ProcessEvent is its sub-type; SensitiveProcessAccess keeps its own */
		v->type = pm_event_type_by_name(v->type_name.s, v->type_name.n);
		if (str_is(v->type_name.s, v->type_name.n, "ProcessEvent") && s.s)
			v->type = pm_event_type_by_name(s.s, s.n);
	}
	return 0;
}

void pm_event_view_free(struct pm_event_view *v)
{
	json_object_put(v->root);
	v->root = NULL;
}

/* ---- writing for a terminal ---- */

static void raw(struct pm_buf *b, const char *s)
{
	pm_buf_put(b, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters a terminal would act on or that reorder what follows. */
static bool hidden(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x061c ||
	       c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

/* One input character at s as the terminal shows it, into unit (at most
 * 16 bytes); returns the input bytes it took. */
static size_t one_unit(const unsigned char *s, size_t n, char unit[16], size_t *ulen)
{
	uint32_t c;
	size_t len = utf8_len(s, n, &c);

	if (!len) {
		*ulen = (size_t)snprintf(unit, 16, "\\x%02x", s[0]);
		return 1;
	}
	if (c == '\\') {
		*ulen = 2, memcpy(unit, "\\\\", 2);
	} else if (c == '\n' || c == '\t' || c == '\r') {
		*ulen = 2, unit[0] = '\\', unit[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
	} else if (c < 0x80 && hidden(c)) {
		*ulen = (size_t)snprintf(unit, 16, "\\x%02x", c);
	} else if (hidden(c)) {
		*ulen = (size_t)snprintf(unit, 16, "\\u{%x}", c);
	} else {
		*ulen = len, memcpy(unit, s, len);
	}
	return len;
}

void pm_compact_put(struct pm_buf *out, const char *s, size_t n, size_t max, bool keep_end)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, skip = 0, i, ulen;
	char unit[16];

	if (!s)
		return;
	/* one pass to count the characters, when a cut may be needed */
	if (n > max) {
		for (i = 0; i < n; chars++)
			i += one_unit(p + i, n - i, unit, &ulen);
	}
	if (max && chars > max && keep_end) {
		raw(out, "…");
		skip = chars - (max - 1);
	}
	chars = 0;
	for (i = 0; i < n;) {
		size_t used = one_unit(p + i, n - i, unit, &ulen);

		if (chars >= skip && !keep_end && max && chars - skip >= max - 1 && i + used < n) {
			raw(out, "…");
			return;
		}
		if (chars++ >= skip)
			pm_buf_put(out, unit, ulen);
		i += used;
	}
}

static void put_str(struct pm_buf *out, struct pm_str s, size_t max, bool keep_end)
{
	pm_compact_put(out, s.s, s.n, max, keep_end);
}

/* ---- the line ---- */

#define W_HOST 24
#define W_PATH 60
#define W_ARGS 512
#define W_DETAIL 60

static const char *const tone_sgr[] = {
	[T_PROC] = "\033[32m", [T_EXIT] = "\033[33m", [T_PRIV] = "\033[35m",
	[T_ALERT] = "\033[1;31m", [T_INFO] = "\033[36m",
};

struct line {
	struct pm_buf *b;
	bool color;
};

static void sgr(struct line *l, const char *code)
{
	if (l->color)
		raw(l->b, code);
}

static void reset(struct line *l)
{
	sgr(l, "\033[0m");
}

static void sp(struct line *l)
{
	pm_buf_put(l->b, " ", 1);
}

static void num(struct line *l, int64_t v)
{
	char buf[24];

	pm_buf_put(l->b, buf, (size_t)snprintf(buf, sizeof(buf), "%lld", (long long)v));
}

/* " key value" for a detail; the value escaped and cut (a path keeps
 * its end, which names the file). */
static void kv_cut(struct line *l, const char *key, struct pm_str val, bool path)
{
	if (!val.s || !val.n)
		return;
	sp(l);
	sgr(l, "\033[2m");
	raw(l->b, key);
	reset(l);
	sp(l);
	put_str(l->b, val, W_DETAIL, path);
}

static void kv(struct line *l, const char *key, struct pm_str val)
{
	kv_cut(l, key, val, false);
}

static void kv_num(struct line *l, const char *key, struct json_object *o)
{
	char buf[24];

	if (!o || !json_object_is_type(o, json_type_int))
		return;
	kv(l, key, (struct pm_str){ buf, (size_t)snprintf(buf, sizeof(buf), "%lld",
							     (long long)json_object_get_int64(o)) });
}

/* Another process named in the event (a target, a child): pid and binary. */
static void other_process(struct line *l, const char *arrow, struct json_object *p)
{
	if (!p || !json_object_is_type(p, json_type_object))
		return;
	sp(l);
	raw(l->b, arrow);
	sp(l);
	sgr(l, "\033[1m");
	num(l, iget(p, "pid"));
	reset(l);
	sp(l);
	put_str(l->b, sget(p, "binary_path"), W_PATH, true);
}

/* A JSON value (prctl's cmd) as its compact text. */
static void kv_json(struct line *l, const char *key, struct json_object *o)
{
	const char *s;

	if (!o)
		return;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	kv(l, key, (struct pm_str){ s, strlen(s) });
}

static void native_details(struct line *l, const struct pm_event_view *v)
{
	struct json_object *r = v->root, *d = v->detail;
	struct pm_str s;

	switch (v->type) {
	case PM_EVENT_EXEC:
	case PM_EVENT_EXISTING_PROCESS: {
		struct json_object *p = get(r, "process");

		kv(l, "secureexec", sget(p, "secureexec"));
		s = sget(p, "container_id");
		if (s.n > 12)
			s.n = 12;
		kv(l, "container", s);
		break;
	}
	case PM_EVENT_CLONE:
		sp(l);
		sgr(l, "\033[2m");
		raw(l->b, "from");
		reset(l);
		sp(l);
		num(l, v->ppid);
		break;
	case PM_EVENT_EXIT:
		s = sget(r, "signal");
		if (s.n) {
			kv(l, "signal", s);
		} else {
			int64_t code = iget(r, "exit_code");

			sp(l);
			sgr(l, code ? "\033[1;31m" : "\033[2m");
			raw(l->b, "exit ");
			num(l, code);
			reset(l);
		}
		break;
	case PM_EVENT_SETUID:
	case PM_EVENT_SETGID: {
		static const char *const ids[2][3] = { { "uid", "euid", "fsuid" },
						       { "gid", "egid", "fsgid" } };
		const char *const *id = ids[v->type == PM_EVENT_SETGID];

		for (int i = 0; i < 3; i++)
			kv_num(l, id[i], get(d, id[i]));
		kv(l, "via", sget(d, "flags"));
		break;
	}
	case PM_EVENT_SETCAPS:
		kv(l, "effective", sget(d, "effective"));
		kv(l, "permitted", sget(d, "permitted"));
		break;
	case PM_EVENT_PRCTL:
		kv_json(l, "cmd", get(d, "cmd"));
		break;
	case PM_EVENT_CREATE_USER_NS:
		sp(l);
		raw(l->b, "new user namespace");
		break;
	case PM_EVENT_SETNS:
	case PM_EVENT_UNSHARE:
		kv(l, "ns", sget(d, "namespaces"));
		kv_num(l, "inode", get(d, "namespace_inode"));
		other_process(l, "→", get(d, "target"));
		break;
	case PM_EVENT_PTRACE_ACCESS:
	case PM_EVENT_SENSITIVE_ACCESS:
		kv(l, "by", sget(d, "access"));
		other_process(l, "→", get(d, "child"));
		kv_num(l, "pid", get(d, "child_pid"));
		kv(l, "open", sget(d, "open_mode"));
		kv(l, "error", sget(d, "error"));
		break;
	case PM_EVENT_REMOTE_THREAD:
		kv_num(l, "thread", get(d, "thread_id"));
		other_process(l, "in", get(d, "target"));
		break;
	case PM_EVENT_THREAD_INJECTION: {
		struct json_object *steps = get(d, "events");
		char buf[256];
		size_t n = 0;

		other_process(l, "→", get(d, "target"));
		for (size_t i = 0; steps && json_object_is_type(steps, json_type_array) &&
				   i < json_object_array_length(steps) && n < sizeof(buf) - 64;
		     i++) {
			s = sget(json_object_array_get_idx(steps, i), "type");
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s", i ? "," : "",
					      (int)(s.n > 40 ? 40 : s.n), s.s ? s.s : "");
		}
		kv(l, "steps", (struct pm_str){ buf, n });
		break;
	}
	case PM_EVENT_NEW_NAMED_PIPE:
	case PM_EVENT_OPEN_NAMED_PIPE:
		kv_cut(l, "fifo", sget(r, "file_path"), true);
		break;
	case PM_EVENT_MODULE_LOAD:
		kv(l, "module", sget(d, "module_name"));
		break;
	case PM_EVENT_REPEATS: /* how many of what, held back (events.md) */
		kv_num(l, "count", get(d, "count"));
		s = sget(d, "process_event_type");
		kv(l, "of", s.n ? s : sget(d, "type"));
		break;
	case PM_EVENT_ENVIRONMENT: {
		struct json_object *env = get(r, "environment");

		if (env && json_object_is_type(env, json_type_array)) {
			sp(l);
			num(l, (int64_t)json_object_array_length(env));
			raw(l->b, " variables");
		}
		if (get(r, "environment_truncated"))
			raw(l->b, " (truncated)");
		break;
	}
	case PM_EVENT_DETECTION: {
		struct json_object *rule = get(r, "rule");

		kv(l, "level", sget(rule, "level"));
		kv_cut(l, "rule", sget(rule, "title"), false);
		break;
	}
	case PM_EVENT_CODE_IDENTITY:
	case PM_EVENT_ONGOING_IDENTITY:
		s = sget(d, "hash");
		if (s.n > 19) /* "sha256:" and 12 hex digits name it well enough */
			s.n = 19;
		kv_cut(l, "file", sget(d, "file_path"), true);
		kv(l, "hash", s);
		kv(l, "mode", sget(d, "mode"));
		break;
	default:
		break;
	}
}

/* LimaCharlie's event: the scalar fields the line has not shown yet. */
static void limacharlie_details(struct line *l, const struct pm_event_view *v)
{
	static const char *const shown[] = { "PROCESS_ID", "PARENT_PROCESS_ID", "USER_ID",
					     "USER_NAME", "FILE_PATH", "COMMAND_LINE",
					     "TIMESTAMP", "HASH" };
	size_t before = l->b->len;

	if (!v->detail || !json_object_is_type(v->detail, json_type_object))
		return;
	json_object_object_foreach(v->detail, key, val)
	{
		bool skip = false;
		char buf[64];
		struct pm_str s;

		for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
			skip |= !strcmp(key, shown[i]);
		if (skip || l->b->len - before > 2 * W_DETAIL)
			continue;
		if (json_object_is_type(val, json_type_string))
			s = str_of(val);
		else if (json_object_is_type(val, json_type_int) ||
			 json_object_is_type(val, json_type_boolean))
			s = (struct pm_str){ buf, (size_t)snprintf(buf, sizeof(buf), "%s",
								   json_object_get_string(val)) };
		else
			continue;
		kv(l, key, s);
	}
}

static const char *local_user_of(const struct pm_compact_opts *o, int64_t uid)
{
	return o && o->users && uid >= 0 && uid <= UINT32_MAX ? pm_user_name(o->users, (uint32_t)uid)
							      : NULL;
}

/* The user's name, when the event comes from a host whose names we know. */
static const char *local_user(const struct pm_event_view *v, const struct pm_compact_opts *o)
{
	if (!o || !o->users || (o->local_host && !str_is(v->host.s, v->host.n, o->local_host)))
		return NULL;
	return local_user_of(o, v->uid);
}

void pm_compact_render(struct pm_buf *out, const struct pm_event_view *v,
		       const struct pm_compact_opts *o)
{
	struct line l = { out, o && o->color };
	const struct look *look = v->type >= 0 && looks[v->type].word ? &looks[v->type] : &unknown_look;
	bool exit_ = v->type == PM_EVENT_EXIT;
	const char *name, *ename;
	char tbuf[32];

	/* time: UTC, as every timestamp procmon writes */
	if (v->time_ms >= 0) {
		time_t sec = (time_t)(v->time_ms / 1000);
		struct tm tm;

		gmtime_r(&sec, &tm);
		snprintf(tbuf, sizeof(tbuf), "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(v->time_ms % 1000));
	} else {
		snprintf(tbuf, sizeof(tbuf), "--:--:--.---");
	}
	sgr(&l, "\033[2m");
	raw(out, tbuf);
	reset(&l);
	sp(&l);
	sgr(&l, "\033[34m");
	put_str(out, v->host, W_HOST, false);
	reset(&l);
	sp(&l);
	raw(out, look->glyph);
	sp(&l);
	sgr(&l, tone_sgr[look->tone]);
	if (look == &unknown_look) /* its own name, whatever it is */
		put_str(out, v->type_name, 24, false);
	else {
		char word[16];

		pm_buf_put(out, word, (size_t)snprintf(word, sizeof(word), "%-7s", look->word));
	}
	reset(&l);
	sp(&l);
	sgr(&l, "\033[1m");
	num(&l, v->pid);
	reset(&l);
	sp(&l);
	if (v->user_name.s) {
		put_str(out, v->user_name, 16, false);
	} else if ((name = local_user(v, o))) {
		pm_compact_put(out, name, strlen(name), 16, false);
		if (v->euid >= 0 && v->euid != v->uid && (ename = local_user_of(o, v->euid))) {
			raw(out, "/e:");
			pm_compact_put(out, ename, strlen(ename), 16, false);
		}
	} else {
		raw(out, "uid=");
		num(&l, v->uid);
		if (v->euid >= 0 && v->euid != v->uid) {
			raw(out, "/e");
			num(&l, v->euid);
		}
	}
	if (v->binary.s && v->binary.n) {
		sp(&l);
		sgr(&l, "\033[1m");
		put_str(out, v->binary, W_PATH, true);
		reset(&l);
	}
	/* arguments for what runs; an exit names what ended */
	if (v->args.s && v->args.n &&
	    (exit_ || v->type == PM_EVENT_EXEC || v->type == PM_EVENT_EXISTING_PROCESS ||
	     v->limacharlie)) {
		sp(&l);
		put_str(out, v->args, W_ARGS, false);
	}
	if (v->limacharlie)
		limacharlie_details(&l, v);
	else
		native_details(&l, v);
	pm_buf_put(out, "\n", 1);
}

int pm_compact_line(struct pm_buf *out, const char *line, size_t len,
		    const struct pm_compact_opts *o)
{
	struct pm_event_view v;
	int err = pm_event_view_parse(&v, line, len);

	if (err)
		return err;
	pm_compact_render(out, &v, o);
	pm_event_view_free(&v);
	return 0;
}
