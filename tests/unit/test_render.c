// SPDX-License-Identifier: GPL-2.0
/*
 * What makes rendering cheap must not change what is rendered: a record
 * that changes nothing keeps its process snapshot, a snapshot's process
 * object is rendered once (but not while its hash is pending, nor after
 * its ProcessExit is written), and the
 * capability-name strings are memoized per set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/container.h"
#include "collect/event.h"
#include "enrich/hash.h"
#include "render/json.h"
#include "render/names.h"
#include "collect/proc_cache.h"
#include "procmon/events.h"
#include "collect/reader.h"
#include "render/render.h"

static struct pm_exit_event exit_record(uint32_t pid, uint32_t euid)
{
	struct pm_exit_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = PM_EVENT_EXIT;
	e.hdr.size = sizeof(e);
	e.hdr.ktime_ns = 1000;
	e.task.pid = e.task.tid = pid;
	e.task.ppid = 1;
	e.task.start_ns = 5000000000ull;
	e.task.euid = euid;
	e.task.auid = 4294967295u;
	memcpy(e.task.comm, "worker", 7);
	return e;
}

static struct pm_process *next_proc(struct pm_reader *r)
{
	struct pm_event *ev = r->queue.head;
	struct pm_process *p;

	assert_non_null(ev);
	r->queue.head = ev->next;
	if (!r->queue.head)
		r->queue.tail = NULL;
	r->queue.len--;
	p = pm_process_get(ev->proc);
	pm_event_free(ev);
	return p;
}

static void test_unchanged_record_keeps_snapshot(void **state)
{
	struct pm_reader r = { 0 };
	struct pm_exit_event a = exit_record(4242, 0), b = a, c = exit_record(4242, 1000);
	struct pm_process *pa, *pb, *pc;

	(void)state;
	r.cache = pm_proc_cache_new();
	r.containers = pm_containers_new();
	assert_non_null(r.cache);
	assert_non_null(r.containers);
	pm_reader_on_record(&r, &a, sizeof(a));
	pm_reader_on_record(&r, &b, sizeof(b));
	pm_reader_on_record(&r, &c, sizeof(c));
	pa = next_proc(&r);
	pb = next_proc(&r);
	pc = next_proc(&r);
	assert_ptr_equal(pa, pb);     /* nothing changed: the same snapshot */
	assert_ptr_not_equal(pb, pc); /* euid changed: a new one */
	assert_int_equal(pa->euid, 0);
	assert_int_equal(pc->euid, 1000);
	assert_string_equal(pa->exec_id, pc->exec_id); /* one process instance */
	pm_process_put(pa);
	pm_process_put(pb);
	pm_process_put(pc);
	pm_proc_cache_free(r.cache);
	pm_containers_free(r.containers);
}

static char *render(const struct pm_event *ev, const struct pm_render_ctx *ctx)
{
	struct json_buf b;
	char *s;

	json_init(&b);
	pm_render_bombini(&b, ev, ctx);
	assert_false(b.buf.oom);
	s = strndup(b.buf.data, b.buf.len);
	json_free(&b);
	return s;
}

static void test_process_object_memo(void **state)
{
	struct pm_render_ctx ctx = { .cap_last = 40 };
	struct pm_hash_entry hash;
	struct pm_process *p = pm_process_new(), *parent = pm_process_new();
	struct pm_event *ev = pm_event_new(PM_EVENT_EXIT, 1000);
	char *first, *second, *third, *fourth;

	(void)state;
	memset(&hash, 0, sizeof(hash));
	hash.state = PM_HASH_PENDING;
	strcpy(hash.hex, "sha256:00ff");
	p->pid = 7;
	p->cap_effective = 1ull << 21; /* CAP_SYS_ADMIN */
	p->image = pm_image_new();
	p->image->filename = strdup("x");
	p->image->binary_path = strdup("/bin/x");
	p->image->args = strdup("a \"b\"");
	p->image->args_len = 5;
	p->image->hash = &hash;
	parent->pid = 1;
	ev->proc = p;
	ev->parent = parent;

	first = render(ev, &ctx);
	assert_null(p->rendered); /* pending: the hash may still come */
	assert_non_null(parent->rendered);
	assert_null(strstr(first, "binary_ima_hash"));
	assert_non_null(strstr(first, "\"cap_effective\":\"CAP_SYS_ADMIN\""));
	assert_non_null(strstr(first, "\"args\":\"a \\\"b\\\"\""));

	hash.state = PM_HASH_DONE;
	second = render(ev, &ctx);
	assert_non_null(p->rendered);
	assert_non_null(strstr(second, "\"binary_ima_hash\":\"sha256:00ff\""));
	third = render(ev, &ctx);
	assert_string_equal(second, third); /* from the memo, byte for byte */

	/* once its ProcessExit is written, nothing is memoized for it again,
	 * and it still renders the same */
	pm_process_close_memo(p);
	assert_null(p->rendered);
	free(third);
	third = render(ev, &ctx);
	assert_null(p->rendered);
	assert_string_equal(second, third);

	/* a clone of the snapshot starts without the memo of the original */
	ev->proc = pm_process_clone(p);
	ev->proc->pid = 8;
	fourth = render(ev, &ctx);
	assert_non_null(strstr(fourth, "\"pid\":8"));
	assert_null(strstr(fourth, "\"pid\":7"));

	p->image->hash = NULL; /* on the stack, not to be put */
	ev->proc->image->hash = NULL;
	pm_process_put(p);
	pm_event_free(ev);
	free(first);
	free(second);
	free(third);
	free(fourth);
}

static void check_caps(uint64_t caps, const char *want)
{
	struct json_buf b;

	json_init(&b);
	pm_json_caps(&b, caps, 40);
	assert_int_equal(b.buf.len, strlen(want));
	assert_memory_equal(b.buf.data, want, b.buf.len);
	json_free(&b);
}

static void test_caps_memo_slots(void **state)
{
	(void)state;
	/* sets that share a memo slot, alternated: each keeps its own names */
	for (int i = 0; i < 3; i++) {
		check_caps(1, "\"CAP_CHOWN\"");
		check_caps(1 | (1ull << 8), "\"CAP_CHOWN | CAP_SETPCAP\"");
		check_caps(0, "\"\"");
		check_caps((2ull << 40) - 1, "\"ALL_CAPS\"");
		check_caps(1ull << 63, "\"CAP_63\""); /* unknown bit: its number */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged_record_keeps_snapshot),
		cmocka_unit_test(test_process_object_memo),
		cmocka_unit_test(test_caps_memo_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
