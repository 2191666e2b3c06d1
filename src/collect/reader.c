// SPDX-License-Identifier: GPL-2.0
#include "collect/reader.h"

#include <errno.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "collect/decode.h"
#include "enrich/derive.h"
#include "log.h"
#include "base/caps.h"
#include "collect/procfs.h"
#include "procmon/events.h"
#include "base/timefmt.h"

/* The first 32 bits of the boot id: exec_ids differ across reboots. */
static uint32_t read_boot_id_prefix(void)
{
	unsigned v = 0;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f) {
		if (fscanf(f, "%8x", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int pm_reader_init(struct pm_reader *r, const struct pm_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->known_fd = -1;
	r->cache = pm_proc_cache_new();
	r->containers = pm_containers_new();
	r->boot_id_prefix = read_boot_id_prefix();
	r->cfg = cfg;
	if (cfg->hash)
		r->hasher = pm_hasher_new(PM_HASH_CACHE_MAX);
	if (!r->cache || !r->containers || pm_derive_init(&r->derive, cfg) ||
	    (cfg->hash && !r->hasher))
		return -ENOMEM;
	return 0;
}

void pm_reader_free(struct pm_reader *r)
{
	while (r->queue.head)
		pm_event_free(pm_event_queue_pop_ready(&r->queue, 0, true));
	pm_hasher_free(r->hasher);
	pm_derive_free(&r->derive);
	pm_proc_cache_free(r->cache);
	pm_containers_free(r->containers);
	memset(r, 0, sizeof(*r));
}

/* ---- records to events ---- */

/* The hash cache's identity of a file the kernel described (contract 5.3). */
static struct pm_file_id file_id(const struct pm_file_facts *f)
{
	return (struct pm_file_id){
		.mnt_id = f->mnt_id,
		.ino = f->ino,
		.size = f->isize,
		.mtime_sec = f->mtime_sec,
		.mtime_nsec = f->mtime_nsec,
		.ctime_sec = f->ctime_sec,
		.ctime_nsec = f->ctime_nsec,
	};
}

/* Members first..last of a process and of a task: the same run of bytes. */
#define SAME_RUN(first, last)                                                              \
	_Static_assert(offsetof(struct pm_process, last) - offsetof(struct pm_process, first) == \
			       offsetof(struct pm_task, last) - offsetof(struct pm_task, first) && \
		       sizeof(((struct pm_process *)0)->last) ==                          \
			       sizeof(((struct pm_task *)0)->last),                        \
		       #first " ... " #last " differ between pm_process and pm_task")
#define RUN_SIZE(first, last) \
	(offsetof(struct pm_task, last) + sizeof(((struct pm_task *)0)->last) - offsetof(struct pm_task, first))

SAME_RUN(pid, auid);
SAME_RUN(cap_effective, cap_inheritable);

static void fill_from_task(struct pm_process *p, const struct pm_task *t)
{
	memcpy(&p->pid, &t->pid, RUN_SIZE(pid, auid));
	memcpy(&p->cap_effective, &t->cap_effective, RUN_SIZE(cap_effective, cap_inheritable));
	p->start_ns = t->start_ns;
}

/* For a process procmon never saw start (it raced the /proc scan): all we
 * have is the kernel's comm. */
static struct pm_image *image_from_comm(const struct pm_task *t)
{
	struct pm_image *img = pm_image_new();

	if (img && !(img->filename = strndup(t->comm, sizeof(t->comm)))) {
		pm_image_put(img);
		return NULL;
	}
	return img;
}

/*
 * The snapshot of t's process after this event: kernel facts from the
 * record, the binary from `img` (or, when NULL, from what the cache knew),
 * `cloned` (or KEEP_CLONED), exec_id kept for the same process instance.
 */
enum { KEEP_CLONED = -1 };

static struct pm_process *snapshot(struct pm_reader *r, const struct pm_task *t,
				   struct pm_image *img, int cloned, const struct pm_process *forker)
{
	struct pm_process *old = pm_proc_cache_lookup(r->cache, t->pid, t->start_ns);
	struct pm_process *p;

	/*
	 * A record that changes nothing (a module load, the exit, most
	 * ProcessEvents) keeps the snapshot the cache has, and with it the
	 * process object already rendered for it.
	 */
	if (old && !img && old->image && (cloned == KEEP_CLONED || cloned == old->cloned)) {
		struct pm_process now = *old;

		fill_from_task(&now, t);
		if (!memcmp(&now, old, sizeof(now)))
			return pm_process_get(old);
	}
	p = old ? pm_process_clone(old) : pm_process_new();
	if (!p) {
		pm_image_put(img);
		return NULL;
	}
	/* a /proc start time (clock ticks) becomes the kernel's exact one;
	 * exec_id, copied from old, stays what it was */
	fill_from_task(p, t);
	if (img) {
		pm_image_put(p->image);
		p->image = img;
	} else if (!p->image) {
		p->image = image_from_comm(t);
	}
	if (cloned != KEEP_CLONED)
		p->cloned = cloned;
	/* a process changes cgroup rarely; resolve on start and exec only. A
	 * child starts in its forker's cgroups: where /proc would be read (v1
	 * hierarchies) it takes the forker's id instead */
	if (!old || img)
		p->container_id = pm_containers_lookup_task(r->containers, t->cgroup_id,
							    t->cgroup_v1_id, t->pid,
							    forker != NULL,
							    forker ? forker->container_id : NULL);
	if (!old)
		pm_process_set_exec_id(p, r->boot_id_prefix);
	if (pm_proc_cache_update(r->cache, p)) {
		pm_process_put(p);
		return NULL;
	}
	return p;
}

/* The queued event (still writable until drained), or NULL when lost. */
static struct pm_event *queue_event(struct pm_reader *r, const struct pm_header *h,
				    struct pm_process *p, const struct pm_task *t,
				    uint32_t exit_code)
{
	struct pm_event *ev = pm_event_new(h->type, h->ktime_ns);
	struct pm_process *parent;

	if (!ev || !p) {
		r->user_drops++;
		pm_event_free(ev);
		pm_process_put(p);
		return NULL;
	}
	ev->proc = p;
	parent = pm_proc_cache_lookup(r->cache, t->ppid, t->parent_start_ns);
	ev->parent = pm_process_get(parent);
	ev->exit_code = exit_code;
	ev->deadline_ns = pm_clock_ns(CLOCK_MONOTONIC) + PM_HASH_WAIT_NS;
	pm_event_queue_push(&r->queue, ev);
	return ev;
}

/* The path of the file an O_PATH fd holds, as d_path prints it, or NULL. */
static char *pinned_path(int fd)
{
	char link[32], buf[PM_PATH_MAX + PM_NAME_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = fd >= 0 ? readlink(link, buf, sizeof(buf) - 1) : -1;
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/*
 * A fileless script (memfd) that the kernel ran through its interpreter:
 * the script file is still open in the new program at the fd it was run
 * from. Pinned first (the kernel side woke us at once), then named from
 * the pin, and hashed exactly as the kernel saw it.
 */
static void script_from_exec(struct pm_reader *r, const struct pm_exec_event *e,
			     struct pm_image *img, int pin)
{
	char fd[24];

	snprintf(fd, sizeof(fd), "fd/%u", e->script_fd);
	if (pin < 0)
		pin = pm_hasher_pin(e->task.pid, fd);
	img->secureexec |= PM_SECUREEXEC_FILELESS_EXEC;
	img->script_path = pinned_path(pin);
	if (!r->hasher || pin < 0) {
		if (pin >= 0)
			close(pin);
		return;
	}
	img->script_hash = pm_hasher_lookup(r->hasher, &(struct pm_file_id){
		.mnt_id = e->script.mnt_id,
		.ino = e->script.ino,
		.size = e->script.isize,
		.mtime_sec = e->script.mtime_sec,
		.mtime_nsec = e->script.mtime_nsec,
		.ctime_sec = e->script.ctime_sec,
		.ctime_nsec = e->script.ctime_nsec,
	}, e->task.pid, NULL, pin);
}

/* How long the reader waits for the pin thread's open of an exec it was
 * asked to pin (the request left the kernel first; this is scheduling). */
#define PIN_WAIT_MS 20

/* Tell the kernel side this file's hash is known: its execs need no pin. */
static void mark_known(struct pm_reader *r, const struct pm_file_facts *f)
{
	struct pm_file_key key = pm_file_key_of(f);
	uint8_t one = 1;

	if (r->known_fd >= 0)
		bpf_map_update_elem(r->known_fd, &key, &one, BPF_ANY);
}

static struct pm_image *image_from_exec(struct pm_reader *r, const struct pm_exec_event *e)
{
	const struct pm_task *t = &e->task;
	const struct pm_secureexec_facts facts = {
		.per_clear = e->per_clear,
		.mode = e->file.mode,
		.nlink = e->file.nlink,
		.exec_flags = e->flags,
		.uid = t->uid,
		.euid = t->euid,
		.gid = t->gid,
		.egid = t->egid,
	};
	const char *data = e->data;
	int pin = -1, script_pin = -1;
	struct pm_file_id pin_id;
	char pin_hex[sizeof("sha256:") + 64] = "";
	bool pin_has_id = false;
	struct pm_image *img;

	/*
	 * First of all: the pin thread may hold the file (the kernel asked
	 * for it at the exec); a file with no link (memfd, deleted) is
	 * reachable only through the process, which may exit within
	 * milliseconds, and its content then is gone: hold it now if nobody
	 * did. The hasher checks and reads it later.
	 */
	if (r->hasher && (e->flags & PM_EXEC_PINNED))
		pm_pinner_take(r->pinner, e->task.pid, e->hdr.ktime_ns, PIN_WAIT_MS, &pin,
			       &script_pin, &pin_id, &pin_has_id, pin_hex);
	if ((e->flags & PM_EXEC_PINNED) && pin < 0)
		pm_log_debug("pid %u: exec %llu: no pin", e->task.pid,
			     (unsigned long long)e->hdr.ktime_ns);
	if (pin < 0 && r->hasher && e->file.nlink == 0)
		pin = pm_hasher_pin_exe(e->task.pid);
	img = pm_image_new();
	if (!img) {
		if (pin >= 0)
			close(pin);
		if (script_pin >= 0)
			close(script_pin);
		return NULL;
	}
	if (e->flags & PM_EXEC_SCRIPT_FILELESS)
		script_from_exec(r, e, img, script_pin);
	else if (script_pin >= 0)
		close(script_pin);
	img->filename = strndup(data, strnlen(data, PM_NAME_MAX));
	img->binary_path = pm_build_path(data + PM_NAME_MAX, e->path_len, e->flags);
	img->args = pm_join_args(data + PM_NAME_MAX + e->path_len, e->args_len, &img->args_len);
	img->argv0 = pm_argv0(data + PM_NAME_MAX + e->path_len, e->args_len, &img->argv0_len);
	img->cwd = pm_build_path(data + PM_NAME_MAX + e->path_len + e->args_len + e->env_len,
				 e->cwd_len,
				 (e->flags & PM_EXEC_CWD_CUT ? PM_EXEC_PATH_CUT : 0) |
					 (e->flags & PM_EXEC_CWD_DELETED ? PM_EXEC_PATH_DELETED : 0));
	img->cwd_truncated = e->flags & PM_EXEC_CWD_CUT;
	if (!img->filename || !img->binary_path || !img->args || !img->argv0 || !img->cwd) {
		if (pin >= 0)
			close(pin);
		pm_image_put(img);
		return NULL;
	}
	img->secureexec |= pm_secureexec_flags(&facts);
	img->binary_deleted = e->file.nlink == 0 && !pm_exec_fileless(e->file.nlink, e->flags);
	img->executed = true;
	img->size = e->file.isize;
	img->mtime_sec = e->file.mtime_sec;
	img->mode = e->file.mode;
	img->owner_uid = e->file.owner_uid;
	img->owner_gid = e->file.owner_gid;
	img->args_truncated = e->flags & (PM_EXEC_ARGS_TRUNCATED | PM_EXEC_ARGS_UNREADABLE);
	img->path_truncated = e->flags & PM_EXEC_PATH_CUT;

	if (r->hasher) {
		struct pm_file_id id = file_id(&e->file);
		/* the path is only a fallback; a pseudo or cut one cannot be opened */
		bool path_ok = !(e->flags & (PM_EXEC_PATH_CUT | PM_EXEC_PATH_PSEUDO |
					     PM_EXEC_PATH_DELETED));

		/* a pin of this very exec's file may have a later ctime
		 * (renamed over, deleted): hash.h has why that is exact */
		img->hash = pm_hasher_lookup_exec(r->hasher, &id, e->task.pid,
						  path_ok ? img->binary_path : NULL, pin,
						  pin_has_id ? &pin_id : NULL,
						  pin_hex[0] ? pin_hex : NULL);
		/* hashed already, yet pinned: the kernel need not ask again */
		if ((e->flags & PM_EXEC_PINNED) && img->hash &&
		    pm_hash_state(img->hash) == PM_HASH_DONE)
			mark_known(r, &e->file);
	}
	return img;
}

/* ProcessEnvironment, queued right after the ProcessExec it belongs to. */
static void queue_environment(struct pm_reader *r, const struct pm_exec_event *e,
			      struct pm_process *p)
{
	struct pm_header h = { .type = PM_EVENT_ENVIRONMENT, .ktime_ns = e->hdr.ktime_ns };
	const char *env = e->data + PM_NAME_MAX + e->path_len + e->args_len;
	size_t len;
	char *redacted = pm_redact_env(env, e->env_len, &r->cfg->redact, &len);
	struct pm_event *ev;

	if (!redacted) {
		r->user_drops++;
		pm_process_put(p);
		return;
	}
	ev = queue_event(r, &h, p, &e->task, 0);
	if (!ev) {
		free(redacted);
		return;
	}
	ev->env = redacted;
	ev->env_len = len;
	ev->env_truncated = e->flags & (PM_EXEC_ENV_TRUNCATED | PM_EXEC_ENV_UNREADABLE);
}

static bool exec_record_valid(const struct pm_exec_event *e, size_t size)
{
	return size >= sizeof(*e) && e->path_len <= PM_PATH_MAX && e->args_len <= PM_ARGS_MAX &&
	       e->env_len <= PM_ENV_MAX && e->cwd_len <= PM_PATH_MAX &&
	       sizeof(*e) + PM_NAME_MAX + (size_t)e->path_len + e->args_len + e->env_len +
			       e->cwd_len <=
		       size;
}

static void on_exec(struct pm_reader *r, const struct pm_exec_event *e)
{
	struct pm_image *img = image_from_exec(r, e);
	struct pm_process *p;

	if (!img) {
		r->user_drops++;
		return;
	}
	p = snapshot(r, &e->task, img, false, NULL);
	queue_event(r, &e->hdr, pm_process_get(p), &e->task, 0);
	if (r->cfg->block[pm_event_info(PM_EVENT_ENVIRONMENT)->block].enabled &&
	    (e->env_len || (e->flags & PM_EXEC_ENV_UNREADABLE)))
		queue_environment(r, e, p);
	else
		pm_process_put(p);
}

static void on_clone(struct pm_reader *r, const struct pm_clone_event *e)
{
	const struct pm_task *t = &e->task;
	struct pm_process *forker = pm_proc_cache_lookup(r->cache, e->forker_pid,
							 e->forker_start_ns);
	/* until it execs, a child runs the binary of the process that forked it */
	struct pm_process *p = snapshot(r, t, forker ? pm_image_get(forker->image) : NULL, true,
				       forker);

	queue_event(r, &e->hdr, p, t, 0);
}

static void on_exit_record(struct pm_reader *r, const struct pm_exit_event *e)
{
	struct pm_process *p = snapshot(r, &e->task, NULL, KEEP_CLONED, NULL);

	/* no identity of its file can come after its exit: a pin its failed
	 * hash kept is of no more use */
	if (r->hasher && p && p->image && p->image->executed && p->image->hash)
		pm_hasher_release_pin(r->hasher, p->image->hash);
	pm_proc_cache_mark_exited(r->cache, e->task.pid, e->task.start_ns,
				  pm_clock_ns(CLOCK_MONOTONIC));
	queue_event(r, &e->hdr, p, &e->task, e->exit_code);
}

/*
 * The target of an access the kernel side could only name by pid. That
 * pid is global when the caller is in the initial pid namespace; from a
 * nested one it cannot be resolved here.
 */
static struct pm_process *access_target(struct pm_reader *r, const struct pm_priv_event *e)
{
	uint64_t start_ns;
	uint32_t pid;

	if (e->target.pid)
		return snapshot(r, &e->target, NULL, KEEP_CLONED, NULL);
	if (e->pidns_level || !e->target_vpid)
		return NULL;
	/* ptrace and process_vm_* take any thread's id: its process is the target */
	pid = pm_proc_tgid(e->target_vpid);
	if (!pid || pm_proc_start_ns(pid, &start_ns))
		return NULL;
	return pm_process_get(pm_proc_cache_lookup(r->cache, pid, start_ns));
}

struct pm_event *pm_reader_queue_process(struct pm_reader *r, uint32_t type,
					 struct pm_process *p)
{
	uint64_t parent_start;
	struct pm_task t = {
		.pid = p->pid,
		.ppid = p->ppid,
	};
	struct pm_header h = {
		.type = type,
		.ktime_ns = pm_clock_ns(CLOCK_BOOTTIME),
	};

	/* the parent as it runs now: its start time from /proc */
	if (!pm_proc_start_ns(p->ppid, &parent_start))
		t.parent_start_ns = parent_start;
	return queue_event(r, &h, pm_process_get(p), &t, 0);
}

/*
 * A record about another process: PtraceAccessCheck, NewRemoteThread, a
 * ptrace request (never reported itself), or one of the other
 * ProcessEvents. Each is reported when its block is on, and may also make
 * a SensitiveProcessAccess (a granted access to a sensitive target) or
 * complete a ThreadInjection.
 */
static void on_priv(struct pm_reader *r, const struct pm_priv_event *e)
{
	/* the caller's credentials as the call left them: the cache follows */
	struct pm_process *p = snapshot(r, &e->task, NULL, KEEP_CLONED, NULL);
	uint32_t type = e->hdr.type;
	const struct pm_event_info *info = pm_event_info(type);
	bool with_target = type == PM_EVENT_PTRACE_ACCESS || type == PM_EVENT_REMOTE_THREAD ||
			   type == PM_EVENT_PTRACE_REQUEST || type == PM_EVENT_CODE_WRITE ||
			   type == PM_EVENT_SETNS;
	struct pm_process *target = with_target ? access_target(r, e) : NULL;
	/* EFAULT: process_vm_* got past the access check, then the copy failed */
	bool granted = e->ret >= 0 || (type == PM_EVENT_PTRACE_ACCESS && e->ret == -EFAULT);
	struct pm_injection_trail *injection =
		pm_derive_injection(&r->derive, e, p, target, granted, &r->user_drops);
	struct pm_header derived[2] = {
		{ .type = PM_EVENT_SENSITIVE_ACCESS, .ktime_ns = e->hdr.ktime_ns },
		{ .type = PM_EVENT_THREAD_INJECTION, .ktime_ns = e->hdr.ktime_ns },
	};
	const struct pm_header *headers[3];
	size_t n = 0;

	/* what the kernel sends for another block (the accesses serve
	 * thread_injection and sensitive_process_access too) is reported
	 * when the event's own block is on */
	if (info->native && r->cfg->block[info->block].enabled)
		headers[n++] = &e->hdr;
	if (type == PM_EVENT_PTRACE_ACCESS && granted &&
	    pm_derive_sensitive_access(&r->derive, target))
		headers[n++] = &derived[0];
	if (injection)
		headers[n++] = &derived[1];
	for (size_t i = 0; i < n; i++) {
		struct pm_event *ev = queue_event(r, headers[i], pm_process_get(p), &e->task, 0);

		if (!ev)
			continue;
		ev->priv = (struct pm_priv_detail){
			.ret = e->ret,
			.arg = { e->arg[0], e->arg[1], e->arg[2] },
			.flags = e->flags,
			.fsid = e->fsid,
			.access = e->access,
			.target_vpid = e->target_vpid,
			.thread_id = e->target.tid,
		};
		memcpy(ev->priv.name, e->name, sizeof(ev->priv.name));
		ev->target = pm_process_get(target);
		if (headers[i] == &derived[1]) {
			ev->injection = injection;
			injection = NULL;
		}
	}
	free(injection);
	pm_process_put(target);
	pm_process_put(p);
}

/* An event about a file (ModuleLoad, named pipes): it owns `path`. */
static struct pm_event *queue_file_event(struct pm_reader *r, const struct pm_header *h,
					 const struct pm_task *t, char *path, uint32_t flags)
{
	struct pm_event *ev;

	if (!path) {
		r->user_drops++;
		return NULL;
	}
	ev = queue_event(r, h, snapshot(r, t, NULL, KEEP_CLONED, NULL), t, 0);
	if (!ev) {
		free(path);
		return NULL;
	}
	ev->file_path = path;
	ev->file_path_truncated = flags & PM_EXEC_PATH_CUT;
	return ev;
}

static void on_fifo(struct pm_reader *r, const struct pm_fifo_event *e)
{
	queue_file_event(r, &e->hdr, &e->task,
			 pm_fifo_path(e->path, e->dir_len, e->flags, e->name, e->name_len), e->flags);
}

/*
 * ModuleLoad. The mapping is the object's code segment at file offset
 * pgoff; the object's base (where offset 0 is mapped, the first line of
 * /proc/PID/maps for it) is that much lower, as the dynamic loader lays
 * out a shared object's segments.
 */
static void on_module(struct pm_reader *r, const struct pm_module_event *e)
{
	/*
	 * First: a mapped file without a link (a memfd, a deleted library)
	 * can be read only through the mapping, while the process lives: hold
	 * it through /proc/PID/map_files/START-END (the kernel side woke us).
	 * An mmap record's length is the one asked for, the mapping's end is
	 * page-rounded.
	 */
	int pin = -1;
	struct pm_event *ev;
	const char *path;

	if (r->hasher && e->file.nlink == 0) {
		char what[64];

		snprintf(what, sizeof(what), "map_files/%llx-%llx", (unsigned long long)e->addr,
			 (unsigned long long)((e->addr + e->len + 4095) & ~4095ull));
		pin = pm_hasher_pin(e->task.pid, what);
	}
	ev = queue_file_event(r, &e->hdr, &e->task, pm_build_path(e->path, e->path_len, e->flags),
			      e->flags);
	if (!ev) {
		if (pin >= 0)
			close(pin);
		return;
	}
	path = ev->file_path;
	ev->base_address = e->addr >= e->pgoff ? e->addr - e->pgoff : e->addr;
	ev->memory_size = e->len;
	ev->code = (struct pm_code_facts){
		.path = path,
		.size = e->file.isize,
		.mtime_sec = e->file.mtime_sec,
		.mode = e->file.mode,
		.owner_uid = e->file.owner_uid,
		.owner_gid = e->file.owner_gid,
	};
	/* its hash, for CodeIdentity: read through the pinned mapping, or by
	 * path (the exe link is not it) */
	if (r->hasher && (pin >= 0 || !(e->flags & (PM_EXEC_PATH_CUT | PM_EXEC_PATH_PSEUDO |
						    PM_EXEC_PATH_DELETED)))) {
		struct pm_file_id id = file_id(&e->file);

		ev->module_hash =
			pm_hasher_lookup(r->hasher, &id, e->task.pid, pin >= 0 ? NULL : path, pin);
	}
}

/*
 * A process unlinked its own running executable (an implant deleting
 * itself): its exec's hash may still be computed, through /proc/PID/exe,
 * with the ctime the unlink left (src/enrich/hash.h has why that is
 * exact). The exe is pinned first: the process may exit at once.
 */
static void on_exe_unlinked(struct pm_reader *r, const struct pm_file_event *e)
{
	struct pm_process *p = pm_proc_cache_lookup(r->cache, e->task.pid, e->task.start_ns);
	struct pm_hash_entry *h = p && p->image && p->image->executed ? p->image->hash : NULL;
	struct pm_file_id id;

	if (!r->hasher || !h || pm_hash_state(h) == PM_HASH_DONE)
		return;
	id = file_id(&e->file);
	pm_log_debug("pid %u: its exe lost its link (ctime %lld.%u)", e->task.pid,
		     (long long)id.ctime_sec, id.ctime_nsec);
	pm_hasher_accept_unlinked(r->hasher, h, &id, pm_hasher_pin_exe(e->task.pid));
}

/*
 * RepeatedEvents: what one process's repetition of a kind held back. Its
 * count is added to `repeated` whether or not the event is written, so
 * the counters add up to every call the kernel saw.
 */
static void on_repeats(struct pm_reader *r, const struct pm_repeat_event *e)
{
	const struct pm_event_info *kind = pm_event_info(e->kind);
	struct pm_event *ev;

	if (!kind || kind->record == PM_RECORD_NONE) {
		r->malformed++;
		return;
	}
	r->repeated[e->kind] += e->count;
	ev = queue_event(r, &e->hdr, snapshot(r, &e->task, NULL, KEEP_CLONED, NULL), &e->task, 0);
	if (!ev)
		return;
	ev->repeat.kind = e->kind;
	ev->repeat.count = e->count;
	ev->repeat.first_ns = e->first_ns;
	ev->repeat.last_ns = e->last_ns;
}

/* Whether size bytes hold a whole record of this shape, its variable
 * parts within their limits (each is sent at its used length). */
static bool record_whole(uint32_t kind, const void *data, size_t size)
{
	const struct pm_module_event *m = data;
	const struct pm_fifo_event *f = data;

	switch (kind) {
	case PM_RECORD_EXEC:
		return exec_record_valid(data, size);
	case PM_RECORD_CLONE:
		return size >= sizeof(struct pm_clone_event);
	case PM_RECORD_EXIT:
		return size >= sizeof(struct pm_exit_event);
	case PM_RECORD_PRIV:
		return size >= sizeof(struct pm_priv_event);
	case PM_RECORD_FILE:
		return size >= sizeof(struct pm_file_event);
	case PM_RECORD_REPEATS:
		return size >= sizeof(struct pm_repeat_event);
	case PM_RECORD_MODULE:
		return size >= offsetof(struct pm_module_event, path) &&
		       m->path_len <= PM_PATH_MAX &&
		       offsetof(struct pm_module_event, path) + m->path_len <= size;
	case PM_RECORD_FIFO:
		return size >= sizeof(*f) && f->dir_len <= PM_PATH_MAX &&
		       f->name_len <= PM_PATH_MAX;
	}
	return false;
}

#define RECORD_HANDLER(fn, record)                                      \
	static void fn##_record(struct pm_reader *r, const void *data)         \
	{                                                                      \
		fn(r, (const struct record *)data);                            \
	}
RECORD_HANDLER(on_exec, pm_exec_event)
RECORD_HANDLER(on_clone, pm_clone_event)
RECORD_HANDLER(on_exit_record, pm_exit_event)
RECORD_HANDLER(on_priv, pm_priv_event)
RECORD_HANDLER(on_module, pm_module_event)
RECORD_HANDLER(on_fifo, pm_fifo_event)
RECORD_HANDLER(on_exe_unlinked, pm_file_event)
RECORD_HANDLER(on_repeats, pm_repeat_event)

/* Who takes a whole record of each shape. */
static void (*const record_handlers[PM_RECORD_KINDS])(struct pm_reader *r, const void *data) = {
	[PM_RECORD_EXEC] = on_exec_record,	 [PM_RECORD_CLONE] = on_clone_record,
	[PM_RECORD_EXIT] = on_exit_record_record, [PM_RECORD_PRIV] = on_priv_record,
	[PM_RECORD_MODULE] = on_module_record,	 [PM_RECORD_FIFO] = on_fifo_record,
	[PM_RECORD_FILE] = on_exe_unlinked_record, [PM_RECORD_REPEATS] = on_repeats_record,
};

/* Dispatch by record shape (the event table's RECORD column), each checked
 * whole first: an event of an existing shape needs nothing here. */
static void on_record(struct pm_reader *r, void *data, size_t size)
{
	const struct pm_header *h = data;
	const struct pm_event_info *info;
	uint32_t kind;

	if (size < sizeof(*h) || h->size > size)
		goto malformed;
	info = pm_event_info(h->type);
	kind = info ? info->record : PM_RECORD_NONE;
	if (!record_whole(kind, data, size))
		goto malformed;
	record_handlers[kind](r, data);
	return;
malformed:
	r->malformed++;
	pm_log_debug("malformed record: type %u, %zu bytes", size >= sizeof(*h) ? h->type : 0, size);
}

int pm_reader_on_record(void *ctx, void *data, size_t size)
{
	struct pm_reader *r = ctx;

	on_record(r, data, size);
	/* enough decoded for now: the caller drains before it reads on */
	return r->queue.len >= PM_QUEUE_PAUSE ? -EAGAIN : 0;
}
