// SPDX-License-Identifier: GPL-2.0
/* CodeIdentity's set of seen (path, hash) pairs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "enrich/identity.h"

static void test_first_then_seen(void **state)
{
	struct pm_identities *s = pm_identities_new(16);

	(void)state;
	assert_true(pm_identity_first(s, "/usr/bin/id", "sha256:aa"));
	assert_false(pm_identity_first(s, "/usr/bin/id", "sha256:aa"));
	/* the same content elsewhere, other content here: new pairs */
	assert_true(pm_identity_first(s, "/tmp/id", "sha256:aa"));
	assert_true(pm_identity_first(s, "/usr/bin/id", "sha256:bb"));
	/* no ambiguity where path and hash meet */
	assert_true(pm_identity_first(s, "b", "a"));
	assert_true(pm_identity_first(s, "", "a\\0b"));
	assert_false(pm_identity_first(s, "b", "a"));
	pm_identities_free(s);
}

static void test_full_starts_over(void **state)
{
	struct pm_identities *s = pm_identities_new(4);
	char path[32];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/bin/p%d", i);
		assert_true(pm_identity_first(s, path, "h"));
	}
	assert_false(pm_identity_first(s, "/bin/p3", "h"));
	/* a fifth pair empties the set: bounded memory, pairs reported again */
	assert_true(pm_identity_first(s, "/bin/p4", "h"));
	assert_false(pm_identity_first(s, "/bin/p4", "h"));
	assert_true(pm_identity_first(s, "/bin/p0", "h"));
	pm_identities_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_then_seen),
		cmocka_unit_test(test_full_starts_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
