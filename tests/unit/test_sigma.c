// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the Sigma engine (src/detect/sigma.c): parsing with line
 * numbers, modifiers, conditions, wildcards and escaping, base64offset,
 * windash, null and exists. Every match is checked twice, with the
 * Hyperscan prefilter and with the exact checks alone: both must agree.
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
#include <sys/stat.h>
#include <unistd.h>

#include "detect/sigma.h"
#include "detect/sigma_json.h"

static char dir[] = "/tmp/test_sigma.XXXXXX";
static int file_no;

/* rule text into a new file of the test's directory: its path (static) */
static const char *put(const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/r%03d.yml", dir, file_no++);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *HEAD = "title: t\n"
			  "id: 11111111-2222-3333-4444-555555555555\n"
			  "level: high\n"
			  "logsource:\n"
			  "    product: linux\n"
			  "    category: process_creation\n"
			  "detection:\n";

static struct pm_sigma_event event(const char *image, const char *cmd)
{
	return (struct pm_sigma_event){ .image = image,
					.command_line = cmd,
					.process_id = 42,
					.parent_process_id = 1,
					.logon_id = -1,
					.uid = 0,
					.euid = 0 };
}

static int match_with(const char *path, const struct pm_sigma_event *ev, bool prefilter)
{
	struct pm_sigma_rules *rules = NULL;
	struct pm_sigma_scratch *s = NULL;
	struct pm_sigma_report rep;
	const char *p[] = { path };
	int n;

	setenv("PROCMON_SIGMA_PREFILTER", prefilter ? "1" : "0", 1);
	assert_int_equal(pm_sigma_load(p, 1, PM_SIGMA_INFORMATIONAL, false, &rules, &rep), 0);
	if (rep.n_problems)
		fail_msg("%s:%u: %s", rep.problems[0].file, rep.problems[0].line,
			 rep.problems[0].reason);
	assert_int_equal(rep.loaded, 1);
	assert_int_equal(pm_sigma_scratch_new(rules, &s), 0);
	n = pm_sigma_match(rules, s, ev, NULL, NULL);
	pm_sigma_scratch_free(s);
	pm_sigma_free(rules);
	pm_sigma_report_free(&rep);
	unsetenv("PROCMON_SIGMA_PREFILTER");
	return n;
}

/* 1 when the rule (HEAD + detection) matches ev, 0 when not; both paths. */
static int matches_ev(const char *detection, const struct pm_sigma_event *ev)
{
	char text[4096];
	const char *path;
	int a, b;

	snprintf(text, sizeof(text), "%s%s", HEAD, detection);
	path = put(text);
	a = match_with(path, ev, true);
	b = match_with(path, ev, false);
	assert_int_equal(a, b);
	return a;
}

static int matches(const char *detection, const char *image, const char *cmd)
{
	struct pm_sigma_event ev = event(image, cmd);

	return matches_ev(detection, &ev);
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(pm_sigma_level_parse("informational"), PM_SIGMA_INFORMATIONAL);
	assert_int_equal(pm_sigma_level_parse("critical"), PM_SIGMA_CRITICAL);
	assert_int_equal(pm_sigma_level_parse("High"), -EINVAL);
	assert_string_equal(pm_sigma_level_name(PM_SIGMA_MEDIUM), "medium");
}

static void test_plain_and_case(void **state)
{
	(void)state;
	const char *d = "    selection:\n        Image: /usr/bin/crontab\n    condition: selection\n";

	assert_int_equal(matches(d, "/usr/bin/crontab", "crontab -r"), 1);
	assert_int_equal(matches(d, "/USR/BIN/CronTab", "crontab -r"), 1); /* case-insensitive */
	assert_int_equal(matches(d, "/usr/bin/crontab2", "x"), 0);	   /* whole value */
	assert_int_equal(matches(d, NULL, "x"), 0);			   /* unknown fact */

	const char *cased = "    selection:\n        Image|cased: /usr/bin/CronTab\n"
			    "    condition: selection\n";
	assert_int_equal(matches(cased, "/usr/bin/CronTab", "x"), 1);
	assert_int_equal(matches(cased, "/usr/bin/crontab", "x"), 0);
}

static void test_contains_starts_ends(void **state)
{
	(void)state;
	const char *d = "    selection:\n"
			"        Image|endswith: '/chattr'\n"
			"        CommandLine|contains: ' -i '\n"
			"        CommandLine|startswith: 'chattr'\n"
			"    condition: selection\n";

	assert_int_equal(matches(d, "/usr/bin/chattr", "chattr -i /etc/passwd"), 1);
	assert_int_equal(matches(d, "/usr/bin/chattr", "CHATTR -I /etc/passwd"), 1);
	assert_int_equal(matches(d, "/usr/bin/chattr", "chattr +i /etc/passwd"), 0);
	assert_int_equal(matches(d, "/usr/bin/chattr2", "chattr -i /etc/passwd"), 0);
	assert_int_equal(matches(d, "/usr/bin/chattr", "xchattr -i /etc/passwd"), 0);
}

static void test_lists_and_all(void **state)
{
	(void)state;
	const char *any = "    selection:\n        CommandLine|contains:\n"
			  "            - 'wget '\n            - 'curl '\n"
			  "    condition: selection\n";
	const char *all = "    selection:\n        CommandLine|contains|all:\n"
			  "            - 'wget '\n            - '/tmp/'\n"
			  "    condition: selection\n";

	assert_int_equal(matches(any, "/x", "curl http://a"), 1);
	assert_int_equal(matches(any, "/x", "fetch http://a"), 0);
	assert_int_equal(matches(all, "/x", "wget http://a -O /tmp/a"), 1);
	assert_int_equal(matches(all, "/x", "wget http://a -O /var/a"), 0);

	/* a list of maps: any of them */
	const char *maps = "    selection:\n"
			   "        - Image|endswith: '/nc'\n"
			   "        - CommandLine|contains: 'ncat'\n"
			   "    condition: selection\n";
	assert_int_equal(matches(maps, "/usr/bin/nc", "nc"), 1);
	assert_int_equal(matches(maps, "/usr/bin/x", "ncat -l"), 1);
	assert_int_equal(matches(maps, "/usr/bin/x", "cat"), 0);
}

static void test_wildcards(void **state)
{
	(void)state;
	const char *q = "    selection:\n        Image: '/usr/bin/ba?h'\n    condition: selection\n";
	const char *star = "    selection:\n        CommandLine: 'sh -c *echo*'\n"
			   "    condition: selection\n";

	assert_int_equal(matches(q, "/usr/bin/bash", "x"), 1);
	assert_int_equal(matches(q, "/usr/bin/bah", "x"), 0); /* ? is one character */
	assert_int_equal(matches(q, "/usr/bin/baash", "x"), 0);
	assert_int_equal(matches(star, "/x", "sh -c 'echo hi'"), 1);
	assert_int_equal(matches(star, "/x", "sh -c 'printf hi'"), 0);
	assert_int_equal(matches(star, "/x", "xsh -c echo"), 0);
}

static void test_escapes(void **state)
{
	(void)state;
	/* \* is a star, \? a question mark, \\* a backslash then any text,
	 * a lone backslash is itself */
	const char *lit_star = "    selection:\n        CommandLine: 'rm \\*'\n"
			       "    condition: selection\n";
	const char *lit_q = "    selection:\n        CommandLine: 'what\\?'\n"
			    "    condition: selection\n";
	const char *bs_star = "    selection:\n        CommandLine: 'C:\\\\*'\n"
			      "    condition: selection\n";
	const char *lone = "    selection:\n        CommandLine: 'a\\b'\n"
			   "    condition: selection\n";

	assert_int_equal(matches(lit_star, "/x", "rm *"), 1);
	assert_int_equal(matches(lit_star, "/x", "rm -rf"), 0);
	assert_int_equal(matches(lit_q, "/x", "what?"), 1);
	assert_int_equal(matches(lit_q, "/x", "whatX"), 0);
	assert_int_equal(matches(bs_star, "/x", "C:\\Windows"), 1);
	assert_int_equal(matches(bs_star, "/x", "C:Windows"), 0);
	assert_int_equal(matches(lone, "/x", "a\\b"), 1);
}

static void test_regex(void **state)
{
	(void)state;
	const char *re = "    selection:\n        CommandLine|re: '\\s-O\\s'\n"
			 "    condition: selection\n";
	const char *rei = "    selection:\n        CommandLine|re|i: '^WGET\\s'\n"
			  "    condition: selection\n";
	const char *rem = "    selection:\n        CommandLine|re|m: '^second$'\n"
			  "    condition: selection\n";
	const char *res = "    selection:\n        CommandLine|re|s: 'a.b'\n"
			  "    condition: selection\n";

	assert_int_equal(matches(re, "/x", "wget http://a -O /tmp/a"), 1);
	assert_int_equal(matches(re, "/x", "wget http://a -o /tmp/a"), 0); /* cased */
	assert_int_equal(matches(rei, "/x", "wget http://a"), 1);
	assert_int_equal(matches(rei, "/x", "xwget http://a"), 0);
	assert_int_equal(matches("    selection:\n        CommandLine|re|ignorecase: '^WGET\\s'\n"
				 "    condition: selection\n",
				 "/x", "wget http://a"),
			 1);
	assert_int_equal(matches(rem, "/x", "first\nsecond\nthird"), 1);
	assert_int_equal(matches(res, "/x", "a\nb"), 1);
	assert_int_equal(matches(re, NULL, NULL), 0);
}

static void test_conditions(void **state)
{
	(void)state;
	const char *d = "    selection_img:\n        Image|endswith: '/curl'\n"
			"    selection_cli:\n        CommandLine|contains: ' -d '\n"
			"    filter_main_local:\n        CommandLine|contains: '127.0.0.1'\n"
			"    _private:\n        CommandLine|contains: 'never'\n"
			"    condition: all of selection_* and not 1 of filter_main_*\n";

	assert_int_equal(matches(d, "/usr/bin/curl", "curl -d @x http://evil"), 1);
	assert_int_equal(matches(d, "/usr/bin/curl", "curl -d @x http://127.0.0.1"), 0);
	assert_int_equal(matches(d, "/usr/bin/curl", "curl http://evil"), 0);

	const char *paren = "    a:\n        Image|endswith: '/nc'\n"
			    "    b:\n        CommandLine|contains: ' -l'\n"
			    "    c:\n        Image|endswith: '/nmap'\n"
			    "    condition: (a and not b) or c\n";
	assert_int_equal(matches(paren, "/usr/bin/nc", "nc 1.2.3.4 80"), 1);
	assert_int_equal(matches(paren, "/usr/bin/nc", "nc -l 80"), 0);
	assert_int_equal(matches(paren, "/usr/bin/nmap", "nmap -l"), 1);

	/* them: every selection but those named with a leading underscore */
	const char *them = "    a:\n        Image|endswith: '/nc'\n"
			   "    _b:\n        CommandLine|contains: 'nothere'\n"
			   "    condition: all of them\n";
	assert_int_equal(matches(them, "/usr/bin/nc", "nc"), 1);
	const char *one = "    a:\n        Image|endswith: '/nc'\n"
			  "    b:\n        CommandLine|contains: 'zzz'\n"
			  "    condition: 1 of them\n";
	assert_int_equal(matches(one, "/usr/bin/nc", "nc"), 1);
	assert_int_equal(matches(one, "/usr/bin/x", "x"), 0);

	/* precedence: not binds tighter than and, and tighter than or */
	const char *prec = "    a:\n        Image: '/a'\n"
			   "    b:\n        Image: '/b'\n"
			   "    c:\n        CommandLine: 'c'\n"
			   "    condition: a or b and not c\n";
	assert_int_equal(matches(prec, "/a", "c"), 1);
	assert_int_equal(matches(prec, "/b", "c"), 0);
	assert_int_equal(matches(prec, "/b", "d"), 1);

	/* a list of conditions: any of them */
	const char *list = "    a:\n        Image: '/a'\n"
			   "    b:\n        Image: '/b'\n"
			   "    condition:\n        - a\n        - b\n";
	assert_int_equal(matches(list, "/b", "x"), 1);
}

static void test_null_exists_numbers(void **state)
{
	(void)state;
	const char *nul = "    selection:\n        CurrentDirectory: null\n"
			  "    condition: selection\n";
	const char *exists = "    selection:\n        CurrentDirectory|exists: true\n"
			     "    condition: selection\n";
	const char *empty = "    selection:\n        CommandLine: ''\n"
			    "    condition: selection\n";
	struct pm_sigma_event ev = event("/x", "");

	assert_int_equal(matches_ev(nul, &ev), 1);
	assert_int_equal(matches_ev(exists, &ev), 0);
	assert_int_equal(matches_ev(empty, &ev), 1);
	ev.current_directory = "/tmp";
	assert_int_equal(matches_ev(nul, &ev), 0);
	assert_int_equal(matches_ev(exists, &ev), 1);

	const char *logon = "    selection:\n        LogonId: 0\n        ProcessId: 42\n"
			    "    condition: selection\n";
	ev.logon_id = 0;
	assert_int_equal(matches_ev(logon, &ev), 1);
	ev.logon_id = -1; /* unset auid: unknown */
	assert_int_equal(matches_ev(logon, &ev), 0);
}

static void test_base64(void **state)
{
	(void)state;
	/* "curl http://x" encoded whole; base64offset finds the value after
	 * 0, 1 or 2 bytes of any text */
	const char *b64 = "    selection:\n        CommandLine|base64|contains: 'curl'\n"
			  "    condition: selection\n";
	const char *off = "    selection:\n        CommandLine|base64offset|contains: 'http://'\n"
			  "    condition: selection\n";

	assert_int_equal(matches(b64, "/x", "echo Y3VybA== | base64 -d"), 1);
	assert_int_equal(matches(b64, "/x", "echo y3vyba== | base64 -d"), 1); /* Sigma: caseless */
	/* base64("http://x"), base64("a http://x"), base64("ab http://x") */
	assert_int_equal(matches(off, "/x", "echo aHR0cDovL3g= | base64 -d"), 1);
	assert_int_equal(matches(off, "/x", "echo YSBodHRwOi8veA== | base64 -d"), 1);
	assert_int_equal(matches(off, "/x", "echo YWIgaHR0cDovL3g= | base64 -d"), 1);
	assert_int_equal(matches(off, "/x", "echo ZnRwOi8veA== | base64 -d"), 0); /* ftp://x */
}

static void test_windash(void **state)
{
	(void)state;
	const char *d = "    selection:\n        CommandLine|windash|contains: ' -exec '\n"
			"    condition: selection\n";

	assert_int_equal(matches(d, "/x", "find . -exec rm {} ;"), 1);
	assert_int_equal(matches(d, "/x", "find . /exec rm {} ;"), 1);
	assert_int_equal(matches(d, "/x", "find . \xe2\x80\x93" "exec rm {} ;"), 1);
	assert_int_equal(matches(d, "/x", "find . exec rm"), 0);
}

/* A bad rule: problem reported at file:line with the reason, nothing loaded. */
static void expect_problem(const char *text, unsigned line, const char *reason, bool bad_file)
{
	struct pm_sigma_rules *rules = NULL;
	struct pm_sigma_report rep;
	const char *p[] = { put(text) };

	assert_int_equal(pm_sigma_load(p, 1, PM_SIGMA_INFORMATIONAL, false, &rules, &rep), 0);
	assert_int_equal(rep.loaded, 0);
	assert_int_equal(rep.n_problems, 1);
	assert_string_equal(rep.problems[0].file, p[0]);
	if (!strstr(rep.problems[0].reason, reason))
		fail_msg("reason '%s' lacks '%s'", rep.problems[0].reason, reason);
	assert_int_equal(rep.problems[0].line, line);
	assert_int_equal(bad_file ? rep.bad_files : rep.unsupported, 1);
	pm_sigma_free(rules);
	pm_sigma_report_free(&rep);
}

static void test_bad_rules(void **state)
{
	char text[2048];

	(void)state;
	/* HEAD is 7 lines: the detection's entries start on line 8 */
	snprintf(text, sizeof(text), "%s    sel:\n        Image|sha256: x\n    condition: sel\n",
		 HEAD);
	expect_problem(text, 9, "unknown modifier 'sha256'", false);
	snprintf(text, sizeof(text), "%s    sel:\n        Image|cidr: x\n    condition: sel\n",
		 HEAD);
	expect_problem(text, 9, "modifier 'cidr' is not supported", false);
	snprintf(text, sizeof(text), "%s    sel:\n        CommandLine|re: 'a(b'\n    condition: sel\n",
		 HEAD);
	expect_problem(text, 9, "regex rejected by PCRE2", false);
	snprintf(text, sizeof(text), "%s    sel:\n        Image: x\n    condition: sel and other\n",
		 HEAD);
	expect_problem(text, 10, "condition names no selection 'other'", false);
	snprintf(text, sizeof(text), "%s    sel:\n        Image: x\n    condition: 1 of filter_*\n",
		 HEAD);
	expect_problem(text, 10, "names no selection", false);
	snprintf(text, sizeof(text), "%s    sel:\n        Hashes: x\n    condition: sel\n", HEAD);
	expect_problem(text, 9, "field 'Hashes'", false);
	snprintf(text, sizeof(text),
		 "%s    sel:\n        Image: x\n    condition: sel | count() > 5\n", HEAD);
	expect_problem(text, 10, "aggregations", false);
	snprintf(text, sizeof(text), "%s    keywords:\n        - evil\n    condition: keywords\n",
		 HEAD);
	expect_problem(text, 9, "keyword searches", false);
	expect_problem("title: x\n  bad: [indent\n", 2, "not YAML", true);
	expect_problem("just a string\n", 1, "not a Sigma rule", true);
	expect_problem("title: x\nlogsource:\n    product: linux\n", 1, "no detection", true);
}

static void test_other_logsource_and_level(void **state)
{
	struct pm_sigma_rules *rules = NULL;
	struct pm_sigma_report rep;
	const char *p[2];

	(void)state;
	p[0] = strdup(put("title: t\nlogsource:\n    product: windows\n    category: process_creation\n"
		   "detection:\n    s:\n        Image: x\n    condition: s\n"));
	p[1] = strdup(put("title: t\nlevel: low\n"
			  "logsource: {product: linux, category: process_creation}\n"
			  "detection: {s: {Image: x}, condition: s}\n"));
	assert_int_equal(pm_sigma_load(p, 2, PM_SIGMA_MEDIUM, false, &rules, &rep), 0);
	assert_int_equal(rep.skipped, 1);
	assert_int_equal(rep.below_level, 1);
	assert_int_equal(rep.loaded, 0);
	assert_int_equal(rep.n_problems, 0);
	assert_int_equal(pm_sigma_count(rules), 0);
	free((char *)p[0]);
	free((char *)p[1]);
	pm_sigma_free(rules);
	pm_sigma_report_free(&rep);
}

/* Hits come in load order, with the rule's metadata. */
static void on_hit(const struct pm_sigma_rule_info *info, void *ctx)
{
	char *seen = ctx;

	strcat(seen, info->title);
	strcat(seen, ";");
}

static void test_hits_and_info(void **state)
{
	struct pm_sigma_rules *rules = NULL;
	struct pm_sigma_scratch *s = NULL;
	struct pm_sigma_report rep;
	char seen[512] = "", sub[100];
	const char *p[] = { sub };
	struct pm_sigma_event ev = event("/usr/bin/zzhit", "zzhit");
	FILE *f;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/hits", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	/* two files: hits in load order (the files' sorted names) */
	snprintf(seen, sizeof(seen), "%s/b.yml", sub);
	f = fopen(seen, "w");
	assert_non_null(f);
	fputs("title: second\nid: b\nstatus: test\ntags: [attack.t1, attack.t2]\nlevel: low\n"
	    "logsource: {product: linux, category: process_creation}\n"
	    "detection: {s: {Image|endswith: /zzhit}, condition: s}\n",
	      f);
	fclose(f);
	snprintf(seen, sizeof(seen), "%s/a.yml", sub);
	f = fopen(seen, "w");
	assert_non_null(f);
	fputs("title: first\nid: a\nlogsource: {product: linux, category: process_creation}\n"
	      "detection: {s: {CommandLine|contains: zzh}, condition: s}\n",
	      f);
	fclose(f);
	seen[0] = 0;
	assert_int_equal(pm_sigma_load(p, 1, PM_SIGMA_INFORMATIONAL, false, &rules, &rep), 0);
	assert_int_equal(rep.loaded, 2);
	assert_int_equal(pm_sigma_scratch_new(rules, &s), 0);
	assert_int_equal(pm_sigma_match(rules, s, &ev, on_hit, seen), 2);
	assert_string_equal(seen, "first;second;");
	pm_sigma_scratch_free(s);
	pm_sigma_free(rules);
	pm_sigma_report_free(&rep);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A recorded line through the event parser: the status it returns. */
static int read_line(struct pm_sigma_json *r, const char *line, struct pm_sigma_event *ev)
{
	return pm_sigma_json_read(r, line, strlen(line), ev);
}

static void test_json_mapping(void **state)
{
	struct pm_sigma_json *r;
	struct pm_sigma_event ev;

	(void)state;
	assert_int_equal(pm_sigma_json_new(&r), 0);
	assert_int_equal(read_line(r,
		"{\"type\":\"ProcessExec\",\"process\":{\"pid\":42,\"ppid\":7,\"uid\":1000,"
		"\"euid\":0,\"auid\":4294967295,\"cap_effective\":\"CAP_CHOWN|CAP_KILL\","
		"\"filename\":\"crontab\",\"binary_path\":\"/usr/bin/crontab\",\"args\":\"-r\","
		"\"argv0\":\"crontab\",\"cwd\":\"/root\"},\"parent\":{\"binary_path\":"
		"\"/usr/bin/bash\",\"argv0\":\"-bash\",\"args\":\"\"},\"host\":\"h\"}\n", &ev), 0);
	assert_string_equal(ev.image, "/usr/bin/crontab");
	assert_string_equal(ev.command_line, "crontab -r");
	assert_string_equal(ev.original_file_name, "crontab");
	assert_string_equal(ev.current_directory, "/root");
	assert_string_equal(ev.parent_image, "/usr/bin/bash");
	assert_string_equal(ev.parent_command_line, "-bash");
	assert_null(ev.user);
	assert_int_equal(ev.process_id, 42);
	assert_int_equal(ev.parent_process_id, 7);
	assert_int_equal(ev.logon_id, -1); /* unset auid */
	assert_int_equal(ev.uid, 1000);
	assert_int_equal(ev.euid, 0);
	/* no argv0: the path in its place; no parent: no parent facts */
	assert_int_equal(read_line(r, "{\"process\":{\"binary_path\":\"/bin/x\",\"args\":\"a b\"},"
				      "\"type\":\"ProcessExec\"}", &ev), 0);
	assert_string_equal(ev.command_line, "/bin/x a b");
	assert_null(ev.parent_image);
	assert_null(ev.parent_command_line);
	assert_int_equal(ev.process_id, -1);
	/* neither: the arguments alone; nothing: an empty line */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"args\":\"a\"}}", &ev), 0);
	assert_string_equal(ev.command_line, "a");
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{}}", &ev), 0);
	assert_string_equal(ev.command_line, "");
	assert_null(ev.image);
	pm_sigma_json_free(r);
}

static void test_json_hostile(void **state)
{
	struct pm_sigma_json *r;
	struct pm_sigma_event ev;
	char deep[200], *big;
	size_t k = 0;

	(void)state;
	assert_int_equal(pm_sigma_json_new(&r), 0);
	/* escapes and \u sequences, a surrogate pair, decoded */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"argv0\":\"sh\","
				      "\"args\":\"-c \\\"a\\\\b\\\"\\n\\u00e9\\ud83d\\ude00\\/\"}}", &ev), 0);
	assert_string_equal(ev.command_line, "sh -c \"a\\b\"\n\xc3\xa9\xf0\x9f\x98\x80/");
	/* a lone surrogate: a line still, yajl's '?' in its place (json-c,
	 * writing the detection, puts U+FFFD: docs/detections.md) */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"args\":\"\\ud800x\"}}",
				   &ev), 0);
	assert_string_equal(ev.command_line, "?x");
	/* bytes that are not UTF-8 are kept: procmon's writer replaces them */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"args\":\"\xff\xfe\xc3\"}}",
				   &ev), 0);
	assert_string_equal(ev.command_line, "\xff\xfe\xc3");
	/* a NUL inside a value ends it, as procmon's output has none */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"argv0\":\"a\\u0000b\","
				      "\"args\":\"c\"}}", &ev), 0);
	assert_string_equal(ev.command_line, "a c");
	/* duplicate keys: the last value counts, whatever its type */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"binary_path\":\"/a\","
				      "\"pid\":1,\"binary_path\":\"/b\",\"pid\":\"2\"}}", &ev), 0);
	assert_string_equal(ev.image, "/b");
	assert_int_equal(ev.process_id, -1);
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"binary_path\":\"/a\","
				      "\"binary_path\":null}}", &ev), 0);
	assert_null(ev.image);
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"cwd\":\"/a\"},"
				      "\"process\":{\"pid\":3}}", &ev), 0);
	assert_null(ev.current_directory);
	assert_int_equal(ev.process_id, 3);
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{},\"process\":1}", &ev),
			 -EINVAL);
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"type\":\"ProcessExit\","
				      "\"process\":{}}", &ev), 1);
	/* members of the same names deeper down are not the process's own */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"x\":{\"binary_path\":"
				      "\"/evil\"},\"y\":[\"/evil\",{\"cwd\":\"/evil\"}],\"binary_path\":"
				      "\"/ok\"},\"z\":{\"process\":{\"cwd\":\"/evil\"}}}", &ev), 0);
	assert_string_equal(ev.image, "/ok");
	assert_null(ev.current_directory);
	/* numbers: only integers, saturated like json-c's */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExec\",\"process\":{\"pid\":1.5,\"ppid\":1e3,"
				      "\"uid\":99999999999999999999,\"euid\":-99999999999999999999}}",
				   &ev), 0);
	assert_int_equal(ev.process_id, -1);
	assert_int_equal(ev.parent_process_id, -1);
	assert_true(ev.uid == INT64_MAX);
	assert_true(ev.euid == INT64_MIN);
	/* not a ProcessExec: another type, none, not a string */
	assert_int_equal(read_line(r, "{\"type\":\"ProcessExit\",\"process\":{}}", &ev), 1);
	assert_int_equal(read_line(r, "{\"process\":{}}", &ev), 1);
	assert_int_equal(read_line(r, "{\"type\":[\"ProcessExec\"],\"process\":{}}", &ev), 1);
	/* not one JSON object: unreadable */
	static const char *const bad[] = {
		"", "not json", "{\"type\":\"ProcessExec\",\"process\":{\"pid\":1,",
		"{\"type\":\"ProcessExec\",\"process\":\"not an object\"}",
		"{\"type\":\"ProcessExec\",\"process\":{}} {}", "[{\"type\":\"ProcessExec\"}]",
		"\"ProcessExec\"", "{\"type\":\"ProcessExec\",\"process\":{'a':1}}",
		"{\"type\":\"ProcessExec\",\"process\":{\"a\":\"\x01\"}}",
		"{\"type\":\"ProcessExec\",\"process\":{\"a\":\"\\x\"}}",
		"{\"type\":\"ProcessExec\",\"process\":{},}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(read_line(r, bad[i], &ev), -EINVAL);
	/* a NUL byte in the line itself */
	assert_int_equal(pm_sigma_json_read(r, "{\"type\":\"ProcessExec\",\"process\":{}}\0x", 37, &ev),
			 -EINVAL);
	/* 32 levels are read, 33 are not (json-c's bound, which writes
	 * the detections) */
	for (int levels = 32; levels <= 33; levels++) {
		/* the top object and "process" are two of them */
		k = (size_t)snprintf(deep, sizeof(deep), "{\"type\":\"ProcessExec\",\"process\":{\"a\":");
		for (int i = 2; i < levels; i++)
			deep[k++] = '[';
		for (int i = 2; i < levels; i++)
			deep[k++] = ']';
		memcpy(deep + k, "}}", 3);
		assert_int_equal(read_line(r, deep, &ev), levels == 32 ? 0 : -EINVAL);
	}
	/* a 100k-byte command line, whole */
	big = malloc(100100);
	assert_non_null(big);
	k = (size_t)sprintf(big, "{\"type\":\"ProcessExec\",\"process\":{\"argv0\":\"x\",\"args\":\"");
	memset(big + k, 'A', 100000);
	strcpy(big + k + 100000, "\"}}");
	assert_int_equal(read_line(r, big, &ev), 0);
	assert_int_equal(strlen(ev.command_line), 100002);
	free(big);
	pm_sigma_json_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_plain_and_case),
		cmocka_unit_test(test_contains_starts_ends),
		cmocka_unit_test(test_lists_and_all),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_null_exists_numbers),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_windash),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_other_logsource_and_level),
		cmocka_unit_test(test_hits_and_info),
		cmocka_unit_test(test_json_mapping),
		cmocka_unit_test(test_json_hostile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
