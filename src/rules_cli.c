// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "rules_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* json-c names a typedef json_bool, procmon's writer a function */
#define json_bool json_c_bool
#include <json-c/json.h>
#undef json_bool

#include "detect/sigma.h"
#include "detect/sigma_json.h"
#include "render/json.h"
#include "render/render.h"
#include "base/safe_file.h"

#define EXIT_USAGE 2

static void print_problems(FILE *f, const struct pm_sigma_report *rep)
{
	for (size_t i = 0; i < rep->n_problems; i++) {
		const struct pm_sigma_problem *p = &rep->problems[i];

		if (p->line)
			fprintf(f, "%s:%u: %s\n", p->file, p->line, p->reason);
		else
			fprintf(f, "%s: %s\n", p->file, p->reason);
	}
}

static void print_counts(FILE *f, const struct pm_sigma_report *rep)
{
	/* a file that is not a rule at all is a rule that cannot be used */
	fprintf(f, "%zu rules loaded, %zu skipped (other logsource), %zu unsupported\n",
		rep->loaded, rep->skipped, rep->unsupported + rep->bad_files);
}

static int check_rules(char **paths, size_t n)
{
	struct pm_sigma_report rep;
	struct pm_sigma_rules *rules = NULL;
	int ret;

	/* as procmon running as root would judge the files, whoever runs this */
	pm_safe_judge_as_root = true;
	ret = pm_sigma_load((const char *const *)paths, n, PM_SIGMA_INFORMATIONAL, true, &rules,
			    &rep);
	pm_safe_judge_as_root = false;
	if (ret) {
		fprintf(stderr, "procmon: rules: %s\n", strerror(-ret));
		pm_sigma_report_free(&rep);
		return EXIT_USAGE;
	}
	print_problems(stdout, &rep);
	print_counts(stdout, &rep);
	ret = rep.unsupported || rep.bad_files ? EXIT_USAGE : 0;
	pm_sigma_report_free(&rep);
	pm_sigma_free(rules);
	return ret;
}

struct replay {
	/* the line, and json-c's DOM of it, made only when a rule fires:
	 * the members a detection carries are written from it */
	const char *line;
	size_t len;
	struct json_object *exec;
	json_tokener *tok;
	struct json_buf out;
	unsigned long long detections, unwritten;
};

/* A recorded value again, through procmon's own writer: its escaping
 * (control characters, U+2028/2029, invalid UTF-8) is the output's
 * policy, not json-c's. json-c bounds the depth at parse (32). */
static void put(struct json_buf *b, struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		json_null(b);
		break;
	case json_type_boolean:
		json_bool(b, json_object_get_boolean(o));
		break;
	case json_type_int:
		if (json_object_get_int64(o) < 0)
			json_i64(b, json_object_get_int64(o));
		else
			json_u64(b, json_object_get_uint64(o));
		break;
	case json_type_double: {
		const char *num = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

		json_raw(b, num, strlen(num));
		break;
	}
	case json_type_string:
		json_strn(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	case json_type_array:
		json_arr_begin(b);
		for (size_t i = 0; i < json_object_array_length(o); i++)
			put(b, json_object_array_get_idx(o, i));
		json_arr_end(b);
		break;
	case json_type_object:
		json_obj_begin(b);
		json_object_object_foreach(o, k, v)
		{
			json_key(b, k);
			put(b, v);
		}
		json_obj_end(b);
		break;
	}
}

static void put_member(struct json_buf *b, struct json_object *from, const char *k)
{
	struct json_object *v;

	if (json_object_object_get_ex(from, k, &v)) {
		json_key(b, k);
		put(b, v);
	}
}

/* One Detection, native (Bombini) shape: the rule, and the recorded
 * ProcessExec's timestamp, process, parent, event_id and host. */
static void on_hit(const struct pm_sigma_rule_info *r, void *arg)
{
	struct replay *rp = arg;
	struct json_buf *b = &rp->out;
	struct json_object *v;

	if (!rp->exec) {
		json_tokener_reset(rp->tok);
		rp->exec = json_tokener_parse_ex(rp->tok, rp->line, (int)rp->len);
	}
	if (!json_object_is_type(rp->exec, json_type_object)) {
		rp->unwritten++; /* yajl read it, json-c not: counted, reported */
		return;
	}
	json_reset(b);
	json_obj_begin(b);
	json_kv_str(b, "type", "Detection");
	put_member(b, rp->exec, "timestamp");
	pm_render_sigma_rule(b, r);
	put_member(b, rp->exec, "process");
	put_member(b, rp->exec, "parent");
	json_key(b, "matched_event_id");
	if (json_object_object_get_ex(rp->exec, "event_id", &v))
		put(b, v);
	else
		json_null(b);
	put_member(b, rp->exec, "host");
	json_obj_end(b);
	if (b->buf.oom) {
		fprintf(stderr, "procmon: --replay: out of memory writing a detection\n");
		return;
	}
	json_raw(b, "\n", 1);
	fwrite(b->buf.data, 1, b->buf.len, stdout);
	rp->detections++;
}

/* CPU time: the rate on one core, whatever else shares the machine */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rules' share of the time is taken on every RULES_SAMPLE-th event:
 * reading the CPU clock is a system call (~1.2 us here), as costly as
 * what it would time if taken around every event. */
#define RULES_SAMPLE 32

static int replay(const char *file, char **paths, size_t n)
{
	struct pm_sigma_report rep;
	struct pm_sigma_rules *rules = NULL;
	struct pm_sigma_scratch *scratch = NULL;
	struct pm_sigma_json *reader = NULL;
	struct replay rp = { 0 };
	unsigned long long lines = 0, execs = 0, bad = 0, other = 0, sampled = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *in;
	double t0, in_rules = 0;
	/* bench/rules_replay.sh's baseline: read lines as json-c's DOM */
	const char *parser = getenv("PROCMON_REPLAY_PARSER");
	bool dom = parser && !strcmp(parser, "json-c");
	int ret;

	in = strcmp(file, "-") ? fopen(file, "re") : stdin;
	if (!in) {
		fprintf(stderr, "procmon: --replay %s: %s\n", file, strerror(errno));
		return EXIT_USAGE;
	}
	/* a user's own rules: no owner check (nothing runs as root here) */
	ret = pm_sigma_load((const char *const *)paths, n, PM_SIGMA_INFORMATIONAL, false, &rules,
			    &rep);
	if (!ret) {
		print_problems(stderr, &rep);
		print_counts(stderr, &rep);
		if (!pm_sigma_count(rules))
			ret = -ENOENT;
	}
	if (!ret)
		ret = pm_sigma_scratch_new(rules, &scratch);
	if (!ret)
		ret = pm_sigma_json_new(&reader);
	if (!ret && !(rp.tok = json_tokener_new()))
		ret = -ENOMEM;
	if (ret) {
		fprintf(stderr, "procmon: --replay: %s\n",
			ret == -ENOENT ? "no rule loaded" : strerror(-ret));
		ret = EXIT_USAGE;
		goto out;
	}
	json_init(&rp.out);
	t0 = now_s();
	while ((len = getline(&line, &cap, in)) > 0) {
		struct pm_sigma_event ev;
		double m0 = 0;
		int r;

		lines++;
		/* procmon writes its own lines compactly: the others are
		 * skipped before the costly part, the parse */
		if (!memmem(line, (size_t)len, "\"type\":\"ProcessExec\"", 20)) {
			other++;
			continue;
		}
		if (len > INT_MAX) { /* json-c, which writes detections, takes an int */
			bad++;
			continue;
		}
		rp.line = line;
		rp.len = (size_t)len;
		rp.exec = NULL;
		if (dom) { /* the baseline: json-c's DOM first */
			json_tokener_reset(rp.tok);
			rp.exec = json_tokener_parse_ex(rp.tok, line, (int)len);
			r = pm_sigma_json_read_dom(reader, rp.exec, &ev);
		} else {
			r = pm_sigma_json_read(reader, line, (size_t)len, &ev);
		}
		if (r) {
			if (r == 1)
				other++;
			else
				bad++;
			json_object_put(rp.exec);
			continue;
		}
		execs++;
		if (execs % RULES_SAMPLE == 0)
			m0 = now_s();
		if (pm_sigma_match(rules, scratch, &ev, on_hit, &rp) < 0)
			bad++;
		if (execs % RULES_SAMPLE == 0) {
			in_rules += now_s() - m0;
			sampled++;
		}
		json_object_put(rp.exec);
		rp.exec = NULL;
	}
	double dt = now_s() - t0;
	fflush(stdout);
	fprintf(stderr,
		"replay: %llu lines, %llu ProcessExec, %llu other, %llu unreadable, %llu detections; "
		"%.0f ProcessExec per CPU second, %.0f in the rules alone (%zu rules, prefilter %s, "
		"parser %s)\n",
		lines, execs, other, bad, rp.detections, dt > 0 ? (double)execs / dt : 0.0,
		in_rules > 0 ? (double)sampled / in_rules : 0.0, pm_sigma_count(rules),
		pm_sigma_prefiltered(rules) ? "hyperscan" : "off", dom ? "json-c" : "yajl");
	if (rp.unwritten)
		fprintf(stderr, "replay: %llu detections not written: json-c could not read their line\n",
			rp.unwritten);
	if (pm_sigma_regex_errors(scratch))
		fprintf(stderr, "replay: %llu regex evaluations hit PCRE2's limits (no match)\n",
			(unsigned long long)pm_sigma_regex_errors(scratch));
	ret = ferror(in) || ferror(stdout) || rp.unwritten ? 1 : 0;
out:
	free(line);
	json_free(&rp.out);
	if (rp.tok)
		json_tokener_free(rp.tok);
	pm_sigma_json_free(reader);
	pm_sigma_scratch_free(scratch);
	pm_sigma_free(rules);
	pm_sigma_report_free(&rep);
	if (in != stdin)
		fclose(in);
	return ret;
}

static int usage(void)
{
	fprintf(stderr, "usage: procmon --check-rules PATH...\n"
			"       procmon --replay FILE.jsonl --rules PATH...\n");
	return EXIT_USAGE;
}

int pm_sigma_cli(int argc, char **argv)
{
	const char *file = NULL;
	char **paths;
	size_t n = 0;
	int i, ret;
	bool check = false, rules_seen = false;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--check-rules") || !strcmp(argv[i], "--replay"))
			break;
	if (i == argc)
		return -1;
	paths = calloc((size_t)argc, sizeof(*paths));
	if (!paths)
		return 1;
	/* --check-rules PATH... | --replay FILE --rules PATH... (either order) */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check-rules")) {
			check = true;
		} else if (!strcmp(argv[i], "--replay")) {
			if (++i == argc || file) {
				free(paths);
				return usage();
			}
			file = argv[i];
		} else if (!strcmp(argv[i], "--rules")) {
			rules_seen = true;
		} else if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2]) {
			fprintf(stderr, "procmon: %s does not go with --check-rules or --replay\n",
				argv[i]);
			free(paths);
			return usage();
		} else {
			paths[n++] = argv[i];
		}
	}
	if (!n || (check && file) || (file && !rules_seen) || (check && rules_seen))
		ret = usage();
	else
		ret = check ? check_rules(paths, n) : replay(file, paths, n);
	free(paths);
	return ret;
}
