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
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "collect/proc_scan.h"
#include "log.h"
#include "service.h"
#include "base/timefmt.h"
#include "version.h" /* generated: build/version.h */

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
static volatile sig_atomic_t reopen_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_requested = 1;
	else
		stop_requested = 1;
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

/* The local output's line: the rendered one, or for --format compact its
 * compact form (the fleet output keeps the JSON: machines read it). */
static void sink_line(struct daemon *d)
{
	if (d->cfg.format != PM_FORMAT_COMPACT) {
		pm_sink_line(&d->sink, d->line.buf.data, d->line.buf.len);
		return;
	}
	d->compact_line.len = 0;
	d->compact_line.oom = false; /* one line that did not fit: only it is lost */
	if (pm_compact_line(&d->compact_line, d->line.buf.data, d->line.buf.len, &d->compact) ||
	    d->compact_line.oom) {
		d->reader.user_drops++;
		return;
	}
	/* the sink adds the newline */
	pm_sink_line(&d->sink, d->compact_line.data, d->compact_line.len - 1);
}

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
			sink_line(d);
		if (d->fleet)
			pm_fleet_line(d->fleet, d->event_type[ev->type], d->line.buf.data,
				      d->line.buf.len, d->event_id);
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
		pm_detections_ns_per_exec(&d->det) / 1e3,
		(unsigned long long)d->det.errors);
}

/* Every loss, kernel and user space: logged every PM_DROP_REPORT_NS while
 * any is non-zero (so a log reader sees it whenever it looks), and at exit. */
static void report_drops(struct daemon *d, bool at_exit)
{
	uint64_t k[PM_DROP_MAX] = { 0 }, total, repeated = 0;
	char kernel[512];
	size_t n = 0;

	pm_loader_read_drops(d->loader, k);
	total = d->reader.user_drops + d->reader.malformed + d->sink.lines_lost;
	for (unsigned i = 0; i < PM_EVENT_TYPE_END; i++)
		repeated += d->reader.repeated[i];
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
		"events written: %llu; repeats summarised: %llu; hashes skipped: %llu",
		at_exit ? "at exit" : "ongoing", kernel, (unsigned long long)d->reader.user_drops,
		(unsigned long long)d->reader.malformed, (unsigned long long)d->sink.lines_lost,
		(unsigned long long)d->sink.lines_written, (unsigned long long)repeated,
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
	memcpy(s.repeated, d->reader.repeated, sizeof(s.repeated));
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
	/* estimated from the timed evaluations */
	s.detection_ns = (uint64_t)(pm_detections_ns_per_exec(&d->det) * (double)d->det.evaluated);
	pm_metrics_publish(d->metrics, &s);
}

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
		/* and in time for a batch of the fleet output that is due */
		timeout_ms = pm_fleet_poll_ms(d->fleet, timeout_ms);
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
			pm_daemon_reload(d);
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
		pm_log_error("%s: %s", d->opts->config ? d->opts->config : "configuration", msg);
		return err == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
	}
	if (d->cfg.output_max_mb && !d->cfg.output)
		pm_log_warn("output_max_mb: stdout is not rotated (it applies to an output file)");
	if (pm_reader_init(&d->reader, &d->cfg))
		return EXIT_RUNTIME;
	d->render.cap_last = read_cap_last();
	json_init(&d->line);
	/* the rules before the BPF load: a set that cannot detect stops here */
	err = pm_detections_load(&d->det, &d->cfg.detections, NULL, msg, sizeof(msg));
	if (err) {
		pm_log_error("%s: %s", d->opts->config ? d->opts->config : "configuration",
			     err == -ENOMEM ? strerror(ENOMEM) : msg);
		return err == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
	}
	pm_buf_init(&d->compact_line);

	err = pm_loader_open(&d->loader, &d->cfg,
			     pm_containers_v1_controller(d->reader.containers));
	mallopt(M_TRIM_THRESHOLD, 128 << 10);
	malloc_trim(0);
	if (err)
		return EXIT_RUNTIME;
	pm_log_debug("start-up: BPF loaded and attached at %.1f ms", ms_since(t0));
	if (d->cfg.hash) {
		err = pm_pinner_start(&d->reader.pinner, pm_loader_pins_fd(d->loader),
				      pm_loader_proc_info_fd(d->loader), true);
		if (err) {
			pm_log_error("starting the pin thread: %s", strerror(-err));
			return EXIT_RUNTIME;
		}
		d->reader.known_fd = pm_loader_known_files_fd(d->loader);
	}
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
	/* the renderer, the rotation, process_filter's verdicts: as a reload does */
	pm_daemon_apply(d, PM_SEED_FIRST);
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
	pm_pinner_stop(d->reader.pinner);
	d->reader.pinner = NULL;
	d->reader.known_fd = -1;
	pm_loader_close(d->loader);
	pm_reader_free(&d->reader);
	pm_detections_free(&d->det);
	pm_sink_close(&d->sink);
	pm_fleet_close(d->fleet);
	json_free(&d->line);
	pm_buf_free(&d->compact_line);
	pm_users_free((struct pm_users *)d->render.users);
	pm_users_free(d->compact_users);
	pm_config_free(&d->cfg);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct options opts = { .color = -1 };
	struct daemon d = { 0 };
	bool have_stdout = pm_cli_stdout_was_open();
	int ret;

	ret = pm_cli_parse(argc, argv, &opts);
	if (ret >= 0)
		return ret;
	ret = pm_cli_load_config(&d.cfg, &opts);
	d.opts = &opts;
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

