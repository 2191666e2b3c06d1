// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet output's framing (fleet_batch.h): a batch holds consecutive
 * events of one type, each line ending in '\n', zstd-compressed, under its
 * first event's id; a quiet host's events go at once, a busy host's wait
 * for batch_ms or the limits; a record of the previous version decodes as
 * one plain event; a compressed body cut short is refused.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "output/fleet_batch.h"
#include "output/spool.h"
#include "spool_dir.h"

#define MS 1000000ull

struct rig {
	struct pm_nats_config cfg;
	struct pm_spool *spool;
	struct pm_batcher *b;
};

static void rig_open(struct rig *r, enum pm_nats_message message)
{
	char why[256];

	assert_int_equal(pm_nats_config_defaults(&r->cfg), 0);
	r->cfg.message = message;
	assert_int_equal(pm_spool_open(&r->spool, fresh_spool_dir(), 64 << 20, why, sizeof(why)), 0);
	r->b = pm_batcher_new(&r->cfg, "host-1", r->spool);
	assert_non_null(r->b);
}

static void rig_close(struct rig *r)
{
	pm_batcher_free(r->b);
	pm_spool_close(r->spool);
	pm_nats_config_free(&r->cfg);
}

static void add(struct rig *r, const char *type, int i, uint64_t now)
{
	char line[64], id[40];

	snprintf(line, sizeof(line), "{\"type\":\"%s\",\"n\":%d}", type, i);
	snprintf(id, sizeof(id), "id-%d", i);
	pm_batcher_add(r->b, type, line, strlen(line), id, now);
}

/* The next record: its count, subject suffix, id and body decompressed. */
static int next(struct rig *r, char *suffix, char *id, char *body, size_t cap)
{
	struct pm_fleet_rec rec;
	const char *data;
	uint64_t rn;
	uint32_t count;
	size_t len;

	if (pm_spool_next(r->spool, &rn, &count, &data, &len))
		return 0;
	assert_int_equal(pm_fleet_rec_decode(data, len, &rec), 0);
	snprintf(suffix, 128, "%.*s", (int)rec.suffix_len, rec.suffix);
	snprintf(id, 64, "%.*s", (int)rec.id_len, rec.id);
	if (rec.flags & PM_FLEET_REC_ZSTD) {
		size_t n = ZSTD_decompress(body, cap - 1, rec.body, rec.body_len);

		assert_false(ZSTD_isError(n));
		body[n] = '\0';
	} else {
		snprintf(body, cap, "%.*s", (int)rec.body_len, rec.body);
	}
	assert_int_equal(!!(rec.flags & PM_FLEET_REC_BATCH),
			 r->cfg.message == PM_NATS_MESSAGE_BATCH);
	return (int)count;
}

static void test_quiet_host_goes_at_once_one_type_a_batch(void **state)
{
	struct rig r;
	char suffix[128], id[64], body[4096];

	(void)state;
	rig_open(&r, PM_NATS_MESSAGE_BATCH);
	add(&r, "ProcessClone", 1, 1000 * MS);
	add(&r, "ProcessExec", 2, 1000 * MS);
	add(&r, "ProcessClone", 3, 1000 * MS);
	/* a quiet host (nothing sealed before): all of it at once */
	assert_int_equal(pm_batcher_seal(r.b, 1000 * MS, false), 3);
	assert_int_equal(pm_batcher_due(r.b), 0);
	assert_int_equal(pm_spool_commit(r.spool), 0);
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 2);
	assert_string_equal(suffix, "host-1.ProcessClone");
	assert_string_equal(id, "id-1");
	assert_string_equal(body, "{\"type\":\"ProcessClone\",\"n\":1}\n"
				  "{\"type\":\"ProcessClone\",\"n\":3}\n");
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 1);
	assert_string_equal(suffix, "host-1.ProcessExec");
	assert_string_equal(body, "{\"type\":\"ProcessExec\",\"n\":2}\n");
	rig_close(&r);
}

static void test_busy_host_waits_batch_ms_or_the_limit(void **state)
{
	struct pm_batcher_stats st;
	struct rig r;
	char suffix[128], id[64], body[8192];
	uint64_t t = 5000 * MS;

	(void)state;
	rig_open(&r, PM_NATS_MESSAGE_BATCH);
	r.cfg.batch_events = 10;
	for (int i = 0; i < 5; i++)
		add(&r, "ProcessExec", i, t);
	assert_int_equal(pm_batcher_seal(r.b, t, false), 5); /* busy from now */
	add(&r, "ProcessExec", 5, t + 1 * MS);
	assert_int_equal(pm_batcher_seal(r.b, t + 2 * MS, false), 0);
	assert_int_equal(pm_batcher_due(r.b), t + 1 * MS + r.cfg.batch_ms * MS);
	/* the event limit seals without waiting */
	for (int i = 6; i < 20; i++)
		add(&r, "ProcessExec", i, t + 3 * MS);
	assert_int_equal(pm_batcher_seal(r.b, t + 4 * MS, false), 0);
	/* batch_ms after its first event, the rest goes */
	assert_int_equal(pm_batcher_seal(r.b, t + 3 * MS + r.cfg.batch_ms * MS, false), 5);
	assert_int_equal(pm_spool_commit(r.spool), 0);
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 5);
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 10);
	assert_string_equal(id, "id-5");
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 5);
	assert_string_equal(id, "id-15");
	pm_batcher_stats(r.b, &st);
	assert_int_equal(st.batches, 3);
	assert_int_equal(st.events, 20);
	assert_true(st.body_bytes < st.line_bytes);
	rig_close(&r);
}

static void test_event_mode_one_plain_event_a_record(void **state)
{
	struct rig r;
	char suffix[128], id[64], body[256];

	(void)state;
	rig_open(&r, PM_NATS_MESSAGE_EVENT);
	add(&r, "ProcessExit", 7, MS);
	add(&r, "ProcessExit", 8, MS);
	assert_int_equal(pm_batcher_due(r.b), 0);
	assert_int_equal(pm_spool_commit(r.spool), 0);
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 1);
	assert_string_equal(id, "id-7");
	assert_string_equal(body, "{\"type\":\"ProcessExit\",\"n\":7}"); /* no newline */
	assert_int_equal(next(&r, suffix, id, body, sizeof(body)), 1);
	rig_close(&r);
}

static void test_decode_previous_version_and_damage(void **state)
{
	static const char old[] = "\x0dhost-1.ExecEv\x04id-9{\"a\":1}";
	struct pm_fleet_rec rec;
	char payload[256], frame[128];
	size_t n, fl;

	(void)state;
	/* the previous version's record: u8 length, suffix, u8 length, id, line */
	assert_int_equal(pm_fleet_rec_decode(old, sizeof(old) - 1, &rec), 0);
	assert_int_equal(rec.flags, 0);
	assert_int_equal(rec.suffix_len, 13);
	assert_memory_equal(rec.id, "id-9", 4);
	assert_int_equal(rec.body_len, 7);
	/* a compressed batch, then the same cut short by a byte */
	fl = ZSTD_compress(frame, sizeof(frame), "{\"a\":1}\n", 8, 1);
	assert_false(ZSTD_isError(fl));
	n = 0;
	payload[n++] = PM_FLEET_REC_MARK;
	payload[n++] = PM_FLEET_REC_BATCH | PM_FLEET_REC_ZSTD;
	payload[n++] = 3;
	memcpy(payload + n, "h.T", 3);
	n += 3;
	payload[n++] = 2;
	memcpy(payload + n, "id", 2);
	n += 2;
	memcpy(payload + n, frame, fl);
	assert_int_equal(pm_fleet_rec_decode(payload, n + fl, &rec), 0);
	assert_int_equal(pm_fleet_rec_decode(payload, n + fl - 1, &rec), -EBADMSG);
	/* flags of a later version, or an empty subject: not ours */
	payload[1] = 0x40;
	assert_int_equal(pm_fleet_rec_decode(payload, n + fl, &rec), -EINVAL);
	assert_int_equal(pm_fleet_rec_decode("\x00\x00\x00", 3, &rec), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_host_goes_at_once_one_type_a_batch),
		cmocka_unit_test(test_busy_host_waits_batch_ms_or_the_limit),
		cmocka_unit_test(test_event_mode_one_plain_event_a_record),
		cmocka_unit_test(test_decode_previous_version_and_damage),
	};

	return cmocka_run_group_tests(tests, spool_base_setup, spool_base_teardown);
}
