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

#include "collect/event.h"

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

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
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

/* The NATS JetStream output (docs/fleet.md), when it is on. */
static void render_fleet(FILE *f, const struct pm_fleet_stats *s)
{
	family(f, "procmon_fleet_published_total", "counter", "Events sent to NATS JetStream.");
	sample(f, "procmon_fleet_published_total", "", s->published);
	family(f, "procmon_fleet_acknowledged_total", "counter",
	       "Events JetStream acknowledged (stored).");
	sample(f, "procmon_fleet_acknowledged_total", "", s->acknowledged);
	family(f, "procmon_fleet_pending", "gauge", "Events sent and not yet acknowledged.");
	sample(f, "procmon_fleet_pending", "", s->pending);
	family(f, "procmon_fleet_spooled", "gauge", "Events in the spool, not yet acknowledged.");
	sample(f, "procmon_fleet_spooled", "", s->spooled);
	family(f, "procmon_fleet_spool_bytes", "gauge", "Bytes of the spool on disk.");
	sample(f, "procmon_fleet_spool_bytes", "", s->spooled_bytes);
	family(f, "procmon_fleet_dropped_total", "counter",
	       "Events the fleet output lost, by cause: spool_bound (the oldest, past "
	       "spool_max_mb), damaged_spool, spool_write, refused (by the server).");
	sample(f, "procmon_fleet_dropped_total", "{cause=\"spool_bound\"}", s->dropped_bound);
	sample(f, "procmon_fleet_dropped_total", "{cause=\"damaged_spool\"}", s->dropped_damaged);
	sample(f, "procmon_fleet_dropped_total", "{cause=\"spool_write\"}", s->dropped_write);
	sample(f, "procmon_fleet_dropped_total", "{cause=\"refused\"}", s->refused);
	family(f, "procmon_fleet_reconnects_total", "counter", "Reconnections to the NATS servers.");
	sample(f, "procmon_fleet_reconnects_total", "", s->reconnects);
	family(f, "procmon_fleet_duplicates_total", "counter",
	       "Resends JetStream recognised as already stored (Nats-Msg-Id).");
	sample(f, "procmon_fleet_duplicates_total", "", s->duplicates);
}

static void render(FILE *f, const struct pm_metrics *m, const struct pm_metrics_snapshot *s)
{
	uint64_t kernel = 0;

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

		if (!e || !e->native)
			continue;
		fputs("procmon_events_written_total{type=\"", f);
		label_value(f, e->native);
		if (e->subtype) {
			fputs("\",subtype=\"", f);
			label_value(f, e->subtype);
		}
		fprintf(f, "\"} %llu\n", (unsigned long long)s->written[t]);
	}

	family(f, "procmon_kernel_events_lost_total", "counter",
	       "Events the kernel side could not put in the ring buffer, by hook family.");
	for (unsigned i = 0; i < PM_DROP_MAX; i++) {
		kernel += s->kernel_lost[i];
		if (!pm_drop_names[i])
			continue;
		fputs("procmon_kernel_events_lost_total{category=\"", f);
		label_value(f, pm_drop_names[i]);
		fprintf(f, "\"} %llu\n", (unsigned long long)s->kernel_lost[i]);
	}
	family(f, "procmon_events_lost_total", "counter",
	       "Events lost, by stage: kernel (ring buffer full), user_space (no memory), "
	       "malformed (records failing validation), output (lines not written).");
	sample(f, "procmon_events_lost_total", "{stage=\"kernel\"}", kernel);
	sample(f, "procmon_events_lost_total", "{stage=\"user_space\"}", s->user_lost);
	sample(f, "procmon_events_lost_total", "{stage=\"malformed\"}", s->malformed);
	sample(f, "procmon_events_lost_total", "{stage=\"output\"}", s->output_lost);

	family(f, "procmon_events_shaped_out_total", "counter",
	       "Events output_shaping left out of the output on purpose (not lost).");
	sample(f, "procmon_events_shaped_out_total", "", s->shaped_out);

	family(f, "procmon_sigma_rules_loaded", "gauge",
	       "Sigma rules in force (detections; 0: off).");
	sample(f, "procmon_sigma_rules_loaded", "", s->sigma_rules);
	family(f, "procmon_detections_total", "counter",
	       "Detection events: a Sigma rule matched a ProcessExec, by the rule's level.");
	for (unsigned l = 0; l <= PM_SIGMA_CRITICAL; l++) {
		fprintf(f, "procmon_detections_total{level=\"%s\"} %llu\n",
			pm_sigma_level_name(l), (unsigned long long)s->detections[l]);
	}
	family(f, "procmon_detection_evaluations_total", "counter",
	       "ProcessExec events the Sigma rules were evaluated on.");
	sample(f, "procmon_detection_evaluations_total", "", s->detection_evaluations);
	family(f, "procmon_detection_seconds_total", "counter",
	       "Time spent evaluating the Sigma rules (not writing the Detections).");
	fprintf(f, "procmon_detection_seconds_total %.6f\n", (double)s->detection_ns / 1e9);
	family(f, "procmon_detection_errors_total", "counter",
	       "ProcessExec events the Sigma rules could not be evaluated on (no memory).");
	sample(f, "procmon_detection_errors_total", "", s->detection_errors);

	family(f, "procmon_ring_buffer_size_bytes", "gauge", "Size of the BPF ring buffer.");
	sample(f, "procmon_ring_buffer_size_bytes", "", m->ring_bytes);
	family(f, "procmon_ring_buffer_used_bytes", "gauge",
	       "Bytes committed to the ring buffer and not yet read, at the time of the scrape.");
	sample(f, "procmon_ring_buffer_used_bytes", "", ring_used(m));
	family(f, "procmon_event_queue_length", "gauge",
	       "Decoded events waiting for output (for a hash, at most 300 ms).");
	sample(f, "procmon_event_queue_length", "", s->queued);

	family(f, "procmon_process_cache_entries", "gauge", "Processes in the process cache.");
	sample(f, "procmon_process_cache_entries", "", s->proc_cache_entries);
	family(f, "procmon_process_cache_lookups_total", "counter",
	       "Process cache lookups, by result.");
	sample(f, "procmon_process_cache_lookups_total", "{result=\"hit\"}", s->proc_cache_hits);
	sample(f, "procmon_process_cache_lookups_total", "{result=\"miss\"}", s->proc_cache_misses);

	family(f, "procmon_hash_cache_entries", "gauge", "Binary hashes in the hash cache.");
	sample(f, "procmon_hash_cache_entries", "", s->hash.cached);
	family(f, "procmon_hash_cache_lookups_total", "counter",
	       "Hash cache lookups, by result (miss: a new file to hash).");
	sample(f, "procmon_hash_cache_lookups_total", "{result=\"hit\"}", s->hash.hits);
	sample(f, "procmon_hash_cache_lookups_total", "{result=\"miss\"}", s->hash.misses);
	family(f, "procmon_hashes_total", "counter",
	       "Files the hash worker finished, by result; skipped: never hashed (too large, "
	       "queue full).");
	sample(f, "procmon_hashes_total", "{result=\"done\"}", s->hash.hashed);
	sample(f, "procmon_hashes_total", "{result=\"failed\"}", s->hash.failed);
	sample(f, "procmon_hashes_total", "{result=\"skipped\"}", s->hash.skipped);
	family(f, "procmon_hash_seconds_total", "counter", "Time the hash worker spent hashing.");
	fprintf(f, "procmon_hash_seconds_total %.6f\n", (double)s->hash.hash_ns / 1e9);

	family(f, "procmon_output_lines_total", "counter", "Lines that reached the output.");
	sample(f, "procmon_output_lines_total", "", s->lines_written);
	family(f, "procmon_output_bytes_total", "counter", "Bytes that reached the output.");
	sample(f, "procmon_output_bytes_total", "", s->bytes_written);
	family(f, "procmon_output_write_errors_total", "counter", "Writes to the output that failed.");
	sample(f, "procmon_output_write_errors_total", "", s->write_errors);
	family(f, "procmon_output_rotations_total", "counter",
	       "Rotations of the output file by output_max_mb.");
	sample(f, "procmon_output_rotations_total", "", s->rotations);
	if (s->fleet)
		render_fleet(f, &s->fleet_stats);
}

/* NULL when healthy, else the reason (static or in buf). */
static const char *unhealthy(const struct pm_metrics *m, const struct pm_metrics_snapshot *s,
			     char *buf, size_t len)
{
	uint64_t now = mono_ns();

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
