// SPDX-License-Identifier: GPL-2.0
/* Event identity (src/base/event_id.c): event_id, seq and host tokens,
 * shared by procmon's fleet output and procmon-tail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/event_id.h"

static void test_host_token(void **state)
{
	char out[16];

	(void)state;
	pm_host_token("web-1", out, sizeof(out));
	assert_string_equal(out, "web-1");
	/* what would make more subject tokens, or wildcards, is replaced */
	pm_host_token("a.b*c>d e\tf\x7f", out, sizeof(out));
	assert_string_equal(out, "a_b_c_d_e_f_");
	/* an empty name still makes one token: the subject stays valid, and
	 * procmon-tail --host '' finds what such a host publishes */
	pm_host_token("", out, sizeof(out));
	assert_string_equal(out, "_");
	/* cut to the room given, NUL-terminated */
	pm_host_token("abcdefghijklmnopqrstuvwxyz", out, 8);
	assert_string_equal(out, "abcdefg");
	pm_host_token("", out, 1);
	assert_string_equal(out, "");
}

static int count_reserve;
static uint64_t last_reserved;

static int reserve(void *arg, uint64_t next)
{
	(void)arg;
	count_reserve++;
	last_reserved = next;
	return 0;
}

static void test_event_ids(void **state)
{
	struct pm_event_ids ids;
	char id[PM_EVENT_ID_LEN], first[PM_EVENT_ID_LEN];

	(void)state;
	pm_event_ids_init(&ids);
	assert_int_equal(pm_event_ids_next(&ids, first), 1);
	assert_int_equal(pm_event_ids_next(&ids, id), 2);
	assert_int_equal(strlen(id), 36);
	/* the prefix stays, seq is the last 8 bytes: ...-....-0000000000000002 */
	assert_memory_equal(id, first, 19);
	assert_string_equal(id + 19, "8000-000000000002");
	assert_int_equal(id[14], '4'); /* version 4 */
	/* persisted ahead, once per PM_EVENT_IDS_RESERVE numbers */
	ids.reserve = reserve;
	ids.reserved = 3;
	pm_event_ids_next(&ids, id);
	assert_int_equal(count_reserve, 1);
	assert_int_equal(last_reserved, 3 + PM_EVENT_IDS_RESERVE);
	pm_event_ids_next(&ids, id);
	assert_int_equal(count_reserve, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_token),
		cmocka_unit_test(test_event_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
