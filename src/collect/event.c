// SPDX-License-Identifier: GPL-2.0
#include "collect/event.h"

#include <stdlib.h>

struct pm_event *pm_event_new(uint32_t type, uint64_t ktime_ns)
{
	struct pm_event *ev = calloc(1, sizeof(*ev));

	if (ev) {
		ev->type = type;
		ev->ktime_ns = ktime_ns;
	}
	return ev;
}

void pm_event_free(struct pm_event *ev)
{
	if (!ev)
		return;
	pm_process_put(ev->proc);
	pm_process_put(ev->parent);
	pm_process_put(ev->target);
	free(ev->env);
	free(ev->injection);
	free(ev->file_path);
	pm_hash_put(ev->module_hash);
	free(ev);
}

void pm_event_queue_push(struct pm_event_queue *q, struct pm_event *ev)
{
	ev->next = NULL;
	if (q->tail)
		q->tail->next = ev;
	else
		q->head = ev;
	q->tail = ev;
	q->len++;
}

static bool entry_settled(const struct pm_hash_entry *h)
{
	return !h || pm_hash_state(h) != PM_HASH_PENDING;
}

static bool hash_settled(const struct pm_process *p)
{
	return !p || !p->image ||
	       (entry_settled(p->image->hash) && entry_settled(p->image->script_hash));
}

struct pm_event *pm_event_queue_pop_ready(struct pm_event_queue *q, uint64_t now_ns, bool force)
{
	struct pm_event *ev = q->head;

	if (!ev)
		return NULL;
	if (!force && now_ns < ev->deadline_ns &&
	    !(hash_settled(ev->proc) && hash_settled(ev->parent) && hash_settled(ev->target) &&
	      entry_settled(ev->module_hash)))
		return NULL;
	q->head = ev->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	return ev;
}
