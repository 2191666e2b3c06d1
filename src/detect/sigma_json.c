// SPDX-License-Identifier: GPL-2.0
#include "detect/sigma_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/* json-c names a typedef json_bool: unused here */
#define json_bool json_c_bool
#include <json-c/json.h>
#undef json_bool

/*
 * The mapping: which member of the ProcessExec feeds which fact. Strings
 * are kept as given; numbers only as integers (a fraction or an exponent
 * is not a pid: unknown, as json-c's int type would say).
 */
enum slot {
	S_IMAGE,    /* Image */
	S_FILENAME, /* OriginalFileName */
	S_CWD,      /* CurrentDirectory */
	S_ARGV0,    /* CommandLine, with S_ARGS (and S_IMAGE without argv0) */
	S_ARGS,
	S_P_IMAGE, /* ParentImage */
	S_P_ARGV0, /* ParentCommandLine, with S_P_ARGS (and S_P_IMAGE) */
	S_P_ARGS,
	S_N_STR,
	S_PID = S_N_STR, /* ProcessId */
	S_PPID,          /* ParentProcessId */
	S_AUID,          /* LogonId */
	S_UID,
	S_EUID,
	S_N,
};

enum obj { O_PROCESS, O_PARENT, O_N };

static const struct {
	enum obj obj;
	const char *key;
	size_t len;
	enum slot slot;
} mapping[] = {
#define M(o, k, s) { o, k, sizeof(k) - 1, s }
	M(O_PROCESS, "binary_path", S_IMAGE), M(O_PROCESS, "filename", S_FILENAME),
	M(O_PROCESS, "cwd", S_CWD),           M(O_PROCESS, "argv0", S_ARGV0),
	M(O_PROCESS, "args", S_ARGS),         M(O_PROCESS, "pid", S_PID),
	M(O_PROCESS, "ppid", S_PPID),         M(O_PROCESS, "auid", S_AUID),
	M(O_PROCESS, "uid", S_UID),           M(O_PROCESS, "euid", S_EUID),
	M(O_PARENT, "binary_path", S_P_IMAGE), M(O_PARENT, "argv0", S_P_ARGV0),
	M(O_PARENT, "args", S_P_ARGS),
#undef M
};
static const char *const obj_key[O_N] = { "process", "parent" };
static const size_t obj_key_len[O_N] = { 7, 6 };

#define NONE (-1)
#define K_TYPE (-2) /* the top-level "type" */

struct pm_sigma_json {
	/* the values of one line, in one arena: offsets, as it grows */
	char *arena;
	size_t len, cap;
	bool oom;
	size_t off[S_N_STR], slen[S_N_STR];
	bool have[S_N_STR];
	int64_t num[S_N - S_N_STR];
	/* "process" / "parent": present as an object (the last one given) */
	bool obj[O_N];
	/* "type" is "ProcessExec" (the last one given) */
	bool exec;
	bool have_type;
	bool top_is_object;
	/* where the parser is: nesting, the open member at depths 1 and 2 */
	int depth;
	int top_key;  /* NONE, K_TYPE or an enum obj */
	int open_obj; /* the enum obj whose object is open at depth 2, or NONE */
	int key;      /* the mapping row of the member at depth 2, or NONE */
};

static void clear_obj(struct pm_sigma_json *r, enum obj o)
{
	for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++) {
		if (mapping[i].obj != o)
			continue;
		if (mapping[i].slot < S_N_STR)
			r->have[mapping[i].slot] = false;
		else
			r->num[mapping[i].slot - S_N_STR] = -1;
	}
}

/* room for len more bytes in the arena: its offset, or SIZE_MAX */
static size_t reserve(struct pm_sigma_json *r, size_t len)
{
	size_t at = r->len;

	if (r->cap - r->len < len) {
		size_t cap = r->cap ? r->cap : 4096;
		char *n;

		while (cap - r->len < len)
			cap *= 2;
		n = realloc(r->arena, cap);
		if (!n) {
			r->oom = true;
			return SIZE_MAX;
		}
		r->arena = n;
		r->cap = cap;
	}
	r->len += len;
	return at;
}

static void put_str(struct pm_sigma_json *r, enum slot s, const unsigned char *v, size_t len)
{
	size_t at = reserve(r, len + 1);

	if (at == SIZE_MAX)
		return;
	memcpy(r->arena + at, v, len);
	r->arena[at + len] = 0;
	r->off[s] = at;
	r->slen[s] = len;
	r->have[s] = true;
}

/* an integer the way json-c reads one: saturated at int64's ends */
static int64_t to_int(const char *v, size_t len)
{
	bool neg = len && v[0] == '-';
	uint64_t x = 0;

	for (size_t i = neg; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1; /* a fraction or an exponent */
		if (x > (UINT64_MAX - 9) / 10)
			x = UINT64_MAX;
		else
			x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (neg)
		return x > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)x;
	return x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x;
}

/*
 * A value arrives (a scalar, or the start of an object or array: then
 * str, num are NULL): give it to the member it is the value of. Every
 * value given replaces the one before, so a key given twice counts by
 * its last value, of whatever type.
 */
static void value(struct pm_sigma_json *r, bool is_map, const unsigned char *str, size_t len,
		  const char *num)
{
	if (r->depth == 0) {
		r->top_is_object = is_map;
		return;
	}
	if (r->depth == 1) {
		if (r->top_key == K_TYPE) {
			r->have_type = true;
			r->exec = str && len == 11 && !memcmp(str, "ProcessExec", 11);
		} else if (r->top_key >= 0) {
			clear_obj(r, (enum obj)r->top_key);
			r->obj[r->top_key] = is_map;
			if (is_map)
				r->open_obj = r->top_key;
		}
		r->top_key = NONE;
		return;
	}
	if (r->depth == 2 && r->open_obj != NONE && r->key != NONE) {
		enum slot s = mapping[r->key].slot;

		if (s < S_N_STR) {
			r->have[s] = false;
			if (str)
				put_str(r, s, str, len);
		} else {
			r->num[s - S_N_STR] = num ? to_int(num, len) : -1;
		}
		r->key = NONE;
	}
}

static int on_null(void *ctx)
{
	value(ctx, false, NULL, 0, NULL);
	return 1;
}

static int on_bool(void *ctx, int b)
{
	(void)b;
	value(ctx, false, NULL, 0, NULL);
	return 1;
}

static int on_number(void *ctx, const char *v, size_t len)
{
	value(ctx, false, NULL, len, v);
	return 1;
}

static int on_string(void *ctx, const unsigned char *v, size_t len)
{
	/* an empty string is a string still */
	value(ctx, false, v ? v : (const unsigned char *)"", len, NULL);
	return 1;
}

static int on_start(void *ctx, bool is_map)
{
	struct pm_sigma_json *r = ctx;

	if (r->depth >= PM_SIGMA_JSON_MAX_DEPTH)
		return 0; /* cancel: the line is unreadable */
	value(r, is_map, NULL, 0, NULL);
	r->depth++;
	return 1;
}

static int on_start_map(void *ctx)
{
	return on_start(ctx, true);
}

static int on_start_array(void *ctx)
{
	return on_start(ctx, false);
}

static int on_end(void *ctx)
{
	struct pm_sigma_json *r = ctx;

	if (--r->depth == 1)
		r->open_obj = NONE;
	return 1;
}

static int on_key(void *ctx, const unsigned char *k, size_t len)
{
	struct pm_sigma_json *r = ctx;

	if (r->depth == 1) {
		r->top_key = NONE;
		if (len == 4 && !memcmp(k, "type", 4))
			r->top_key = K_TYPE;
		for (int o = 0; o < O_N; o++)
			if (obj_key_len[o] == len && !memcmp(k, obj_key[o], len))
				r->top_key = o;
	} else if (r->depth == 2 && r->open_obj != NONE) {
		r->key = NONE;
		for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++)
			if (mapping[i].len == len && (int)mapping[i].obj == r->open_obj &&
			    !memcmp(k, mapping[i].key, len)) {
				r->key = (int)i;
				break;
			}
	}
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_end,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end,
};

int pm_sigma_json_new(struct pm_sigma_json **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void pm_sigma_json_free(struct pm_sigma_json *r)
{
	if (r)
		free(r->arena);
	free(r);
}

static const char *get(const struct pm_sigma_json *r, enum slot s, size_t *len)
{
	if (!r->have[s])
		return NULL;
	if (len)
		*len = r->slen[s];
	return r->arena + r->off[s];
}

/*
 * CommandLine as the daemon builds it from its process cache (and
 * LimaCharlie's COMMAND_LINE): argv[0] as the program got it, then a
 * space and the arguments when there are any; without a known argv[0],
 * the path in its place; with neither, the arguments alone. A string
 * with a NUL inside counts up to the NUL (procmon's output has none).
 * Written into the arena (a line's own values bound its size): its
 * offset there, or SIZE_MAX out of memory.
 */
static size_t cmdline(struct pm_sigma_json *r, enum slot argv0_s, enum slot args_s,
		      enum slot path_s)
{
	size_t a0 = 0, al = 0, pl = 0, first_len, at;
	const char *argv0 = get(r, argv0_s, &a0), *args = get(r, args_s, &al),
		   *path = get(r, path_s, &pl), *first;
	size_t first_off = SIZE_MAX, args_off = args ? r->off[args_s] : 0;

	first = argv0 ? argv0 : path ? path : "";
	first_len = strnlen(first, argv0 ? a0 : path ? pl : 0);
	if (first_len)
		first_off = r->off[argv0 ? argv0_s : path_s];
	al = args ? strnlen(args, al) : 0;
	if (!first_len && !argv0) {
		first_off = args_off;
		first_len = al;
		al = 0;
	}
	/* offsets, not pointers: reserve may move the arena */
	at = reserve(r, first_len + (al ? 1 + al : 0) + 1);
	if (at == SIZE_MAX)
		return SIZE_MAX;
	if (first_len)
		memcpy(r->arena + at, r->arena + first_off, first_len);
	if (al) {
		r->arena[at + first_len] = ' ';
		memcpy(r->arena + at + first_len + 1, r->arena + args_off, al);
	}
	r->arena[at + first_len + (al ? 1 + al : 0)] = 0;
	return at;
}

static void start(struct pm_sigma_json *r, struct pm_sigma_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	r->len = 0;
	r->oom = r->exec = r->have_type = r->top_is_object = false;
	r->depth = 0;
	r->top_key = r->open_obj = r->key = NONE;
	for (int o = 0; o < O_N; o++) {
		r->obj[o] = false;
		clear_obj(r, (enum obj)o);
	}
}

/* the values read (ok: the line was one JSON value) into ev */
static int finish(struct pm_sigma_json *r, bool ok, struct pm_sigma_event *ev)
{
	if (r->oom)
		return -ENOMEM;
	if (!ok || !r->top_is_object)
		return -EINVAL;
	if (!r->exec)
		return 1;
	if (!r->obj[O_PROCESS])
		return -EINVAL;
	/* the joined lines first: they may move the arena */
	size_t cmd = cmdline(r, S_ARGV0, S_ARGS, S_IMAGE);
	size_t pcmd = r->obj[O_PARENT] ? cmdline(r, S_P_ARGV0, S_P_ARGS, S_P_IMAGE) : 0;

	if (r->oom)
		return -ENOMEM;
	ev->command_line = r->arena + cmd;
	ev->parent_command_line = r->obj[O_PARENT] ? r->arena + pcmd : NULL;
	ev->image = get(r, S_IMAGE, NULL);
	ev->parent_image = get(r, S_P_IMAGE, NULL);
	ev->original_file_name = get(r, S_FILENAME, NULL);
	ev->current_directory = get(r, S_CWD, NULL);
	/* User: the native format carries uids, not names, and the recording
	 * may come from another host: unknown (NULL) here */
	ev->process_id = r->num[S_PID - S_N_STR];
	ev->parent_process_id = r->num[S_PPID - S_N_STR];
	ev->logon_id = r->num[S_AUID - S_N_STR];
	if (ev->logon_id == 4294967295) /* unset, as the daemon maps it */
		ev->logon_id = -1;
	ev->uid = r->num[S_UID - S_N_STR];
	ev->euid = r->num[S_EUID - S_N_STR];
	return 0;
}

int pm_sigma_json_read(struct pm_sigma_json *r, const char *line, size_t len,
		       struct pm_sigma_event *ev)
{
	yajl_handle h;
	yajl_status st;

	start(r, ev);
	h = yajl_alloc(&callbacks, NULL, r);
	if (!h)
		return -ENOMEM;
	/* as json-c took them: bytes that are not UTF-8 are kept, and
	 * procmon's writer replaces them when a detection is written */
	yajl_config(h, yajl_dont_validate_strings, 1);
	st = yajl_parse(h, (const unsigned char *)line, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	return finish(r, st == yajl_status_ok, ev);
}

/* json-c's DOM as the same events, in its order: the bench's baseline */
static int walk(struct pm_sigma_json *r, struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return on_null(r);
	case json_type_boolean:
		return on_bool(r, json_object_get_boolean(o));
	case json_type_int:
	case json_type_double: {
		const char *num = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

		return on_number(r, num, strlen(num));
	}
	case json_type_string:
		return on_string(r, (const unsigned char *)json_object_get_string(o),
				 (size_t)json_object_get_string_len(o));
	case json_type_array:
		if (!on_start_array(r))
			return 0;
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!walk(r, json_object_array_get_idx(o, i)))
				return 0;
		return on_end(r);
	case json_type_object:
		if (!on_start_map(r))
			return 0;
		json_object_object_foreach(o, k, v)
		{
			if (!on_key(r, (const unsigned char *)k, strlen(k)) || !walk(r, v))
				return 0;
		}
		return on_end(r);
	}
	return 0;
}

int pm_sigma_json_read_dom(struct pm_sigma_json *r, struct json_object *exec,
			   struct pm_sigma_event *ev)
{
	start(r, ev);
	return finish(r, exec && walk(r, exec), ev);
}
