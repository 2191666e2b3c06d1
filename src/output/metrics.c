// SPDX-License-Identifier: GPL-2.0
/*
 * /metrics and /healthz (metrics.h). The page is rendered on request, in
 * libmicrohttpd's thread, from the snapshot the main loop last published.
 */
#include "output/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/timefmt.h"
#include "base/event_info.h"

#define CONNECTIONS_MAX 16
#define CONNECTION_TIMEOUT_S 10

struct pm_metrics {
	struct MHD_Daemon *httpd;
	int listen_fd;
	pthread_mutex_t lock;
	struct pm_metrics_snapshot snap; /* under lock */
	char *version, *output;
	double start_time; /* Unix seconds */
	/* the ring buffer's consumer and producer positions, mapped read-only */
	void *ring_pos;
	size_t ring_pos_len;
	uint64_t ring_bytes;
};

/* metrics.listen: "ADDRESS:PORT", an IPv4 or a bracketed IPv6 literal
 * (a name would need a resolver at start and could mean anything). */
int pm_listen_parse(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(s, ':'), *h = s, *end;
	unsigned char addr[16];
	char *e;
	unsigned long v;
	size_t n;
	int family = AF_INET;

	if (!colon || !colon[1])
		return -EINVAL;
	end = colon;
	if (*h == '[') {
		if (end == h || end[-1] != ']')
			return -EINVAL;
		h++;
		end--;
		family = AF_INET6;
	}
	n = (size_t)(end - h);
	if (!n || n >= hostlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = 0;
	if (inet_pton(family, host, addr) != 1)
		return -EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &e, 10);
	if (*e || errno || v < 1 || v > 65535 || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	*port = (uint16_t)v;
	return family;
}

/* ---- the page ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *labels, uint64_t v)
{
	fprintf(f, "%s%s %llu\n", name, labels, (unsigned long long)v);
}

/* Label values here are fixed words (the event table's names, the drop
 * categories' and the version), but escaped all the same. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* One sample of a family counted by event type (ProcessEvent by sub-type). */
static void type_sample(FILE *f, const char *name, const struct pm_event_info *e, uint64_t v)
{
	fprintf(f, "%s{type=\"", name);
	label_value(f, e->native);
	if (e->subtype) {
		fputs("\",subtype=\"", f);
		label_value(f, e->subtype);
	}
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

static uint64_t ring_used(const struct pm_metrics *m)
{
	const unsigned long *pos = m->ring_pos;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long cons, prod;


	if (!pos)
		return 0;
	cons = __atomic_load_n(pos, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n((const unsigned long *)((const char *)pos + page), __ATOMIC_ACQUIRE);
	return prod >= cons ? prod - cons : 0;
}

/* What a scrape writes: the snapshot, and what the page adds to it. */
struct scrape {
	struct pm_metrics_snapshot s;
	uint64_t kernel_lost; /* all categories */
	uint64_t ring_bytes, ring_used;
};

/* One family of counters or gauges: its samples' labels ("" for one
 * without) and where in struct scrape each value (uint64_t) is. */
struct family_row {
	const char *name, *type, *help;
	struct {
		const char *labels;
		size_t off;
	} samples[5];
};

#define AT(member) offsetof(struct scrape, member)
#define ONE(member) { { "", AT(member) } }

static const struct family_row counts[] = {
	{ "procmon_events_lost_total", "counter",
	  "Events lost, by stage: kernel (ring buffer full), user_space (no memory), "
	  "malformed (records failing validation), output (lines not written).",
	  { { "{stage=\"kernel\"}", AT(kernel_lost) },
	    { "{stage=\"user_space\"}", AT(s.user_lost) },
	    { "{stage=\"malformed\"}", AT(s.malformed) },
	    { "{stage=\"output\"}", AT(s.output_lost) } } },
	{ "procmon_events_shaped_out_total", "counter",
	  "Events output_shaping left out of the output on purpose (not lost).", ONE(s.shaped_out) },
	{ "procmon_sigma_rules_loaded", "gauge", "Sigma rules in force (detections; 0: off).",
	  ONE(s.sigma_rules) },
	{ "procmon_detections_total", "counter",
	  "Detection events: a Sigma rule matched a ProcessExec, by the rule's level.",
	  { { "{level=\"informational\"}", AT(s.detections[PM_SIGMA_INFORMATIONAL]) },
	    { "{level=\"low\"}", AT(s.detections[PM_SIGMA_LOW]) },
	    { "{level=\"medium\"}", AT(s.detections[PM_SIGMA_MEDIUM]) },
	    { "{level=\"high\"}", AT(s.detections[PM_SIGMA_HIGH]) },
	    { "{level=\"critical\"}", AT(s.detections[PM_SIGMA_CRITICAL]) } } },
	{ "procmon_detection_evaluations_total", "counter",
	  "ProcessExec events the Sigma rules were evaluated on.", ONE(s.detection_evaluations) },
	{ "procmon_detection_errors_total", "counter",
	  "ProcessExec events the Sigma rules could not be evaluated on (no memory).",
	  ONE(s.detection_errors) },
	{ "procmon_ring_buffer_size_bytes", "gauge", "Size of the BPF ring buffer.",
	  ONE(ring_bytes) },
	{ "procmon_ring_buffer_used_bytes", "gauge",
	  "Bytes committed to the ring buffer and not yet read, at the time of the scrape.",
	  ONE(ring_used) },
	{ "procmon_event_queue_length", "gauge",
	  "Decoded events waiting for output (for a hash, at most 300 ms).", ONE(s.queued) },
	{ "procmon_process_cache_entries", "gauge", "Processes in the process cache.",
	  ONE(s.proc_cache_entries) },
	{ "procmon_process_cache_lookups_total", "counter", "Process cache lookups, by result.",
	  { { "{result=\"hit\"}", AT(s.proc_cache_hits) },
	    { "{result=\"miss\"}", AT(s.proc_cache_misses) } } },
	{ "procmon_hash_cache_entries", "gauge", "Binary hashes in the hash cache.",
	  ONE(s.hash.cached) },
	{ "procmon_hash_cache_lookups_total", "counter",
	  "Hash cache lookups, by result (miss: a new file to hash).",
	  { { "{result=\"hit\"}", AT(s.hash.hits) }, { "{result=\"miss\"}", AT(s.hash.misses) } } },
	{ "procmon_hashes_total", "counter",
	  "Files the hash worker finished, by result; skipped: never hashed (too large, "
	  "queue full).",
	  { { "{result=\"done\"}", AT(s.hash.hashed) },
	    { "{result=\"failed\"}", AT(s.hash.failed) },
	    { "{result=\"skipped\"}", AT(s.hash.skipped) } } },
};

static const struct family_row output_counts[] = {
	{ "procmon_output_lines_total", "counter", "Lines that reached the output.",
	  ONE(s.lines_written) },
	{ "procmon_output_bytes_total", "counter", "Bytes that reached the output.",
	  ONE(s.bytes_written) },
	{ "procmon_output_write_errors_total", "counter", "Writes to the output that failed.",
	  ONE(s.write_errors) },
	{ "procmon_output_rotations_total", "counter",
	  "Rotations of the output file by output_max_mb.", ONE(s.rotations) },
};

/* The NATS JetStream output (docs/fleet.md), when it is on. */
static const struct family_row fleet_counts[] = {
	{ "procmon_fleet_published_total", "counter", "Events sent to NATS JetStream.",
	  ONE(s.fleet_stats.published) },
	{ "procmon_fleet_acknowledged_total", "counter", "Events JetStream acknowledged (stored).",
	  ONE(s.fleet_stats.acknowledged) },
	{ "procmon_fleet_pending", "gauge", "Events sent and not yet acknowledged.",
	  ONE(s.fleet_stats.pending) },
	{ "procmon_fleet_spooled", "gauge", "Events in the spool, not yet acknowledged.",
	  ONE(s.fleet_stats.spooled) },
	{ "procmon_fleet_spool_bytes", "gauge", "Bytes of the spool on disk.",
	  ONE(s.fleet_stats.spooled_bytes) },
	{ "procmon_fleet_dropped_total", "counter",
	  "Events the fleet output lost, by cause: spool_bound (the oldest, past "
	  "spool_max_mb), damaged_spool, spool_write, refused (by the server).",
	  { { "{cause=\"spool_bound\"}", AT(s.fleet_stats.dropped_bound) },
	    { "{cause=\"damaged_spool\"}", AT(s.fleet_stats.dropped_damaged) },
	    { "{cause=\"spool_write\"}", AT(s.fleet_stats.dropped_write) },
	    { "{cause=\"refused\"}", AT(s.fleet_stats.refused) } } },
	{ "procmon_fleet_reconnects_total", "counter", "Reconnections to the NATS servers.",
	  ONE(s.fleet_stats.reconnects) },
	{ "procmon_fleet_duplicates_total", "counter",
	  "Resends JetStream recognised as already stored (Nats-Msg-Id).",
	  ONE(s.fleet_stats.duplicates) },
	{ "procmon_fleet_messages_total", "counter",
	  "Messages sent to NATS JetStream: batches of events (nats.message: batch) or "
	  "single events.",
	  ONE(s.fleet_stats.messages) },
	{ "procmon_fleet_line_bytes_total", "counter",
	  "Bytes of event lines put into messages, before compression.",
	  ONE(s.fleet_stats.line_bytes) },
	{ "procmon_fleet_body_bytes_total", "counter",
	  "Bytes of the message bodies those lines became (zstd, or as they were).",
	  ONE(s.fleet_stats.body_bytes) },
};

/* A gauge of num / den (none when den is 0). */
static void ratio(FILE *f, const char *name, const char *help, uint64_t num, uint64_t den,
		  double none)
{
	family(f, name, "gauge", help);
	fprintf(f, "%s %.3f\n", name, den ? (double)num / (double)den : none);
}

static void families(FILE *f, const struct family_row *rows, size_t n, const struct scrape *sc)
{
	for (size_t i = 0; i < n; i++) {
		family(f, rows[i].name, rows[i].type, rows[i].help);
		for (size_t k = 0; k < 5 && rows[i].samples[k].labels; k++)
			sample(f, rows[i].name, rows[i].samples[k].labels,
			       *(const uint64_t *)((const char *)sc + rows[i].samples[k].off));
	}
}

#define FAMILIES(f, rows, sc) families(f, rows, sizeof(rows) / sizeof(rows[0]), sc)

static void render(FILE *f, const struct pm_metrics *m, const struct pm_metrics_snapshot *s)
{
	struct scrape sc = { .s = *s, .ring_bytes = m->ring_bytes, .ring_used = ring_used(m) };

	family(f, "procmon_build_info", "gauge", "procmon's version, as the value of the label.");
	fputs("procmon_build_info{version=\"", f);
	label_value(f, m->version);
	fputs("\"} 1\n", f);
	family(f, "procmon_start_time_seconds", "gauge", "When procmon started, in Unix seconds.");
	fprintf(f, "procmon_start_time_seconds %.3f\n", m->start_time);
	family(f, "procmon_probes_attached", "gauge",
	       "1 while every probe is attached, 0 before and after.");
	sample(f, "procmon_probes_attached", "", s->attached);

	family(f, "procmon_events_written_total", "counter",
	       "Events rendered and queued for the output, by type (ProcessEvent by sub-type).");
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++) {
		const struct pm_event_info *e = pm_event_info(t);

		if (e && e->native)
			type_sample(f, "procmon_events_written_total", e, s->written[t]);
	}

	family(f, "procmon_kernel_events_lost_total", "counter",
	       "Events the kernel side could not put in the ring buffer, by hook family.");
	for (unsigned i = 0; i < PM_DROP_MAX; i++) {
		sc.kernel_lost += s->kernel_lost[i];
		if (!pm_drop_names[i])
			continue;
		fputs("procmon_kernel_events_lost_total{category=\"", f);
		label_value(f, pm_drop_names[i]);
		fprintf(f, "\"} %llu\n", (unsigned long long)s->kernel_lost[i]);
	}
	family(f, "procmon_events_repeated_total", "counter",
	       "Events repeat_limit held back, counted in RepeatedEvents summaries (not lost), "
	       "by type.");
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++) {
		const struct pm_event_info *e = pm_event_info(t);

		/* what repeat_limit applies to: the kernel's, not the lifecycle */
		if (e && e->native && e->record != PM_RECORD_NONE && t != PM_EVENT_REPEATS &&
		    t != PM_EVENT_EXEC && t != PM_EVENT_CLONE && t != PM_EVENT_EXIT)
			type_sample(f, "procmon_events_repeated_total", e, s->repeated[t]);
	}
	FAMILIES(f, counts, &sc);
	family(f, "procmon_detection_seconds_total", "counter",
	       "CPU time spent evaluating the Sigma rules (not writing the Detections), "
	       "from every 8th evaluation's.");
	fprintf(f, "procmon_detection_seconds_total %.6f\n", (double)s->detection_ns / 1e9);
	family(f, "procmon_hash_seconds_total", "counter", "Time the hash worker spent hashing.");
	fprintf(f, "procmon_hash_seconds_total %.6f\n", (double)s->hash.hash_ns / 1e9);
	FAMILIES(f, output_counts, &sc);
	if (s->fleet) {
		const struct pm_fleet_stats *fs = &s->fleet_stats;

		FAMILIES(f, fleet_counts, &sc);
		ratio(f, "procmon_fleet_events_per_message",
		      "Events per message sent so far (published_total / messages_total).",
		      fs->published, fs->messages, 0.0);
		ratio(f, "procmon_fleet_compression_ratio",
		      "line_bytes_total / body_bytes_total: 1 without compression.", fs->line_bytes,
		      fs->body_bytes, 1.0);
	}
}

/* NULL when healthy, else the reason (static or in buf). */
static const char *unhealthy(const struct pm_metrics *m, const struct pm_metrics_snapshot *s,
			     char *buf, size_t len)
{
	uint64_t now = pm_clock_ns(CLOCK_MONOTONIC);

	if (!s->attached)
		return "probes not attached";
	if (now > s->published_ns + PM_METRICS_STALL_NS) {
		snprintf(buf, len, "main loop stalled for %llu s",
			 (unsigned long long)((now - s->published_ns) / 1000000000ull));
		return buf;
	}
	if (s->output_error) {
		snprintf(buf, len, "the last write to the output %s failed: %s", m->output,
			 strerror(-s->output_error));
		return buf;
	}
	return NULL;
}

/* ---- HTTP ---- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, char *body, size_t len,
			       const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *body = strdup(msg);

	return body ? respond(c, status, body, strlen(body), "text/plain; charset=utf-8") : MHD_NO;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct pm_metrics *m = cls;
	struct pm_metrics_snapshot s;
	char reason[512], *body = NULL;
	const char *why;
	size_t len = 0;
	FILE *f;

	(void)version;
	(void)upload;
	(void)state;
	if (*upload_len) /* a body nobody asked for: swallow it, answer at the end */
		return *upload_len = 0, MHD_YES;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/metrics") && strcmp(url, "/healthz"))
		return text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz\n");

	pthread_mutex_lock(&m->lock);
	s = m->snap;
	pthread_mutex_unlock(&m->lock);

	if (!strcmp(url, "/healthz")) {
		char line[sizeof(reason) + 1];

		why = unhealthy(m, &s, reason, sizeof(reason));
		if (!why)
			return text(c, MHD_HTTP_OK, "ok\n");
		snprintf(line, sizeof(line), "%s\n", why);
		return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, line);
	}
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	render(f, m, &s);
	if (fclose(f)) {
		free(body);
		return MHD_NO;
	}
	return respond(c, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- life cycle ---- */

static int listen_on(const char *addr, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1];
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	uint16_t port;
	int family = pm_listen_parse(addr, host, sizeof(host), &port), fd, one = 1, err;

	if (family < 0) {
		snprintf(why, whylen, "metrics.listen: '%s' is not ADDRESS:PORT", addr);
		return -EINVAL;
	}
	ss.ss_family = family;
	if (family == AF_INET) {
		in4->sin_port = htons(port);
		inet_pton(AF_INET, host, &in4->sin_addr);
	} else {
		in6->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &in6->sin6_addr);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(*in4) : sizeof(*in6)) || listen(fd, 16))
		goto fail;
	return fd;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	snprintf(why, whylen, "metrics: cannot listen on %s: %s", addr, strerror(err));
	return -err;
}

int pm_metrics_start(struct pm_metrics **out, const char *listen, const char *version,
		     const char *output, int ring_fd, uint64_t ring_bytes, char *why,
		     size_t whylen)
{
	struct pm_metrics *m = calloc(1, sizeof(*m));
	sigset_t all, old;
	struct timespec now;
	long page = sysconf(_SC_PAGESIZE);
	int err;

	*out = NULL;
	if (m)
		m->listen_fd = -1;
	if (!m || !(m->version = strdup(version)) || !(m->output = strdup(output))) {
		snprintf(why, whylen, "metrics: %s", strerror(ENOMEM));
		err = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&m->lock, NULL);
	clock_gettime(CLOCK_REALTIME, &now);
	m->start_time = now.tv_sec + now.tv_nsec / 1e9;
	m->ring_bytes = ring_bytes;
	if (ring_fd >= 0) { /* consumer page, then producer page: read-only */
		m->ring_pos = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, ring_fd, 0);
		if (m->ring_pos == MAP_FAILED)
			m->ring_pos = NULL;
		else
			m->ring_pos_len = 2 * page;
	}
	m->listen_fd = listen_on(listen, why, whylen);
	if (m->listen_fd < 0) {
		err = m->listen_fd;
		goto fail;
	}
	/* the server's threads must leave every signal to the main loop */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
				    handle, m, MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->httpd) {
		snprintf(why, whylen, "metrics: cannot start the HTTP server on %s", listen);
		err = -EIO;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	pm_metrics_stop(m);
	return err;
}

void pm_metrics_publish(struct pm_metrics *m, const struct pm_metrics_snapshot *s)
{
	pthread_mutex_lock(&m->lock);
	m->snap = *s;
	pthread_mutex_unlock(&m->lock);
}

void pm_metrics_stop(struct pm_metrics *m)
{
	if (!m)
		return;
	if (m->httpd)
		MHD_stop_daemon(m->httpd); /* closes the listening socket */
	else if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->ring_pos)
		munmap(m->ring_pos, m->ring_pos_len);
	if (m->version)
		pthread_mutex_destroy(&m->lock);
	free(m->version);
	free(m->output);
	free(m);
}
