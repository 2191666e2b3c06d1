// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet spool's promises: records come back in order and whole, an
 * acknowledged record never comes back after a restart, a torn or damaged
 * file gives back its intact records and counts the rest, never garbage,
 * and the size bound drops the oldest and counts them.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "output/spool.h"
#include "spool_dir.h"

#define fresh_dir fresh_spool_dir

static struct pm_spool *open_spool(const char *d, uint64_t max)
{
	struct pm_spool *s = NULL;
	char why[512] = "";
	int err = pm_spool_open(&s, d, max, why, sizeof(why));

	if (err)
		fail_msg("pm_spool_open: %d %s", err, why);
	return s;
}

static void put(struct pm_spool *s, int i)
{
	char rec[64];
	int n = snprintf(rec, sizeof(rec), "record %06d", i);

	assert_true(pm_spool_append(s, rec, n, 1) > 0);
}

/* Read every available record: their numbers in `got` (as record ids). */
static int drain(struct pm_spool *s, int *got, int max, uint64_t *last_rn)
{
	const char *data;
	size_t len;
	uint64_t rn;
	uint32_t count;
	int n = 0;

	while (pm_spool_next(s, &rn, &count, &data, &len) == 0) {
		int id;

		assert_true(len == 13);
		assert_int_equal(count, 1);
		assert_int_equal(sscanf(data, "record %6d", &id), 1);
		if (n < max)
			got[n] = id;
		n++;
		if (last_rn)
			*last_rn = rn;
	}
	return n;
}

static char *segment_path(const char *d, int which)
{
	static char path[512];
	struct dirent **list;
	int n = scandir(d, &list, NULL, alphasort), k = 0;

	path[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strstr(list[i]->d_name, ".seg") && k++ == which)
			snprintf(path, sizeof(path), "%s/%s", d, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return path;
}

static void test_roundtrip_ack_restart(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	int got[100];
	uint64_t rn = 0;
	struct stat st;

	(void)state;
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	for (int i = 0; i < 10; i++)
		put(s, i);
	assert_int_equal(drain(s, got, 100, NULL), 0); /* not committed yet */
	assert_int_equal(pm_spool_commit(s), 0);
	assert_int_equal(drain(s, got, 100, &rn), 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(got[i], i);
	/* the first four acknowledged; a rewind gives the other six again */
	pm_spool_ack(s, rn - 5);
	pm_spool_rewind(s);
	assert_int_equal(drain(s, got, 100, NULL), 6);
	assert_int_equal(got[0], 4);
	pm_spool_close(s);

	/* a restart sends the unacknowledged six, then new ones after them */
	s = open_spool(d, 64 << 20);
	for (int i = 10; i < 12; i++)
		put(s, i);
	assert_int_equal(pm_spool_commit(s), 0);
	assert_int_equal(drain(s, got, 100, NULL), 8);
	assert_int_equal(got[0], 4);
	assert_int_equal(got[7], 11);
	pm_spool_close(s);
}

static void test_acknowledged_segments_removed(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 1 << 20); /* 128 KiB segments */
	struct pm_spool_stats st;
	int got[1];

	(void)state;
	for (int b = 0; b < 40; b++) {
		for (int i = 0; i < 1000; i++)
			put(s, b * 1000 + i);
		assert_int_equal(pm_spool_commit(s), 0);
		drain(s, got, 0, NULL);
		pm_spool_ack(s, pm_spool_end(s));
		assert_int_equal(pm_spool_sync(s, true), 0);
	}
	pm_spool_stats(s, &st);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.unacked, 0);
	assert_true(st.disk_bytes <= 256 << 10);
	pm_spool_close(s);
	s = open_spool(d, 1 << 20);
	assert_int_equal(drain(s, got, 0, NULL), 0);
	pm_spool_close(s);
}

static void test_torn_tail(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	struct pm_spool_stats st;
	int got[100];
	struct stat sb;

	(void)state;
	for (int i = 0; i < 5; i++)
		put(s, i);
	assert_int_equal(pm_spool_commit(s), 0);
	pm_spool_close(s);
	/* a power cut in the middle of the last record */
	assert_int_equal(stat(segment_path(d, 0), &sb), 0);
	assert_int_equal(truncate(segment_path(d, 0), sb.st_size - 7), 0);

	s = open_spool(d, 64 << 20);
	pm_spool_stats(s, &st);
	assert_int_equal(st.corrupt_lost, 1);
	put(s, 100);
	assert_int_equal(pm_spool_commit(s), 0);
	assert_int_equal(drain(s, got, 100, NULL), 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(got[i], i);
	assert_int_equal(got[4], 100);
	pm_spool_close(s);
}

static void test_damaged_middle_record(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	struct pm_spool_stats st;
	int got[100], fd;
	const int rec = PM_SPOOL_HDR + 13;

	(void)state;
	for (int i = 0; i < 10; i++)
		put(s, i);
	assert_int_equal(pm_spool_commit(s), 0);
	pm_spool_close(s);
	/* flip one payload byte of record 4 (its CRC no longer matches) */
	fd = open(segment_path(d, 0), O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 4 * rec + PM_SPOOL_HDR + 3), 1);
	close(fd);

	s = open_spool(d, 64 << 20);
	pm_spool_stats(s, &st);
	assert_int_equal(st.corrupt_lost, 1);
	assert_int_equal(drain(s, got, 100, NULL), 9);
	for (int i = 0, want = 0; i < 9; i++, want++) {
		if (want == 4)
			want++;
		assert_int_equal(got[i], want);
	}
	pm_spool_close(s);
}

static void test_garbage_segment(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	struct pm_spool_stats st;
	char path[256], junk[4096];
	int got[10], fd;

	(void)state;
	pm_spool_close(s);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7919 + 13);
	memcpy(junk + 100, "PSR1", 4); /* a magic with nothing valid behind it */
	snprintf(path, sizeof(path), "%s/0000000000000001.seg", d);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	s = open_spool(d, 64 << 20);
	pm_spool_stats(s, &st);
	assert_true(st.corrupt_lost >= 1);
	assert_int_equal(drain(s, got, 10, NULL), 0);
	put(s, 7);
	assert_int_equal(pm_spool_commit(s), 0);
	assert_int_equal(drain(s, got, 10, NULL), 1);
	assert_int_equal(got[0], 7);
	pm_spool_close(s);
}

static void test_bad_cursor_resends_everything(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	char path[256];
	int got[100], fd;

	(void)state;
	for (int i = 0; i < 6; i++)
		put(s, i);
	assert_int_equal(pm_spool_commit(s), 0);
	drain(s, got, 100, NULL);
	pm_spool_ack(s, pm_spool_end(s) - 2);
	pm_spool_close(s);
	snprintf(path, sizeof(path), "%s/cursor", d);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "procmon-spool-cursor 5 0\n", 25), 25);
	close(fd);
	s = open_spool(d, 64 << 20);
	assert_int_equal(drain(s, got, 100, NULL), 6);
	pm_spool_close(s);
}

static void test_size_bound_drops_oldest(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 1 << 20);
	struct pm_spool_stats st;
	int *got = calloc(200000, sizeof(int));
	int n;

	(void)state;
	/* nothing acknowledged: 33 bytes a record, 100,000 of them = 3.3 MB */
	for (int b = 0; b < 100; b++) {
		for (int i = 0; i < 1000; i++)
			put(s, b * 1000 + i);
		assert_int_equal(pm_spool_commit(s), 0);
		pm_spool_stats(s, &st);
		assert_true(st.disk_bytes <= 1 << 20);
	}
	assert_true(st.dropped > 60000);
	assert_int_equal(st.dropped + st.unacked, 100000);
	n = drain(s, got, 200000, NULL);
	assert_int_equal((uint64_t)n, st.unacked);
	/* what is left is the newest, in order */
	assert_int_equal(got[n - 1], 99999);
	for (int i = 1; i < n; i++)
		assert_int_equal(got[i], got[i - 1] + 1);
	pm_spool_close(s);
	free(got);
}

static void test_unsafe_directory_refused(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = NULL;
	char why[512];

	(void)state;
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(chmod(d, 0777), 0);
	assert_int_equal(pm_spool_open(&s, d, 1 << 20, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable"));
	assert_int_equal(pm_spool_open(&s, "relative/dir", 1 << 20, why, sizeof(why)), -EINVAL);
}

static void test_one_spool_one_procmon(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 1 << 20), *t = NULL;
	char why[512];

	(void)state;
	assert_int_not_equal(pm_spool_open(&t, d, 1 << 20, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "in use"));
	pm_spool_close(s);
}

/* A batch of n events takes n numbers: the counts (unacknowledged, lost)
 * are in events, and an acknowledgement covers the whole record. */
static void test_batch_records_take_their_count(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	struct pm_spool_stats st;
	const char *data;
	uint64_t rn, first;
	uint32_t count;
	size_t len;

	(void)state;
	first = pm_spool_append(s, "batch-a", 7, 5);
	assert_int_equal(pm_spool_append(s, "batch-b", 7, 3), first + 5);
	assert_int_equal(pm_spool_append(s, "none", 4, 0), 0); /* no events: refused */
	assert_int_equal(pm_spool_commit(s), 0);
	pm_spool_stats(s, &st);
	assert_int_equal(st.unacked, 8);
	assert_int_equal(pm_spool_next(s, &rn, &count, &data, &len), 0);
	assert_int_equal(rn, first);
	assert_int_equal(count, 5);
	assert_memory_equal(data, "batch-a", 7);
	pm_spool_ack(s, rn + count);
	pm_spool_stats(s, &st);
	assert_int_equal(st.unacked, 3);
	pm_spool_close(s);
	/* after a restart: the second batch, whole, under its number */
	s = open_spool(d, 64 << 20);
	pm_spool_stats(s, &st);
	assert_int_equal(st.recovered, 3);
	assert_int_equal(pm_spool_next(s, &rn, &count, &data, &len), 0);
	assert_int_equal(rn, first + 5);
	assert_int_equal(count, 3);
	assert_int_equal(pm_spool_append(s, "c", 1, 1), first + 8);
	pm_spool_close(s);
}

/* A segment the previous version wrote ("PSR1" records, no count) is read
 * as one event a record, and new records follow its numbers. */
static void test_previous_version_records_read(void **state)
{
	const char *d = fresh_dir();
	struct pm_spool *s = open_spool(d, 64 << 20);
	char path[256], rec[3][PM_SPOOL_HDR_V1 + 13];
	int got[10], fd;

	(void)state;
	pm_spool_close(s);
	for (int i = 0; i < 3; i++) {
		char *p = rec[i];
		uint64_t rn = 7 + i;
		uLong c = crc32(0L, Z_NULL, 0);

		snprintf(p + PM_SPOOL_HDR_V1, 14, "record %06d", 40 + i);
		memcpy(p, "PSR1", 4);
		for (int b = 0; b < 4; b++)
			p[4 + b] = (char)(13 >> (8 * b));
		for (int b = 0; b < 8; b++)
			p[8 + b] = (char)(rn >> (8 * b));
		c = crc32(c, (const Bytef *)p + 4, 12);
		c = crc32(c, (const Bytef *)p + PM_SPOOL_HDR_V1, 13);
		for (int b = 0; b < 4; b++)
			p[16 + b] = (char)(c >> (8 * b));
	}
	snprintf(path, sizeof(path), "%s/0000000000000007.seg", d);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, rec, sizeof(rec)), sizeof(rec));
	close(fd);
	s = open_spool(d, 64 << 20);
	put(s, 43);
	assert_int_equal(pm_spool_commit(s), 0);
	assert_int_equal(drain(s, got, 10, NULL), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(got[i], 40 + i);
	assert_int_equal(pm_spool_end(s), 11);
	pm_spool_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_ack_restart),
		cmocka_unit_test(test_acknowledged_segments_removed),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_damaged_middle_record),
		cmocka_unit_test(test_garbage_segment),
		cmocka_unit_test(test_bad_cursor_resends_everything),
		cmocka_unit_test(test_size_bound_drops_oldest),
		cmocka_unit_test(test_unsafe_directory_refused),
		cmocka_unit_test(test_one_spool_one_procmon),
		cmocka_unit_test(test_batch_records_take_their_count),
		cmocka_unit_test(test_previous_version_records_read),
	};

	return cmocka_run_group_tests(tests, spool_base_setup, spool_base_teardown);
}
