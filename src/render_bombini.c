// SPDX-License-Identifier: GPL-2.0
/* The native format: the shapes of Bombini's ProcMon events (contract 5). */
#include "render.h"

#include <linux/types.h>

#include "hash.h"
#include "names.h"
#include "procmon/events.h"
#include "timefmt.h"

static const char *const type_names[] = {
	[PM_EVENT_EXEC] = "ProcessExec",
	[PM_EVENT_CLONE] = "ProcessClone",
	[PM_EVENT_EXIT] = "ProcessExit",
};

static void kv_time(struct json_buf *b, const char *key, uint64_t boot_ns,
		    const struct pm_render_ctx *ctx)
{
	char ts[PM_RFC3339_LEN];

	json_kv_str(b, key, pm_format_rfc3339_ms((int64_t)boot_ns + ctx->boot_to_unix_ns, ts));
}

static void kv_caps(struct json_buf *b, const char *key, uint64_t caps,
		    const struct pm_render_ctx *ctx)
{
	json_key(b, key);
	pm_json_caps(b, caps, ctx->cap_last);
}

/* The process object of the seed, field for field, then procmon's own. */
static void render_process(struct json_buf *b, const struct pm_process *p,
			   const struct pm_render_ctx *ctx)
{
	const struct pm_image *img = p->image;

	json_obj_begin(b);
	kv_time(b, "start_time", p->start_ns, ctx);
	json_kv_bool(b, "cloned", p->cloned);
	json_kv_u64(b, "pid", p->pid);
	json_kv_u64(b, "tid", p->tid);
	json_kv_u64(b, "ppid", p->ppid);
	json_kv_u64(b, "uid", p->uid);
	json_kv_u64(b, "euid", p->euid);
	json_kv_u64(b, "gid", p->gid);
	json_kv_u64(b, "egid", p->egid);
	json_kv_u64(b, "auid", p->auid);
	kv_caps(b, "cap_inheritable", p->cap_inheritable, ctx);
	kv_caps(b, "cap_permitted", p->cap_permitted, ctx);
	kv_caps(b, "cap_effective", p->cap_effective, ctx);
	json_key(b, "secureexec");
	pm_json_secureexec(b, img ? img->secureexec : 0);
	json_kv_str(b, "filename", img && img->filename ? img->filename : "");
	json_kv_str(b, "binary_path", img && img->binary_path ? img->binary_path : "");
	json_key(b, "args");
	if (img && img->args)
		json_strn(b, img->args, img->args_len);
	else
		json_str(b, "");
	if (img && img->hash && pm_hash_state(img->hash) == PM_HASH_DONE)
		json_kv_str(b, "binary_ima_hash", img->hash->hex);
	json_kv_str(b, "exec_id", p->exec_id);
	if (p->container_id)
		json_kv_str(b, "container_id", p->container_id);
	if (img && img->args_truncated)
		json_kv_bool(b, "args_truncated", true);
	if (img && img->path_truncated)
		json_kv_bool(b, "binary_path_truncated", true);
	json_obj_end(b);
}

void pm_render_bombini(struct json_buf *b, const struct pm_event *ev,
		       const struct pm_render_ctx *ctx)
{
	json_obj_begin(b);
	json_kv_str(b, "type", type_names[ev->type]);
	json_key(b, "process");
	render_process(b, ev->proc, ctx);
	json_key(b, "parent");
	if (ev->parent)
		render_process(b, ev->parent, ctx);
	else
		json_null(b);
	if (ev->type == PM_EVENT_EXIT) {
		char sig[16];

		json_kv_u64(b, "exit_code", (ev->exit_code >> 8) & 0xff);
		json_kv_str(b, "signal", pm_signal_name(ev->exit_code & 0x7f, sig, sizeof(sig)));
	}
	kv_time(b, "timestamp", ev->ktime_ns, ctx);
	json_obj_end(b);
}
