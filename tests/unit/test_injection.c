// SPDX-License-Identifier: GPL-2.0
/* ThreadInjection's correlation of steps (src/enrich/injection.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "enrich/injection.h"

#define SEC 1000000000ull

static const struct pm_injection_key A = { 100, 1 }, B = { 200, 2 }, C = { 300, 3 };

static bool step(struct pm_injections *t, struct pm_injection_key src, struct pm_injection_key dst,
		 uint32_t kind, uint64_t ns, struct pm_injection_trail *out)
{
	struct pm_injection_step s = { .kind = kind, .ktime_ns = ns };

	return pm_injection_observe(t, src, dst, &s, out);
}

static void test_write_then_execute(void **state)
{
	struct pm_injections *t = calloc(1, sizeof(*t));
	struct pm_injection_trail out;

	(void)state;
	assert_false(step(t, A, B, PM_STEP_ATTACH, 1 * SEC, &out));
	assert_false(step(t, A, B, PM_STEP_POKETEXT, 2 * SEC, &out));
	assert_true(step(t, A, B, PM_STEP_SETREGS, 3 * SEC, &out));
	assert_int_equal(out.n, 3);
	assert_int_equal(out.steps[0].kind, PM_STEP_ATTACH);
	assert_int_equal(out.steps[1].kind, PM_STEP_POKETEXT);
	assert_int_equal(out.steps[2].kind, PM_STEP_SETREGS);
	assert_int_equal(out.source.pid, A.pid);
	assert_int_equal(out.target.pid, B.pid);
	/* reported once: the pair starts over */
	assert_false(step(t, A, B, PM_STEP_SETREGS, 4 * SEC, &out));
	free(t);
}

static void test_code_write_alone(void **state)
{
	struct pm_injections *t = calloc(1, sizeof(*t));
	struct pm_injection_trail out;

	(void)state;
	/* opened for writing, then a write into code: complete, no registers */
	assert_false(step(t, A, B, PM_STEP_PROC_MEM_WRITE, 1 * SEC, &out));
	assert_true(step(t, A, B, PM_STEP_PROC_MEM_CODE, 2 * SEC, &out));
	assert_int_equal(out.n, 2);
	assert_int_equal(out.steps[1].kind, PM_STEP_PROC_MEM_CODE);
	/* on its own, too (the open may be long past) */
	assert_true(step(t, A, C, PM_STEP_VM_WRITEV_CODE, 3 * SEC, &out));
	assert_int_equal(out.n, 1);
	free(t);
}

static void test_not_without_a_write(void **state)
{
	struct pm_injections *t = calloc(1, sizeof(*t));
	struct pm_injection_trail out;

	(void)state;
	/* a debugger: attach, set registers, a new thread, nothing written */
	assert_false(step(t, A, B, PM_STEP_ATTACH, 1 * SEC, &out));
	assert_false(step(t, A, B, PM_STEP_SETREGS, 2 * SEC, &out));
	assert_false(step(t, A, B, PM_STEP_REMOTE_THREAD, 3 * SEC, &out));
	/* a write by another source, or to another target, does not count */
	assert_false(step(t, C, B, PM_STEP_VM_WRITEV, 4 * SEC, &out));
	assert_false(step(t, A, C, PM_STEP_PROC_MEM_WRITE, 4 * SEC, &out));
	assert_false(step(t, A, B, PM_STEP_POKEUSER_IP, 5 * SEC, &out));
	free(t);
}

static void test_window(void **state)
{
	struct pm_injections *t = calloc(1, sizeof(*t));
	struct pm_injection_trail out;

	(void)state;
	assert_false(step(t, A, B, PM_STEP_POKEDATA, 1 * SEC, &out));
	/* too late: the write is forgotten */
	assert_false(step(t, A, B, PM_STEP_SETREGSET, 1 * SEC + PM_INJECTION_WINDOW_NS + 1, &out));
	/* in time */
	assert_false(step(t, A, B, PM_STEP_VM_WRITEV, 30 * SEC, &out));
	assert_true(step(t, A, B, PM_STEP_REMOTE_THREAD, 31 * SEC, &out));
	assert_int_equal(out.n, 2);
	free(t);
}

static void test_bounded(void **state)
{
	struct pm_injections *t = calloc(1, sizeof(*t));
	struct pm_injection_trail out;

	(void)state;
	/* many pokes keep the first steps and the latest */
	for (int i = 0; i < 100; i++)
		assert_false(step(t, A, B, PM_STEP_POKETEXT, SEC + i, &out));
	assert_true(step(t, A, B, PM_STEP_SETREGS, 2 * SEC, &out));
	assert_int_equal(out.n, PM_INJECTION_STEPS);
	assert_int_equal(out.steps[PM_INJECTION_STEPS - 1].kind, PM_STEP_SETREGS);
	/* more pairs than slots: the idlest goes, the others stay */
	for (uint32_t i = 0; i < PM_INJECTION_PAIRS; i++)
		step(t, (struct pm_injection_key){ 1000 + i, 0 }, B, PM_STEP_POKETEXT,
		     3 * SEC + i, &out);
	assert_false(step(t, A, C, PM_STEP_POKETEXT, 4 * SEC, &out));
	assert_true(step(t, (struct pm_injection_key){ 1000 + PM_INJECTION_PAIRS - 1, 0 }, B,
			 PM_STEP_SETREGS, 5 * SEC, &out));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_execute),
		cmocka_unit_test(test_code_write_alone),
		cmocka_unit_test(test_not_without_a_write),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
