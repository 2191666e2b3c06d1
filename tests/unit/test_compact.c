// SPDX-License-Identifier: GPL-2.0
/*
 * The compact format: every event type procmon writes, rendered by the
 * real native renderer and then compacted, gives its own line with what
 * matters; hostile bytes come out escaped; lines stay within a
 * terminal's width unless the arguments are long; LimaCharlie lines too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/event.h"
#include "collect/proc_cache.h"
#include "enrich/hash.h"
#include "enrich/injection.h"
#include "enrich/users.h"
#include "render/compact.h"
#include "render/render.h"

/* Display columns of a line: code points, emoji counted twice. */
static size_t columns(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n += *p >= 0xf0 ? 2 : 1;
	return n;
}

static struct pm_process *proc(uint32_t pid, const char *path, const char *args)
{
	struct pm_process *p = pm_process_new();

	p->pid = p->tid = pid;
	p->ppid = 1;
	p->uid = p->euid = 1000;
	snprintf(p->exec_id, sizeof(p->exec_id), "%032x", pid);
	p->image = pm_image_new();
	p->image->filename = strdup(strrchr(path, '/') + 1);
	p->image->binary_path = strdup(path);
	p->image->args = strdup(args);
	p->image->args_len = strlen(args);
	return p;
}

static struct pm_hash_entry hash = { .state = PM_HASH_DONE,
				     .hex = "sha256:0123456789abcdef0123456789abcdef"
					    "0123456789abcdef0123456789abcdef" };
static struct pm_injection_trail trail = {
	.steps = { { .kind = 0, .ktime_ns = 5 }, { .kind = 1, .ktime_ns = 6 } },
	.n = 2,
};

static const struct pm_sigma_rule_info rule = {
	.id = "00000000-0000-4000-8000-000000000001", .title = "Shell From Tmp", .status = "test",
	.description = "", .author = "", .level = PM_SIGMA_HIGH, .file = "/rules/a.yml",
};

/* An event of type t with what its fields need, rendered natively. */
static char *native_line(uint32_t t, const char *path, const char *args)
{
	struct pm_render_ctx ctx = { .cap_last = 40, .hostname = "vm", .event_id = "e-1", .seq = 7,
				     .boot_to_unix_ns = 1796691723456000000ll };
	struct pm_event *ev = pm_event_new(t, 1000000);
	struct json_buf b;
	char *s;

	ev->proc = proc(4242, path, args);
	ev->parent = proc(1, "/usr/lib/systemd/systemd", "--system");
	ev->target = proc(77, "/usr/sbin/sshd", "-D");
	ev->exit_code = t == PM_EVENT_EXIT ? 3 << 8 : 0;
	ev->priv.access = 1;
	ev->priv.thread_id = 78;
	ev->priv.arg[0] = 15; /* PR_SET_NAME */
	strcpy(ev->priv.name, "evil");
	ev->priv.ret = 0;
	ev->proc->euid = t == PM_EVENT_SETUID ? 0 : 1000;
	ev->file_path = strdup("/tmp/fifo-or-module.so");
	ev->env = malloc(12);
	memcpy(ev->env, "A=1\0B=2\0C=3\0", 12);
	ev->env_len = 12;
	ev->injection = &trail;
	ev->code.path = "/usr/bin/ls";
	ev->code.hash = &hash;
	ev->code.mode = 0755;
	ev->rule = &rule;
	ev->matched_event_id = "e-0";
	ev->repeat.kind = PM_EVENT_PRCTL;
	ev->repeat.count = 139362;
	json_init(&b);
	pm_render_bombini(&b, ev, &ctx);
	assert_false(b.buf.oom);
	s = strndup(b.buf.data, b.buf.len);
	json_free(&b);
	ev->injection = NULL;
	pm_process_put(ev->target);
	ev->target = NULL;
	pm_event_free(ev);
	return s;
}

static char *compact(const char *json, bool color)
{
	struct pm_compact_opts o = { .color = color };
	struct pm_buf b;
	char *s;

	pm_buf_init(&b);
	assert_int_equal(pm_compact_line(&b, json, strlen(json), &o), 0);
	assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
	s = strndup(b.data, b.len - 1);
	pm_buf_free(&b);
	assert_null(strchr(s, '\n'));
	return s;
}

/* Each type: its word, the time, host, pid, what it is about. */
static void test_every_event_type(void **state)
{
	static const struct {
		uint32_t type;
		const char *want;
	} cases[] = {
		{ PM_EVENT_EXEC, "🚀 exec    4242 uid=1000 /usr/bin/ls -la /tmp" },
		{ PM_EVENT_CLONE, "🧬 clone   4242 uid=1000 /usr/bin/ls from 1" },
		{ PM_EVENT_EXIT, "💥 exit    4242 uid=1000 /usr/bin/ls -la /tmp exit 3" },
		{ PM_EVENT_SETUID, "🔑 setuid  4242 uid=1000/e0 /usr/bin/ls uid 1000 euid 0 fsuid 0" },
		{ PM_EVENT_SETGID, "🔑 setgid  4242 uid=1000 /usr/bin/ls gid 0 egid 0 fsgid 0" },
		{ PM_EVENT_SETCAPS, "🎩 capset  4242 uid=1000 /usr/bin/ls" },
		{ PM_EVENT_PRCTL, "🔧 prctl   4242 uid=1000 /usr/bin/ls cmd {\"PrSetName\":{\"name\":\"evil\"}}" },
		{ PM_EVENT_CREATE_USER_NS, "👥 userns  4242 uid=1000 /usr/bin/ls new user namespace" },
		{ PM_EVENT_PTRACE_ACCESS, "🔍 access  4242 uid=1000 /usr/bin/ls by " },
		{ PM_EVENT_REMOTE_THREAD, "🧵 rthread 4242 uid=1000 /usr/bin/ls thread 78 in 77 /usr/sbin/sshd" },
		{ PM_EVENT_NEW_NAMED_PIPE, "🚰 mkfifo  4242 uid=1000 /usr/bin/ls fifo /tmp/fifo-or-module.so" },
		{ PM_EVENT_OPEN_NAMED_PIPE, "🚰 fifo    4242 uid=1000 /usr/bin/ls fifo /tmp/fifo-or-module.so" },
		{ PM_EVENT_MODULE_LOAD, "🧩 module  4242 uid=1000 /usr/bin/ls module fifo-or-module.so" },
		{ PM_EVENT_SETNS, "🧭 setns   4242 uid=1000 /usr/bin/ls" },
		{ PM_EVENT_UNSHARE, "🧭 unshare 4242 uid=1000 /usr/bin/ls" },
		{ PM_EVENT_EXISTING_PROCESS, "📜 running 4242 uid=1000 /usr/bin/ls -la /tmp" },
		{ PM_EVENT_SENSITIVE_ACCESS, "🚨 sensitv 4242 uid=1000 /usr/bin/ls by " },
		{ PM_EVENT_ENVIRONMENT, "🌱 environ 4242 uid=1000 /usr/bin/ls 3 variables" },
		{ PM_EVENT_CODE_IDENTITY, "🔏 code    4242 uid=1000 /usr/bin/ls file /usr/bin/ls hash sha256:0123456789ab mode 0755" },
		{ PM_EVENT_ONGOING_IDENTITY, "🔏 code    4242 uid=1000 /usr/bin/ls file /usr/bin/ls" },
		{ PM_EVENT_THREAD_INJECTION, "💉 inject  4242 uid=1000 /usr/bin/ls → 77 /usr/sbin/sshd steps " },
		{ PM_EVENT_DETECTION, "🎯 detect  4242 uid=1000 /usr/bin/ls level high rule Shell From Tmp" },
		{ PM_EVENT_REPEATS, "🔁 repeat  4242 uid=1000 /usr/bin/ls count 139362 of Prctl" },
	};
	size_t covered = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *json = native_line(cases[i].type, "/usr/bin/ls", "-la /tmp");
		char *line = compact(json, false);

		/* the time (UTC) of the event and the host lead every line */
		if (strncmp(line, "2026-", 0) || !strstr(line, " vm ") || !strstr(line, cases[i].want))
			fail_msg("type %u:\n  json %s\n  line %s\n  want %s", cases[i].type, json, line,
				 cases[i].want);
		assert_int_equal(line[2], ':');
		assert_true(columns(line) <= 160);
		free(json);
		free(line);
	}
	/* every type procmon writes has its case here */
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++)
		if (pm_event_info(t) && pm_event_info(t)->native)
			covered++;
	assert_int_equal(covered, sizeof(cases) / sizeof(cases[0]));
}

static void test_hostile_bytes_are_escaped(void **state)
{
	static const char args[] = "a\nb\r\t\x1b[2J\x07 \xff\xfe ok \xe2\x80\xae rev \\ \xc2\x85 end";
	char *json, *line;

	(void)state;
	json = native_line(PM_EVENT_EXEC, "/tmp/\x1b]0;title\x07/x\ny", args);
	line = compact(json, false);
	/* JSON carried invalid bytes as U+FFFD; the line shows every control */
	assert_non_null(strstr(line, "/tmp/\\x1b]0;title\\x07/x\\ny "));
	assert_non_null(strstr(line, "a\\nb\\r\\t\\x1b[2J\\x07 \xef\xbf\xbd\xef\xbf\xbd ok "
				     "\\u{202e} rev \\\\ \\u{85} end"));
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f);
	free(json);
	free(line);
	/* straight from bytes, as procmon-tail reads others' lines */
	{
		struct pm_buf b;

		pm_buf_init(&b);
		pm_compact_put(&b, "x\xc3(\xed\xa0\x80y", 7, 100, false);
		assert_int_equal(b.len, strlen("x\\xc3(\\xed\\xa0\\x80y"));
		assert_memory_equal(b.data, "x\\xc3(\\xed\\xa0\\x80y", b.len);
		pm_buf_free(&b);
	}
}

static void test_lines_stay_short_unless_args_are_long(void **state)
{
	char path[5000], args[200000];
	char *json, *line;

	(void)state;
	/* a 4 KB path: shown by its end, marked */
	memset(path, 'd', sizeof(path));
	path[0] = '/';
	for (size_t i = 100; i < sizeof(path) - 20; i += 100)
		path[i] = '/';
	strcpy(path + sizeof(path) - 20, "/the-binary-itself");
	json = native_line(PM_EVENT_EXIT, path, "short");
	line = compact(json, false);
	assert_true(columns(line) <= 160);
	assert_non_null(strstr(line, "…"));
	assert_non_null(strstr(line, "/the-binary-itself short exit 3"));
	free(json);
	free(line);
	/* 200 KB of arguments: the start of them, cut and marked */
	memset(args, 'A', sizeof(args) - 1);
	args[sizeof(args) - 1] = '\0';
	json = native_line(PM_EVENT_EXEC, "/usr/bin/ls", args);
	line = compact(json, false);
	assert_true(columns(line) <= 160 + 512);
	assert_non_null(strstr(line, "AAAA…"));
	free(json);
	free(line);
}

static void test_colour_only_when_asked(void **state)
{
	char *json = native_line(PM_EVENT_EXEC, "/usr/bin/ls", "-l");
	char *plain = compact(json, false), *color = compact(json, true);

	(void)state;
	assert_null(strchr(plain, '\033'));
	assert_non_null(strstr(color, "\033[32mexec"));
	assert_non_null(strstr(color, "\033[0m"));
	free(json);
	free(plain);
	free(color);
}

/* User names, from a passwd table, for the events of the host they are
 * for; another host's uids stay numbers. */
static void test_user_names_on_their_own_host(void **state)
{
	static const char passwd[] = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n";
	FILE *f = fmemopen((void *)passwd, sizeof(passwd) - 1, "r");
	struct pm_users *users = pm_users_parse(f);
	struct pm_compact_opts o = { .users = users, .local_host = "vm" };
	char *json = native_line(PM_EVENT_SETUID, "/usr/bin/su", "-");
	struct pm_buf b;

	(void)state;
	fclose(f);
	pm_buf_init(&b);
	assert_int_equal(pm_compact_line(&b, json, strlen(json), &o), 0);
	pm_buf_put(&b, "", 1);
	assert_non_null(strstr(b.data, " 4242 alice/e:root /usr/bin/su "));
	b.len = 0;
	o.local_host = "elsewhere";
	assert_int_equal(pm_compact_line(&b, json, strlen(json), &o), 0);
	pm_buf_put(&b, "", 1);
	assert_non_null(strstr(b.data, " 4242 uid=1000/e0 /usr/bin/su "));
	pm_buf_free(&b);
	pm_users_free(users);
	free(json);
}

static void test_limacharlie_and_unknown_lines(void **state)
{
	static const char lc[] =
		"{\"routing\":{\"event_type\":\"NEW_PROCESS\",\"event_time\":1795334396800,"
		"\"event_id\":\"x\",\"hostname\":\"lc-host\",\"this\":\"a\",\"parent\":\"b\",\"seq\":3},"
		"\"event\":{\"FILE_PATH\":\"/usr/bin/ls\",\"COMMAND_LINE\":\"ls /tmp\",\"PROCESS_ID\":12471,"
		"\"PARENT_PROCESS_ID\":12408,\"USER_ID\":0,\"USER_NAME\":\"root\",\"TIMESTAMP\":1}}";
	static const char lc_setuid[] =
		"{\"routing\":{\"event_type\":\"SETUID\",\"event_time\":1795334396800,\"hostname\":\"h\"},"
		"\"event\":{\"PROCESS_ID\":9,\"UID\":0,\"EUID\":0,\"FSUID\":0,\"FLAGS\":\"LSM_SETID_RES\"}}";
	static const char future[] =
		"{\"type\":\"SomethingNew\",\"process\":{\"pid\":5,\"uid\":0,\"euid\":0,"
		"\"binary_path\":\"/x\"},\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"host\":\"h\"}";
	char *line;
	struct pm_buf b;

	(void)state;
	line = compact(lc, false);
	assert_non_null(strstr(line, " lc-host 🚀 exec    12471 root /usr/bin/ls /tmp"));
	free(line);
	line = compact(lc_setuid, false);
	assert_non_null(strstr(line, "🔑 setuid  9 "));
	assert_non_null(strstr(line, "UID 0 EUID 0 FSUID 0 FLAGS LSM_SETID_RES"));
	free(line);
	line = compact(future, false);
	assert_non_null(strstr(line, "00:00:00.000 h ❓ SomethingNew 5 uid=0 /x"));
	free(line);
	pm_buf_init(&b);
	assert_int_equal(pm_compact_line(&b, "not json", 8, NULL), -EINVAL);
	assert_int_equal(pm_compact_line(&b, "[1,2]", 5, NULL), -EINVAL);
	assert_int_equal(pm_compact_line(&b, "{} trailing", 11, NULL), -EINVAL);
	assert_int_equal(b.len, 0);
	pm_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_event_type),
		cmocka_unit_test(test_hostile_bytes_are_escaped),
		cmocka_unit_test(test_lines_stay_short_unless_args_are_long),
		cmocka_unit_test(test_colour_only_when_asked),
		cmocka_unit_test(test_user_names_on_their_own_host),
		cmocka_unit_test(test_limacharlie_and_unknown_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
