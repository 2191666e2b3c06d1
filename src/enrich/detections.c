// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's side of the Sigma rules (detections.h): loading them as
 * the configuration says, the exec's facts in Sigma's terms, and one
 * Detection event per matching rule.
 */
#include "enrich/detections.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/timefmt.h"
#include "log.h"

#define PM_AUID_UNSET 4294967295u

/* Load into fresh rules and scratch; problems are logged. */
static int load_rules(const struct pm_detections_config *cfg, struct pm_sigma_rules **rules,
		      struct pm_sigma_scratch **scratch, struct pm_sigma_report *rep)
{
	const char **paths = calloc(cfg->rules.n + 1, sizeof(*paths));
	size_t n = 0;
	int ret;

	*rules = NULL;
	*scratch = NULL;
	memset(rep, 0, sizeof(*rep));
	if (!paths)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->rules.n; i++) {
		struct stat st;

		/* the default's /etc/procmon/rules.d need not exist */
		if (lstat(cfg->rules.v[i], &st) && errno == ENOENT) {
			(cfg->enabled == PM_DETECT_AUTO ? pm_log_debug : pm_log_warn)(
				"detections: %s: no such file or directory", cfg->rules.v[i]);
			continue;
		}
		paths[n++] = cfg->rules.v[i];
	}
	ret = pm_sigma_load(paths, n, cfg->min_level, geteuid() == 0, rules, rep);
	free(paths);
	for (size_t i = 0; i < rep->n_problems; i++)
		pm_log_warn("detections: %s:%u: %s", rep->problems[i].file, rep->problems[i].line,
			    rep->problems[i].reason);
	if (!ret && *rules && pm_sigma_count(*rules))
		ret = pm_sigma_scratch_new(*rules, scratch);
	if (ret) {
		pm_sigma_free(*rules);
		*rules = NULL;
	}
	return ret;
}

static void report(const struct pm_sigma_report *rep, const char *when)
{
	pm_log_info("detections%s: %zu rules loaded, %zu skipped (other logsource), "
		    "%zu unsupported, %zu files unusable",
		    when, rep->loaded, rep->skipped, rep->unsupported, rep->bad_files);
}

int pm_detections_load(struct pm_detections *d, const struct pm_detections_config *cfg,
		       const struct pm_users *users, char *why, size_t whylen)
{
	struct pm_sigma_report rep;
	int ret;

	memset(d, 0, sizeof(*d));
	d->users = users;
	if (cfg->enabled == PM_DETECT_OFF)
		return 0;
	ret = load_rules(cfg, &d->rules, &d->scratch, &rep);
	if (!ret)
		report(&rep, "");
	pm_sigma_report_free(&rep);
	if (ret == -ENOMEM)
		return ret;
	if (d->scratch)
		return 0;
	pm_sigma_free(d->rules);
	d->rules = NULL;
	if (cfg->enabled == PM_DETECT_AUTO) {
		pm_log_info("detections: off (no rule in the rules paths)");
		return 0;
	}
	snprintf(why, whylen,
		 "detections: enabled: true, but no rule loaded from the rules paths (%s)",
		 ret ? strerror(-ret) : "see the messages above");
	return -ENOENT;
}

void pm_detections_reload(struct pm_detections *d, const struct pm_detections_config *cfg)
{
	struct pm_sigma_rules *rules = NULL;
	struct pm_sigma_scratch *scratch = NULL;
	struct pm_sigma_report rep;
	int ret = cfg->enabled == PM_DETECT_OFF ? 0 : load_rules(cfg, &rules, &scratch, &rep);

	if (cfg->enabled != PM_DETECT_OFF) {
		if (!ret)
			report(&rep, " (SIGHUP)");
		pm_sigma_report_free(&rep);
	}
	/* nothing usable while rules were wanted: a broken edit, not a wish */
	if (cfg->enabled != PM_DETECT_OFF && !scratch && d->rules) {
		pm_log_error("SIGHUP: detections: no rule loaded%s%s; the %zu rules in force stay",
			     ret ? ": " : "", ret ? strerror(-ret) : "",
			     pm_sigma_count(d->rules));
		pm_sigma_free(rules);
		return;
	}
	pm_sigma_scratch_free(d->scratch);
	pm_sigma_free(d->rules);
	d->rules = scratch ? rules : NULL;
	d->scratch = scratch;
	if (!scratch)
		pm_sigma_free(rules);
	if (!d->rules)
		pm_log_info("SIGHUP: detections: off");
}

void pm_detections_free(struct pm_detections *d)
{
	pm_sigma_scratch_free(d->scratch);
	pm_sigma_free(d->rules);
	pm_buf_free(&d->cmd);
	pm_buf_free(&d->parent_cmd);
	memset(d, 0, sizeof(*d));
}

size_t pm_detections_count(const struct pm_detections *d)
{
	return d->rules ? pm_sigma_count(d->rules) : 0;
}

/* The command line of img (pm_image_command_line's parts) as one
 * NUL-terminated string in c; NULL on ENOMEM. */
static const char *command_line(const struct pm_image *img, struct pm_buf *c)
{
	const char *parts[3];
	size_t lens[3], n = pm_image_command_line(img, parts, lens);

	c->len = 0;
	c->oom = false;
	for (size_t i = 0; i < n; i++)
		pm_buf_put(c, parts[i], lens[i]);
	pm_buf_put(c, "", 1);
	return c->oom ? NULL : c->data;
}

int pm_sigma_event_of(const struct pm_event *exec, const struct pm_users *users,
		      struct pm_buf *cmd, struct pm_buf *parent_cmd,
		      struct pm_sigma_event *out)
{
	const struct pm_process *p = exec->proc, *pp = exec->parent;
	const struct pm_image *img = p->image, *pimg = pp ? pp->image : NULL;

	*out = (struct pm_sigma_event){
		.image = img ? img->binary_path : NULL,
		.user = pm_user_name(users, p->uid),
		.current_directory = img ? img->cwd : NULL,
		.original_file_name = img ? img->filename : NULL,
		.process_id = p->pid,
		.parent_process_id = p->ppid,
		.logon_id = p->auid == PM_AUID_UNSET ? -1 : (int64_t)p->auid,
		.uid = p->uid,
		.euid = p->euid,
		.parent_image = pimg ? pimg->binary_path : NULL,
	};
	if (img && !(out->command_line = command_line(img, cmd)))
		return -ENOMEM;
	if (pimg && !(out->parent_command_line = command_line(pimg, parent_cmd)))
		return -ENOMEM;
	return 0;
}

struct hit_ctx {
	struct pm_detections *d;
	const struct pm_event *exec;
	const char *event_id;
	void (*emit)(void *arg, const struct pm_event *ev);
	void *arg;
	uint64_t *emit_ns; /* a timed evaluation: time spent writing the Detections */
};

static void on_hit(const struct pm_sigma_rule_info *info, void *arg)
{
	struct hit_ctx *h = arg;
	struct pm_event det = *h->exec;

	det.type = PM_EVENT_DETECTION;
	det.rule = info;
	det.matched_event_id = h->event_id;
	det.next = NULL;
	uint64_t t0 = h->emit_ns ? pm_clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;

	if (info->level < PM_SIGMA_LEVELS)
		h->d->by_level[info->level]++;
	h->emit(h->arg, &det);
	if (h->emit_ns)
		*h->emit_ns += pm_clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
}

void pm_detections_run(struct pm_detections *d, const struct pm_event *exec,
		       const char *event_id,
		       void (*emit)(void *arg, const struct pm_event *ev), void *arg)
{
	uint64_t t0 = 0, emitted = 0;
	bool timed;
	struct hit_ctx h = { d, exec, event_id, emit, arg, NULL };
	struct pm_sigma_event sev;

	if (!d->rules || exec->type != PM_EVENT_EXEC || !exec->proc)
		return;
	timed = d->evaluated++ % PM_DETECT_SAMPLE == 0;
	if (timed) {
		h.emit_ns = &emitted;
		t0 = pm_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	}
	if (pm_sigma_event_of(exec, d->users, &d->cmd, &d->parent_cmd, &sev) ||
	    pm_sigma_match(d->rules, d->scratch, &sev, on_hit, &h) < 0)
		d->errors++;
	/* the rules' cost alone: writing the Detections is an event's cost */
	if (timed) {
		d->timed_ns += pm_clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0 - emitted;
		d->timed++;
	}
}

double pm_detections_ns_per_exec(const struct pm_detections *d)
{
	return d->timed ? (double)d->timed_ns / (double)d->timed : 0.0;
}
