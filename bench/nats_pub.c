// SPDX-License-Identifier: GPL-2.0
/*
 * nats_pub: the broker's own limit, as a floor for procmon's fleet output.
 *
 *   nats_pub URL STREAM N [SIZE [WINDOW [MSGID]]]
 *
 * A minimal libnats JetStream publisher: creates STREAM (file storage,
 * subjects "<STREAM>.>", one replica) if it is absent, then publishes N
 * messages of SIZE bytes (default 1024) to "<STREAM>.bench" with
 * js_PublishMsgAsync, at most WINDOW (default 4096, procmon's window)
 * unacknowledged, and counts the acknowledgements in the ack handler. With
 * MSGID 1 every message carries a unique Nats-Msg-Id header, as procmon's
 * do (the server then checks its duplicate window for each).
 *
 * Prints one line: "ACKED SECONDS MSGS_PER_S", SECONDS from the first
 * publish to the last acknowledgement. Exit status 1 if any publish or
 * acknowledgement failed or not all came back within 60 s.
 *
 * Build: gcc -O2 -o nats_pub bench/nats_pub.c -lnats
 */
#include <nats/nats.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int64_t acked, failed;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	(void)pa;
	(void)closure;
	if (pae)
		__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&acked, 1, __ATOMIC_RELAXED);
	natsMsg_Destroy(msg);
}

static int fail(const char *what, natsStatus s)
{
	fprintf(stderr, "nats_pub: %s: %s\n", what, natsStatus_GetText(s));
	return 1;
}

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char subjects[256], subject[256], id[32];
	const char *subj = subjects;
	long n, size = 1024, window = 4096, msgid = 0;
	char *body;
	double t0, t1;

	if (argc < 4 || argc > 7) {
		fprintf(stderr, "usage: %s URL STREAM N [SIZE [WINDOW [MSGID]]]\n", argv[0]);
		return 2;
	}
	n = atol(argv[3]);
	if (argc > 4)
		size = atol(argv[4]);
	if (argc > 5)
		window = atol(argv[5]);
	if (argc > 6)
		msgid = atol(argv[6]);
	if (n < 1 || size < 1 || window < 1)
		return 2;
	body = malloc((size_t)size);
	if (!body)
		return 1;
	memset(body, 'x', (size_t)size);
	snprintf(subjects, sizeof(subjects), "%s.>", argv[2]);
	snprintf(subject, sizeof(subject), "%s.bench", argv[2]);

	if ((s = nats_Open(-1)) != NATS_OK)
		return fail("nats_Open", s);
	if ((s = natsConnection_ConnectTo(&nc, argv[1])) != NATS_OK)
		return fail(argv[1], s);
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	jo.PublishAsync.MaxPending = window;
	jo.PublishAsync.AckHandler = on_ack;
	if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK)
		return fail("JetStream", s);
	jsStreamConfig_Init(&sc);
	sc.Name = argv[2];
	sc.Subjects = &subj;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	s = js_AddStream(&si, js, &sc, NULL, &jerr);
	if (s != NATS_OK && jerr != JSStreamNameExistErr)
		return fail("add stream", s);
	jsStreamInfo_Destroy(si);

	t0 = now_s();
	for (long i = 0; i < n; i++) {
		natsMsg *m = NULL;
		jsPubOptions po, *pop = NULL;

		if ((s = natsMsg_Create(&m, subject, NULL, body, (int)size)) != NATS_OK)
			return fail("message", s);
		if (msgid) {
			jsPubOptions_Init(&po);
			snprintf(id, sizeof(id), "bench-%ld", i);
			po.MsgId = id;
			pop = &po;
		}
		/* blocks (up to jo.Wait) while WINDOW are outstanding */
		s = js_PublishMsgAsync(js, &m, pop);
		if (s != NATS_OK) {
			natsMsg_Destroy(m);
			return fail("publish", s);
		}
	}
	{
		jsPubOptions po;

		jsPubOptions_Init(&po);
		po.MaxWait = 60000;
		s = js_PublishAsyncComplete(js, &po);
	}
	t1 = now_s();
	if (s != NATS_OK)
		return fail("waiting for acknowledgements", s);
	printf("%lld %.4f %.0f\n", (long long)acked, t1 - t0, (double)acked / (t1 - t0));
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	free(body);
	return acked == n && !failed ? 0 : 1;
}
