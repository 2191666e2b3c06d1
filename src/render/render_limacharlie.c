// SPDX-License-Identifier: GPL-2.0
/*
 * --format limacharlie: every event as {"routing":{…},"event":{…}}, the
 * shape of LimaCharlie's sensor events (contract section 6), with the
 * seed's upper-case field names. Native events with no LimaCharlie
 * counterpart keep the envelope under upper-snake event types.
 * docs/limacharlie.md has the mapping field by field.
 */
#define _GNU_SOURCE /* strerrorname_np */
#include "render/render.h"

#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "enrich/hash.h"
#include "enrich/injection.h"
#include "render/names.h"
#include "procmon/events.h"
#include "base/timefmt.h"

void pm_atom(const char exec_id[33], const uint8_t key[16], char out[33])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		unsigned byte = 0;

		sscanf(exec_id + 2 * i, "%2x", &byte);
		byte ^= key[i];
		out[2 * i] = digits[byte >> 4];
		out[2 * i + 1] = digits[byte & 15];
	}
	out[32] = '\0';
}

/* 16 random bytes for an event id: the kernel's generator, 4 KiB at a time. */
static void random16(uint8_t out[16])
{
	static uint8_t pool[4096];
	static size_t left;

	if (left < 16) {
		ssize_t n = getrandom(pool, sizeof(pool), 0);

		left = n > 0 ? (size_t)n : 0;
		if (left < 16) { /* cannot happen after boot; never repeat an id silently */
			memset(out, 0, 16);
			return;
		}
	}
	left -= 16;
	memcpy(out, pool + left, 16);
}

static uint64_t unix_ms(uint64_t boot_ns, const struct pm_render_ctx *ctx)
{
	return ((int64_t)boot_ns + ctx->boot_to_unix_ns) / 1000000;
}

static void kv_atom(struct json_buf *b, const char *key, const struct pm_process *p,
		    const struct pm_render_ctx *ctx)
{
	char atom[33];

	pm_atom(p->exec_id, ctx->atom_key, atom);
	json_kv_str(b, key, atom);
}

/* COMMAND_LINE: the real command line (pm_image_command_line): `exec -a
 * sshd ./implant` shows sshd. */
static void kv_command_line(struct json_buf *b, const struct pm_image *img)
{
	const char *parts[3];
	size_t lens[3], n = pm_image_command_line(img, parts, lens);

	json_key(b, "COMMAND_LINE");
	json_str_parts(b, parts, lens, n);
}

/* A capability set, as names or (caps_format: hex) a mask. */
static void kv_caps(struct json_buf *b, uint64_t caps, const struct pm_render_ctx *ctx)
{
	if (ctx->caps_hex)
		pm_json_caps_hex(b, caps);
	else
		pm_json_caps(b, caps, ctx->cap_last);
}

/*
 * The fields LimaCharlie gives a process (NEW_PROCESS and the SOURCE and
 * TARGET of an access), for what Linux has: no THREADS, MEMORY_USAGE or
 * BASE_ADDRESS. `atoms`: add THIS_ATOM and PARENT_ATOM (nested objects,
 * whose routing is not theirs).
 */
static void process_fields(struct json_buf *b, const struct pm_process *p,
			   const struct pm_process *parent, bool atoms,
			   const struct pm_render_ctx *ctx)
{
	const struct pm_image *img = p->image;
	const char *user = pm_user_name(ctx->users, p->uid);

	json_kv_str(b, "FILE_PATH", img && img->binary_path ? img->binary_path : "");
	kv_command_line(b, img);
	json_kv_u64(b, "PROCESS_ID", p->pid);
	json_kv_u64(b, "PARENT_PROCESS_ID", p->ppid);
	/* the working directory at exec; a forked child may have moved since */
	if (img && img->cwd && !p->cloned)
		json_kv_str(b, "CURRENT_DIRECTORY", img->cwd);
	json_kv_u64(b, "USER_ID", p->uid);
	if (user)
		json_kv_str(b, "USER_NAME", user);
	if (img && img->hash && pm_hash_state(img->hash) == PM_HASH_DONE)
		json_kv_str(b, "HASH", img->hash->hex + strlen("sha256:"));
	if (img && img->script_path)
		json_kv_str(b, "SCRIPT_PATH", img->script_path);
	if (img && img->script_hash && pm_hash_state(img->script_hash) == PM_HASH_DONE)
		json_kv_str(b, "SCRIPT_HASH", img->script_hash->hex + strlen("sha256:"));
	if (img && img->args_truncated)
		json_kv_bool(b, "COMMAND_LINE_TRUNCATED", true);
	if (img && img->path_truncated)
		json_kv_bool(b, "FILE_PATH_TRUNCATED", true);
	if (img && img->cwd_truncated && !p->cloned)
		json_kv_bool(b, "CURRENT_DIRECTORY_TRUNCATED", true);
	if (img && img->binary_deleted)
		json_kv_bool(b, "FILE_DELETED", true);
	if (img && img->args_from_proc)
		json_kv_bool(b, "COMMAND_LINE_FROM_PROC", true);
	if (atoms) {
		kv_atom(b, "THIS_ATOM", p, ctx);
		if (parent)
			kv_atom(b, "PARENT_ATOM", parent, ctx);
	}
}

static void random_uuid(char id[37])
{
	uint8_t rnd[16];

	random16(rnd);
	pm_uuid4_format(rnd, id);
}

/* top: the line's own routing, which carries the fleet identity (contract
 * section 8: event_id is the message id, and seq); nested ones keep a
 * random event_id of their own, or the one of the line they stand for
 * (`known_id`: a Detection's matched NEW_PROCESS). */
static void routing_id(struct json_buf *b, const char *type, uint64_t ktime_ns,
		       const struct pm_process *this, const struct pm_process *parent,
		       const struct pm_process *target, const struct pm_render_ctx *ctx, bool top,
		       const char *known_id)
{
	char id[37];

	if (!known_id)
		random_uuid(id);
	json_key(b, "routing");
	json_obj_begin(b);
	json_kv_str(b, "event_type", type);
	json_kv_u64(b, "event_time", unix_ms(ktime_ns, ctx));
	json_kv_str(b, "event_id", top && ctx->event_id ? ctx->event_id : known_id ?: id);
	json_kv_str(b, "hostname", ctx->hostname ? ctx->hostname : "");
	if (top && ctx->event_id)
		json_kv_u64(b, "seq", ctx->seq);
	kv_atom(b, "this", this, ctx);
	if (parent)
		kv_atom(b, "parent", parent, ctx);
	if (target)
		kv_atom(b, "target", target, ctx);
	json_obj_end(b);
}

static void routing(struct json_buf *b, const char *type, uint64_t ktime_ns,
		    const struct pm_process *this, const struct pm_process *parent,
		    const struct pm_process *target, const struct pm_render_ctx *ctx, bool top)
{
	routing_id(b, type, ktime_ns, this, parent, target, ctx, top, NULL);
}

/*
 * What one process did to another (REMOTE_PROCESS_HANDLE, NEW_REMOTE_THREAD):
 * PROCESS_ID the target, PARENT_PROCESS_ID the source (LimaCharlie's
 * convention), SOURCE and TARGET.
 */
static void source_and_target(struct json_buf *b, const struct pm_event *ev,
			      const struct pm_render_ctx *ctx)
{
	if (ev->target)
		json_kv_u64(b, "PROCESS_ID", ev->target->pid);
	else if (ev->priv.target_vpid)
		json_kv_u64(b, "PROCESS_ID", ev->priv.target_vpid);
	json_kv_u64(b, "PARENT_PROCESS_ID", ev->proc->pid);
	json_key(b, "SOURCE");
	json_obj_begin(b);
	process_fields(b, ev->proc, ev->parent, true, ctx);
	json_obj_end(b);
	if (ev->target) {
		json_key(b, "TARGET");
		json_obj_begin(b);
		process_fields(b, ev->target, NULL, true, ctx);
		json_obj_end(b);
	}
}

/* REMOTE_PROCESS_HANDLE's event object: the access, SOURCE and TARGET. */
static void access_event(struct json_buf *b, const struct pm_event *ev,
			 const struct pm_render_ctx *ctx)
{
	const struct pm_priv_detail *d = &ev->priv;

	json_kv_u64(b, "ACCESS_FLAGS", d->flags);
	json_key(b, "ACCESS_MODE");
	pm_json_ptrace_mode(b, d->flags);
	if (d->access == PM_ACCESS_PROC_MEM)
		json_kv_str(b, "OPEN_MODE", pm_open_mode_name(d->arg[0]));
	if (d->ret < 0) /* EPERM, EACCES: denied; EFAULT: granted, then faulted */
		json_kv_str(b, "ERROR", strerrorname_np(-d->ret));
	source_and_target(b, ev, ctx);
}

/* The upper-case fields of one event (inside "event"). */
static void event_fields(struct json_buf *b, const struct pm_event *ev,
			 const struct pm_render_ctx *ctx)
{
	const struct pm_process *p = ev->proc;
	const struct pm_priv_detail *d = &ev->priv;
	char sig[16];

	switch (ev->type) {
	case PM_EVENT_EXEC:
	case PM_EVENT_CLONE:
	case PM_EVENT_EXISTING_PROCESS:
		process_fields(b, p, ev->parent, false, ctx);
		if (ev->parent) {
			json_key(b, "PARENT");
			json_obj_begin(b);
			process_fields(b, ev->parent, NULL, false, ctx);
			json_obj_end(b);
		}
		break;
	case PM_EVENT_EXIT:
		json_kv_u64(b, "PROCESS_ID", p->pid);
		json_kv_u64(b, "PARENT_PROCESS_ID", p->ppid);
		json_kv_u64(b, "EXIT_CODE", (ev->exit_code >> 8) & 0xff);
		json_kv_str(b, "SIGNAL", pm_signal_name(ev->exit_code & 0x7f, sig, sizeof(sig)));
		break;
	case PM_EVENT_SETUID:
	case PM_EVENT_SETGID: {
		static const struct pm_setid_keys keys[2] = {
			{ "UID", "EUID", "FSUID", "FLAGS" },
			{ "GID", "EGID", "FSGID", "FLAGS" },
		};

		json_kv_u64(b, "PROCESS_ID", p->pid);
		pm_json_setid(b, ev, keys, false);
		break;
	}
	case PM_EVENT_SETCAPS:
		json_kv_u64(b, "PROCESS_ID", p->pid);
		json_key(b, "EFFECTIVE");
		kv_caps(b, p->cap_effective, ctx);
		json_key(b, "INHERITABLE");
		kv_caps(b, p->cap_inheritable, ctx);
		json_key(b, "PERMITTED");
		kv_caps(b, p->cap_permitted, ctx);
		break;
	case PM_EVENT_PRCTL:
		json_kv_u64(b, "PROCESS_ID", p->pid);
		json_key(b, "CMD");
		pm_json_prctl_cmd(b, d->arg[0], d->arg[1], d->arg[2], d->name, sizeof(d->name));
		break;
	case PM_EVENT_CREATE_USER_NS:
		json_kv_u64(b, "PROCESS_ID", p->pid);
		break;
	case PM_EVENT_SETNS:
	case PM_EVENT_UNSHARE:
		json_kv_u64(b, "PROCESS_ID", p->pid);
		json_key(b, "NAMESPACES");
		pm_json_namespaces(b, d->flags);
		if (ev->type == PM_EVENT_SETNS && d->arg[1] == PM_SETNS_NSFS)
			json_kv_u64(b, "NAMESPACE_INODE", d->arg[0]);
		if (ev->type == PM_EVENT_SETNS && ev->target) {
			json_key(b, "TARGET");
			json_obj_begin(b);
			process_fields(b, ev->target, NULL, true, ctx);
			json_obj_end(b);
		}
		break;
	case PM_EVENT_PTRACE_ACCESS:
		access_event(b, ev, ctx);
		break;
	case PM_EVENT_REMOTE_THREAD:
		json_kv_u64(b, "THREAD_ID", d->thread_id);
		source_and_target(b, ev, ctx);
		break;
	case PM_EVENT_CODE_IDENTITY:
	case PM_EVENT_ONGOING_IDENTITY: {
		const struct pm_code_facts *c = &ev->code;
		char mode[8];

		snprintf(mode, sizeof(mode), "%04o", c->mode & 07777);
		json_kv_str(b, "FILE_PATH", c->path);
		json_kv_str(b, "HASH", c->hash->hex + strlen("sha256:"));
		json_kv_u64(b, "FILE_SIZE", c->size);
		json_kv_u64(b, "FILE_OWNER_UID", c->owner_uid);
		json_kv_u64(b, "FILE_OWNER_GID", c->owner_gid);
		json_kv_str(b, "FILE_MODE", mode);
		json_kv_i64(b, "FILE_MTIME", pm_clamp_sec(c->mtime_sec) * 1000);
		json_kv_u64(b, "PROCESS_ID", p->pid);
		break;
	}
	case PM_EVENT_MODULE_LOAD: {
		const char *slash = strrchr(ev->file_path, '/');

		json_kv_str(b, "FILE_PATH", ev->file_path);
		json_kv_str(b, "MODULE_NAME", slash ? slash + 1 : ev->file_path);
		json_kv_u64(b, "BASE_ADDRESS", ev->base_address);
		json_kv_u64(b, "MEMORY_SIZE", ev->memory_size);
		if (ev->file_path_truncated)
			json_kv_bool(b, "FILE_PATH_TRUNCATED", true);
		json_kv_u64(b, "PROCESS_ID", p->pid);
		break;
	}
	case PM_EVENT_NEW_NAMED_PIPE:
	case PM_EVENT_OPEN_NAMED_PIPE:
		json_kv_str(b, "FILE_PATH", ev->file_path);
		if (ev->file_path_truncated)
			json_kv_bool(b, "FILE_PATH_TRUNCATED", true);
		json_kv_u64(b, "PROCESS_ID", p->pid);
		break;
	case PM_EVENT_REPEATS:
		/* the event_type the held-back events would have had */
		json_kv_str(b, "REPEATED_EVENT_TYPE", pm_event_info(ev->repeat.kind)->limacharlie);
		json_kv_u64(b, "COUNT", ev->repeat.count);
		json_kv_u64(b, "FIRST_TIMESTAMP", unix_ms(ev->repeat.first_ns, ctx));
		json_kv_u64(b, "LAST_TIMESTAMP", unix_ms(ev->repeat.last_ns, ctx));
		json_kv_u64(b, "PROCESS_ID", p->pid);
		break;
	case PM_EVENT_ENVIRONMENT:
		json_key(b, "ENVIRONMENT_VARIABLES");
		pm_json_string_list(b, ev->env, ev->env_len);
		if (ev->env_truncated)
			json_kv_bool(b, "ENVIRONMENT_TRUNCATED", true);
		json_kv_u64(b, "PROCESS_ID", p->pid);
		break;
	}
	json_kv_u64(b, "TIMESTAMP", unix_ms(ev->ktime_ns, ctx));
}

/* One {"routing","event"} object; `type` overrides ev's event type. */
static void envelope(struct json_buf *b, const struct pm_event *ev, uint32_t type,
		     const struct pm_render_ctx *ctx, bool top)
{
	struct pm_event shown = *ev;

	shown.type = type;
	json_obj_begin(b);
	routing(b, pm_event_info(type)->limacharlie, ev->ktime_ns, ev->proc, ev->parent, ev->target,
		ctx, top);
	json_key(b, "event");
	json_obj_begin(b);
	event_fields(b, &shown, ctx);
	json_obj_end(b);
	json_obj_end(b);
}

/*
 * One step of a THREAD_INJECTION as a whole {"routing","event"} object: an
 * access is a REMOTE_PROCESS_HANDLE, a thread a NEW_REMOTE_THREAD, a
 * ptrace request its own type (PTRACE_POKETEXT, PTRACE_SETREGS ...).
 */
static void injection_step(struct json_buf *b, const struct pm_event *ev,
			   const struct pm_injection_step *s, const struct pm_render_ctx *ctx)
{
	const struct pm_injection_step_info *how = pm_injection_step_info(s->kind);
	struct pm_event step = *ev;

	step.ktime_ns = s->ktime_ns;
	json_obj_begin(b);
	routing(b, how->is_access ? "REMOTE_PROCESS_HANDLE" : how->name, s->ktime_ns, ev->proc,
		ev->parent, ev->target, ctx, false);
	json_key(b, "event");
	json_obj_begin(b);
	if (how->is_access)
		json_kv_str(b, "ACCESS", how->name);
	if (how->has_address)
		json_kv_u64(b, "ADDRESS", s->addr);
	if (how->has_thread)
		json_kv_u64(b, "THREAD_ID", s->thread_id);
	source_and_target(b, &step, ctx);
	json_kv_u64(b, "TIMESTAMP", unix_ms(s->ktime_ns, ctx));
	json_obj_end(b);
	json_obj_end(b);
}

/* An event made of events (THREAD_INJECTION, SENSITIVE_PROCESS_ACCESS):
 * its routing, then "event":{"EVENTS":[ ... until events_end. */
static void events_begin(struct json_buf *b, const struct pm_event *ev,
			 const struct pm_render_ctx *ctx)
{
	json_obj_begin(b);
	routing(b, pm_event_info(ev->type)->limacharlie, ev->ktime_ns, ev->proc, ev->parent,
		ev->target, ctx, true);
	json_key(b, "event");
	json_obj_begin(b);
	json_key(b, "EVENTS");
	json_arr_begin(b);
}

static void events_end(struct json_buf *b, const struct pm_event *ev,
		       const struct pm_render_ctx *ctx)
{
	json_arr_end(b);
	json_kv_u64(b, "TIMESTAMP", unix_ms(ev->ktime_ns, ctx));
	json_obj_end(b);
	json_obj_end(b);
}

static void str_array(struct json_buf *b, const char *key, const char *const *v, size_t n)
{
	json_key(b, key);
	json_arr_begin(b);
	for (size_t i = 0; i < n; i++)
		json_str(b, v[i]);
	json_arr_end(b);
}

/*
 * LimaCharlie's detection shape (contract section 10): its routing, the
 * rule's title as `cat`, the NEW_PROCESS that matched (its routing with the event_id
 * it was written under) as `detect`, the rule's metadata, and a routing
 * of its own.
 */
static void detection(struct json_buf *b, const struct pm_event *ev,
		      const struct pm_render_ctx *ctx)
{
	const struct pm_sigma_rule_info *r = ev->rule;
	struct pm_event exec = *ev;
	char id[37];

	exec.type = PM_EVENT_EXEC;
	json_obj_begin(b);
	/* routing first, as in every line: the fleet output's subject reads
	 * the type from the start of the line */
	routing(b, "DETECTION", ev->ktime_ns, ev->proc, ev->parent, NULL, ctx, true);
	json_kv_str(b, "cat", r->title);
	json_key(b, "detect");
	json_obj_begin(b);
	routing_id(b, "NEW_PROCESS", ev->ktime_ns, ev->proc, ev->parent, NULL, ctx, false,
		   ev->matched_event_id);
	json_key(b, "event");
	json_obj_begin(b);
	event_fields(b, &exec, ctx);
	json_obj_end(b);
	json_obj_end(b);
	if (!ctx->event_id)
		random_uuid(id);
	json_kv_str(b, "detect_id", ctx->event_id ?: id);
	json_key(b, "detect_mtd");
	json_obj_begin(b);
	json_kv_str(b, "level", pm_sigma_level_name(r->level));
	str_array(b, "tags", r->tags, r->n_tags);
	json_kv_str(b, "description", r->description);
	str_array(b, "references", r->references, r->n_references);
	json_kv_str(b, "author", r->author);
	json_obj_end(b);
	json_key(b, "source_rule");
	json_str_parts(b, (const char *const[]){ "sigma.", r->id },
		       (const size_t[]){ strlen("sigma."), strlen(r->id) }, 2);
	json_obj_end(b);
}

void pm_render_limacharlie(struct json_buf *b, const struct pm_event *ev,
			   const struct pm_render_ctx *ctx)
{
	if (ev->type == PM_EVENT_DETECTION) {
		detection(b, ev, ctx);
		return;
	}
	if (ev->type == PM_EVENT_THREAD_INJECTION) {
		/* the correlated steps, each a whole event, as in the seed */
		events_begin(b, ev, ctx);
		for (size_t i = 0; i < ev->injection->n; i++)
			injection_step(b, ev, &ev->injection->steps[i], ctx);
		events_end(b, ev, ctx);
		return;
	}
	if (ev->type != PM_EVENT_SENSITIVE_ACCESS) {
		envelope(b, ev, ev->type, ctx, true);
		return;
	}
	/* the target process and the access, as in the seed */
	events_begin(b, ev, ctx);
	if (ev->target) {
		struct pm_event target = { .type = PM_EVENT_EXISTING_PROCESS,
					   .ktime_ns = ev->ktime_ns,
					   .proc = ev->target };

		json_obj_begin(b);
		routing(b, "NEW_PROCESS", ev->ktime_ns, ev->target, NULL, NULL, ctx, false);
		json_key(b, "event");
		json_obj_begin(b);
		event_fields(b, &target, ctx);
		json_obj_end(b);
		json_obj_end(b);
	}
	envelope(b, ev, PM_EVENT_PTRACE_ACCESS, ctx, false);
	events_end(b, ev, ctx);
}
