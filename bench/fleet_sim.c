// SPDX-License-Identifier: GPL-2.0
/*
 * fleet_sim: many simulated procmon hosts publishing to one NATS
 * JetStream cluster, through procmon's own fleet output and spool (linked
 * in, not reimplemented), so what is measured is what ships.
 *
 * Each host has its own connection, host name, spool directory, run id
 * and seq, and replays real procmon events (a sample file of Bombini
 * lines recorded by build/procmon) with its own identity at a set rate.
 * Hosts are shared out over a few generator threads, each acting as the
 * main loop of its hosts: every tick it hands each host the events due
 * (pm_fleet_line), writes them to the spool (pm_fleet_flush) and notes,
 * from the host's counters, how far the acknowledgements have come:
 * delivery lag = acknowledged by JetStream - handed to the fleet output.
 *
 * Prints one JSON object: events offered and acknowledged, seconds,
 * lag percentiles over all events and the worst host's p99, drops.
 *
 * bench/fleet_sim.py runs it against a 3-node R3 cluster and a single node.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "output/fleet.h"

#define MAX_LINE (1 << 20)
#define ACK_POLL_MS 100 /* the delivery lag's resolution */

struct lag {
	uint32_t ms;
	uint32_t n; /* events */
};

struct tickrec {
	uint64_t t_ns;
	uint64_t upto; /* events handed over by then */
};

struct host {
	char name[64];
	char tail[100]; /* ,"host":"<name>","event_id":" */
	size_t tail_len;
	struct pm_nats_config cfg;
	struct pm_event_ids ids;
	struct pm_fleet *f;
	uint64_t handed;  /* events given to pm_fleet_line */
	uint64_t warm;    /* of which before the clock started */
	uint64_t acked;   /* as last polled */
	size_t next_line; /* in the sample */
	/* ticks whose events are not yet all acknowledged */
	struct tickrec *ticks;
	size_t t_head, t_n, t_cap;
	uint64_t closed_upto; /* events of the ticks closed so far */
	struct lag *lags;
	size_t n_lags, cap_lags;
};

static struct {
	char **servers;
	size_t n_servers;
	const char *stream, *prefix, *spool_base, *sample;
	unsigned hosts, threads, tick_ms, partitions, batch_ms, spool_mb;
	double rate; /* events/s per host; 0: as fast as acknowledgements allow */
	double seconds, drain_s;
	uint64_t backlog; /* rate 0: events a host keeps unacknowledged at most */
} opt = {
	.stream = "PROCMON", .prefix = "procmon", .hosts = 100, .threads = 2,
	.tick_ms = 20, .partitions = 1, .batch_ms = PM_NATS_DEFAULT_BATCH_MS, .spool_mb = 16,
	.rate = 100,
	.seconds = 10, .drain_s = 20, .backlog = 2048,
};

static char **lines, **line_type;
static size_t *line_len, n_lines;
static struct host *hosts;
static uint64_t t0_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "fleet_sim: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("%s", "out of memory");
	return p;
}

/* The sample's lines, up to their identity tail (,"host":... to the end),
 * which each host writes its own. */
static void load_sample(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = xrealloc(NULL, MAX_LINE);
	size_t cap = 0;

	if (!fp)
		die("cannot open sample %s", path);
	while (fgets(buf, MAX_LINE, fp)) {
		char *tail = NULL;

		for (char *p = buf; (p = strstr(p, ",\"host\":\"")); p++)
			tail = p;
		if (!tail || buf[0] != '{')
			continue; /* not a Bombini event line of procmon's */
		if (strncmp(buf, "{\"type\":\"", 9) || !strchr(buf + 9, '"'))
			continue;
		if (n_lines == cap) {
			cap = cap ? 2 * cap : 4096;
			lines = xrealloc(lines, cap * sizeof(*lines));
			line_len = xrealloc(line_len, cap * sizeof(*line_len));
			line_type = xrealloc(line_type, cap * sizeof(*line_type));
		}
		/* the subject's type token, as procmon's main loop passes it */
		line_type[n_lines] = strndup(buf + 9, (size_t)(strchr(buf + 9, '"') - (buf + 9)));
		line_len[n_lines] = (size_t)(tail - buf);
		lines[n_lines] = xrealloc(NULL, line_len[n_lines]);
		memcpy(lines[n_lines], buf, line_len[n_lines]);
		n_lines++;
	}
	fclose(fp);
	free(buf);
	if (!n_lines)
		die("no procmon event lines in %s", path);
}

static void add_lag(struct host *h, uint64_t ms, uint64_t n)
{
	if (h->n_lags == h->cap_lags) {
		h->cap_lags = h->cap_lags ? 2 * h->cap_lags : 1024;
		h->lags = xrealloc(h->lags, h->cap_lags * sizeof(*h->lags));
	}
	h->lags[h->n_lags++] = (struct lag){ .ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms,
					     .n = (uint32_t)n };
}

/* Acknowledged events (handed over, no longer spooled) close the ticks
 * they complete: each tick's events count with the tick's lag. */
static uint64_t note_acks(struct host *h, uint64_t now)
{
	struct pm_fleet_stats st;
	uint64_t acked;

	pm_fleet_stats(h->f, &st);
	acked = h->handed - st.spooled;
	while (h->t_n) {
		struct tickrec *t = &h->ticks[h->t_head];

		if (t->upto > acked)
			break;
		add_lag(h, (now - t->t_ns) / 1000000, t->upto - h->closed_upto);
		h->closed_upto = t->upto;
		h->t_head++;
		h->t_n--;
	}
	if (!h->t_n)
		h->t_head = 0; /* all closed: reuse the array from its start */
	return acked;
}

static void tick_rec(struct host *h, uint64_t now)
{
	size_t end = h->t_head + h->t_n;

	if (end == h->t_cap) {
		if (h->t_head) { /* slide the open ones to the start */
			memmove(h->ticks, h->ticks + h->t_head, h->t_n * sizeof(*h->ticks));
			h->t_head = 0;
			end = h->t_n;
		}
		if (end == h->t_cap) {
			h->t_cap = h->t_cap ? 2 * h->t_cap : 256;
			h->ticks = xrealloc(h->ticks, h->t_cap * sizeof(*h->ticks));
		}
	}
	h->ticks[end] = (struct tickrec){ .t_ns = now, .upto = h->handed };
	h->t_n++;
}

static void emit(struct host *h, char *buf)
{
	char id[37];
	uint64_t seq = pm_event_ids_next(&h->ids, id);
	size_t k = h->next_line, n = line_len[k];

	char digits[24];
	size_t nd = 0;

	/* by hand: snprintf was a tenth of the simulator's own time */
	memcpy(buf, lines[k], n);
	memcpy(buf + n, h->tail, h->tail_len); /* ,"host":"<name>","event_id":" */
	n += h->tail_len;
	memcpy(buf + n, id, 36);
	n += 36;
	memcpy(buf + n, "\",\"seq\":", 8);
	n += 8;
	do
		digits[nd++] = (char)('0' + seq % 10);
	while ((seq /= 10));
	while (nd)
		buf[n++] = digits[--nd];
	buf[n++] = '}';
	pm_fleet_line(h->f, line_type[k], buf, n, id);
	h->handed++;
	h->next_line = (k + 1) % n_lines;
}

struct worker {
	pthread_t th;
	unsigned first, n;
};

static void *generate(void *arg)
{
	struct worker *w = arg;
	char *buf = xrealloc(NULL, MAX_LINE + 512);
	uint64_t tick = opt.tick_ms * 1000000ull, end = t0_ns + (uint64_t)(opt.seconds * 1e9);
	uint64_t polled = 0;
	struct timespec ts;

	for (uint64_t next = t0_ns;; next += tick) {
		uint64_t now;

		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		now = now_ns();
		if (now >= end)
			break;
		/* the hosts' counters every ACK_POLL_MS, not every tick: their
		 * locks are the fleet output's, which procmon's loop takes once
		 * every few seconds */
		bool poll = now - polled >= ACK_POLL_MS * 1000000ull;

		if (poll)
			polled = now;
		for (unsigned i = w->first; i < w->first + w->n; i++) {
			struct host *h = &hosts[i];
			uint64_t acked = poll ? (h->acked = note_acks(h, now)) : h->acked, due;

			if (opt.rate > 0)
				due = h->warm + (uint64_t)(opt.rate * (double)(now - t0_ns) / 1e9);
			else /* as fast as the acknowledgements come back */
				due = acked + opt.backlog;
			if (due <= h->handed)
				continue;
			for (uint64_t k = h->handed; k < due; k++)
				emit(h, buf);
			pm_fleet_flush(h->f);
			tick_rec(h, now);
		}
	}
	free(buf);
	return NULL;
}

/* user + system seconds (the generating part: what the hosts' fleet
 * outputs and the simulator cost, up to the end of the generation) */
static double cpu_s(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
	       (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

static int cmp_lag(const void *a, const void *b)
{
	const struct lag *x = a, *y = b;

	return x->ms < y->ms ? -1 : x->ms > y->ms;
}

/* The lag below which a fraction p of the events were acknowledged. */
static double pct(struct lag *l, size_t n, double p)
{
	uint64_t total = 0, seen = 0;

	for (size_t i = 0; i < n; i++)
		total += l[i].n;
	if (!total)
		return -1;
	qsort(l, n, sizeof(*l), cmp_lag);
	for (size_t i = 0; i < n; i++) {
		seen += l[i].n;
		if ((double)seen >= p * (double)total)
			return l[i].ms;
	}
	return l[n - 1].ms;
}

static void split_servers(char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		opt.servers = xrealloc(opt.servers, (opt.n_servers + 1) * sizeof(char *));
		opt.servers[opt.n_servers++] = tok;
	}
}

static const char usage[] =
	"usage: fleet_sim --servers URL[,URL...] --sample FILE --spool-base DIR\n"
	"                 [--hosts N] [--rate EVENTS_PER_S_PER_HOST (0: as fast as acked)]\n"
	"                 [--seconds S] [--drain S] [--threads N] [--tick-ms MS]\n"
	"                 [--stream NAME] [--prefix P] [--partitions N] [--batch-ms MS]\n"
	"                 [--spool-mb MB] [--backlog EVENTS]\n";

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "servers", required_argument, NULL, 's' },
		{ "sample", required_argument, NULL, 'f' },
		{ "spool-base", required_argument, NULL, 'd' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "drain", required_argument, NULL, 'D' },
		{ "threads", required_argument, NULL, 't' },
		{ "tick-ms", required_argument, NULL, 'k' },
		{ "stream", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "partitions", required_argument, NULL, 'P' },
		{ "batch-ms", required_argument, NULL, 'b' },
		{ "spool-mb", required_argument, NULL, 'm' },
		{ "backlog", required_argument, NULL, 'B' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': split_servers(optarg); break;
		case 'f': opt.sample = optarg; break;
		case 'd': opt.spool_base = optarg; break;
		case 'H': opt.hosts = (unsigned)atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'S': opt.seconds = atof(optarg); break;
		case 'D': opt.drain_s = atof(optarg); break;
		case 't': opt.threads = (unsigned)atoi(optarg); break;
		case 'k': opt.tick_ms = (unsigned)atoi(optarg); break;
		case 'n': opt.stream = optarg; break;
		case 'p': opt.prefix = optarg; break;
		case 'P': opt.partitions = (unsigned)atoi(optarg); break;
		case 'b': opt.batch_ms = (unsigned)atoi(optarg); break;
		case 'm': opt.spool_mb = (unsigned)atoi(optarg); break;
		case 'B': opt.backlog = strtoull(optarg, NULL, 10); break;
		default: fputs(usage, stderr); exit(2);
		}
	}
	if (!opt.n_servers || !opt.sample || !opt.spool_base || !opt.hosts || !opt.threads ||
	    !opt.tick_ms || opt.seconds <= 0) {
		fputs(usage, stderr);
		exit(2);
	}
	if (opt.threads > opt.hosts)
		opt.threads = opt.hosts;
}

static void open_host(unsigned i)
{
	struct host *h = &hosts[i];
	char dir[4096], why[512];
	int err;

	snprintf(h->name, sizeof(h->name), "sim-%05u", i);
	h->tail_len = (size_t)snprintf(h->tail, sizeof(h->tail), ",\"host\":\"%s\",\"event_id\":\"",
				       h->name);
	snprintf(dir, sizeof(dir), "%s/%s", opt.spool_base, h->name);
	if (pm_nats_config_defaults(&h->cfg))
		die("%s", "out of memory");
	h->cfg.enabled = true;
	for (size_t k = 0; k < h->cfg.n_servers; k++)
		free(h->cfg.servers[k]);
	free(h->cfg.servers);
	h->cfg.servers = xrealloc(NULL, opt.n_servers * sizeof(char *));
	for (size_t k = 0; k < opt.n_servers; k++)
		h->cfg.servers[k] = strdup(opt.servers[k]);
	h->cfg.n_servers = opt.n_servers;
	free(h->cfg.stream);
	free(h->cfg.subject_prefix);
	free(h->cfg.spool_dir);
	h->cfg.stream = strdup(opt.stream);
	h->cfg.subject_prefix = strdup(opt.prefix);
	h->cfg.spool_dir = strdup(dir);
	h->cfg.spool_max_mb = opt.spool_mb;
	h->cfg.batch_ms = opt.batch_ms;
	h->cfg.partitions = opt.partitions;
	h->next_line = ((size_t)i * 7919) % n_lines; /* hosts not in lockstep */
	pm_event_ids_init(&h->ids);
	err = pm_fleet_open(&h->f, &h->cfg, h->name, &h->ids, why, sizeof(why));
	if (err)
		die("opening a host's fleet output: %s", why);
}

/* Every host connected, its stream found and one event acknowledged
 * before the clock starts: hundreds of hosts connecting at once is a
 * start-up, not the steady state measured. */
static void warm_up(void)
{
	char *buf = xrealloc(NULL, MAX_LINE + 512);
	uint64_t start = now_ns(), left;

	for (unsigned i = 0; i < opt.hosts; i++) {
		emit(&hosts[i], buf);
		pm_fleet_flush(hosts[i].f);
	}
	do {
		struct pm_fleet_stats st;

		usleep(20000);
		left = 0;
		for (unsigned i = 0; i < opt.hosts; i++) {
			pm_fleet_stats(hosts[i].f, &st);
			left += st.spooled;
		}
	} while (left && now_ns() - start < (uint64_t)(opt.drain_s * 1e9) * 3);
	if (left)
		die("%s", "warm-up: the hosts' first events were not acknowledged in time");
	for (unsigned i = 0; i < opt.hosts; i++) {
		hosts[i].warm = hosts[i].handed;
		hosts[i].closed_upto = hosts[i].handed;
	}
	free(buf);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct rusage ru0, ru1;
	struct worker *w;
	struct lag *all = NULL;
	size_t n_all = 0;
	uint64_t handed = 0, acked = 0, t_acked = 0, t_end, warm = 0;
	double worst_p99 = 0;
	struct pm_fleet_stats sum = { 0 };

	parse_args(argc, argv);
	/* a connection, a spool segment, a lock and a directory per host */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	load_sample(opt.sample);
	hosts = calloc(opt.hosts, sizeof(*hosts));
	if (!hosts)
		die("%s", "out of memory");
	if (mkdir(opt.spool_base, 0700) && errno != EEXIST)
		die("cannot create %s", opt.spool_base);
	for (unsigned i = 0; i < opt.hosts; i++)
		open_host(i);

	warm_up();
	w = calloc(opt.threads, sizeof(*w));
	getrusage(RUSAGE_SELF, &ru0);
	t0_ns = now_ns();
	for (unsigned k = 0, first = 0; k < opt.threads; k++) {
		w[k].first = first;
		w[k].n = opt.hosts / opt.threads + (k < opt.hosts % opt.threads);
		first += w[k].n;
		if (pthread_create(&w[k].th, NULL, generate, &w[k]))
			die("%s", "cannot start a generator thread");
	}
	for (unsigned k = 0; k < opt.threads; k++)
		pthread_join(w[k].th, NULL);
	t_end = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	for (unsigned i = 0; i < opt.hosts; i++)
		handed += hosts[i].handed;
	for (unsigned i = 0; i < opt.hosts; i++)
		warm += hosts[i].warm;
	/* what was handed over, acknowledged (or the drain's time is up) */
	for (;;) {
		uint64_t now = now_ns(), a = 0;

		for (unsigned i = 0; i < opt.hosts; i++)
			a += note_acks(&hosts[i], now);
		if (a > acked) {
			acked = a;
			t_acked = now;
		}
		if (a == handed || now - t_end > (uint64_t)(opt.drain_s * 1e9))
			break;
		usleep(opt.tick_ms * 1000);
	}
	for (unsigned i = 0; i < opt.hosts; i++) {
		struct host *h = &hosts[i];
		struct pm_fleet_stats st;
		double p99 = pct(h->lags, h->n_lags, 0.99);

		if (p99 > worst_p99)
			worst_p99 = p99;
		all = xrealloc(all, (n_all + h->n_lags + 1) * sizeof(*all));
		memcpy(all + n_all, h->lags, h->n_lags * sizeof(*all));
		n_all += h->n_lags;
		pm_fleet_stats(h->f, &st);
		sum.published += st.published;
		sum.acknowledged += st.acknowledged;
		sum.messages += st.messages;
		sum.line_bytes += st.line_bytes;
		sum.body_bytes += st.body_bytes;
		sum.dropped_bound += st.dropped_bound;
		sum.dropped_damaged += st.dropped_damaged;
		sum.dropped_write += st.dropped_write;
		sum.refused += st.refused;
		sum.reconnects += st.reconnects;
		sum.duplicates += st.duplicates;
	}
	printf("{\"hosts\":%u,\"rate_per_host\":%g,\"seconds\":%.3f,\"offered\":%" PRIu64
	       ",\"acked\":%" PRIu64 ",\"acked_within_s\":%.3f,\"events_per_s_acked\":%.0f"
	       ",\"lag_ms_p50\":%.0f,\"lag_ms_p99\":%.0f,\"lag_ms_max\":%.0f"
	       ",\"worst_host_lag_ms_p99\":%.0f,\"events_published\":%" PRIu64
	       ",\"events_acked\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"line_bytes\":%" PRIu64
	       ",\"body_bytes\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"refused\":%" PRIu64
	       ",\"reconnects\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"sample_lines\":%zu,\"sim_cpu_s\":%.3f}\n",
	       opt.hosts, opt.rate, (t_end - t0_ns) / 1e9, handed - warm, acked - warm,
	       (t_acked - t0_ns) / 1e9,
	       (acked - warm) / ((t_acked > t0_ns ? t_acked - t0_ns : 1) / 1e9),
	       pct(all, n_all, 0.50), pct(all, n_all, 0.99), pct(all, n_all, 1.0), worst_p99,
	       sum.published, sum.acknowledged, sum.messages, sum.line_bytes, sum.body_bytes,
	       sum.dropped_bound + sum.dropped_damaged + sum.dropped_write, sum.refused,
	       sum.reconnects, sum.duplicates, n_lines, cpu_s(&ru1) - cpu_s(&ru0));
	fflush(stdout);
	for (unsigned i = 0; i < opt.hosts; i++)
		pm_fleet_stop(hosts[i].f, 0);
	for (unsigned i = 0; i < opt.hosts; i++) {
		pm_fleet_close(hosts[i].f);
		pm_nats_config_free(&hosts[i].cfg);
	}
	return acked == handed ? 0 : 3;
}
