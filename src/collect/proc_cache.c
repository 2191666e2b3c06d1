// SPDX-License-Identifier: GPL-2.0
#include "collect/proc_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pm_image *pm_image_new(void)
{
	struct pm_image *img = calloc(1, sizeof(*img));

	if (img)
		img->refs = 1;
	return img;
}

struct pm_image *pm_image_get(struct pm_image *img)
{
	if (img)
		img->refs++;
	return img;
}

size_t pm_image_command_line(const struct pm_image *img, const char *parts[3], size_t lens[3])
{
	const char *path = img && img->binary_path ? img->binary_path : "";
	size_t args_len = img && img->args ? img->args_len : 0;

	parts[0] = img && img->argv0 ? img->argv0 : path;
	lens[0] = img && img->argv0 ? img->argv0_len : strlen(path);
	parts[1] = " ";
	lens[1] = 1;
	parts[2] = args_len ? img->args : "";
	lens[2] = args_len;
	if (!lens[0] && !(img && img->argv0)) { /* no path known (a kernel thread) */
		parts[0] = parts[2];
		lens[0] = lens[2];
		return 1;
	}
	return args_len ? 3 : 1;
}

void pm_image_put(struct pm_image *img)
{
	if (!img || --img->refs)
		return;
	free(img->filename);
	free(img->binary_path);
	free(img->args);
	free(img->argv0);
	pm_hash_put(img->hash);
	free(img->script_path);
	pm_hash_put(img->script_hash);
	free(img->cwd);
	free(img);
}

struct pm_process *pm_process_new(void)
{
	struct pm_process *p = calloc(1, sizeof(*p));

	if (p)
		p->refs = 1;
	return p;
}

struct pm_process *pm_process_get(struct pm_process *p)
{
	if (p)
		p->refs++;
	return p;
}

void pm_process_put(struct pm_process *p)
{
	if (!p || --p->refs)
		return;
	pm_image_put(p->image);
	free(p->rendered);
	free(p);
}

struct pm_process *pm_process_clone(const struct pm_process *src)
{
	struct pm_process *p = malloc(sizeof(*p));

	if (!p)
		return NULL;
	*p = *src;
	p->refs = 1;
	p->rendered = NULL; /* the copy is about to differ from src */
	p->rendered_len = 0;
	pm_image_get(p->image);
	return p;
}

void pm_process_close_memo(struct pm_process *p)
{
	free(p->rendered);
	p->rendered = NULL;
	p->rendered_len = 0;
	p->memo_closed = true;
}

uint64_t pm_clock_tick_ns(void)
{
	static uint64_t tick_ns;

	if (!tick_ns) {
		long hz = sysconf(_SC_CLK_TCK);

		tick_ns = 1000000000ull / (hz > 0 ? (uint64_t)hz : 100);
	}
	return tick_ns;
}

uint64_t pm_start_ticks(uint64_t start_ns)
{
	return start_ns / pm_clock_tick_ns();
}

void pm_process_set_exec_id(struct pm_process *p, uint32_t boot_id_prefix)
{
	snprintf(p->exec_id, sizeof(p->exec_id), "%08x%016llx%08x", boot_id_prefix,
		 (unsigned long long)pm_start_ticks(p->start_ns), p->pid);
}

/* ---- the cache: chained hash table on pid ---- */

struct pm_cache_slot {
	struct pm_process *p;
	uint64_t exited_ns; /* 0 while running */
	struct pm_cache_slot *next;
	struct pm_cache_slot *exit_next; /* exited slots, in exit order */
};

struct pm_proc_cache {
	struct pm_cache_slot **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	/* the exited slots, oldest exit first: they leave in this order */
	struct pm_cache_slot *exit_head, **exit_tail;
	size_t exited;
	uint64_t hits, misses; /* pm_proc_cache_lookup's answers, for the metrics */
};

#define PM_CACHE_MIN_BUCKETS 4096

struct pm_proc_cache *pm_proc_cache_new(void)
{
	struct pm_proc_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nbuckets = PM_CACHE_MIN_BUCKETS;
	c->exit_tail = &c->exit_head;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

void pm_proc_cache_free(struct pm_proc_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct pm_cache_slot *s = c->buckets[i], *next;

		for (; s; s = next) {
			next = s->next;
			pm_process_put(s->p);
			free(s);
		}
	}
	free(c->buckets);
	free(c);
}

static size_t bucket_of(const struct pm_proc_cache *c, uint32_t pid)
{
	return (pid * 2654435761u) & (c->nbuckets - 1);
}

static bool same_start(const struct pm_process *p, uint64_t start_ns)
{
	return pm_start_ticks(p->start_ns) == pm_start_ticks(start_ns);
}

static struct pm_cache_slot **find_slot(struct pm_proc_cache *c, uint32_t pid, uint64_t start_ns)
{
	struct pm_cache_slot **sp = &c->buckets[bucket_of(c, pid)];

	for (; *sp; sp = &(*sp)->next)
		if ((*sp)->p->pid == pid && same_start((*sp)->p, start_ns))
			return sp;
	return NULL;
}

struct pm_process *pm_proc_cache_lookup(struct pm_proc_cache *c, uint32_t pid, uint64_t start_ns)
{
	struct pm_cache_slot **sp = find_slot(c, pid, start_ns);

	if (!sp) {
		c->misses++;
		return NULL;
	}
	c->hits++;
	return (*sp)->p;
}

void pm_proc_cache_stats(const struct pm_proc_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = c->hits;
	*misses = c->misses;
}

static void grow(struct pm_proc_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct pm_cache_slot **b = calloc(n, sizeof(*b));
	struct pm_proc_cache tmp = *c;

	if (!b) /* keep working with longer chains */
		return;
	tmp.buckets = b;
	tmp.nbuckets = n;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct pm_cache_slot *s = c->buckets[i], *next;

		for (; s; s = next) {
			size_t k = bucket_of(&tmp, s->p->pid);

			next = s->next;
			s->next = b[k];
			b[k] = s;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

int pm_proc_cache_update(struct pm_proc_cache *c, struct pm_process *p)
{
	struct pm_cache_slot **sp = find_slot(c, p->pid, p->start_ns), *s;
	size_t k;

	if (sp) {
		s = *sp;
		pm_process_put(s->p);
		s->p = pm_process_get(p);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (c->count >= c->nbuckets)
		grow(c);
	k = bucket_of(c, p->pid);
	s->p = pm_process_get(p);
	s->next = c->buckets[k];
	c->buckets[k] = s;
	c->count++;
	return 0;
}

/* Drop the oldest exited slot (the head of the exit list). */
static void drop_oldest_exited(struct pm_proc_cache *c)
{
	struct pm_cache_slot *s = c->exit_head, **sp = &c->buckets[bucket_of(c, s->p->pid)];

	while (*sp != s)
		sp = &(*sp)->next;
	*sp = s->next;
	c->exit_head = s->exit_next;
	if (!c->exit_head)
		c->exit_tail = &c->exit_head;
	c->exited--;
	c->count--;
	pm_process_put(s->p);
	free(s);
}

static void mark_slot_exited(struct pm_proc_cache *c, struct pm_cache_slot *s, uint64_t now_ns)
{
	if (s->exited_ns)
		return;
	s->exited_ns = now_ns ? now_ns : 1;
	s->exit_next = NULL;
	*c->exit_tail = s;
	c->exit_tail = &s->exit_next;
	if (++c->exited > PM_CACHE_EXITED_MAX)
		drop_oldest_exited(c);
}

void pm_proc_cache_mark_exited(struct pm_proc_cache *c, uint32_t pid, uint64_t start_ns,
			       uint64_t now_ns)
{
	struct pm_cache_slot **sp = find_slot(c, pid, start_ns);

	if (sp)
		mark_slot_exited(c, *sp, now_ns);
}

void pm_proc_cache_expire(struct pm_proc_cache *c, uint64_t now_ns, uint64_t linger_ns)
{
	while (c->exit_head && c->exit_head->exited_ns + linger_ns <= now_ns)
		drop_oldest_exited(c);
}

size_t pm_proc_cache_size(const struct pm_proc_cache *c)
{
	return c->count;
}

void pm_proc_cache_sweep(struct pm_proc_cache *c, uint64_t now_ns,
			 bool (*gone)(const struct pm_process *p, void *arg), void *arg)
{
	for (size_t i = 0; i < c->nbuckets; i++)
		for (struct pm_cache_slot *s = c->buckets[i]; s; s = s->next)
			if (!s->exited_ns && gone(s->p, arg))
				mark_slot_exited(c, s, now_ns);
}

void pm_proc_cache_for_each(struct pm_proc_cache *c,
			    void (*fn)(const struct pm_process *p, void *arg), void *arg)
{
	for (size_t i = 0; i < c->nbuckets; i++)
		for (struct pm_cache_slot *s = c->buckets[i]; s; s = s->next)
			if (!s->exited_ns)
				fn(s->p, arg);
}
