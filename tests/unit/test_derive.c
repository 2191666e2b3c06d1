// SPDX-License-Identifier: GPL-2.0
/* The derived-event rules (derive.c) that need no kernel: which accesses
 * are sensitive, and that a rule the configuration leaves off derives
 * nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "enrich/derive.h"

static struct pm_process *process(uint32_t pid, const char *filename)
{
	struct pm_process *p = pm_process_new();

	assert_non_null(p);
	p->pid = pid;
	if (filename) {
		p->image = pm_image_new();
		assert_non_null(p->image);
		p->image->filename = strdup(filename);
	}
	return p;
}

static void test_sensitive_access(void **state)
{
	struct pm_config cfg;
	struct pm_derive d;
	struct pm_process *init = process(1, "init"), *sshd = process(700, "sshd"),
			  *bash = process(800, "bash"), *nameless = process(900, NULL);

	(void)state;
	assert_int_equal(pm_config_load_default(&cfg, NULL, 0), 0);
	assert_int_equal(pm_derive_init(&d, &cfg), 0);
	assert_true(pm_derive_sensitive_access(&d, init)); /* PID 1, whatever its name */
	assert_true(pm_derive_sensitive_access(&d, sshd));
	assert_false(pm_derive_sensitive_access(&d, bash));
	assert_false(pm_derive_sensitive_access(&d, nameless));
	assert_false(pm_derive_sensitive_access(&d, NULL)); /* a target never seen */
	pm_derive_free(&d);

	cfg.block[PM_BLOCK_SENSITIVE_PROCESS_ACCESS].enabled = false; /* the rule off: nothing */
	assert_int_equal(pm_derive_init(&d, &cfg), 0);
	assert_false(pm_derive_sensitive_access(&d, init));
	assert_false(pm_derive_sensitive_access(&d, sshd));
	pm_derive_free(&d);
	pm_config_free(&cfg);
	pm_process_put(init);
	pm_process_put(sshd);
	pm_process_put(bash);
	pm_process_put(nameless);
}

static void test_injection_off_derives_nothing(void **state)
{
	struct pm_config cfg;
	struct pm_derive d;
	struct pm_priv_event e = { .hdr = { .type = PM_EVENT_REMOTE_THREAD } };
	struct pm_process *src = process(10, "gdb"), *dst = process(20, "victim");
	uint64_t lost = 0;

	(void)state;
	assert_int_equal(pm_config_load_default(&cfg, NULL, 0), 0);
	cfg.block[PM_BLOCK_THREAD_INJECTION].enabled = false;
	assert_int_equal(pm_derive_init(&d, &cfg), 0);
	assert_null(pm_derive_injection(&d, &e, src, dst, true, &lost));
	assert_int_equal(lost, 0);
	pm_derive_free(&d);
	pm_config_free(&cfg);
	pm_process_put(src);
	pm_process_put(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sensitive_access),
		cmocka_unit_test(test_injection_off_derives_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
