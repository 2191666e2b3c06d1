// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's side of the Sigma rules (src/enrich/detections.c): a
 * ProcessExec's facts as Sigma's fields, and a Detection as both
 * renderers write it and the fleet output names its type.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/event.h"
#include "collect/proc_cache.h"
#include "enrich/detections.h"
#include "enrich/users.h"
#include "output/fleet.h"
#include "render/json.h"
#include "render/render.h"

static struct pm_process *proc(uint32_t pid, uint32_t ppid, uint32_t uid, uint32_t auid,
			       const char *path, const char *argv0, const char *args,
			       const char *cwd)
{
	struct pm_process *p = pm_process_new();
	struct pm_image *img = pm_image_new();

	assert_non_null(p);
	assert_non_null(img);
	p->pid = p->tid = pid;
	p->ppid = ppid;
	p->uid = p->euid = uid;
	p->auid = auid;
	snprintf(p->exec_id, sizeof(p->exec_id), "%032x", pid);
	img->binary_path = strdup(path);
	img->filename = strdup(strrchr(path, '/') + 1);
	if (argv0) {
		img->argv0 = strdup(argv0);
		img->argv0_len = strlen(argv0);
	}
	img->args = strdup(args);
	img->args_len = strlen(args);
	img->cwd = cwd ? strdup(cwd) : NULL;
	img->executed = true;
	p->image = img;
	return p;
}

static struct pm_users *users(void)
{
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
				     "alice:x:1000:1000::/home/alice:/bin/sh\n";
	FILE *f = fmemopen((void *)passwd, sizeof(passwd) - 1, "r");
	struct pm_users *u = pm_users_parse(f);

	fclose(f);
	assert_non_null(u);
	return u;
}

static void test_sigma_fields_of_an_exec(void **state)
{
	struct pm_users *u = users();
	struct pm_buf cmd = { 0 }, pcmd = { 0 };
	struct pm_sigma_event sev;
	struct pm_event ev = {
		.type = PM_EVENT_EXEC,
		.proc = proc(42, 7, 1000, 1000, "/usr/bin/rm", "rm", "-f /home/alice/.bash_history",
			     "/home/alice"),
		.parent = proc(7, 1, 1000, 4294967295u, "/usr/bin/bash", "-bash", "", "/"),
	};

	(void)state;
	assert_int_equal(pm_sigma_event_of(&ev, u, &cmd, &pcmd, &sev), 0);
	assert_string_equal(sev.image, "/usr/bin/rm");
	/* argv[0] as the program got it, then the arguments */
	assert_string_equal(sev.command_line, "rm -f /home/alice/.bash_history");
	assert_string_equal(sev.parent_image, "/usr/bin/bash");
	assert_string_equal(sev.parent_command_line, "-bash");
	assert_string_equal(sev.user, "alice");
	assert_string_equal(sev.current_directory, "/home/alice");
	assert_string_equal(sev.original_file_name, "rm");
	assert_int_equal(sev.process_id, 42);
	assert_int_equal(sev.parent_process_id, 7);
	assert_int_equal(sev.logon_id, 1000);
	assert_int_equal(sev.uid, 1000);

	/* unknowns: an unset loginuid, no name for the uid, no argv, no parent */
	pm_process_put(ev.proc);
	pm_process_put(ev.parent);
	ev.proc = proc(43, 1, 4242, 4294967295u, "/usr/bin/true", NULL, "x y", NULL);
	ev.parent = NULL;
	assert_int_equal(pm_sigma_event_of(&ev, u, &cmd, &pcmd, &sev), 0);
	assert_int_equal(sev.logon_id, -1);
	assert_null(sev.user);
	assert_null(sev.current_directory);
	assert_null(sev.parent_image);
	assert_null(sev.parent_command_line);
	assert_string_equal(sev.command_line, "/usr/bin/true x y");

	pm_process_put(ev.proc);
	pm_buf_free(&cmd);
	pm_buf_free(&pcmd);
	pm_users_free(u);
}

/* needle in the rendered line (not NUL-terminated) */
static bool has(const struct json_buf *b, const char *needle)
{
	return memmem(b->buf.data, b->buf.len, needle, strlen(needle)) != NULL;
}

static const char *const tags[] = { "attack.impact", "attack.t1565.001" };
static const char *const refs[] = { "https://example.invalid/a" };
static const struct pm_sigma_rule_info rule = {
	.id = "1182f3b3-e716-4efa-99ab-d2685d04360f",
	.title = "History File Deletion \"quoted\"",
	.status = "test",
	.description = "line\nbreak",
	.author = "someone",
	.level = PM_SIGMA_HIGH,
	.tags = tags,
	.n_tags = 2,
	.references = refs,
	.n_references = 1,
	.file = "/rules/x.yml",
};

static void test_detection_rendered(void **state)
{
	struct pm_users *u = users();
	struct pm_render_ctx ctx = { .hostname = "h", .event_id = "id-2", .seq = 2, .users = u };
	struct pm_event ev = {
		.type = PM_EVENT_DETECTION,
		.proc = proc(42, 7, 0, 0, "/usr/bin/rm", "rm", "-f /root/.bash_history", "/root"),
		.parent = proc(7, 1, 0, 0, "/usr/bin/bash", "bash", "", "/"),
		.rule = &rule,
		.matched_event_id = "id-1",
	};
	struct json_buf b;

	(void)state;
	json_init(&b);
	pm_render_bombini(&b, &ev, &ctx);
	assert_false(b.buf.oom);
	assert_true(has(&b, "\"rule\":{\"id\":\"1182f3b3-e716-4efa-99ab-d2685d04360f\","
			       "\"title\":\"History File Deletion \\\"quoted\\\"\",\"level\":\"high\","
			       "\"status\":\"test\",\"tags\":[\"attack.impact\",\"attack.t1565.001\"],"
			       "\"file\":\"/rules/x.yml\"},\"matched_event_id\":\"id-1\""));
	assert_true(has(&b, "\"cwd\":\"/root\""));
	/* the fleet subject's type token comes from the event table's row */
	assert_string_equal(pm_event_info(PM_EVENT_DETECTION)->native, "Detection");

	json_reset(&b);
	pm_render_limacharlie(&b, &ev, &ctx);
	assert_false(b.buf.oom);
	assert_string_equal(pm_event_info(PM_EVENT_DETECTION)->limacharlie, "DETECTION");
	assert_true(has(&b, "\"cat\":\"History File Deletion \\\"quoted\\\"\""));
	assert_true(has(&b, "\"detect\":{\"routing\":{\"event_type\":\"NEW_PROCESS\""));
	assert_true(has(&b, "\"event_id\":\"id-1\""));
	assert_true(has(&b, "\"COMMAND_LINE\":\"rm -f /root/.bash_history\""));
	assert_true(has(&b, "\"CURRENT_DIRECTORY\":\"/root\""));
	assert_true(has(&b, "\"detect_id\":\"id-2\""));
	assert_true(has(&b, "\"detect_mtd\":{\"level\":\"high\",\"tags\":[\"attack.impact\","
			       "\"attack.t1565.001\"],\"description\":\"line\\nbreak\","
			       "\"references\":[\"https://example.invalid/a\"],\"author\":\"someone\"}"));
	assert_true(has(&b, "\"source_rule\":\"sigma.1182f3b3-e716-4efa-99ab-d2685d04360f\""));

	/* a ProcessExec left out by output_shaping: no id to point at */
	ev.matched_event_id = NULL;
	json_reset(&b);
	pm_render_bombini(&b, &ev, &ctx);
	assert_true(has(&b, "\"matched_event_id\":null"));

	json_free(&b);
	pm_process_put(ev.proc);
	pm_process_put(ev.parent);
	pm_users_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigma_fields_of_an_exec),
		cmocka_unit_test(test_detection_rendered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
