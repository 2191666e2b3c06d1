// SPDX-License-Identifier: GPL-2.0
/*
 * procmon: process-monitoring security sensor.
 *
 * Lifecycle: configuration -> environment check -> output -> load and
 * attach BPF -> seed the process cache from /proc -> "ready" -> read the
 * ring buffer until SIGINT/SIGTERM -> flush -> detach.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "rules_cli.h"
#include "collect/filter.h"
#include "enrich/detections.h"
#include "enrich/identity.h"
#include "render/json.h"
#include "collect/loader.h"
#include "log.h"
#include "output/fleet.h"
#include "output/metrics.h"
#include "collect/proc_scan.h"
#include "collect/reader.h"
#include "render/render.h"
#include "service.h"
#include "output/sink.h"
#include "base/timefmt.h"
#include "version.h" /* generated: build/version.h */

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define NSEC_PER_SEC 1000000000ull
#define PM_EXITED_LINGER_NS (5 * NSEC_PER_SEC) /* see pm_proc_cache_mark_exited */
#define PM_DROP_REPORT_NS (10 * NSEC_PER_SEC)
#define PM_SWEEP_NS (60 * NSEC_PER_SEC) /* see pm_proc_scan_sweep */
/*
 * The BPF side wakes us at most every 10 ms (see pm_wakeup_flag), so the
 * records that come after the last wake-up of a burst bring no wake-up of
 * their own. After a pass that read records the loop therefore looks again
 * within PM_POLL_BURST_MS, and only a pass that found nothing lets it sleep
 * PM_POLL_MS: a burst's tail waits ~10 ms, not 100, and an idle host still
 * costs ten wake-ups a second.
 */
#define PM_POLL_MS 100
#define PM_POLL_BURST_MS 10
#define PM_POLL_HASH_WAIT_MS 20

/* A reader that stopped reading cannot hold procmon at exit longer. */
#define PM_FINAL_FLUSH_S 5
/* SIGTERM waits this long for NATS acks; the rest stays spooled */
#define PM_FLEET_FINAL_MS 5000

static volatile sig_atomic_t stop_requested;
static const char *o_config_name; /* --config, for messages */
static const struct options *o_opts; /* the command line, for reloads */
static volatile sig_atomic_t reopen_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_requested = 1;
	else
		stop_requested = 1;
}

static const char usage[] =
	"usage: procmon [--config FILE] [--format bombini|limacharlie] [--output FILE] [-v]\n"
	"               [--nats URL]\n"
	"       procmon --check-config FILE [--print-config]\n"
	"       procmon [--config FILE] [--format NAME] [--output FILE] --print-config\n"
	"       procmon --check-rules PATH...\n"
	"       procmon --replay FILE.jsonl --rules PATH...\n"
	"       procmon --version | --help\n"
	"\n"
	"Reports process activity on this host as one JSON object per line.\n"
	"\n"
	"  --config FILE   YAML configuration (default: the built-in config/procmon.yaml)\n"
	"  --format NAME   output schema: bombini (default) or limacharlie\n"
	"  --output FILE   append events to FILE (created 0600) instead of stdout\n"
	"  --nats URL      also publish every event to NATS JetStream at URL (docs/fleet.md)\n"
	"  --check-config FILE  check FILE and exit (no root, no BPF): prints 'FILE: ok'\n"
	"                  and exits 0, or names file:line:key and exits 2\n"
	"  --print-config  print the effective configuration (defaults filled in) as\n"
	"                  YAML procmon accepts, and exit\n"
	"  --check-rules PATH...  check Sigma rules (files, directories) and exit (no\n"
	"                  root, no BPF): file:line: reason per unusable rule, then\n"
	"                  the counts; exits 0 when every rule loaded, 2 otherwise\n"
	"  --replay FILE --rules PATH...  evaluate the rules over the ProcessExec\n"
	"                  events recorded in FILE (native format, - for stdin) and\n"
	"                  print the detections as JSON lines (docs/detections.md)\n"
	"  -v              debug logging to stderr\n"
	"  --version       print the version and exit\n"
	"  --help          print this help and exit\n"
	"\n"
	"Signals: SIGINT/SIGTERM flush and exit, SIGHUP reopens the output file and\n"
	"reloads the configuration.\n"
	"Exit status: 0 normal stop, 1 runtime or environment error, 2 bad usage or configuration.\n";

struct options {
	const char *config;
	const char *format;
	const char *output;
	const char *nats; /* --nats URL */
	const char *check_config; /* --check-config FILE */
	bool print_config;
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "nats", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "print-config", no_argument, NULL, 'P' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:f:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->format = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'N':
			o->nats = optarg;
			break;
		case 'v':
			pm_log_verbose = true;
			break;
		case 'V':
			printf("procmon %s\n", PROCMON_VERSION);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'C':
			o->check_config = optarg;
			break;
		case 'P':
			o->print_config = true;
			break;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pm_log_error("unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (o->check_config && o->config) {
		pm_log_error("--check-config FILE and --config FILE: give one of them");
		return EXIT_USAGE;
	}
	return -1;
}

/* The command line over the configuration file: --format, --output, --nats.
 * Returns -1 to go on, or the exit status (message logged). */
static int apply_overrides(struct pm_config *cfg, const struct options *o)
{
	if (o->format) {
		int format = pm_format_from_name(o->format, strlen(o->format));

		if (format < 0) {
			pm_log_error("--format: unknown format '%s' (bombini or limacharlie)",
				     o->format);
			return EXIT_USAGE;
		}
		cfg->format = format;
	}
	if ((cfg->block[PM_BLOCK_CODE_IDENTITY].enabled || cfg->block[PM_BLOCK_ONGOING_IDENTITY].enabled) && !cfg->hash)
		pm_log_warn("code_identity and ongoing_identity report hashes: without "
			    "ima_hash: true they report nothing");
	if (o->output) {
		free(cfg->output);
		cfg->output = strdup(o->output);
		if (!cfg->output)
			return EXIT_RUNTIME;
		cfg->output_none = false;
	}
	/* fleet output: --nats URL enables it with that server */
	if (o->nats) {
		const char *bad = pm_nats_check_url(o->nats);

		if (bad) {
			pm_log_error("--nats '%s': %s", o->nats, bad);
			return EXIT_USAGE;
		}
		if (pm_nats_config_set_server(&cfg->nats, o->nats))
			return EXIT_RUNTIME;
		cfg->nats.enabled = true;
	}
	if (cfg->output_none && !cfg->nats.enabled) {
		pm_log_error("%s: output: none without nats.enabled: true (or --nats URL) "
			     "would send the events nowhere",
			     o->config ? o->config : "configuration");
		return EXIT_USAGE;
	}
	return -1;
}

/* Configuration file (or built-in default), then command-line overrides. */
static int load_config(struct pm_config *cfg, const struct options *o)
{
	char err[512];
	/* --check-config by a user other than root: the file's safety (what
	 * root would refuse) is a warning, its syntax still the verdict */
	int ret = o->check_config ? pm_config_check_file(cfg, o->check_config, geteuid() != 0,
							 err, sizeof(err))
		  : o->config ? pm_config_load_file(cfg, o->config, err, sizeof(err))
			      : pm_config_load_default(cfg, err, sizeof(err));

	if (ret) {
		pm_log_error("%s", err);
		return EXIT_USAGE;
	}
	return apply_overrides(cfg, o);
}
static unsigned read_cap_last(void)
{
	unsigned v = 40;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

	if (f) {
		if (fscanf(f, "%u", &v) != 1 || v > 63)
			v = 40;
		fclose(f);
	}
	return v;
}

/*
 * The key that makes process atoms this host's: SHA-256 of the machine id
 * and the boot id. Atoms are exec_ids (unique per boot) XOR this, so two
 * hosts never share an atom and one host's atoms stay unique.
 */
static void host_atom_key(uint8_t key[16])
{
	static const char *const files[] = { "/etc/machine-id", "/proc/sys/kernel/random/boot_id" };
	unsigned char digest[EVP_MAX_MD_SIZE];
	char text[256] = "procmon-atom";
	size_t n = strlen(text);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "re");

		if (f) {
			n += fread(text + n, 1, sizeof(text) - 1 - n, f);
			fclose(f);
		}
	}
	if (!EVP_Digest(text, n, digest, NULL, EVP_sha256(), NULL))
		memset(digest, 0, 16); /* atoms are then exec_ids: unique, not per host */
	memcpy(key, digest, 16);
}

struct daemon {
	struct pm_config cfg;
	struct pm_sink sink;
	struct pm_loader *loader;
	struct ring_buffer *rb;
	struct pm_reader reader;
	struct pm_render_ctx render;
	pm_renderer render_event;
	char hostname[256];
	struct json_buf line;
	/* fleet output and identity (contract section 8) */
	struct pm_fleet *fleet; /* NULL: NATS off */
	struct pm_event_ids ids;
	char event_id[37];
	/* metrics (src/output/metrics.h): NULL when off; the counters always */
	struct pm_metrics *metrics;
	uint64_t written[PM_EVENT_TYPE_END]; /* events queued for output, by type */
	uint64_t kernel_lost[PM_DROP_MAX];   /* read at most once a second */
	uint64_t kernel_lost_read_ns;
	bool attached;
	uint64_t shaped_out; /* events output_shaping left out */
	bool reseeding; /* a reload changed the binary patterns */
	struct pm_detections det; /* Sigma rules (contract section 10) */
	uint64_t det_reported;    /* Detection events at the last periodic report */
};

/* Whether ev went out under d->event_id (not shaped out, not lost). */
static bool write_event(struct daemon *d, const struct pm_event *ev)
{
	bool written = false;

	/* output_shaping: a type left out is never rendered (it still feeds
	 * the derived events: drain_events) */
	if (d->cfg.shaping_drop[ev->type]) {
		d->shaped_out++;
		goto done;
	}
	json_reset(&d->line);
	d->render.seq = pm_event_ids_next(&d->ids, d->event_id);
	d->render.event_id = d->event_id;
	d->render_event(&d->line, ev, &d->render);
	if (d->line.buf.oom) {
		d->reader.user_drops++;
	} else {
		if (!d->cfg.output_none)
			pm_sink_line(&d->sink, d->line.buf.data, d->line.buf.len);
		if (d->fleet)
			pm_fleet_line(d->fleet, d->line.buf.data, d->line.buf.len, d->event_id);
		d->written[ev->type]++;
		written = true;
	}
done:
	/* the process's last event: its memoized rendering has served */
	if (ev->type == PM_EVENT_EXIT && ev->proc)
		pm_process_close_memo(ev->proc);
	return written;
}

static void write_derived(void *d, const struct pm_event *ev)
{
	write_event(d, ev);
}

/* Render and queue for output every event that may leave now. */
static void drain_events(struct daemon *d, bool force)
{
	uint64_t now = pm_clock_ns(CLOCK_MONOTONIC);
	struct pm_event *ev;

	/* follow wall-clock steps: boot time + this = Unix time */
	d->render.boot_to_unix_ns = pm_clock_ns(CLOCK_REALTIME) - pm_clock_ns(CLOCK_BOOTTIME);
	while ((ev = pm_event_queue_pop_ready(&d->reader.queue, now, force))) {
		char exec_id[sizeof(d->event_id)];
		bool written = write_event(d, ev);

		/* a ProcessExec's Detections come right after it */
		if (ev->type == PM_EVENT_EXEC && d->det.rules) {
			memcpy(exec_id, d->event_id, sizeof(exec_id));
			pm_detections_run(&d->det, ev, written ? exec_id : NULL, write_derived, d);
		}
		pm_derive_identities(&d->reader.derive, ev, write_derived, d);
		pm_event_free(ev);
	}
}

/* Write what may leave; when an event still waits for its hash, give
 * the hasher a moment (its wait is bounded: PM_HASH_WAIT_NS). */
static void drain_and_wait(struct daemon *d)
{
	drain_events(d, false);
	if (d->reader.queue.head)
		poll(NULL, 0, PM_POLL_HASH_WAIT_MS);
}

/* Detections made, by level: at exit, and periodically when there are new ones. */
static void report_detections(struct daemon *d, bool at_exit)
{
	uint64_t total = 0;
	char levels[256];
	size_t n = 0;

	for (unsigned l = 0; l < PM_SIGMA_LEVELS; l++) {
		total += d->det.by_level[l];
		n += snprintf(levels + n, sizeof(levels) - n, "%s%s=%llu", l ? " " : "",
			      pm_sigma_level_name(l), (unsigned long long)d->det.by_level[l]);
	}
	if (!d->det.rules && !total)
		return;
	if (!at_exit && total == d->det_reported && !d->det.errors)
		return;
	d->det_reported = total;
	(d->det.errors ? pm_log_warn : pm_log_info)(
		"%s: detections: %llu (%s) from %zu rules; %llu execs evaluated, %.2f us each; "
		"evaluations failed: %llu",
		at_exit ? "at exit" : "ongoing", (unsigned long long)total, levels,
		pm_detections_count(&d->det), (unsigned long long)d->det.evaluated,
		d->det.evaluated ? (double)d->det.eval_ns / 1e3 / (double)d->det.evaluated : 0.0,
		(unsigned long long)d->det.errors);
}

/* Every loss, kernel and user space: logged every PM_DROP_REPORT_NS while
 * any is non-zero (so a log reader sees it whenever it looks), and at exit. */
static void report_drops(struct daemon *d, bool at_exit)
{
	uint64_t k[PM_DROP_MAX] = { 0 }, total;
	char kernel[512];
	size_t n = 0;

	pm_loader_read_drops(d->loader, k);
	total = d->reader.user_drops + d->reader.malformed + d->sink.lines_lost;
	for (unsigned i = 0; i < PM_DROP_MAX; i++) {
		total += k[i];
		if (pm_drop_names[i] && n < sizeof(kernel))
			n += snprintf(kernel + n, sizeof(kernel) - n, "%s%s=%llu", n ? " " : "",
				      pm_drop_names[i], (unsigned long long)k[i]);
	}
	pm_sink_report(&d->sink);
	pm_fleet_report(d->fleet, at_exit);
	report_detections(d, at_exit);
	if (!at_exit && !total)
		return;
	(total ? pm_log_warn : pm_log_info)(
		"%s: events lost: kernel %s, user space=%llu, malformed=%llu, output=%llu; "
		"events written: %llu; hashes skipped: %llu",
		at_exit ? "at exit" : "ongoing", kernel, (unsigned long long)d->reader.user_drops,
		(unsigned long long)d->reader.malformed, (unsigned long long)d->sink.lines_lost,
		(unsigned long long)d->sink.lines_written,
		(unsigned long long)pm_hasher_skipped(d->reader.hasher));
}

/* The metrics page's numbers, copied once per pass of the main loop. */
static void publish_metrics(struct daemon *d, uint64_t now)
{
	struct pm_metrics_snapshot s = { .published_ns = now };

	if (!d->metrics)
		return;
	if (d->loader && now >= d->kernel_lost_read_ns + NSEC_PER_SEC) {
		pm_loader_read_drops(d->loader, d->kernel_lost);
		d->kernel_lost_read_ns = now;
	}
	s.attached = d->attached;
	s.output_error = d->sink.last_error;
	memcpy(s.written, d->written, sizeof(s.written));
	memcpy(s.kernel_lost, d->kernel_lost, sizeof(s.kernel_lost));
	s.user_lost = d->reader.user_drops;
	s.malformed = d->reader.malformed;
	s.output_lost = d->sink.lines_lost;
	s.shaped_out = d->shaped_out;
	s.lines_written = d->sink.lines_written;
	s.bytes_written = d->sink.bytes_written;
	s.write_errors = d->sink.write_errors;
	s.rotations = d->sink.rotations;
	s.queued = d->reader.queue.len;
	if (d->reader.cache) {
		s.proc_cache_entries = pm_proc_cache_size(d->reader.cache);
		pm_proc_cache_stats(d->reader.cache, &s.proc_cache_hits, &s.proc_cache_misses);
	}
	if (d->reader.hasher) {
		s.hashing = true;
		pm_hasher_stats(d->reader.hasher, &s.hash);
	}
	if (d->fleet) {
		s.fleet = true;
		pm_fleet_stats(d->fleet, &s.fleet_stats);
	}
	s.sigma_rules = pm_detections_count(&d->det);
	memcpy(s.detections, d->det.by_level, sizeof(s.detections));
	s.detection_errors = d->det.errors;
	s.detection_evaluations = d->det.evaluated;
	s.detection_ns = d->det.eval_ns;
	pm_metrics_publish(d->metrics, &s);
}

static void reload_config(struct daemon *d);

static int run(struct daemon *d)
{
	uint64_t next_expire = 0, next_report = 0;
	uint64_t next_sweep = pm_clock_ns(CLOCK_MONOTONIC) + PM_SWEEP_NS;
	bool busy = false; /* the last pass read records */
	int err;

	while (!stop_requested) {
		uint64_t now;
		int timeout_ms = busy ? PM_POLL_BURST_MS : PM_POLL_MS, polled;

		/* short polls while an event waits for its hash */
		if (d->reader.queue.head && timeout_ms > PM_POLL_HASH_WAIT_MS)
			timeout_ms = PM_POLL_HASH_WAIT_MS;
		err = polled = ring_buffer__poll(d->rb, timeout_ms);
		if (err >= 0)
			err = ring_buffer__consume(d->rb);
		/* -EAGAIN: the reader paused on a full queue (PM_QUEUE_PAUSE) */
		busy = polled > 0 || err > 0 || err == -EAGAIN;
		if (err < 0 && err != -EINTR && err != -EAGAIN) {
			pm_log_error("reading the ring buffer: %s", strerror(-err));
			return EXIT_RUNTIME;
		}
		drain_events(d, false);
		/* a SIGTERM while the output blocks ends the loop, not the data */
		if (pm_sink_flush(&d->sink, &stop_requested) == -EPIPE)
			return EXIT_RUNTIME;
		if (d->fleet)
			pm_fleet_flush(d->fleet);
		if (reopen_requested) {
			char why[512];

			reopen_requested = 0;
			if (pm_sink_reopen(&d->sink, why, sizeof(why)))
				pm_log_error("not reopening the output: %s; still writing to the "
					     "file open before",
					     why);
			reload_config(d);
		}
		now = pm_clock_ns(CLOCK_MONOTONIC);
		if (now >= next_expire) {
			pm_proc_cache_expire(d->reader.cache, now, PM_EXITED_LINGER_NS);
			next_expire = now + NSEC_PER_SEC;
		}
		if (now >= next_sweep) {
			pm_proc_scan_sweep(&d->reader, now);
			next_sweep = now + PM_SWEEP_NS;
		}
		if (now >= next_report) {
			report_drops(d, false);
			next_report = now + PM_DROP_REPORT_NS;
		}
		publish_metrics(d, now);
		pm_service_watchdog(now);
	}
	d->attached = false;
	publish_metrics(d, pm_clock_ns(CLOCK_MONOTONIC));
	/*
	 * Stop: detach first so nothing is committed after the last read,
	 * take everything the kernel committed, let events waiting for a hash
	 * have the rest of their (bounded) wait, then write it all.
	 */
	pm_loader_detach(d->loader);
	while ((err = ring_buffer__consume(d->rb)) == -EAGAIN)
		drain_and_wait(d);
	pm_log_debug("stop: %d records read, %llu events queued", err,
		     (unsigned long long)d->reader.queue.len);
	while (d->reader.queue.head)
		drain_and_wait(d);
	if (pm_sink_flush_within(&d->sink, PM_FINAL_FLUSH_S * 1000) == -ETIMEDOUT) {
		pm_log_warn("output blocked for %d s at exit: giving up on what is left",
			    PM_FINAL_FLUSH_S);
		pm_sink_discard(&d->sink);
	}
	pm_fleet_stop(d->fleet, PM_FLEET_FINAL_MS);
	return 0;
}

static void collect_process(const struct pm_process *p, void *arg)
{
	struct pm_process ***w = arg;

	*(*w)++ = (struct pm_process *)p;
}

/* Oldest first, so that a consumer meets every parent before its children. */
static int by_start(const void *a, const void *b)
{
	const struct pm_process *x = *(struct pm_process *const *)a;
	const struct pm_process *y = *(struct pm_process *const *)b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * ExistingProcess: one event per process the /proc scan found, oldest
 * first, all queued for output before the ready line, and written as far
 * as the output takes them without waiting: a pipe nobody reads yet must
 * not hold back the ready line (its reader may be waiting for it). A
 * file has them all before the ready line.
 */
static int report_existing(struct daemon *d)
{
	size_t n = pm_proc_cache_size(d->reader.cache);
	struct pm_process **all = calloc(n ? n : 1, sizeof(*all)), **w = all;

	if (!all)
		return -ENOMEM;
	pm_proc_cache_for_each(d->reader.cache, collect_process, &w);
	n = w - all;
	qsort(all, n, sizeof(*all), by_start);
	for (size_t i = 0; i < n; i++)
		pm_reader_queue_process(&d->reader, PM_EVENT_EXISTING_PROCESS, all[i]);
	free(all);
	/* hashes have their usual bounded wait, then everything goes out */
	while (d->reader.queue.head)
		drain_and_wait(d);
	if (d->fleet)
		pm_fleet_flush(d->fleet);
	return pm_sink_flush_nowait(&d->sink) == -EPIPE ? -EPIPE : 0;
}

/* process_filter's binary verdict for a process the /proc scan found. */
static void seed_binary_filter(const struct pm_process *p, void *arg)
{
	struct daemon *d = arg;
	const struct pm_image *img = p->image;
	bool match = img && pm_filter_binary_matches(&d->cfg.process_filter,
						     img->filename ?: "", img->binary_path ?: "");
	int err = pm_loader_seed_process(d->loader, p->pid, match, d->reseeding);

	if (err && err != -ESRCH)
		pm_log_debug("seeding the filter for pid %u: %s", p->pid, strerror(-err));
}

/* cfg as --print-config writes it (malloc'd), or NULL. */
static char *config_text(const struct pm_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (pm_config_print(f, cfg)) {
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	return text;
}

/* Whether top-level key's block (its line and the indented ones after it)
 * differs between two --print-config texts. */
static bool block_differs(const char *a, const char *b, const char *key)
{
	const char *texts[2] = { a, b }, *start[2] = { NULL, NULL }, *end[2];
	size_t klen = strlen(key);

	for (int i = 0; i < 2; i++) {
		for (const char *line = texts[i]; line && *line;) {
			if (!strncmp(line, key, klen) && line[klen] == ':') {
				start[i] = line;
				break;
			}
			line = strchr(line, '\n');
			line = line ? line + 1 : NULL;
		}
		if (!start[i])
			continue;
		end[i] = strchr(start[i], '\n');
		while (end[i] && end[i][1] == ' ')
			end[i] = strchr(end[i] + 1, '\n');
		if (!end[i])
			end[i] = start[i] + strlen(start[i]);
	}
	if (!start[0] || !start[1])
		return start[0] != start[1];
	return end[0] - start[0] != end[1] - start[1] ||
	       memcmp(start[0], start[1], end[0] - start[0]);
}

#define SWAP(a, b)                        \
	do {                              \
		__typeof__(a) swap_tmp_ = (a); \
		(a) = (b);                \
		(b) = swap_tmp_;          \
	} while (0)

/* "key" appended to the list of keys a reload could not apply. */
static void note_key(char *list, size_t len, const char *key)
{
	size_t n = strlen(list);

	if (snprintf(list + n, len - n, "%s%s", n ? ", " : "", key) >= (int)(len - n))
		list[len - 1] = '\0'; /* cut short: the message says what it can */
}

/*
 * SIGHUP: read the configuration again (contract 3). A file that does not
 * parse, or that root must refuse, changes nothing. Of a good one, what
 * lives in maps and user-space flags takes effect now: the filters, the
 * hook switches whose programs are loaded, the derived events' lists,
 * process_environment.redact, output_shaping, caps_format, format and the
 * output rotation. What was fixed when the BPF programs were loaded (their
 * rodata, which programs load, the ring buffer) or opened at start (the
 * output file's path, metrics, nats) keeps its running value, and one line
 * names those keys: they need a restart.
 */
static void reload_config(struct daemon *d)
{
	static const char *const fixed_blocks[] = { "output", "ima_hash", "ring_buffer_kb",
						    "metrics", "nats" };
	const char *name = o_opts->config ? o_opts->config : "the built-in configuration";
	struct pm_config next = { 0 }, *old = &d->cfg;
	char err[512], restart[512] = "", *old_text = NULL, *new_text = NULL;
	bool patterns_changed;
	int ret;

	ret = o_opts->config ? pm_config_load_file(&next, o_opts->config, err, sizeof(err))
			     : pm_config_load_default(&next, err, sizeof(err));
	if (ret) {
		pm_log_error("SIGHUP: configuration not reloaded, the running one stays: %s", err);
		pm_config_free(&next);
		return;
	}
	if (apply_overrides(&next, o_opts) >= 0) {
		pm_log_error("SIGHUP: configuration not reloaded, the running one stays");
		pm_config_free(&next);
		return;
	}
	/* what only a restart changes: the running value stays */
	old_text = config_text(old);
	new_text = config_text(&next);
	for (size_t i = 0; i < sizeof(fixed_blocks) / sizeof(fixed_blocks[0]); i++)
		if (!old_text || !new_text || block_differs(old_text, new_text, fixed_blocks[i]))
			note_key(restart, sizeof(restart), fixed_blocks[i]);
	free(old_text);
	free(new_text);
	SWAP(next.output, old->output);
	SWAP(next.output_none, old->output_none);
	SWAP(next.hash, old->hash);
	SWAP(next.ring_buffer_kb, old->ring_buffer_kb);
	SWAP(next.metrics_listen, old->metrics_listen);
	SWAP(next.nats, old->nats);
	/* the blocks' switches, as each row's reload policy says (blocks.h) */
	for (size_t b = 1; b < PM_BLOCK_COUNT; b++) {
		bool *was = &old->block[b].enabled, *now = &next.block[b].enabled;
		bool live;

		if (*was == *now)
			continue;
		switch (pm_blocks[b].reload) {
		case PM_RELOAD_LIVE:
			live = true;
			break;
		case PM_RELOAD_LOADED: /* read in user space, over what is loaded */
			live = !*now || pm_config_block_loaded(old, b);
			break;
		default:
			live = false;
		}
		if (!live) {
			char key[64];

			snprintf(key, sizeof(key), "%s.enabled", pm_blocks[b].key);
			note_key(restart, sizeof(restart), key);
			*now = *was;
		}
	}
	/* the kernel's filters: maps and each object's flags */
	ret = pm_loader_update_filters(d->loader, &next, err, sizeof(err));
	if (ret == -EBUSY) {
		/* the filters go together: none of them changes */
		strncat(err, " (so every filter stays as it was)", sizeof(err) - strlen(err) - 1);
		note_key(restart, sizeof(restart), err);
		SWAP(next.process_filter, old->process_filter);
		for (size_t b = 0; b < PM_BLOCK_COUNT; b++)
			SWAP(next.block[b].cred_filter, old->block[b].cred_filter);
	} else if (ret) {
		pm_log_error("SIGHUP: %s: configuration not reloaded, the running one stays",
			     err);
		pm_config_free(&next);
		return;
	}
	patterns_changed = !ret; /* the new filters are in force */
	/* in force: next becomes the configuration, the old one is freed */
	SWAP(*old, next);
	pm_config_free(&next);
	d->render.caps_hex = old->caps_hex;
	if (old->format == PM_FORMAT_LIMACHARLIE && !d->render.users) {
		host_atom_key(d->render.atom_key);
		d->render.users = pm_users_load();
	}
	d->render_event = old->format == PM_FORMAT_LIMACHARLIE ? pm_render_limacharlie
							       : pm_render_bombini;
	if (old->detections.enabled != PM_DETECT_OFF && !d->render.users)
		d->render.users = pm_users_load();
	d->det.users = d->render.users;
	pm_detections_reload(&d->det, &old->detections);
	pm_sink_set_rotation(&d->sink, (uint64_t)old->output_max_mb << 20, old->output_backups,
			     old->output_compress);
	/* the running processes' binary verdicts, under the new patterns */
	if (patterns_changed && pm_loader_binary_filter(d->loader)) {
		d->reseeding = true;
		pm_proc_cache_for_each(d->reader.cache, seed_binary_filter, d);
		d->reseeding = false;
	}
	if (restart[0])
		pm_log_warn("SIGHUP: %s: %s change only at a restart; running with the values "
			    "procmon started with",
			    name, restart);
	pm_log_info("SIGHUP: configuration reloaded from %s", name);
}

/* Milliseconds since t0_ns (CLOCK_MONOTONIC), for -v's start-up timings. */
static double ms_since(uint64_t t0_ns)
{
	return (double)(pm_clock_ns(CLOCK_MONOTONIC) - t0_ns) / 1e6;
}

static int start(struct daemon *d)
{
	uint64_t t0 = pm_clock_ns(CLOCK_MONOTONIC);
	char msg[1024];
	int n, err;

	/*
	 * libbpf parses the kernel's BTF (~5 MiB, ~20 MiB of tables) once per
	 * BPF object, and the environment check once more. Served from fresh
	 * mmaps each time, every page of it is a page fault, which on this VM
	 * made up most of the load time; kept in the heap, each parse reuses
	 * the previous one's pages. Given back to the system after the load.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (pm_loader_check_environment(msg, sizeof(msg))) {
		pm_log_error("%s", msg);
		return EXIT_RUNTIME;
	}
	err = pm_sink_open(&d->sink, d->cfg.output, msg, sizeof(msg));
	if (err) {
		pm_log_error("output: %s", err == -ENOMEM ? strerror(ENOMEM) : msg);
		return EXIT_RUNTIME;
	}
	/* fleet identity in every event; the fleet output when configured */
	if (gethostname(d->hostname, sizeof(d->hostname) - 1))
		strcpy(d->hostname, "localhost");
	d->render.hostname = d->hostname;
	pm_event_ids_init(&d->ids);
	if (d->cfg.nats.enabled &&
	    (err = pm_fleet_open(&d->fleet, &d->cfg.nats, d->hostname, &d->ids, msg, sizeof(msg)))) {
		pm_log_error("%s: %s", o_config_name ? o_config_name : "configuration", msg);
		return err == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
	}
	if (d->cfg.output_max_mb && !d->cfg.output)
		pm_log_warn("output_max_mb: stdout is not rotated (it applies to an output file)");
	pm_sink_set_rotation(&d->sink, (uint64_t)d->cfg.output_max_mb << 20, d->cfg.output_backups,
			     d->cfg.output_compress);
	if (pm_reader_init(&d->reader, &d->cfg))
		return EXIT_RUNTIME;
	d->render.cap_last = read_cap_last();
	d->render.caps_hex = d->cfg.caps_hex;
	d->render_event = d->cfg.format == PM_FORMAT_LIMACHARLIE ? pm_render_limacharlie
								 : pm_render_bombini;
	if (d->cfg.format == PM_FORMAT_LIMACHARLIE) {
		host_atom_key(d->render.atom_key);
		d->render.users = pm_users_load();
	}
	json_init(&d->line);
	/* Sigma's User: names by uid, as LimaCharlie's USER_NAME */
	if (d->cfg.detections.enabled != PM_DETECT_OFF && !d->render.users)
		d->render.users = pm_users_load();
	err = pm_detections_load(&d->det, &d->cfg.detections, d->render.users, msg, sizeof(msg));
	if (err) {
		pm_log_error("%s: %s", o_config_name ? o_config_name : "configuration",
			     err == -ENOMEM ? strerror(ENOMEM) : msg);
		return err == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
	}

	err = pm_loader_open(&d->loader, &d->cfg,
			     pm_containers_v1_controller(d->reader.containers));
	mallopt(M_TRIM_THRESHOLD, 128 << 10);
	malloc_trim(0);
	if (err)
		return EXIT_RUNTIME;
	pm_log_debug("start-up: BPF loaded and attached at %.1f ms", ms_since(t0));
	d->rb = ring_buffer__new(pm_loader_ringbuf_fd(d->loader), pm_reader_on_record,
				 &d->reader, NULL);
	if (!d->rb) {
		pm_log_error("failed to create ring buffer reader: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (d->cfg.metrics_listen) {
		err = pm_metrics_start(&d->metrics, d->cfg.metrics_listen, PROCMON_VERSION,
				       d->cfg.output ? d->cfg.output : "stdout",
				       pm_loader_ringbuf_fd(d->loader),
				       (uint64_t)d->cfg.ring_buffer_kb << 10, msg, sizeof(msg));
		if (err) {
			pm_log_error("%s", msg);
			return EXIT_RUNTIME;
		}
		publish_metrics(d, pm_clock_ns(CLOCK_MONOTONIC));
	}
	/* after attaching, so no process falls between the scan and the hooks */
	n = pm_proc_scan(&d->reader);
	if (n < 0) {
		pm_log_error("scanning /proc: %s", strerror(-n));
		return EXIT_RUNTIME;
	}
	pm_log_debug("start-up: seeded %d processes from /proc at %.1f ms", n, ms_since(t0));
	if (pm_loader_binary_filter(d->loader))
		pm_proc_cache_for_each(d->reader.cache, seed_binary_filter, d);
	if (d->cfg.block[PM_BLOCK_EXISTING_PROCESS].enabled && report_existing(d)) {
		pm_log_error("writing the existing processes failed");
		return EXIT_RUNTIME;
	}
	pm_log_debug("start-up: ready at %.1f ms", ms_since(t0));
	/* healthy (and its metrics published) before anyone is told it is ready */
	d->attached = true;
	publish_metrics(d, pm_clock_ns(CLOCK_MONOTONIC));
	if (d->metrics)
		pm_log_info("metrics: serving http://%s/metrics and /healthz",
			    d->cfg.metrics_listen);
	pm_log_info("ready: %d processes known, writing events to %s%s%s", n,
		    d->cfg.output_none ? "no local output" : d->cfg.output ? d->cfg.output : "stdout",
		    d->fleet ? " and NATS " : "", d->fleet ? d->cfg.nats.servers[0] : "");
	pm_service_ready();
	return -1;
}

static void shutdown_daemon(struct daemon *d)
{
	pm_metrics_stop(d->metrics);
	if (d->loader)
		report_drops(d, true);
	ring_buffer__free(d->rb);
	pm_loader_close(d->loader);
	pm_reader_free(&d->reader);
	pm_detections_free(&d->det);
	pm_sink_close(&d->sink);
	pm_fleet_close(d->fleet);
	json_free(&d->line);
	pm_users_free((struct pm_users *)d->render.users);
	pm_config_free(&d->cfg);
}

/*
 * Started with a standard descriptor closed (`procmon >&-`), the first
 * file procmon opens would become fd 0, 1 or 2, and events or messages
 * would go into it. Fill the gaps with /dev/null; say whether stdout was
 * there at all (events to a closed stdout would be lost, not written).
 */
static bool stdout_was_open(void)
{
	bool open_1 = true;

	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == STDOUT_FILENO)
			open_1 = false;
		/* the lowest free descriptor: this one */
		if (open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			abort();
	}
	return open_1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct options opts = { 0 };
	struct daemon d = { 0 };
	bool have_stdout = stdout_was_open();
	int ret;

	ret = pm_sigma_cli(argc, argv); /* --check-rules, --replay: no daemon */
	if (ret >= 0)
		return ret;
	ret = parse_args(argc, argv, &opts);
	if (ret >= 0)
		return ret;
	ret = load_config(&d.cfg, &opts);
	o_config_name = opts.config;
	o_opts = &opts;
	if (ret < 0 && (opts.check_config || opts.print_config)) {
		/* --check-config, --print-config: nothing is started */
		ret = 0;
		if (opts.print_config && pm_config_print(stdout, &d.cfg))
			ret = EXIT_RUNTIME;
		if (!ret && opts.check_config)
			fprintf(opts.print_config ? stderr : stdout, "%s: ok\n", opts.check_config);
	}
	if (ret < 0 && !d.cfg.output && !d.cfg.output_none && !have_stdout) {
		pm_log_error("standard output is closed: no place for the events "
			     "(give --output FILE, or an open stdout)");
		ret = EXIT_RUNTIME;
	}
	if (ret >= 0) {
		pm_config_free(&d.cfg);
		return ret;
	}
	/* no SA_RESTART: a signal must interrupt the ring-buffer poll */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* past a file-size limit, a write fails with EFBIG and is counted,
	 * instead of the default action killing the sensor */
	signal(SIGXFSZ, SIG_IGN);

	ret = start(&d);
	if (ret < 0)
		ret = run(&d);
	shutdown_daemon(&d);
	return ret;
}
