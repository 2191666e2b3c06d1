// SPDX-License-Identifier: GPL-2.0
/* The process cache: instance keys (pid + start time), /proc tolerance,
 * exited-process linger, growth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "collect/proc_cache.h"

static struct pm_process *proc(uint32_t pid, uint64_t start_ns)
{
	struct pm_process *p = pm_process_new();

	assert_non_null(p);
	p->pid = p->tid = pid;
	p->start_ns = start_ns;
	return p;
}

static void insert(struct pm_proc_cache *c, struct pm_process *p)
{
	assert_int_equal(pm_proc_cache_update(c, p), 0);
	pm_process_put(p);
}

static void test_reused_pid_is_another_instance(void **state)
{
	struct pm_proc_cache *c = pm_proc_cache_new();

	(void)state;
	insert(c, proc(42, 1000000000));
	assert_non_null(pm_proc_cache_lookup(c, 42, 1000000000));
	assert_null(pm_proc_cache_lookup(c, 42, 1000000000 + pm_clock_tick_ns()));
	assert_null(pm_proc_cache_lookup(c, 43, 1000000000));
	insert(c, proc(42, 5000000000));
	assert_int_equal(pm_proc_cache_size(c), 2);
	assert_int_equal(pm_proc_cache_lookup(c, 42, 5000000000)->start_ns, 5000000000);
	pm_proc_cache_free(c);
}

static void test_proc_start_is_the_same_instance(void **state)
{
	uint64_t tick = pm_clock_tick_ns();
	struct pm_proc_cache *c = pm_proc_cache_new();
	struct pm_process *seeded = proc(7, 123 * tick), *exact = proc(7, 123 * tick + tick / 2);

	(void)state;
	/* /proc says 123 ticks: floor(start_boottime / tick) of the kernel's ns */
	pm_process_set_exec_id(seeded, 1);
	pm_process_set_exec_id(exact, 1);
	assert_string_equal(seeded->exec_id, exact->exec_id); /* across restarts */
	insert(c, seeded);
	assert_non_null(pm_proc_cache_lookup(c, 7, 123 * tick + tick / 2));
	assert_null(pm_proc_cache_lookup(c, 7, 124 * tick));
	assert_null(pm_proc_cache_lookup(c, 7, 122 * tick + tick - 1));
	pm_process_put(exact);
	pm_proc_cache_free(c);
}

static void test_update_replaces_snapshot_but_events_keep_theirs(void **state)
{
	struct pm_proc_cache *c = pm_proc_cache_new();
	struct pm_process *a = proc(9, 100), *b;

	(void)state;
	assert_int_equal(pm_proc_cache_update(c, a), 0);
	b = pm_process_clone(a);
	b->uid = 1000;
	insert(c, b);
	assert_int_equal(pm_proc_cache_size(c), 1);
	assert_int_equal(pm_proc_cache_lookup(c, 9, 100)->uid, 1000);
	assert_int_equal(a->uid, 0); /* the old snapshot is untouched */
	pm_process_put(a);
	pm_proc_cache_free(c);
}

static void test_exited_processes_linger_then_expire(void **state)
{
	struct pm_proc_cache *c = pm_proc_cache_new();

	(void)state;
	insert(c, proc(5, 1));
	insert(c, proc(6, 1));
	pm_proc_cache_mark_exited(c, 5, 1, 1000);
	pm_proc_cache_expire(c, 1500, 1000);
	assert_non_null(pm_proc_cache_lookup(c, 5, 1)); /* still lingering */
	pm_proc_cache_expire(c, 2000, 1000);
	assert_null(pm_proc_cache_lookup(c, 5, 1));
	assert_non_null(pm_proc_cache_lookup(c, 6, 1)); /* running: kept */
	assert_int_equal(pm_proc_cache_size(c), 1);
	pm_proc_cache_free(c);
}

static void test_exited_processes_beyond_the_cap_leave_oldest_first(void **state)
{
	struct pm_proc_cache *c = pm_proc_cache_new();
	const uint32_t extra = 10, n = PM_CACHE_EXITED_MAX + extra;

	(void)state;
	insert(c, proc(1, 1));
	for (uint32_t pid = 2; pid < 2 + n; pid++) {
		insert(c, proc(pid, 1));
		pm_proc_cache_mark_exited(c, pid, 1, pid);
	}
	/* faster than they could expire: still at most the cap kept */
	assert_int_equal(pm_proc_cache_size(c), 1 + PM_CACHE_EXITED_MAX);
	assert_null(pm_proc_cache_lookup(c, 2, 1));
	assert_null(pm_proc_cache_lookup(c, 1 + extra, 1));
	assert_non_null(pm_proc_cache_lookup(c, 2 + extra, 1));
	assert_non_null(pm_proc_cache_lookup(c, 1, 1)); /* running: kept */
	/* marking an exited process again does not count it twice */
	pm_proc_cache_mark_exited(c, 2 + extra, 1, 1);
	assert_int_equal(pm_proc_cache_size(c), 1 + PM_CACHE_EXITED_MAX);
	/* expiry takes them in exit order, the running one stays */
	pm_proc_cache_expire(c, 2 + extra + 100 + 1000, 1000);
	assert_null(pm_proc_cache_lookup(c, 2 + extra + 100, 1));
	assert_non_null(pm_proc_cache_lookup(c, 2 + extra + 101, 1));
	pm_proc_cache_expire(c, UINT64_MAX / 2, 1000);
	assert_int_equal(pm_proc_cache_size(c), 1);
	pm_proc_cache_free(c);
}

static bool pid_5_is_gone(const struct pm_process *p, void *arg)
{
	(void)arg;
	return p->pid == 5;
}

static void test_sweep_marks_vanished_processes_exited(void **state)
{
	struct pm_proc_cache *c = pm_proc_cache_new();

	(void)state;
	insert(c, proc(5, 1));
	insert(c, proc(6, 1));
	pm_proc_cache_sweep(c, 1000, pid_5_is_gone, NULL);
	pm_proc_cache_expire(c, 3000, 1000);
	assert_null(pm_proc_cache_lookup(c, 5, 1));
	assert_non_null(pm_proc_cache_lookup(c, 6, 1));
	pm_proc_cache_free(c);
}

static void test_grows_past_initial_buckets(void **state)
{
	struct pm_proc_cache *c = pm_proc_cache_new();

	(void)state;
	for (uint32_t pid = 1; pid <= 20000; pid++)
		insert(c, proc(pid, pid * 3ull));
	assert_int_equal(pm_proc_cache_size(c), 20000);
	for (uint32_t pid = 1; pid <= 20000; pid++)
		assert_non_null(pm_proc_cache_lookup(c, pid, pid * 3ull));
	pm_proc_cache_free(c);
}

static void test_clone_shares_image_by_reference(void **state)
{
	struct pm_process *a = proc(1, 1), *b;

	(void)state;
	a->image = pm_image_new();
	b = pm_process_clone(a);
	assert_ptr_equal(a->image, b->image);
	assert_int_equal(a->image->refs, 2);
	pm_process_put(a);
	assert_int_equal(b->image->refs, 1);
	pm_process_put(b);
}

static void test_exec_id_is_32_hex_and_distinct(void **state)
{
	struct pm_process *a = proc(100, 555), *b = proc(100, 556 + pm_clock_tick_ns());

	(void)state;
	pm_process_set_exec_id(a, 0xdeadbeef);
	pm_process_set_exec_id(b, 0xdeadbeef);
	assert_int_equal(strlen(a->exec_id), 32);
	assert_string_not_equal(a->exec_id, b->exec_id);
	assert_string_equal(a->exec_id, "deadbeef000000000000000000000064");
	pm_process_put(a);
	pm_process_put(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reused_pid_is_another_instance),
		cmocka_unit_test(test_proc_start_is_the_same_instance),
		cmocka_unit_test(test_update_replaces_snapshot_but_events_keep_theirs),
		cmocka_unit_test(test_exited_processes_linger_then_expire),
		cmocka_unit_test(test_exited_processes_beyond_the_cap_leave_oldest_first),
		cmocka_unit_test(test_sweep_marks_vanished_processes_exited),
		cmocka_unit_test(test_grows_past_initial_buckets),
		cmocka_unit_test(test_clone_shares_image_by_reference),
		cmocka_unit_test(test_exec_id_is_32_hex_and_distinct),
	};

	return cmocka_run_group_tests_name("proc_cache", tests, NULL, NULL);
}
