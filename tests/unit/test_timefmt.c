// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* strptime */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "base/timefmt.h"

#define SEED_NS 1765453547773000000LL /* 2025-12-11T11:45:47.773Z */

static void check(int64_t ns, const char *want)
{
	char buf[PM_RFC3339_LEN];

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(pm_format_rfc3339_ms(ns, buf), buf);
	assert_string_equal(buf, want);
	assert_int_equal(strlen(buf), PM_RFC3339_LEN - 1);
}

/* Parse the formatted text back to milliseconds since the epoch. */
static int64_t parse_ms(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	assert_non_null(rest);
	assert_int_equal(rest[0], '.');
	assert_int_equal(rest[4], 'Z');
	assert_int_equal(rest[5], '\0');
	return (int64_t)timegm(&tm) * 1000 + (rest[1] - '0') * 100 +
	       (rest[2] - '0') * 10 + (rest[3] - '0');
}

static void test_seed(void **state)
{
	(void)state;
	check(SEED_NS, "2025-12-11T11:45:47.773Z");
	check(SEED_NS + 999999, "2025-12-11T11:45:47.773Z");
	check(SEED_NS + 1000000, "2025-12-11T11:45:47.774Z");
	check(SEED_NS - 1, "2025-12-11T11:45:47.772Z");
}

static void test_epoch_and_clamp(void **state)
{
	(void)state;
	check(0, "1970-01-01T00:00:00.000Z");
	check(-1, "1970-01-01T00:00:00.000Z");
	check(-1000000000LL, "1970-01-01T00:00:00.000Z");
	check(INT64_MIN, "1970-01-01T00:00:00.000Z");
}

static void test_ms_truncation(void **state)
{
	(void)state;
	check(999999, "1970-01-01T00:00:00.000Z");
	check(1000000, "1970-01-01T00:00:00.001Z");
	check(999999999, "1970-01-01T00:00:00.999Z");
	check(1000000000, "1970-01-01T00:00:01.000Z");
}

static void test_calendar(void **state)
{
	(void)state;
	check(1709251199LL * 1000000000 + 5000000, "2024-02-29T23:59:59.005Z");
	check(1709251200LL * 1000000000, "2024-03-01T00:00:00.000Z");
	check(INT64_MAX, "2262-04-11T23:47:16.854Z");
}

static void test_round_trip(void **state)
{
	char buf[PM_RFC3339_LEN];
	uint64_t st = 0;
	int64_t ns;
	int i;

	(void)state;
	assert_int_equal(parse_ms(pm_format_rfc3339_ms(SEED_NS, buf)),
			 SEED_NS / 1000000);
	/* spread over the representable range */
	for (i = 0; i < 1000; i++) {
		st = st * 6364136223846793005ULL + 1442695040888963407ULL;
		ns = (int64_t)(st >> 1);
		assert_int_equal(parse_ms(pm_format_rfc3339_ms(ns, buf)),
				 ns / 1000000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_epoch_and_clamp),
		cmocka_unit_test(test_ms_truncation),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
