// SPDX-License-Identifier: GPL-2.0
#include "collect/pin.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "enrich/hash.h"
#include "log.h"
#include "procmon/events.h"

/* Execs held at once; a burst of new binaries beyond it closes the oldest
 * pins (their hashes then come the ordinary way, or not at all). */
#define PIN_SLOTS 256

struct pin_slot {
	uint64_t ktime_ns;
	uint32_t pid;
	int exe, script; /* -1: none */
	bool used;
	bool has_id; /* id: exe's identity, proven the executed content's */
	struct pm_file_id id;
	char hex[sizeof("sha256:") + 64]; /* its digest, when hashed at once; "" */
};

struct pm_pinner {
	struct ring_buffer *rb;
	int info_fd; /* pm_proc_info */
	pthread_t thread;
	bool started;
	volatile bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a slot was filled */
	struct pin_slot slot[PIN_SLOTS];
	unsigned next; /* the slot the next pin takes, round robin */
	struct pm_pin_stats stats;
	uint64_t budget_second; /* CLOCK_MONOTONIC second of budget_bytes */
	uint64_t budget_bytes;  /* hashed in it */
};

/*
 * A small file whose identity is proven is hashed by the pin thread at
 * once: a file renamed over just after its process exited (which no
 * proof covers) is still the executed one while its identity holds, and
 * the worker may come too late for that. Within a budget, since this
 * thread runs at real-time priority: at most PIN_HASH_BUDGET bytes a
 * second (~2% of a core), files up to PIN_HASH_MAX; the rest is the
 * worker's.
 */
#define PIN_HASH_MAX (256 << 10)
#define PIN_HASH_BUDGET (8 << 20)

static bool within_budget(struct pm_pinner *p, int64_t size)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((uint64_t)now.tv_sec != p->budget_second) {
		p->budget_second = now.tv_sec;
		p->budget_bytes = 0;
	}
	if (size < 0 || size > PIN_HASH_MAX || p->budget_bytes + size > PIN_HASH_BUDGET)
		return false;
	p->budget_bytes += size;
	return true;
}

static void slot_clear(struct pm_pinner *p, struct pin_slot *s, bool unclaimed)
{
	if (s->used && unclaimed)
		p->stats.unclaimed++;
	if (s->exe >= 0)
		close(s->exe);
	if (s->script >= 0)
		close(s->script);
	*s = (struct pin_slot){ .exe = -1, .script = -1 };
}

/*
 * The identity of the held exe, proven to be the executed content's, into
 * *id; false when it cannot be proven. The process ran that exec, with its
 * memory (and so its deny-write hold on the file: ETXTBSY) from the exec
 * until after the fstat if, in this order after the open,
 *  - /proc/PID/exe still resolves (no exe once the memory is released),
 *  - its pm_proc_info still holds that exec's time (no exec since: the
 *    kernel writes it at each exec before sending a pin),
 *  - and the pidfd, opened before all this, is not yet readable (it had
 *    not exited, so PID was not reused meanwhile).
 * A file nobody could write since the exec has the executed content,
 * whatever its ctime says now (renamed over, deleted meanwhile).
 */
static bool prove_exec_file(struct pm_pinner *p, const struct pm_pin *rec, int pidfd, int exe,
			    struct pm_file_id *id)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	struct pm_proc_info info;
	char link[32], buf[16];

	if (pidfd < 0 || pm_file_id_of_fd(exe, id))
		return false;
	snprintf(link, sizeof(link), "/proc/%u/exe", rec->pid);
	return readlink(link, buf, sizeof(buf)) >= 0 &&
	       !bpf_map_lookup_elem(p->info_fd, &pidfd, &info) && info.exec_ns == rec->ktime_ns &&
	       poll(&pfd, 1, 0) == 0;
}

static int on_pin(void *ctx, void *data, size_t size)
{
	struct pm_pinner *p = ctx;
	const struct pm_pin *rec = data;
	struct pm_file_id id;
	char hex[sizeof("sha256:") + 64];
	bool has_id = false;
	int exe, pidfd, script = -1;
	char what[24];

	if (size < sizeof(*rec))
		return 0;
	/* first: the open that holds the file (the pidfd is one syscall
	 * that cannot wait, and must come before it) */
	pidfd = syscall(SYS_pidfd_open, rec->pid, 0);
	exe = pm_hasher_pin_exe(rec->pid);
	if (rec->script_fd >= 0) {
		snprintf(what, sizeof(what), "fd/%d", rec->script_fd);
		script = pm_hasher_pin(rec->pid, what);
	}
	if (exe >= 0)
		has_id = prove_exec_file(p, rec, pidfd, exe, &id);
	if (pidfd >= 0)
		close(pidfd);
	hex[0] = '\0';
	if (has_id && within_budget(p, id.size) && pm_hash_pinned(exe, &id, hex))
		hex[0] = '\0';
	pm_log_debug("pin: pid %u exec %llu: exe %s%s", rec->pid,
		     (unsigned long long)rec->ktime_ns, exe >= 0 ? "held" : "gone",
		     has_id ? ", proven that exec's" : "");
	pthread_mutex_lock(&p->lock);
	p->stats.pinned++;
	if (exe < 0)
		p->stats.failed++;
	slot_clear(p, &p->slot[p->next], true);
	p->slot[p->next] = (struct pin_slot){
		.ktime_ns = rec->ktime_ns, .pid = rec->pid, .exe = exe, .script = script,
		.used = true, .has_id = has_id, .id = id,
	};
	memcpy(p->slot[p->next].hex, hex, sizeof(hex));
	p->next = (p->next + 1) % PIN_SLOTS;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void *pin_main(void *arg)
{
	struct pm_pinner *p = arg;

	while (!p->stop) {
		int err = ring_buffer__poll(p->rb, 100);

		if (err < 0 && err != -EINTR) {
			pm_log_error("pin thread: reading its ring buffer: %s", strerror(-err));
			break;
		}
	}
	return NULL;
}

int pm_pinner_start(struct pm_pinner **out, int ring_fd, int info_fd, bool realtime)
{
	struct pm_pinner *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < PIN_SLOTS; i++)
		p->slot[i] = (struct pin_slot){ .exe = -1, .script = -1 };
	p->info_fd = info_fd;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->rb = ring_buffer__new(ring_fd, on_pin, p, NULL);
	if (!p->rb) {
		err = -errno;
		goto fail;
	}
	/* signals are the main thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&p->thread, NULL, pin_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	p->started = true;
	if (realtime) {
		/* the lowest real-time priority: ahead of every normal thread,
		 * and its work is one open per new binary */
		struct sched_param sp = { .sched_priority = 1 };
		int e = pthread_setschedparam(p->thread, SCHED_FIFO, &sp);

		if (e)
			pm_log_warn("pin thread: no real-time priority (%s): short-lived "
				    "processes may lose their hash under load", strerror(e));
	}
	*out = p;
	return 0;
fail:
	pm_pinner_stop(p);
	return err;
}

void pm_pinner_stop(struct pm_pinner *p)
{
	if (!p)
		return;
	if (p->started) {
		p->stop = true;
		pthread_join(p->thread, NULL);
	}
	ring_buffer__free(p->rb);
	for (unsigned i = 0; i < PIN_SLOTS; i++)
		slot_clear(p, &p->slot[i], false);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct pin_slot *find(struct pm_pinner *p, uint32_t pid, uint64_t ktime_ns)
{
	for (unsigned i = 0; i < PIN_SLOTS; i++)
		if (p->slot[i].used && p->slot[i].pid == pid && p->slot[i].ktime_ns == ktime_ns)
			return &p->slot[i];
	return NULL;
}

void pm_pinner_take(struct pm_pinner *p, uint32_t pid, uint64_t ktime_ns, int wait_ms, int *exe,
		    int *script, struct pm_file_id *id, bool *has_id,
		    char hex[sizeof("sha256:") + 64])
{
	struct pin_slot *s;
	struct timespec until;

	*exe = *script = -1;
	*has_id = false;
	hex[0] = '\0';
	if (!p)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)wait_ms * 1000000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&p->lock);
	/* the kernel sent the pin before the exec record: it is there or
	 * on its way */
	while (!(s = find(p, pid, ktime_ns)) &&
	       pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0)
		;
	if (s) {
		*exe = s->exe;
		*script = s->script;
		*has_id = s->has_id;
		*id = s->id;
		memcpy(hex, s->hex, sizeof(s->hex));
		s->exe = s->script = -1;
		slot_clear(p, s, false);
	}
	pthread_mutex_unlock(&p->lock);
}

void pm_pinner_stats(struct pm_pinner *p, struct pm_pin_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	*st = p->stats;
	pthread_mutex_unlock(&p->lock);
}
