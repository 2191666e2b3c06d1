// SPDX-License-Identifier: GPL-2.0
/*
 * procmon-tail: watch a fleet's procmon events from one terminal.
 *
 * Reads the JetStream stream procmon publishes to (docs/fleet.md) with an
 * ordered consumer (ephemeral, flow control, heartbeats: the server pushes,
 * nothing polls), from a chosen start, optionally for one host and one
 * event type (subject filters, so the server does the filtering), and
 * prints each event's JSON line. --check-gaps reads up to the end and
 * reports the missing seq numbers of each host's runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/event_id.h"

static const char usage[] =
	"usage: procmon-tail [--server URL]... [--stream NAME] [--prefix PREFIX]\n"
	"                    [--new | --all | --since TIME] [--host HOST] [--type TYPE]\n"
	"                    [--catch-up] [--check-gaps] [--count N]\n"
	"                    [--token T | --user U --password P | --creds FILE]\n"
	"                    [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]\n"
	"\n"
	"Prints procmon events from a NATS JetStream stream, one JSON object a line.\n"
	"\n"
	"  --server URL    NATS server (repeatable; default nats://127.0.0.1:4222)\n"
	"  --stream NAME   the stream (default PROCMON)\n"
	"  --prefix P      procmon's nats.subject_prefix (default procmon)\n"
	"  --new           only events published from now on (default)\n"
	"  --all           everything the stream holds, then new ones\n"
	"  --since TIME    from TIME: RFC 3339 (2026-01-02T15:04:05Z) or an age (90s, 15m, 2h, 1d)\n"
	"  --host HOST     only this host's events (its hostname, as procmon reports it)\n"
	"  --type TYPE     only this event type (ProcessExec, NEW_PROCESS, ...)\n"
	"  --catch-up      stop once everything stored at the start has been printed\n"
	"  --check-gaps    read up to the end (implies --all --catch-up unless --since),\n"
	"                  print nothing but a report of missing seq numbers per host;\n"
	"                  exit 1 when some are missing\n"
	"  --count N       stop after N events\n"
	"\n"
	"Exit status: 0 done, 1 gaps found or a server error, 2 bad usage.\n";

struct run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bool catch_up, check_gaps;
	uint64_t count, printed;
	uint64_t last_msg_ns;
	natsStatus error;
	/* --check-gaps: per host and run (event_id prefix) */
	struct gaps {
		char host[256];
		char run[24];
		uint64_t *seqs;
		size_t n, cap;
	} *g;
	size_t ng, capg;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
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

	if (end != s && *end && !end[1] && strchr("smhd", *end)) {
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

/* The string value of "key":"..." in a JSON line (no escapes in ours). */
static bool json_str(const char *data, int len, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *end = data + len;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = memmem(data, len, pat, strlen(pat));
	if (!p)
		return false;
	for (p += strlen(pat); p < end && *p != '"' && n + 1 < outlen; p++)
		out[n++] = *p;
	out[n] = '\0';
	return true;
}

static bool json_u64(const char *data, int len, const char *key, uint64_t *v)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = memmem(data, len, pat, strlen(pat));
	if (!p)
		return false;
	*v = strtoull(p + strlen(pat), NULL, 10);
	return true;
}

static void note_seq(struct run *r, const char *data, int len)
{
	char host[256] = "", id[64] = "";
	uint64_t seq;
	struct gaps *g = NULL;

	if (!json_u64(data, len, "seq", &seq))
		return;
	if (!json_str(data, len, "host", host, sizeof(host)))
		json_str(data, len, "hostname", host, sizeof(host));
	json_str(data, len, "event_id", id, sizeof(id));
	id[18] = '\0'; /* the run's prefix: the id's first three groups (8-4-4 hex) */
	for (size_t i = 0; i < r->ng; i++)
		if (!strcmp(r->g[i].host, host) && !strcmp(r->g[i].run, id))
			g = &r->g[i];
	if (!g) {
		if (r->ng == r->capg) {
			r->capg = r->capg ? 2 * r->capg : 16;
			r->g = realloc(r->g, r->capg * sizeof(*r->g));
			if (!r->g)
				abort();
		}
		g = &r->g[r->ng++];
		memset(g, 0, sizeof(*g));
		snprintf(g->host, sizeof(g->host), "%s", host);
		snprintf(g->run, sizeof(g->run), "%s", id);
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->seqs = realloc(g->seqs, g->cap * sizeof(*g->seqs));
		if (!g->seqs)
			abort();
	}
	g->seqs[g->n++] = seq;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Missing seq numbers per host and run: 0 when there are none. */
static int report_gaps(struct run *r)
{
	int bad = 0;

	if (!r->ng)
		printf("no events with a seq number\n");
	for (size_t i = 0; i < r->ng; i++) {
		struct gaps *g = &r->g[i];
		uint64_t missing = 0, dups = 0, shown = 0;
		char list[1024] = "";
		size_t ln = 0;

		qsort(g->seqs, g->n, sizeof(*g->seqs), cmp_u64);
		for (size_t k = 1; k < g->n; k++) {
			uint64_t a = g->seqs[k - 1], b = g->seqs[k];

			if (b == a) {
				dups++;
			} else if (b > a + 1) {
				missing += b - a - 1;
				if (shown++ < 20 && ln < sizeof(list) - 64)
					ln += snprintf(list + ln, sizeof(list) - ln, "%s%" PRIu64 "%s",
						       ln ? ", " : "", a + 1,
						       b - a > 2 ? "" : "");
				if (b - a > 2 && ln < sizeof(list) - 32)
					ln += snprintf(list + ln, sizeof(list) - ln, "-%" PRIu64, b - 1);
			}
		}
		printf("host %s run %s: seq %" PRIu64 "..%" PRIu64 ", %zu events, %" PRIu64
		       " missing%s%s%s, %" PRIu64 " duplicates\n",
		       g->host, g->run, g->seqs[0], g->seqs[g->n - 1], g->n, missing,
		       missing ? " (" : "", list, missing ? (shown > 20 ? ", ...)" : ")") : "",
		       dups);
		bad |= missing > 0;
	}
	return bad;
}

static void finish(struct run *r)
{
	r->done = true;
	pthread_cond_signal(&r->cv);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct run *r = closure;
	const char *data = natsMsg_GetData(msg);
	int len = natsMsg_GetDataLength(msg);
	jsMsgMetaData *meta = NULL;

	(void)nc;
	(void)sub;
	pthread_mutex_lock(&r->mu);
	r->last_msg_ns = now_ns();
	if (!r->done) {
		if (r->check_gaps) {
			note_seq(r, data, len);
		} else {
			fwrite(data, 1, len, stdout);
			fputc('\n', stdout);
			fflush(stdout);
		}
		r->printed++;
		if (r->count && r->printed >= r->count)
			finish(r);
		if (r->catch_up && natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
			if (meta->NumPending == 0)
				finish(r);
			jsMsgMetaData_Destroy(meta);
		}
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
		{ "user", required_argument, NULL, 2 },
		{ "password", required_argument, NULL, 3 },
		{ "creds", required_argument, NULL, 4 },
		{ "tls-ca", required_argument, NULL, 5 },
		{ "tls-cert", required_argument, NULL, 6 },
		{ "tls-key", required_argument, NULL, 7 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *servers[16], *stream = "PROCMON", *prefix = "procmon", *host = NULL,
				 *type = NULL, *token = NULL, *user = NULL, *password = NULL,
				 *creds = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	int nservers = 0, start = 'n', c, ret = 0;
	int64_t since = 0;
	struct run r = { .mu = PTHREAD_MUTEX_INITIALIZER };
	char subject[600], htok[256] = "*";
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsOptions *opts = NULL;
	jsCtx *js = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	pthread_condattr_t ca_;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (nservers == 16) {
				fprintf(stderr, "procmon-tail: at most 16 servers\n");
				return 2;
			}
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
			start = c;
			break;
		case 't':
			start = 't';
			since = parse_since(optarg);
			if (since < 0) {
				fprintf(stderr, "procmon-tail: --since '%s': expected RFC 3339 "
						"(2026-01-02T15:04:05Z) or an age (90s, 15m, 2h, 1d)\n",
					optarg);
				return 2;
			}
			break;
		case 'H':
			host = optarg;
			break;
		case 'T':
			type = optarg;
			break;
		case 'u':
			r.catch_up = true;
			break;
		case 'g':
			r.check_gaps = true;
			break;
		case 'c':
			r.count = strtoull(optarg, NULL, 10);
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
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc || (!!user != !!password) || (!!cert != !!key)) {
		fputs(usage, stderr);
		return 2;
	}
	if (r.check_gaps) {
		r.catch_up = true;
		if (start != 't')
			start = 'a';
	}
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
	signal(SIGPIPE, SIG_IGN);

	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, servers, nservers);
	if (s == NATS_OK)
		s = natsOptions_SetName(opts, "procmon-tail");
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
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
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, opts);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (s != NATS_OK) {
		fprintf(stderr, "procmon-tail: %s: %s\n", servers[0],
			nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
		return 1;
	}
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Ordered = true; /* ephemeral, flow control, heartbeats, in order */
	so.Config.DeliverPolicy = start == 'a' ? js_DeliverAll
				  : start == 't' ? js_DeliverByStartTime
						 : js_DeliverNew;
	if (start == 't')
		so.Config.OptStartTime = since;
	s = js_Subscribe(&sub, js, subject, on_msg, &r, NULL, &so, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr, "procmon-tail: subscribing to %s in stream %s on %s: %s\n", subject,
			stream, servers[0],
			nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
		ret = 1;
		goto out;
	}
	if (r.catch_up && nothing_pending(sub)) {
		pthread_mutex_lock(&r.mu);
		r.done = true;
		pthread_mutex_unlock(&r.mu);
	}
	pthread_mutex_lock(&r.mu);
	while (!r.done && !interrupted) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 200 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r.cv, &r.mu, &ts); /* or a signal */
	}
	r.done = true;
	pthread_mutex_unlock(&r.mu);
	if (r.check_gaps)
		ret = report_gaps(&r);
out:
	if (sub) {
		natsSubscription_Unsubscribe(sub);
		natsSubscription_Destroy(sub);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	nats_Close();
	return ret;
}
