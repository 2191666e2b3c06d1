// SPDX-License-Identifier: GPL-2.0
/* The hasher: SHA-256 of exactly the identified content, nothing for
 * other content, bounded cache with reference-counted entries. */
#define _GNU_SOURCE /* statx, O_PATH */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "enrich/hash.h"

/* no process has pid 0, so /proc/0/exe never matches: the path is used */
#define NO_PID 0

static char dir[] = "/tmp/procmon-test-hash-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static struct pm_file_id id_of(const char *path)
{
	struct pm_file_id id;
	int fd = open(path, O_PATH | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pm_file_id_of_fd(fd, &id), 0);
	close(fd);
	return id;
}

/* The worker finishes within the deadline or the test fails. */
static int settle(const struct pm_hash_entry *e)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (pm_hash_state(e) == PM_HASH_PENDING) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		assert_true(now.tv_sec - t0.tv_sec < 10);
		sched_yield();
	}
	return pm_hash_state(e);
}

static void test_digest_of_identified_file(void **state)
{
	struct pm_hasher *h = pm_hasher_new(16);
	char path[256];
	struct pm_file_id id;
	struct pm_hash_entry *e, *again;

	(void)state;
	snprintf(path, sizeof(path), "%s/abc", dir);
	write_file(path, "abc");
	id = id_of(path);
	e = pm_hasher_lookup(h, &id, NO_PID, path, -1);
	assert_non_null(e);
	assert_int_equal(settle(e), PM_HASH_DONE);
	/* FIPS 180-2 test vector for "abc" */
	assert_string_equal(e->hex, "sha256:ba7816bf8f01cfea414140de5dae2223"
				    "b00361a396177a9cb410ff61f20015ad");
	again = pm_hasher_lookup(h, &id, NO_PID, path, -1); /* cached, same entry */
	assert_ptr_equal(again, e);
	pm_hash_put(again);
	pm_hash_put(e);
	pm_hasher_free(h);
}

/*
 * The unlink of a running file changes only its ctime: that exact change
 * is accepted (the failed hash is computed again), any other is not.
 */
static void test_accept_unlinked(void **state)
{
	struct pm_hasher *h = pm_hasher_new(16);
	char path[256];
	struct pm_file_id id, now, other;
	struct pm_hash_entry *e;

	(void)state;
	snprintf(path, sizeof(path), "%s/implant", dir);
	write_file(path, "abc");
	id = id_of(path);
	assert_int_equal(chmod(path, 0644), 0); /* a ctime-only change, as unlink makes */
	now = id_of(path);
	e = pm_hasher_lookup(h, &id, NO_PID, path, -1);
	assert_int_equal(settle(e), PM_HASH_FAILED);
	other = now;
	other.size++;
	assert_false(pm_hasher_accept_unlinked(h, e, &other, -1));
	other = now;
	other.mtime_nsec ^= 1;
	assert_false(pm_hasher_accept_unlinked(h, e, &other, -1));
	assert_int_equal(pm_hash_state(e), PM_HASH_FAILED);
	assert_true(pm_hasher_accept_unlinked(h, e, &now, -1));
	assert_int_equal(settle(e), PM_HASH_DONE);
	assert_string_equal(e->hex, "sha256:ba7816bf8f01cfea414140de5dae2223"
				    "b00361a396177a9cb410ff61f20015ad");
	pm_hash_put(e);
	pm_hasher_free(h);
}

/* The worker refuses the file: the entry ends FAILED, with no digest. */
static void assert_refused(struct pm_hasher *h, const struct pm_file_id *id, const char *path)
{
	struct pm_hash_entry *e = pm_hasher_lookup(h, id, NO_PID, path, -1);

	assert_non_null(e);
	assert_int_equal(settle(e), PM_HASH_FAILED);
	pm_hash_put(e);
}

static void test_other_content_is_never_hashed(void **state)
{
	struct pm_hasher *h = pm_hasher_new(16);
	char path[256];
	struct pm_file_id id;

	(void)state;
	snprintf(path, sizeof(path), "%s/changed", dir);
	write_file(path, "old");
	id = id_of(path);
	/* what the kernel saw differs from what the path holds now */
	id.size += 1;
	assert_refused(h, &id, path);
	id = id_of(path);
	id.ctime_nsec ^= 1;
	assert_refused(h, &id, path);
	id = id_of(path);
	id.ino += 1;
	assert_refused(h, &id, path);
	id = id_of(path);
	id.mnt_id += 1; /* same inode number on another mount */
	assert_refused(h, &id, path);
	assert_refused(h, &id, NULL); /* no way to reach it */
	pm_hasher_free(h);
}

static void test_too_large_is_skipped_and_counted(void **state)
{
	struct pm_hasher *h = pm_hasher_new(16);
	struct pm_file_id id = { .size = PM_HASH_MAX_BYTES + 1 };

	(void)state;
	assert_null(pm_hasher_lookup(h, &id, NO_PID, "/nonexistent", -1));
	assert_int_equal(pm_hasher_skipped(h), 1);
	pm_hasher_free(h);
}

static void test_cache_is_bounded_and_entries_outlive_eviction(void **state)
{
	struct pm_hasher *h = pm_hasher_new(4);
	struct pm_hash_entry *first = NULL;
	char path[256];

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct pm_file_id id;
		struct pm_hash_entry *e;

		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		write_file(path, "x");
		id = id_of(path);
		e = pm_hasher_lookup(h, &id, NO_PID, path, -1);
		assert_non_null(e);
		assert_int_equal(settle(e), PM_HASH_DONE);
		if (i == 0)
			first = e; /* kept, like an image would */
		else
			pm_hash_put(e);
		assert_true(pm_hasher_cached(h) <= 4);
	}
	/* evicted from the cache long ago, still valid for its holder */
	assert_string_equal(first->hex, "sha256:2d711642b726b04401627ca9fbac32f5"
					"c8530fb1903cc4db02258717921a4881");
	pm_hash_put(first);
	pm_hasher_free(h);
}

/* A path swapped for a FIFO must not be opened for reading: that would
 * block procmon (or release a writer waiting on the FIFO). */
static void test_special_files_are_never_opened(void **state)
{
	struct pm_hasher *h = pm_hasher_new(16);
	char path[256];
	struct pm_file_id id;

	(void)state;
	snprintf(path, sizeof(path), "%s/was-a-binary", dir);
	write_file(path, "x");
	id = id_of(path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_refused(h, &id, path); /* the worker neither blocks nor reads it */
	assert_refused(h, &id, "/dev/null");
	pm_hasher_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_of_identified_file),
		cmocka_unit_test(test_accept_unlinked),
		cmocka_unit_test(test_other_content_is_never_hashed),
		cmocka_unit_test(test_cache_is_bounded_and_entries_outlive_eviction),
		cmocka_unit_test(test_special_files_are_never_opened),
		cmocka_unit_test(test_too_large_is_skipped_and_counted),
	};

	return cmocka_run_group_tests_name("hash", tests, setup, teardown);
}
