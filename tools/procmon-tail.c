// SPDX-License-Identifier: GPL-2.0
/*
 * procmon-tail: watch a fleet's procmon events from one terminal, or feed
 * them to another program.
 *
 * Reads the JetStream stream procmon publishes to (docs/fleet.md): both
 * message kinds of contract section 8, a batch (event lines, each ending
 * in '\n', zstd-compressed with Content-Encoding: zstd) and an event (one
 * JSON object), and prints one line per event. Without --durable it reads
 * with an ordered consumer (ephemeral, flow control, heartbeats: the
 * server pushes, nothing polls); with --durable NAME, through a durable
 * pull consumer whose messages it acknowledges only once all their lines
 * are written, so `procmon-tail --durable siem | shipper` loses nothing
 * across restarts (at least once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/types.h>
#include <nats/nats.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "base/event_id.h"
#include "enrich/users.h"
#include "procmon/events.h"
#include "render/compact.h"
#include "version.h" /* generated: build/version.h */

#define EXIT_USAGE 2
/* what one message may decompress to: procmon's batches are far smaller */
#define MAX_BODY (256u << 20)
#define FETCH_BATCH 64
#define DURABLE_ACK_WAIT_NS (10 * 1000000000ll)

static const char usage[] =
	"usage: procmon-tail [--server URL]... [--stream NAME] [--prefix PREFIX]\n"
	"                    [--new | --all | --since TIME] [--catch-up] [--count N]\n"
	"                    [--host HOST] [--type TYPE] [--pid PID] [--user USER]\n"
	"                    [--binary GLOB] [--args SUBSTR]\n"
	"                    [-o json|compact] [--color=auto|always|never]\n"
	"                    [--check-gaps | --tree | --durable NAME]\n"
	"                    [--token T | --auth-user U --password P | --creds FILE]\n"
	"                    [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]\n"
	"       procmon-tail --version | --help\n"
	"\n"
	"Prints procmon events from a NATS JetStream stream, one line per event:\n"
	"the JSON line procmon wrote (default), or a short one for people.\n"
	"\n"
	"Where and what:\n"
	"  --server URL    NATS server (repeatable; default nats://127.0.0.1:4222)\n"
	"  --stream NAME   the stream (default PROCMON)\n"
	"  --prefix P      procmon's nats.subject_prefix (default procmon)\n"
	"  --new           only events published from now on (default)\n"
	"  --all           everything the stream holds, then new ones\n"
	"  --since TIME    from TIME: RFC 3339 (2026-01-02T15:04:05Z) or an age (90s, 15m, 2h, 1d)\n"
	"  --catch-up      stop once everything stored at the start has been read\n"
	"  --count N       stop after N events\n"
	"Filters (--host and --type select subjects, so the server filters):\n"
	"  --host HOST     one host's events (its hostname, as procmon reports it)\n"
	"  --type TYPE     one event type: ProcessExec, ProcessEvent, ... (native format)\n"
	"                  or NEW_PROCESS, SETUID, ... (LimaCharlie format)\n"
	"  --pid PID       events about process PID\n"
	"  --user USER     events of processes running as USER (a uid, or a name: the\n"
	"                  name is looked up on this machine, or LimaCharlie's USER_NAME)\n"
	"  --binary GLOB   whose binary path, or its last component, matches GLOB\n"
	"  --args SUBSTR   whose arguments contain SUBSTR\n"
	"Output:\n"
	"  -o, --output F  json (default: each event's line as procmon wrote it) or\n"
	"                  compact (time, host, event, pid, user, binary, args, what happened)\n"
	"  --color WHEN    compact lines in colour: auto (default, when stdout is a\n"
	"                  terminal), always or never\n"
	"  --check-gaps    read up to the end (implies --all --catch-up unless --since),\n"
	"                  print nothing but a report of missing seq numbers per host\n"
	"                  and run; exit 1 when some are missing. seq counts every event\n"
	"                  of a host, so only --host may narrow it\n"
	"  --tree          read up to the end (as --check-gaps), then print the process\n"
	"                  tree of the events read, per host: pid, binary, arguments,\n"
	"                  exec and exit times, children under their parents\n"
	"  --durable NAME  read through the durable consumer NAME (created with the\n"
	"                  start and filters given, resumed after a restart), and\n"
	"                  acknowledge each message once its lines are written: an\n"
	"                  at-least-once bridge (procmon-tail --durable siem | shipper)\n"
	"Connecting (at most one of --token, --auth-user, --creds):\n"
	"  --token T       the server's authorization token\n"
	"  --auth-user U   user name, with --password P\n"
	"  --creds FILE    a .creds file (JWT and NKey seed)\n"
	"  --tls-ca FILE   verify the server with this CA (a tls:// URL turns TLS on too)\n"
	"  --tls-cert FILE, --tls-key FILE  a client certificate and its key\n"
	"  --version       print the version and exit\n"
	"  --help          print this help and exit\n"
	"\n"
	"Exit status: 0 done (or the reader of stdout went away), 1 gaps found or a\n"
	"server error, 2 bad usage.\n";

/* --check-gaps: the seq numbers seen, per host and run, as sorted ranges. */
struct range {
	uint64_t lo, hi;
};

struct gaps {
	char host[256];
	char run[24];
	struct range *r;
	size_t n, cap;
	uint64_t events, dups;
};

/* --tree: one process instance (exec_id or atom) of one host. */
struct node {
	char *host, *id, *parent_id, *binary, *args;
	int64_t pid, exec_ms, clone_ms, exit_ms;
	bool seen; /* events of its own, not only named as a parent */
	size_t first_child, next_sibling, order; /* indexes + 1; 0: none */
};

struct filters {
	int64_t pid;
	int64_t uid; /* -1: none */
	const char *user_name;
	const char *binary;
	const char *args;
};

struct run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bool catch_up, check_gaps, tree, compact, json_needed;
	struct pm_compact_opts copts;
	struct filters f;
	uint64_t count, printed;
	bool out_gone; /* stdout's reader went away */
	int error;     /* a server error, reported by the main thread */
	/* decoding */
	ZSTD_DCtx *zd;
	char *body;
	size_t body_cap;
	struct pm_buf out;
	uint64_t unparsable, bad_batches, damaged;
	/* --check-gaps */
	struct gaps *g;
	size_t ng, capg;
	/* --tree */
	struct node *nodes;
	size_t nn, capn;
	size_t *hash; /* open addressing over host+id: node index + 1 */
	size_t hcap;
};

static volatile sig_atomic_t interrupted;
static volatile bool closing; /* the connection's end is ours: nothing to say */

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fputs("procmon-tail: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s ? s : "", s ? n : 0);

	if (!d) {
		fputs("procmon-tail: out of memory\n", stderr);
		exit(1);
	}
	return d;
}

/* "2026-01-02T15:04:05Z" (fraction and offset allowed) or "90s" "15m" "2h" "1d":
 * ns since the epoch, or -1. */
static int64_t parse_since(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	struct tm tm = { 0 };
	const char *rest;
	int64_t t;

	if (end != s && *end && !end[1] && strchr("smhd", *end) && v >= 0) {
		double mult = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 86400;
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		return ((int64_t)now.tv_sec - (int64_t)(v * mult)) * 1000000000ll;
	}
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	t = (int64_t)timegm(&tm) * 1000000000ll;
	if (*rest == '.') {
		double frac = strtod(rest, &end);

		t += (int64_t)(frac * 1e9);
		rest = end;
	}
	if (*rest == 'Z' && !rest[1])
		return t;
	if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
		int hh = atoi(rest + 1), mm = atoi(rest + 4);
		int64_t off = ((int64_t)hh * 3600 + mm * 60) * 1000000000ll;

		return *rest == '+' ? t - off : t + off;
	}
	return -1;
}

/* A whole decimal number, or -1. */
static int64_t parse_num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno ? v : -1;
}

/* --type names a subject token: a native type (ProcessEvent for all its
 * sub-types) or a LimaCharlie event_type. 0, or a message and -EINVAL. */
static int check_type(const char *t)
{
#define TYPE_ROW(name, num, rec, native, sub, lc, ...) { native, sub, lc },
	static const struct {
		const char *native, *sub, *lc;
	} rows[] = { PM_EVENT_TABLE(TYPE_ROW) };
#undef TYPE_ROW
	size_t n = sizeof(rows) / sizeof(rows[0]);

	for (size_t i = 0; i < n; i++)
		if ((rows[i].native && !strcmp(t, rows[i].native)) || (rows[i].lc && !strcmp(t, rows[i].lc)))
			return 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].sub && !strcmp(t, rows[i].sub)) {
			fprintf(stderr,
				"procmon-tail: --type %s: a ProcessEvent sub-type is not a subject of its "
				"own: use --type ProcessEvent (native format) or --type %s (LimaCharlie)\n",
				t, rows[i].lc);
			return -EINVAL;
		}
	fprintf(stderr, "procmon-tail: --type %s: no such event type; procmon writes:", t);
	for (size_t i = 0; i < n; i++)
		if (rows[i].native && (!rows[i].sub || !strcmp(rows[i].sub, "Setuid")))
			fprintf(stderr, " %s", rows[i].native);
	fputs(" (native), or their LimaCharlie names:", stderr);
	for (size_t i = 0; i < n; i++)
		if (rows[i].lc)
			fprintf(stderr, " %s", rows[i].lc);
	fputs("\n", stderr);
	return -EINVAL;
}

/* ---- --check-gaps ---- */

static struct gaps *gaps_of(struct run *r, struct pm_str host, struct pm_str id)
{
	char h[256], run[24];

	snprintf(h, sizeof(h), "%.*s", (int)host.n, host.s ? host.s : "");
	/* the run: the id's first three groups (8-4-4 hex), chosen once per boot */
	snprintf(run, sizeof(run), "%.*s", (int)(id.n < 18 ? id.n : 18), id.s ? id.s : "");
	for (size_t i = 0; i < r->ng; i++)
		if (!strcmp(r->g[i].host, h) && !strcmp(r->g[i].run, run))
			return &r->g[i];
	if (r->ng == r->capg) {
		r->capg = r->capg ? 2 * r->capg : 16;
		r->g = xrealloc(r->g, r->capg * sizeof(*r->g));
	}
	memset(&r->g[r->ng], 0, sizeof(*r->g));
	snprintf(r->g[r->ng].host, sizeof(r->g->host), "%s", h);
	snprintf(r->g[r->ng].run, sizeof(r->g->run), "%s", run);
	return &r->g[r->ng++];
}

/* Add seq to the sorted, disjoint ranges: memory grows with the gaps, not
 * with the events (a stream is nearly in order: the last range, mostly). */
static void gaps_add(struct gaps *g, uint64_t seq)
{
	size_t lo = 0, hi = g->n;

	g->events++;
	/* the first range whose hi + 1 >= seq */
	if (g->n && g->r[g->n - 1].hi + 1 >= seq) {
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (g->r[mid].hi + 1 < seq)
				lo = mid + 1;
			else
				hi = mid;
		}
	} else {
		lo = g->n;
	}
	if (lo < g->n && g->r[lo].lo <= seq && seq <= g->r[lo].hi) {
		g->dups++;
		return;
	}
	if (lo < g->n && g->r[lo].hi + 1 == seq) {
		g->r[lo].hi = seq;
		if (lo + 1 < g->n && g->r[lo + 1].lo == seq + 1) { /* the gap closed */
			g->r[lo].hi = g->r[lo + 1].hi;
			memmove(&g->r[lo + 1], &g->r[lo + 2], (g->n - lo - 2) * sizeof(*g->r));
			g->n--;
		}
		return;
	}
	if (lo < g->n && g->r[lo].lo == seq + 1) {
		g->r[lo].lo = seq;
		return;
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->r = xrealloc(g->r, g->cap * sizeof(*g->r));
	}
	memmove(&g->r[lo + 1], &g->r[lo], (g->n - lo) * sizeof(*g->r));
	g->r[lo] = (struct range){ seq, seq };
	g->n++;
}

/* Missing seq numbers per host and run: 0 when there are none. */
static int report_gaps(struct run *r)
{
	int bad = 0;

	if (!r->ng)
		printf("no events with a seq number\n");
	for (size_t i = 0; i < r->ng; i++) {
		struct gaps *g = &r->g[i];
		uint64_t missing = 0;
		char list[1024] = "";
		size_t ln = 0, shown = 0;

		for (size_t k = 1; k < g->n; k++) {
			uint64_t a = g->r[k - 1].hi + 1, b = g->r[k].lo - 1; /* missing a..b */

			missing += b - a + 1;
			/* the first 20 gaps, then "..." once */
			if (shown++ >= 20 || ln + 48 > sizeof(list)) {
				if (!strstr(list, "..."))
					ln += snprintf(list + ln, sizeof(list) - ln, ", ...");
				continue;
			}
			ln += snprintf(list + ln, sizeof(list) - ln, "%s%" PRIu64, ln ? ", " : "", a);
			if (b > a)
				ln += snprintf(list + ln, sizeof(list) - ln, "-%" PRIu64, b);
		}
		printf("host %s run %s: seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " events, %" PRIu64
		       " missing%s%s%s, %" PRIu64 " duplicates\n",
		       g->host, g->run, g->r[0].lo, g->r[g->n - 1].hi, g->events, missing,
		       missing ? " (" : "", list, missing ? ")" : "", g->dups);
		bad |= missing > 0;
	}
	return bad;
}

/* ---- --tree ---- */

static uint64_t hash_key(const char *host, size_t hn, const char *id, size_t idn)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < hn; i++)
		h = (h ^ (unsigned char)host[i]) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (size_t i = 0; i < idn; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
	return h;
}

static void tree_rehash(struct run *r);

/* The node of (host, id), made when absent. */
static struct node *tree_node(struct run *r, struct pm_str host, struct pm_str id)
{
	size_t i;
	uint64_t h;

	if ((r->nn + 1) * 2 > r->hcap)
		tree_rehash(r);
	h = hash_key(host.s ? host.s : "", host.n, id.s, id.n);
	for (i = h & (r->hcap - 1); r->hash[i]; i = (i + 1) & (r->hcap - 1)) {
		struct node *n = &r->nodes[r->hash[i] - 1];

		if (strlen(n->host) == host.n && !memcmp(n->host, host.s ? host.s : "", host.n) &&
		    strlen(n->id) == id.n && !memcmp(n->id, id.s, id.n))
			return n;
	}
	if (r->nn == r->capn) {
		r->capn = r->capn ? 2 * r->capn : 256;
		r->nodes = xrealloc(r->nodes, r->capn * sizeof(*r->nodes));
	}
	r->nodes[r->nn] = (struct node){ .host = xstrndup(host.s, host.n),
					 .id = xstrndup(id.s, id.n),
					 .pid = -1,
					 .exec_ms = -1,
					 .clone_ms = -1,
					 .exit_ms = -1,
					 .order = r->nn + 1 };
	r->hash[i] = ++r->nn;
	return &r->nodes[r->nn - 1];
}

static void tree_rehash(struct run *r)
{
	size_t cap = r->hcap ? 2 * r->hcap : 1024;

	free(r->hash);
	r->hash = xrealloc(NULL, cap * sizeof(*r->hash));
	memset(r->hash, 0, cap * sizeof(*r->hash));
	r->hcap = cap;
	for (size_t k = 0; k < r->nn; k++) {
		struct node *n = &r->nodes[k];
		size_t i = hash_key(n->host, strlen(n->host), n->id, strlen(n->id)) & (cap - 1);

		while (r->hash[i])
			i = (i + 1) & (cap - 1);
		r->hash[i] = k + 1;
	}
}

static void set_str(char **dst, struct pm_str s)
{
	if (!s.s)
		return;
	free(*dst);
	*dst = xstrndup(s.s, s.n);
}

static void tree_add(struct run *r, const struct pm_event_view *v)
{
	struct node *n;

	if (!v->id.s || !v->id.n)
		return;
	if (v->parent_id.s && v->parent_id.n) {
		struct node *p = tree_node(r, v->host, v->parent_id);

		if (!p->seen) { /* known only as a parent: as the event shows it */
			p->pid = v->ppid;
			if (v->parent_binary.s && !p->binary)
				set_str(&p->binary, v->parent_binary);
			if (v->parent_args.s && !p->args)
				set_str(&p->args, v->parent_args);
		}
	}
	n = tree_node(r, v->host, v->id); /* after the parent's: it may move the array */
	n->seen = true;
	n->pid = v->pid;
	if (v->parent_id.s && v->parent_id.n && !n->parent_id)
		set_str(&n->parent_id, v->parent_id);
	if (!n->binary || v->type == PM_EVENT_EXEC) {
		set_str(&n->binary, v->binary);
		set_str(&n->args, v->args);
	}
	switch (v->type) {
	case PM_EVENT_EXEC:
		n->exec_ms = v->time_ms;
		break;
	case PM_EVENT_CLONE:
		n->clone_ms = v->time_ms;
		break;
	case PM_EVENT_EXIT:
		n->exit_ms = v->time_ms;
		break;
	default:
		break;
	}
}

static void hhmmss(int64_t ms, char out[16])
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, 16, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void tree_print_node(struct run *r, struct pm_buf *b, size_t k, const char *prefix,
			    bool last, bool root)
{
	struct node *n = &r->nodes[k];
	char t[16], next[512];

	b->len = 0;
	pm_buf_put(b, prefix, strlen(prefix));
	if (!root)
		pm_buf_put(b, last ? "└─ " : "├─ ", strlen(last ? "└─ " : "├─ "));
	{
		char pid[24];

		pm_buf_put(b, pid, (size_t)snprintf(pid, sizeof(pid), "%" PRId64 " ", n->pid));
	}
	pm_compact_put(b, n->binary ? n->binary : "?", n->binary ? strlen(n->binary) : 1, 60, true);
	if (n->args && *n->args) {
		pm_buf_put(b, " ", 1);
		pm_compact_put(b, n->args, strlen(n->args), 40, false);
	}
	if (n->clone_ms >= 0 && n->exec_ms < 0) {
		hhmmss(n->clone_ms, t);
		pm_buf_put(b, "  clone ", 8);
		pm_buf_put(b, t, strlen(t));
	}
	if (n->exec_ms >= 0) {
		hhmmss(n->exec_ms, t);
		pm_buf_put(b, "  exec ", 7);
		pm_buf_put(b, t, strlen(t));
	}
	if (n->exit_ms >= 0) {
		hhmmss(n->exit_ms, t);
		pm_buf_put(b, "  exit ", 7);
		pm_buf_put(b, t, strlen(t));
	}
	if (!n->seen)
		pm_buf_put(b, "  (parent, no events read)", 26);
	pm_buf_put(b, "\n", 1);
	fwrite(b->data, 1, b->len, stdout);
	snprintf(next, sizeof(next), "%s%s", prefix, root ? "" : last ? "   " : "│  ");
	for (size_t c = n->first_child; c; c = r->nodes[c - 1].next_sibling)
		tree_print_node(r, b, c - 1, strlen(next) < 400 ? next : prefix,
				!r->nodes[c - 1].next_sibling, false);
}

static int cmp_host_order(const void *a, const void *b, void *arg)
{
	const struct node *x = &((struct node *)arg)[*(const size_t *)a],
			  *y = &((struct node *)arg)[*(const size_t *)b];
	int c = strcmp(x->host, y->host);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void tree_print(struct run *r)
{
	size_t *order = xrealloc(NULL, (r->nn + 1) * sizeof(*order));
	struct pm_buf b;
	const char *host = NULL;

	pm_buf_init(&b);
	/* children under parents, in the order they were first seen: link
	 * them in reverse so each list comes out forwards */
	for (size_t k = r->nn; k-- > 0;) {
		struct node *n = &r->nodes[k];
		struct node *p;

		if (!n->parent_id)
			continue;
		p = tree_node(r, (struct pm_str){ n->host, strlen(n->host) },
			      (struct pm_str){ n->parent_id, strlen(n->parent_id) });
		n = &r->nodes[k];
		if (p == n)
			continue;
		n->next_sibling = p->first_child;
		p->first_child = k + 1;
		n->order = 0; /* not a root */
	}
	{
		size_t m = 0;

		for (size_t k = 0; k < r->nn; k++)
			if (r->nodes[k].order)
				order[m++] = k;
		qsort_r(order, m, sizeof(*order), cmp_host_order, r->nodes);
		for (size_t i = 0; i < m; i++) {
			struct node *n = &r->nodes[order[i]];

			if (!host || strcmp(host, n->host)) {
				host = n->host;
				printf("%shost ", i ? "\n" : "");
				b.len = 0;
				pm_compact_put(&b, host, strlen(host), 64, false);
				fwrite(b.data, 1, b.len, stdout);
				fputc('\n', stdout);
			}
			tree_print_node(r, &b, order[i], "", true, true);
		}
		if (!m)
			printf("no process events read\n");
	}
	pm_buf_free(&b);
	free(order);
}

/* ---- one message ---- */

static bool user_matches(const struct filters *f, const struct pm_event_view *v)
{
	if (f->uid >= 0 && v->uid == f->uid)
		return true;
	return f->user_name && v->user_name.s && strlen(f->user_name) == v->user_name.n &&
	       !memcmp(f->user_name, v->user_name.s, v->user_name.n);
}

static bool passes(const struct run *r, const struct pm_event_view *v)
{
	const struct filters *f = &r->f;

	if (f->pid >= 0 && v->pid != f->pid)
		return false;
	if ((f->uid >= 0 || f->user_name) && !user_matches(f, v))
		return false;
	if (f->binary) {
		const char *path = v->binary.s ? v->binary.s : "";
		const char *base = strrchr(path, '/');

		if (fnmatch(f->binary, path, 0) && fnmatch(f->binary, base ? base + 1 : path, 0))
			return false;
	}
	if (f->args && (!v->args.s || !memmem(v->args.s, v->args.n, f->args, strlen(f->args))))
		return false;
	return true;
}

/* Write all of b to stdout: 0, or -EPIPE when its reader went away. */
static int write_out(struct run *r, struct pm_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(STDOUT_FILENO, b->data + off, b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EPIPE)
				fprintf(stderr, "procmon-tail: writing: %s\n", strerror(errno));
			r->out_gone = true;
			return -EPIPE;
		}
		off += (size_t)n;
	}
	b->len = 0;
	return 0;
}

/* One event's line (no newline). */
static void one_line(struct run *r, const char *line, size_t len)
{
	struct pm_event_view v;
	bool parsed;

	if (r->done)
		return;
	parsed = r->json_needed && !pm_event_view_parse(&v, line, len);
	if (r->json_needed && !parsed) {
		r->unparsable++;
		if (r->check_gaps || r->tree || r->compact)
			return;
	}
	if (parsed && !passes(r, &v)) {
		pm_event_view_free(&v);
		return;
	}
	if (r->check_gaps) {
		if (v.seq >= 0)
			gaps_add(gaps_of(r, v.host, v.event_id), (uint64_t)v.seq);
	} else if (r->tree) {
		tree_add(r, &v);
	} else if (r->compact && parsed) {
		pm_compact_render(&r->out, &v, &r->copts);
	} else {
		pm_buf_put(&r->out, line, len);
		pm_buf_put(&r->out, "\n", 1);
	}
	if (parsed)
		pm_event_view_free(&v);
	r->printed++;
	if (r->count && r->printed >= r->count)
		r->done = true;
}

static const char *header(natsMsg *msg, const char *key)
{
	const char *v = NULL;

	return natsMsgHeader_Get(msg, key, &v) == NATS_OK ? v : NULL;
}

/* The body of a zstd-compressed batch into r->body: its length, or -1. */
static ssize_t decompress(struct run *r, const char *data, size_t len)
{
	ZSTD_inBuffer in = { data, len, 0 };
	ZSTD_outBuffer out = { r->body, r->body_cap, 0 };

	if (!r->zd && !(r->zd = ZSTD_createDCtx()))
		return -1;
	ZSTD_DCtx_reset(r->zd, ZSTD_reset_session_only);
	for (;;) {
		size_t ret;

		if (out.pos == out.size) {
			if (r->body_cap >= MAX_BODY)
				return -1;
			r->body_cap = r->body_cap ? 2 * r->body_cap : 1 << 20;
			r->body = xrealloc(r->body, r->body_cap);
			out.dst = r->body;
			out.size = r->body_cap;
		}
		ret = ZSTD_decompressStream(r->zd, &out, &in);
		if (ZSTD_isError(ret))
			return -1;
		if (!ret && in.pos == in.size) /* one whole frame, all input used */
			return (ssize_t)out.pos;
		if (in.pos == in.size && out.pos < out.size)
			return -1; /* truncated */
	}
}

/*
 * Every line of one message into r->out (a batch: lines each ending in
 * '\n', maybe compressed; an event: one object), then written out.
 * 0: all of it handled; 1: --count stopped it halfway; -EPIPE: stdout's
 * reader went away (nothing more to do).
 */
static int handle_msg(struct run *r, natsMsg *msg)
{
	const char *data = natsMsg_GetData(msg);
	size_t len = (size_t)natsMsg_GetDataLength(msg);
	const char *enc = header(msg, "Content-Encoding");
	const char *nev = header(msg, "Procmon-Events");
	uint64_t lines = 0;
	bool partial = false;

	if (enc && !strcmp(enc, "zstd")) {
		ssize_t n = decompress(r, data, len);

		if (n < 0) {
			r->damaged++;
			fprintf(stderr, "procmon-tail: %s: a batch that does not decompress (zstd); "
					"skipped\n", natsMsg_GetSubject(msg));
			return 0;
		}
		data = r->body;
		len = (size_t)n;
	} else if (enc) {
		r->damaged++;
		fprintf(stderr, "procmon-tail: %s: unknown Content-Encoding '%s'; skipped\n",
			natsMsg_GetSubject(msg), enc);
		return 0;
	}
	if (nev) {
		/* a batch: lines, each with its newline */
		size_t off_end = 0;

		for (size_t off = 0; off < len && !r->done;) {
			const char *nl = memchr(data + off, '\n', len - off);
			size_t end = nl ? (size_t)(nl - data) : len;

			one_line(r, data + off, end - off);
			lines++;
			off = off_end = end + 1;
		}
		if (r->done && off_end < len)
			partial = true;
		else if (strtoull(nev, NULL, 10) != lines || (len && data[len - 1] != '\n')) {
			r->bad_batches++;
			fprintf(stderr, "procmon-tail: %s: Procmon-Events says %s, the batch has %" PRIu64
					" lines\n", natsMsg_GetSubject(msg), nev, lines);
		}
	} else if (len) { /* one event; an empty body is none */
		one_line(r, data, len);
	}
	if (r->out.len && write_out(r, &r->out))
		return -EPIPE;
	return partial;
}

/* ---- reading: ordered consumer (push) ---- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct run *r = closure;
	jsMsgMetaData *meta = NULL;

	(void)nc;
	(void)sub;
	pthread_mutex_lock(&r->mu);
	if (!r->done && !r->out_gone) {
		if (handle_msg(r, msg) < 0)
			r->done = true;
		if (r->catch_up && natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
			if (meta->NumPending == 0)
				r->done = true;
			jsMsgMetaData_Destroy(meta);
		}
		if (r->done)
			pthread_cond_signal(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	natsMsg_Destroy(msg);
}

/* Catch-up with nothing stored from the start on: the consumer has
 * nothing pending (and the callback, nothing to say it is done). */
static bool nothing_pending(natsSubscription *sub)
{
	jsConsumerInfo *ci = NULL;
	bool none = false;

	if (natsSubscription_GetConsumerInfo(&ci, sub, NULL, NULL) == NATS_OK) {
		none = ci->NumPending == 0 && ci->Delivered.Consumer == 0;
		jsConsumerInfo_Destroy(ci);
	}
	return none;
}

/* A durable consumer with nothing to deliver: nothing pending, nothing
 * that a reader before this one left unacknowledged (it comes again). */
static bool nothing_left(jsCtx *js, const char *stream, const char *durable)
{
	jsConsumerInfo *ci = NULL;
	bool none = false;

	/* by name: a subscription bound to an existing consumer cannot say */
	if (js_GetConsumerInfo(&ci, js, stream, durable, NULL, NULL) == NATS_OK) {
		none = ci->NumPending == 0 && ci->NumAckPending == 0;
		jsConsumerInfo_Destroy(ci);
	}
	return none;
}

/* stdout is a pipe whose reader has gone (poll says POLLERR), even with
 * nothing to write. */
static bool stdout_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

static void wait_done(struct run *r)
{
	pthread_mutex_lock(&r->mu);
	while (!r->done && !interrupted && !r->out_gone) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 200 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->cv, &r->mu, &ts); /* or a signal */
		if (!r->check_gaps && !r->tree && stdout_gone())
			r->out_gone = true;
	}
	r->done = true;
	pthread_mutex_unlock(&r->mu);
}

/* ---- reading: durable pull consumer ---- */

static void pull_loop(struct run *r, natsSubscription *sub, jsCtx *js, const char *stream,
		      const char *durable, const char *server)
{
	while (!r->done && !interrupted && !r->out_gone) {
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;
		natsStatus s = natsSubscription_Fetch(&list, sub, FETCH_BATCH, 500, &jerr);
		bool drained = false;

		if (s == NATS_TIMEOUT) {
			if (r->catch_up && nothing_left(js, stream, durable))
				r->done = true;
			else if (stdout_gone())
				r->out_gone = true;
			continue;
		}
		if (s != NATS_OK) {
			if (interrupted)
				break;
			fprintf(stderr, "procmon-tail: reading from %s: %s; retrying\n", server,
				natsStatus_GetText(s));
			continue;
		}
		for (int i = 0; i < list.Count; i++) {
			jsMsgMetaData *meta = NULL;

			/* not written, or not all of it (stdout gone, --count
			 * reached): not acknowledged but given back, so the next
			 * reader has it at once */
			if (r->done || r->out_gone || interrupted || handle_msg(r, list.Msgs[i])) {
				for (int k = i; k < list.Count; k++)
					natsMsg_Nak(list.Msgs[k], NULL);
				break;
			}
			/* confirmed: once it returns, no later run has this again */
			if (natsMsg_AckSync(list.Msgs[i], NULL, NULL) != NATS_OK && !interrupted)
				fprintf(stderr, "procmon-tail: %s: acknowledgement not confirmed; "
						"the message may come again\n", server);
			if (natsMsg_GetMetaData(&meta, list.Msgs[i]) == NATS_OK) {
				drained = meta->NumPending == 0;
				jsMsgMetaData_Destroy(meta);
			}
		}
		natsMsgList_Destroy(&list);
		if (r->catch_up && drained && nothing_left(js, stream, durable))
			r->done = true;
	}
}

/* ---- connecting, in our words ---- */

/* A server lost mid-read: libnats reconnects (forever), and says nothing
 * itself; the person watching should know why nothing comes. */
static void on_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
	if (!interrupted && !closing)
		fputs("procmon-tail: disconnected from the server; reconnecting\n", stderr);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	char url[256] = "";

	(void)closure;
	natsConnection_GetConnectedUrl(nc, url, sizeof(url));
	fprintf(stderr, "procmon-tail: reconnected to %s\n", url);
}

/* libnats' last error without its "(file.c:123): " prefix. */
static const char *nats_detail(natsStatus s)
{
	const char *e = nats_GetLastError(NULL);
	const char *p;

	if (!e || !*e)
		return natsStatus_GetText(s);
	if (*e == '(' && (p = strstr(e, "): ")))
		return p + 3;
	return e;
}

static void say_error(const char *doing, const char *server, const char *stream, natsStatus s,
		      jsErrCode jerr)
{
	const char *why;

	switch (s) {
	case NATS_NO_SERVER:
		why = "no NATS server answers there (is nats-server running, and this its address?)";
		break;
	case NATS_CONNECTION_AUTH_FAILED:
	case NATS_NOT_PERMITTED:
		why = "the server refused the credentials (--token, --auth-user/--password, --creds)";
		break;
	case NATS_SSL_ERROR:
		why = "TLS failed";
		break;
	case NATS_TIMEOUT:
		why = "no answer in time";
		break;
	case NATS_NO_RESPONDERS:
		why = "JetStream does not answer (is it enabled: nats-server -js?)";
		break;
	default:
		why = NULL;
	}
	if (jerr == JSStreamNotFoundErr) {
		fprintf(stderr, "procmon-tail: %s: stream %s does not exist on %s (--stream names it)\n",
			doing, stream, server);
		return;
	}
	if (why && s == NATS_SSL_ERROR)
		fprintf(stderr, "procmon-tail: %s %s: %s: %s\n", doing, server, why, nats_detail(s));
	else if (why)
		fprintf(stderr, "procmon-tail: %s %s: %s\n", doing, server, why);
	else
		fprintf(stderr, "procmon-tail: %s %s: %s\n", doing, server, nats_detail(s));
}

/* --host names a host with no events in the stream: say so, with the
 * hosts it has. true when it has some. */
static bool host_has_events(jsCtx *js, const char *stream, const char *prefix, const char *host,
			    const char *htok)
{
	jsOptions o;
	jsStreamInfo *si = NULL;
	char filter[600];
	bool some = true;

	jsOptions_Init(&o);
	snprintf(filter, sizeof(filter), "%s.%s.*", prefix, htok);
	o.Stream.Info.SubjectsFilter = filter;
	if (js_GetStreamInfo(&si, js, stream, &o, NULL) != NATS_OK)
		return true; /* the subscription says what is wrong */
	some = si->State.Subjects && si->State.Subjects->Count > 0;
	jsStreamInfo_Destroy(si);
	if (some)
		return true;
	fprintf(stderr, "procmon-tail: no events from host '%s' in stream %s", host, stream);
	snprintf(filter, sizeof(filter), "%s.*.*", prefix);
	si = NULL;
	if (js_GetStreamInfo(&si, js, stream, &o, NULL) == NATS_OK && si->State.Subjects) {
		char seen[16][128];
		int n = 0;

		for (int i = 0; i < si->State.Subjects->Count && n < 16; i++) {
			const char *s = si->State.Subjects->List[i].Subject + strlen(prefix) + 1;
			const char *dot = strchr(s, '.');
			int len = dot ? (int)(dot - s) : (int)strlen(s), k;

			for (k = 0; k < n && (strlen(seen[k]) != (size_t)len || strncmp(seen[k], s, len)); k++)
				;
			if (k == n && len < 128)
				snprintf(seen[n++], 128, "%.*s", len, s);
		}
		fprintf(stderr, "%s", n ? "; it has: " : "; it has none");
		for (int k = 0; k < n; k++)
			fprintf(stderr, "%s%s", k ? ", " : "", seen[k]);
	}
	fputc('\n', stderr);
	jsStreamInfo_Destroy(si);
	return false;
}

/* --durable NAME: bind to the consumer if it exists (its filter must be
 * this command's), else create it with this command's start and filter. */
static natsStatus subscribe_durable(natsSubscription **sub, jsCtx *js, const char *stream,
				    const char *subject, const char *durable, jsSubOptions *so,
				    const char *server, bool *usage_error)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetConsumerInfo(&ci, js, stream, durable, NULL, &jerr);

	if (s == NATS_OK) {
		const char *has = ci->Config->FilterSubject ? ci->Config->FilterSubject : "";

		if (strcmp(has, subject)) {
			fprintf(stderr, "procmon-tail: --durable %s: that consumer reads '%s', this "
					"command asks for '%s': give the same --host/--type, or another name\n",
				durable, has, subject);
			jsConsumerInfo_Destroy(ci);
			*usage_error = true;
			return NATS_ERR;
		}
		/* bound, not created: libnats checks the start against the consumer's */
		so->Config.DeliverPolicy = ci->Config->DeliverPolicy;
		so->Config.OptStartTime = ci->Config->OptStartTime;
		so->Config.AckWait = ci->Config->AckWait;
		jsConsumerInfo_Destroy(ci);
		so->Consumer = durable;
	} else if (jerr != JSConsumerNotFoundErr) {
		say_error("looking up the durable consumer on", server, stream, s, jerr);
		*usage_error = false;
		return s;
	}
	so->Config.AckPolicy = js_AckExplicit;
	/* what a killed reader had unacknowledged comes again this much later */
	if (!so->Config.AckWait)
		so->Config.AckWait = DURABLE_ACK_WAIT_NS;
	jerr = 0;
	s = js_PullSubscribe(sub, js, subject, durable, NULL, so, &jerr);
	if (s != NATS_OK)
		say_error("subscribing on", server, stream, s, jerr);
	return s;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "stream", required_argument, NULL, 'S' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "new", no_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "type", required_argument, NULL, 'T' },
		{ "catch-up", no_argument, NULL, 'u' },
		{ "check-gaps", no_argument, NULL, 'g' },
		{ "count", required_argument, NULL, 'c' },
		{ "token", required_argument, NULL, 1 },
		{ "auth-user", required_argument, NULL, 2 },
		{ "password", required_argument, NULL, 3 },
		{ "creds", required_argument, NULL, 4 },
		{ "tls-ca", required_argument, NULL, 5 },
		{ "tls-cert", required_argument, NULL, 6 },
		{ "tls-key", required_argument, NULL, 7 },
		{ "pid", required_argument, NULL, 8 },
		{ "user", required_argument, NULL, 9 },
		{ "binary", required_argument, NULL, 10 },
		{ "args", required_argument, NULL, 11 },
		{ "tree", no_argument, NULL, 12 },
		{ "durable", required_argument, NULL, 13 },
		{ "color", required_argument, NULL, 14 },
		{ "colour", required_argument, NULL, 14 },
		{ "output", required_argument, NULL, 'o' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *servers[16], *stream = "PROCMON", *prefix = "procmon", *host = NULL,
				 *type = NULL, *token = NULL, *user = NULL, *password = NULL,
				 *creds = NULL, *ca = NULL, *cert = NULL, *key = NULL,
				 *durable = NULL, *color = "auto", *starts[3] = { 0 };
	int nservers = 0, nstarts = 0, start = 'n', c, ret = 0;
	int64_t since = 0;
	struct run r = { .mu = PTHREAD_MUTEX_INITIALIZER, .f = { .pid = -1, .uid = -1 } };
	char subject[600], htok[256] = "*";
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsOptions *opts = NULL;
	jsCtx *js = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	pthread_condattr_t ca_;
	bool usage_error = false;

#define BAD(...)                                                    \
	do {                                                        \
		fprintf(stderr, "procmon-tail: " __VA_ARGS__);      \
		fputs("\n(procmon-tail --help lists the options)\n", stderr); \
		return EXIT_USAGE;                                  \
	} while (0)

	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (nservers == 16)
				BAD("at most 16 --server");
			servers[nservers++] = optarg;
			break;
		case 'S':
			stream = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'n':
		case 'a':
		case 't':
			start = c;
			starts[nstarts < 3 ? nstarts : 2] = c == 'n' ? "--new" : c == 'a' ? "--all" : "--since";
			nstarts++;
			if (c == 't' && (since = parse_since(optarg)) < 0)
				BAD("--since '%s': expected RFC 3339 (2026-01-02T15:04:05Z) or an age "
				    "(90s, 15m, 2h, 1d)", optarg);
			break;
		case 'H':
			host = optarg;
			break;
		case 'T':
			if (check_type(optarg))
				return EXIT_USAGE;
			type = optarg;
			break;
		case 'u':
			r.catch_up = true;
			break;
		case 'g':
			r.check_gaps = true;
			break;
		case 'c':
			if (parse_num(optarg) <= 0)
				BAD("--count '%s': expected a number of events, 1 or more", optarg);
			r.count = (uint64_t)parse_num(optarg);
			break;
		case 1:
			token = optarg;
			break;
		case 2:
			user = optarg;
			break;
		case 3:
			password = optarg;
			break;
		case 4:
			creds = optarg;
			break;
		case 5:
			ca = optarg;
			break;
		case 6:
			cert = optarg;
			break;
		case 7:
			key = optarg;
			break;
		case 8:
			if ((r.f.pid = parse_num(optarg)) < 0)
				BAD("--pid '%s': expected a process id", optarg);
			break;
		case 9:
			if ((r.f.uid = parse_num(optarg)) < 0) {
				struct passwd *pw = getpwnam(optarg);

				r.f.user_name = optarg;
				r.f.uid = pw ? (int64_t)pw->pw_uid : -1;
			}
			break;
		case 10:
			r.f.binary = optarg;
			break;
		case 11:
			r.f.args = optarg;
			break;
		case 12:
			r.tree = true;
			break;
		case 13:
			if (!*optarg || strpbrk(optarg, ".*> \t"))
				BAD("--durable '%s': a consumer name without '.', '*', '>' or spaces",
				    optarg);
			durable = optarg;
			break;
		case 14:
			color = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "compact"))
				r.compact = true;
			else if (strcmp(optarg, "json"))
				BAD("-o '%s': expected json or compact", optarg);
			break;
		case 'V':
			printf("procmon-tail %s\n", PROCMON_VERSION);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs("(procmon-tail --help lists the options)\n", stderr);
			return EXIT_USAGE;
		}
	}
	/* what cannot go together */
	if (optind < argc)
		BAD("unexpected argument '%s'", argv[optind]);
	if (nstarts > 1)
		BAD("%s and %s: give one start", starts[0], starts[1]);
	if (!!user != !!password)
		BAD("--auth-user and --password go together");
	if (!!cert != !!key)
		BAD("--tls-cert and --tls-key go together");
	if (!!token + !!user + !!creds > 1)
		BAD("--token, --auth-user and --creds: give at most one");
	if ((r.check_gaps || r.tree) && (r.compact || durable || r.count))
		BAD("%s prints a report of everything read: not with -o compact, --durable or "
		    "--count", r.check_gaps ? "--check-gaps" : "--tree");
	if (r.check_gaps && r.tree)
		BAD("--check-gaps and --tree: one report at a time");
	if (r.check_gaps && start == 'n' && nstarts)
		BAD("--check-gaps --new: there is nothing to check in events not yet published");
	if (r.check_gaps && (type || r.f.pid >= 0 || r.f.uid >= 0 || r.f.user_name || r.f.binary ||
			     r.f.args))
		BAD("--check-gaps with --type, --pid, --user, --binary or --args: seq numbers "
		    "count every event of a host, so a filtered read has gaps that are not "
		    "losses; check a whole host (--host) or the whole stream");
	if (r.f.user_name && r.f.uid < 0)
		fprintf(stderr, "procmon-tail: --user %s: no such user here; matching LimaCharlie's "
				"USER_NAME only\n", r.f.user_name);
	c = pm_color_choice(color, STDOUT_FILENO);
	if (c < 0)
		BAD("--color '%s': expected auto, always or never", color);
	r.copts.color = c;
	if (r.compact) {
		/* uids name users on their own host: this one's names for its events */
		static char here[256];

		if (!gethostname(here, sizeof(here) - 1))
			r.copts.local_host = here;
		r.copts.users = pm_users_load();
	}
	if (r.check_gaps || r.tree) {
		r.catch_up = true;
		if (start != 't')
			start = 'a';
	}
	r.json_needed = r.compact || r.check_gaps || r.tree || r.f.pid >= 0 || r.f.uid >= 0 ||
			r.f.user_name || r.f.binary || r.f.args;
	pm_buf_init(&r.out);
	if (!nservers)
		servers[nservers++] = "nats://127.0.0.1:4222";
	if (host)
		pm_host_token(host, htok, sizeof(htok));
	snprintf(subject, sizeof(subject), "%s.%s.%s", prefix, htok, type ? type : "*");

	pthread_condattr_init(&ca_);
	pthread_condattr_setclock(&ca_, CLOCK_MONOTONIC);
	pthread_cond_init(&r.cv, &ca_);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* a reader that goes away is an EPIPE on write (or POLLERR on stdout):
	 * procmon-tail then stops quietly */
	signal(SIGPIPE, SIG_IGN);

	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, servers, nservers);
	if (s == NATS_OK)
		s = natsOptions_SetName(opts, "procmon-tail");
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(opts, on_disconnected, NULL);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(opts, on_reconnected, NULL);
	if (s == NATS_OK && token)
		s = natsOptions_SetToken(opts, token);
	if (s == NATS_OK && user)
		s = natsOptions_SetUserInfo(opts, user, password);
	if (s == NATS_OK && creds)
		s = natsOptions_SetUserCredentialsFromFiles(opts, creds, NULL);
	if (s == NATS_OK && (ca || cert || !strncmp(servers[0], "tls://", 6)))
		s = natsOptions_SetSecure(opts, true);
	if (s == NATS_OK && ca)
		s = natsOptions_LoadCATrustedCertificates(opts, ca);
	if (s == NATS_OK && cert)
		s = natsOptions_LoadCertificatesChain(opts, cert, key);
	if (s != NATS_OK) {
		fprintf(stderr, "procmon-tail: %s: %s\n",
			creds ? "--creds" : ca ? "--tls-ca" : cert ? "--tls-cert/--tls-key" : "options",
			nats_detail(s));
		return EXIT_USAGE;
	}
	s = natsConnection_Connect(&nc, opts);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (s != NATS_OK) {
		say_error("connecting to", servers[0], stream, s, 0);
		ret = 1;
		goto out;
	}
	if (host && !host_has_events(js, stream, prefix, host, htok) && r.catch_up) {
		ret = 1;
		goto out;
	}
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.DeliverPolicy = start == 'a' ? js_DeliverAll
				  : start == 't' ? js_DeliverByStartTime
						 : js_DeliverNew;
	if (start == 't')
		so.Config.OptStartTime = since;
	if (durable) {
		s = subscribe_durable(&sub, js, stream, subject, durable, &so, servers[0], &usage_error);
		if (s != NATS_OK) {
			ret = usage_error ? EXIT_USAGE : 1;
			goto out;
		}
		pull_loop(&r, sub, js, stream, durable, servers[0]);
		/* the acknowledgements out before the connection closes */
		natsConnection_FlushTimeout(nc, 2000);
	} else {
		so.Ordered = true; /* ephemeral, flow control, heartbeats, in order */
		s = js_Subscribe(&sub, js, subject, on_msg, &r, NULL, &so, &jerr);
		if (s != NATS_OK) {
			say_error("subscribing on", servers[0], stream, s, jerr);
			ret = 1;
			goto out;
		}
		if (r.catch_up && nothing_pending(sub)) {
			pthread_mutex_lock(&r.mu);
			r.done = true;
			pthread_mutex_unlock(&r.mu);
		}
		wait_done(&r);
	}
	if (r.check_gaps)
		ret = report_gaps(&r);
	if (r.tree)
		tree_print(&r);
	if (r.unparsable && !r.out_gone)
		fprintf(stderr, "procmon-tail: %" PRIu64 " lines were not JSON events%s\n",
			r.unparsable, r.compact || r.check_gaps || r.tree ? " (skipped)" : "");
	if ((r.damaged || r.bad_batches) && !ret)
		ret = 1;
out:
	closing = true;
	if (sub) {
		if (!durable)
			natsSubscription_Unsubscribe(sub);
		natsSubscription_Destroy(sub);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	nats_Close();
	pm_buf_free(&r.out);
	pm_users_free((struct pm_users *)r.copts.users);
	ZSTD_freeDCtx(r.zd);
	free(r.body);
	return ret;
}
