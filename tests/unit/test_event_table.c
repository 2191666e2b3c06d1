// SPDX-License-Identifier: GPL-2.0
/*
 * The event table against the documentation: every event procmon writes
 * has its row in docs/events.md ("Event types"), and that table lists no
 * event the code does not have. Run from the repository's top directory,
 * as `make unit` does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/event.h"
#include "base/blocks.h"

#define DOC "docs/events.md"

/* The documented row of an event, as docs/events.md writes it. */
static void doc_row(const struct pm_event_info *e, char *out, size_t n)
{
	char sub[64] = "-", cfg[64] = "always on";

	if (e->subtype)
		snprintf(sub, sizeof(sub), "`%s`", e->subtype);
	if (e->block)
		snprintf(cfg, sizeof(cfg), "`%s`", pm_blocks[e->block].key);
	snprintf(out, n, "| `%s` | %s | `%s` | %s |", e->native, sub, e->limacharlie, cfg);
}

/* The lines of the "Event types" table in the doc. */
static size_t read_doc_rows(char rows[][512], size_t max)
{
	FILE *f = fopen(DOC, "r");
	char line[512];
	size_t n = 0;
	int in_table = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "## Event types"))
			in_table = 1;
		else if (in_table && !strncmp(line, "## ", 3))
			break;
		else if (in_table && !strncmp(line, "| `", 3) && strncmp(line, "| `type`", 8) &&
			 n < max)
			snprintf(rows[n++], sizeof(rows[0]), "%s", line);
	}
	fclose(f);
	return n;
}

static void test_every_written_event_is_documented(void **state)
{
	static char rows[64][512];
	size_t nrows = read_doc_rows(rows, 64), written = 0;
	char want[160];

	(void)state;
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++) {
		const struct pm_event_info *e = pm_event_info(t);
		size_t i;

		if (!e || !e->native)
			continue;
		written++;
		doc_row(e, want, sizeof(want));
		for (i = 0; i < nrows && strcmp(rows[i], want); i++)
			;
		if (i == nrows)
			fail_msg("%s has no row '%s'", DOC, want);
	}
	/* and nothing more: a documented event the code does not have */
	assert_int_equal(nrows, written);
}

static void test_rows_are_consistent(void **state)
{
	(void)state;
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++) {
		const struct pm_event_info *e = pm_event_info(t);

		if (!e)
			continue;
		/* a ProcessEvent has its sub-type, nothing else does */
		assert_int_equal(e->native && !strcmp(e->native, "ProcessEvent"), e->subtype != NULL);
		/* the kernel's events have a record and a drop category */
		if (t < 64)
			assert_true(e->record != PM_RECORD_NONE && e->drop < PM_DROP_MAX &&
				    pm_drop_names[e->drop]);
		else
			assert_true(e->record == PM_RECORD_NONE && e->drop == PM_DROP_NONE);
	}
	assert_null(pm_event_info(0));
	assert_null(pm_event_info(63)); /* between the kernel's rows and the derived ones */
	assert_null(pm_event_info(PM_EVENT_TYPE_END));
	assert_string_equal(pm_event_info(PM_EVENT_PTRACE_ACCESS)->limacharlie,
			    "REMOTE_PROCESS_HANDLE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_written_event_is_documented),
		cmocka_unit_test(test_rows_are_consistent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
