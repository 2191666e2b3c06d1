// SPDX-License-Identifier: GPL-2.0
#include "detect/sigma_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pm_sigma_json_buf_free(struct pm_sigma_json_buf *b)
{
	free(b->cmd);
	free(b->parent_cmd);
	memset(b, 0, sizeof(*b));
}

static const char *str(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

/*
 * CommandLine as the daemon builds it from its process cache (and
 * LimaCharlie's COMMAND_LINE): argv[0] as the program got it, then a
 * space and the arguments when there are any; without a known argv[0],
 * the path in its place; with neither, the arguments alone. A string
 * with a NUL inside counts up to the NUL (procmon's output has none).
 */
static int cmdline(struct json_object *p, char **buf, size_t *cap, const char **out)
{
	size_t a0 = 0, al = 0, pl = 0;
	const char *argv0 = str(p, "argv0", &a0), *args = str(p, "args", &al),
		   *path = str(p, "binary_path", &pl), *first;
	size_t first_len, need;

	*out = NULL;
	if (!p)
		return 0;
	first = argv0 ? argv0 : path ? path : "";
	first_len = strnlen(first, argv0 ? a0 : path ? pl : 0);
	al = args ? strnlen(args, al) : 0;
	if (!first_len && !argv0) {
		first = args ? args : "";
		first_len = al;
		al = 0;
	}
	need = first_len + 1 + al + 1;
	if (*cap < need) {
		char *n = realloc(*buf, need);

		if (!n)
			return -ENOMEM;
		*buf = n;
		*cap = need;
	}
	memcpy(*buf, first, first_len);
	if (al) {
		(*buf)[first_len++] = ' ';
		memcpy(*buf + first_len, args, al);
	}
	(*buf)[first_len + al] = 0;
	*out = *buf;
	return 0;
}

int pm_sigma_event_from_json(struct json_object *exec, struct pm_sigma_event *ev,
			     struct pm_sigma_json_buf *b)
{
	struct json_object *p = NULL, *pp = NULL;
	int ret;

	memset(ev, 0, sizeof(*ev));
	if (!json_object_object_get_ex(exec, "process", &p) ||
	    !json_object_is_type(p, json_type_object))
		return -EINVAL;
	if (!json_object_object_get_ex(exec, "parent", &pp) ||
	    !json_object_is_type(pp, json_type_object))
		pp = NULL;
	ev->image = str(p, "binary_path", NULL);
	ev->parent_image = str(pp, "binary_path", NULL);
	ev->original_file_name = str(p, "filename", NULL);
	ev->current_directory = str(p, "cwd", NULL);
	/* User: the native format carries uids, not names, and the recording
	 * may come from another host: unknown (NULL) here */
	ret = cmdline(p, &b->cmd, &b->cmd_cap, &ev->command_line);
	if (!ret && pp)
		ret = cmdline(pp, &b->parent_cmd, &b->parent_cmd_cap, &ev->parent_command_line);
	ev->process_id = num(p, "pid");
	ev->parent_process_id = num(p, "ppid");
	ev->logon_id = num(p, "auid");
	if (ev->logon_id == 4294967295) /* unset, as the daemon maps it */
		ev->logon_id = -1;
	ev->uid = num(p, "uid");
	ev->euid = num(p, "euid");
	return ret;
}
