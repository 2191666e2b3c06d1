// SPDX-License-Identifier: GPL-2.0
/* A host's partition (nats.partitions): FNV-1a 32 of its subject token,
 * mod n, so anyone can tell where a host's events are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "output/fleet.h"

static void fnv1a_reference_values(void **state)
{
	(void)state;
	/* FNV-1a 32 published test vectors: "" 0x811c9dc5, "a" 0xe40c292c,
	 * "foobar" 0xbf9cf968 */
	assert_int_equal(pm_fleet_partition("a", 1000), 0xe40c292cu % 1000);
	assert_int_equal(pm_fleet_partition("foobar", 7), 0xbf9cf968u % 7);
	assert_int_equal(pm_fleet_partition("", 3), 0x811c9dc5u % 3);
}

static void one_partition_is_zero_and_all_are_used(void **state)
{
	unsigned seen[3] = { 0 };
	char host[16];

	(void)state;
	assert_int_equal(pm_fleet_partition("web-01", 1), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(host, sizeof(host), "web-%03d", i);
		uint32_t p = pm_fleet_partition(host, 3);

		assert_true(p < 3);
		seen[p]++;
	}
	for (int p = 0; p < 3; p++)
		assert_in_range(seen[p], 70, 130);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fnv1a_reference_values),
		cmocka_unit_test(one_partition_is_zero_and_all_are_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
