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

const char *pm_sigma_command_line(const char *argv0, size_t argv0_len, const char *args,
				  size_t args_len, char **buf, size_t *cap)
{
	size_t need;

	if (!argv0 && !args)
		return NULL;
	if (!argv0)
		argv0_len = 0;
	if (!args)
		args_len = 0;
	need = argv0_len + 1 + args_len + 1;
	if (*cap < need) {
		char *n = realloc(*buf, need);

		if (!n)
			return NULL;
		*buf = n;
		*cap = need;
	}
	memcpy(*buf, argv0 ? argv0 : "", argv0_len);
	if (argv0_len && args_len)
		(*buf)[argv0_len++] = ' ';
	memcpy(*buf + argv0_len, args ? args : "", args_len);
	(*buf)[argv0_len + args_len] = 0;
	return *buf;
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

/* A string with a NUL inside cannot be a C string: the part before it is
 * what Sigma sees (procmon's own output never has one: it escapes). */
static int cmdline(struct json_object *p, char **buf, size_t *cap, const char **out)
{
	size_t a0 = 0, al = 0;
	const char *argv0 = str(p, "argv0", &a0), *args = str(p, "args", &al);

	*out = NULL;
	if (!argv0 && !args)
		return 0;
	*out = pm_sigma_command_line(argv0, argv0 ? strnlen(argv0, a0) : 0, args,
				     args ? strnlen(args, al) : 0, buf, cap);
	return *out ? 0 : -ENOMEM;
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
	if (!ret)
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
