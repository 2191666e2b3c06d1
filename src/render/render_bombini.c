// SPDX-License-Identifier: GPL-2.0
/* The native format: the shapes of Bombini's ProcMon events (contract 5). */
#define _GNU_SOURCE /* strerrorname_np */
#include "render/render.h"

#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/hash.h"
#include "render/names.h"
#include "procmon/events.h"
#include "base/timefmt.h"

/* PtraceAccessCheck's `access`: how the access was made (procmon's own). */
static const char *const access_names[] = {
	[PM_ACCESS_PTRACE_ATTACH] = "PTRACE_ATTACH",
	[PM_ACCESS_PTRACE_SEIZE] = "PTRACE_SEIZE",
	[PM_ACCESS_VM_READV] = "process_vm_readv",
	[PM_ACCESS_VM_WRITEV] = "process_vm_writev",
	[PM_ACCESS_PROC_MEM] = "proc_pid_mem",
	[PM_ACCESS_PIDFD_GETFD] = "pidfd_getfd",
};

static void kv_unix_time(struct json_buf *b, const char *key, int64_t unix_ns)
{
	char ts[PM_RFC3339_LEN];

	json_kv_str(b, key, pm_format_rfc3339_ms(unix_ns, ts));
}

static void kv_time(struct json_buf *b, const char *key, uint64_t boot_ns,
		    const struct pm_render_ctx *ctx)
{
	kv_unix_time(b, key, (int64_t)boot_ns + ctx->boot_to_unix_ns);
}

static void kv_caps(struct json_buf *b, const char *key, uint64_t caps,
		    const struct pm_render_ctx *ctx)
{
	json_key(b, key);
	if (ctx->caps_hex)
		pm_json_caps_hex(b, caps);
	else
		pm_json_caps(b, caps, ctx->cap_last);
}

/* The process object of the seed, field for field, then procmon's own. */
static void render_process_fields(struct json_buf *b, const struct pm_process *p,
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
	/* the name the program was given, which may not be its file's */
	if (img && img->argv0) {
		json_key(b, "argv0");
		json_strn(b, img->argv0, img->argv0_len);
	}
	/* the working directory at exec; a forked child may have moved since */
	if (img && img->cwd && !p->cloned)
		json_kv_str(b, "cwd", img->cwd);
	if (img && img->hash && pm_hash_state(img->hash) == PM_HASH_DONE)
		json_kv_str(b, "binary_ima_hash", img->hash->hex);
	if (img && img->script_path)
		json_kv_str(b, "script_path", img->script_path);
	if (img && img->script_hash && pm_hash_state(img->script_hash) == PM_HASH_DONE)
		json_kv_str(b, "script_ima_hash", img->script_hash->hex);
	json_kv_str(b, "exec_id", p->exec_id);
	if (p->container_id)
		json_kv_str(b, "container_id", p->container_id);
	if (img && img->args_truncated)
		json_kv_bool(b, "args_truncated", true);
	if (img && img->path_truncated)
		json_kv_bool(b, "binary_path_truncated", true);
	if (img && img->cwd_truncated && !p->cloned)
		json_kv_bool(b, "cwd_truncated", true);
	if (img && img->binary_deleted)
		json_kv_bool(b, "binary_deleted", true);
	if (img && img->args_from_proc)
		json_kv_bool(b, "args_from_proc", true);
	json_obj_end(b);
}

/*
 * The process object, rendered once per snapshot: an exec storm renders
 * the same parent in every event, and the capability names alone are
 * ~2 KiB per object. Not kept while the hash is pending, since the
 * object gains binary_ima_hash when it is done.
 */
static void render_process(struct json_buf *b, const struct pm_process *p,
			   const struct pm_render_ctx *ctx)
{
	struct pm_process *memo = (struct pm_process *)p; /* only the cache changes */
	const struct pm_image *img = p->image;
	size_t start = b->buf.len;

	if (p->rendered) {
		json_raw(b, p->rendered, p->rendered_len);
		return;
	}
	render_process_fields(b, p, ctx);
	if (b->buf.oom || p->memo_closed ||
	    (img && img->hash && pm_hash_state(img->hash) == PM_HASH_PENDING) ||
	    (img && img->script_hash && pm_hash_state(img->script_hash) == PM_HASH_PENDING))
		return;
	/* the object, without the member separator that may precede it */
	if (b->buf.data[start] == ',')
		start++;
	memo->rendered = malloc(b->buf.len - start);
	if (memo->rendered) {
		memcpy(memo->rendered, b->buf.data + start, b->buf.len - start);
		memo->rendered_len = b->buf.len - start;
	}
}

/* The `process_event` object of a ProcessEvent; ids and sets are those
 * the call produced, which the process snapshot also holds. */
static void render_process_event(struct json_buf *b, const struct pm_event *ev,
				 const struct pm_render_ctx *ctx)
{
	const struct pm_process *p = ev->proc;
	const struct pm_priv_detail *d = &ev->priv;
	/* SensitiveProcessAccess carries the access that made it */
	uint32_t type = ev->type == PM_EVENT_SENSITIVE_ACCESS ? PM_EVENT_PTRACE_ACCESS : ev->type;

	json_obj_begin(b);
	json_kv_str(b, "type", pm_event_info(type)->subtype);
	switch (type) {
	case PM_EVENT_SETUID:
	case PM_EVENT_SETGID: {
		static const struct pm_setid_keys keys[2] = {
			{ "uid", "euid", "fsuid", "flags" },
			{ "gid", "egid", "fsgid", "flags" },
		};

		pm_json_setid(b, ev, keys, true);
		break;
	}
	case PM_EVENT_SETCAPS:
		kv_caps(b, "effective", p->cap_effective, ctx);
		kv_caps(b, "inheritable", p->cap_inheritable, ctx);
		kv_caps(b, "permitted", p->cap_permitted, ctx);
		break;
	case PM_EVENT_PRCTL:
		json_key(b, "cmd");
		pm_json_prctl_cmd(b, d->arg[0], d->arg[1], d->arg[2], d->name, sizeof(d->name));
		break;
	case PM_EVENT_SETNS:
	case PM_EVENT_UNSHARE:
		json_key(b, "namespaces");
		pm_json_namespaces(b, d->flags);
		if (type == PM_EVENT_UNSHARE)
			break;
		/* a namespace file names no process; a pidfd does */
		if (d->arg[1] == PM_SETNS_NSFS)
			json_kv_u64(b, "namespace_inode", d->arg[0]);
		json_key(b, "target");
		if (ev->target)
			render_process(b, ev->target, ctx);
		else
			json_null(b);
		break;
	case PM_EVENT_PTRACE_ACCESS:
		json_key(b, "child");
		if (ev->target)
			render_process(b, ev->target, ctx);
		else
			json_null(b);
		json_key(b, "mode");
		pm_json_ptrace_mode(b, d->flags);
		if (d->access < sizeof(access_names) / sizeof(access_names[0]) &&
		    access_names[d->access])
			json_kv_str(b, "access", access_names[d->access]);
		/* a write to another's memory is not a read: how it was opened */
		if (d->access == PM_ACCESS_PROC_MEM)
			json_kv_str(b, "open_mode", pm_open_mode_name(d->arg[0]));
		if (!ev->target && d->target_vpid)
			json_kv_u64(b, "child_pid", d->target_vpid);
		/* denied (EPERM, EACCES), or granted and then faulted (EFAULT):
		 * the error the caller got */
		if (d->ret < 0)
			json_kv_str(b, "error", strerrorname_np(-d->ret));
		break;
	}
	json_obj_end(b);
}

static void render_remote_thread(struct json_buf *b, const struct pm_event *ev,
				 const struct pm_render_ctx *ctx)
{
	json_key(b, "remote_thread");
	json_obj_begin(b);
	json_kv_u64(b, "thread_id", ev->priv.thread_id);
	json_key(b, "target");
	if (ev->target)
		render_process(b, ev->target, ctx);
	else
		json_null(b);
	json_obj_end(b);
}

static void render_code_identity(struct json_buf *b, const struct pm_code_facts *c)
{
	char mode[8];

	snprintf(mode, sizeof(mode), "%04o", c->mode & 07777);
	json_key(b, "code_identity");
	json_obj_begin(b);
	json_kv_str(b, "file_path", c->path);
	json_kv_str(b, "hash", c->hash->hex);
	json_kv_u64(b, "size", c->size);
	json_kv_u64(b, "owner_uid", c->owner_uid);
	json_kv_u64(b, "owner_gid", c->owner_gid);
	json_kv_str(b, "mode", mode);
	kv_unix_time(b, "mtime", pm_clamp_sec(c->mtime_sec) * 1000000000ll);
	json_obj_end(b);
}

/* The target and the correlated steps, in order (src/enrich/injection.h). */
static void render_injection(struct json_buf *b, const struct pm_event *ev,
			     const struct pm_render_ctx *ctx)
{
	const struct pm_injection_trail *t = ev->injection;

	json_key(b, "thread_injection");
	json_obj_begin(b);
	json_key(b, "target");
	render_process(b, ev->target, ctx);
	json_key(b, "events");
	json_arr_begin(b);
	for (size_t i = 0; i < t->n; i++) {
		const struct pm_injection_step *s = &t->steps[i];
		const struct pm_injection_step_info *how = pm_injection_step_info(s->kind);

		json_obj_begin(b);
		json_kv_str(b, "type", how->name);
		if (how->has_address)
			json_kv_u64(b, "address", s->addr);
		if (how->has_thread)
			json_kv_u64(b, "thread_id", s->thread_id);
		kv_time(b, "timestamp", s->ktime_ns, ctx);
		json_obj_end(b);
	}
	json_arr_end(b);
	json_obj_end(b);
}

void pm_render_sigma_rule(struct json_buf *b, const struct pm_sigma_rule_info *r)
{
	json_key(b, "rule");
	json_obj_begin(b);
	json_kv_str(b, "id", r->id);
	json_kv_str(b, "title", r->title);
	json_kv_str(b, "level", pm_sigma_level_name(r->level));
	json_kv_str(b, "status", r->status);
	json_key(b, "tags");
	json_arr_begin(b);
	for (size_t i = 0; i < r->n_tags; i++)
		json_str(b, r->tags[i]);
	json_arr_end(b);
	json_kv_str(b, "file", r->file);
	json_obj_end(b);
}

/* What each type adds after `process` and `parent`. */
static void render_details(struct json_buf *b, const struct pm_event *ev,
			   const struct pm_render_ctx *ctx)
{
	char sig[16];

	/* a ProcessEvent sub-type, or the access a SensitiveProcessAccess is */
	if (pm_event_info(ev->type)->subtype || ev->type == PM_EVENT_SENSITIVE_ACCESS) {
		json_key(b, "process_event");
		render_process_event(b, ev, ctx);
		return;
	}
	switch (ev->type) {
	case PM_EVENT_EXIT:
		json_kv_u64(b, "exit_code", (ev->exit_code >> 8) & 0xff);
		json_kv_str(b, "signal", pm_signal_name(ev->exit_code & 0x7f, sig, sizeof(sig)));
		break;
	case PM_EVENT_REMOTE_THREAD:
		render_remote_thread(b, ev, ctx);
		break;
	case PM_EVENT_CODE_IDENTITY:
	case PM_EVENT_ONGOING_IDENTITY:
		render_code_identity(b, &ev->code);
		break;
	case PM_EVENT_THREAD_INJECTION:
		render_injection(b, ev, ctx);
		break;
	case PM_EVENT_NEW_NAMED_PIPE:
	case PM_EVENT_OPEN_NAMED_PIPE:
		json_kv_str(b, "file_path", ev->file_path);
		if (ev->file_path_truncated)
			json_kv_bool(b, "file_path_truncated", true);
		break;
	case PM_EVENT_MODULE_LOAD: {
		const char *slash = strrchr(ev->file_path, '/');

		json_key(b, "module_load");
		json_obj_begin(b);
		json_kv_str(b, "file_path", ev->file_path);
		json_kv_str(b, "module_name", slash ? slash + 1 : ev->file_path);
		json_kv_u64(b, "base_address", ev->base_address);
		json_kv_u64(b, "memory_size", ev->memory_size);
		if (ev->file_path_truncated)
			json_kv_bool(b, "file_path_truncated", true);
		json_obj_end(b);
		break;
	}
	case PM_EVENT_DETECTION:
		pm_render_sigma_rule(b, ev->rule);
		json_key(b, "matched_event_id");
		json_str(b, ev->matched_event_id); /* null: the ProcessExec was shaped out */
		break;
	case PM_EVENT_REPEATS: {
		const struct pm_event_info *k = pm_event_info(ev->repeat.kind);

		json_key(b, "repeated");
		json_obj_begin(b);
		json_kv_str(b, "type", k->native ? k->native : "");
		if (k->subtype)
			json_kv_str(b, "process_event_type", k->subtype);
		json_kv_u64(b, "count", ev->repeat.count);
		kv_time(b, "first_time", ev->repeat.first_ns, ctx);
		kv_time(b, "last_time", ev->repeat.last_ns, ctx);
		json_obj_end(b);
		break;
	}
	case PM_EVENT_ENVIRONMENT:
		json_key(b, "environment");
		pm_json_string_list(b, ev->env, ev->env_len);
		if (ev->env_truncated)
			json_kv_bool(b, "environment_truncated", true);
		break;
	}
}

void pm_render_bombini(struct json_buf *b, const struct pm_event *ev,
		       const struct pm_render_ctx *ctx)
{
	json_obj_begin(b);
	json_kv_str(b, "type", pm_event_info(ev->type)->native);
	json_key(b, "process");
	render_process(b, ev->proc, ctx);
	json_key(b, "parent");
	if (ev->parent)
		render_process(b, ev->parent, ctx);
	else
		json_null(b);
	render_details(b, ev, ctx);
	kv_time(b, "timestamp", ev->ktime_ns, ctx);
	if (ctx->event_id) { /* fleet identity */
		json_kv_str(b, "host", ctx->hostname ? ctx->hostname : "");
		json_kv_str(b, "event_id", ctx->event_id);
		json_kv_u64(b, "seq", ctx->seq);
	}
	json_obj_end(b);
}
