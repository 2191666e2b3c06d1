// SPDX-License-Identifier: GPL-2.0
/* The configuration's filters as the BPF side gets them (src/collect/filter.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "collect/filter.h"

/* p->bytes must hold exactly want (want_len bytes, NULs included). */
static void assert_bytes(const struct pm_filter_pattern *p, const char *want, size_t want_len,
			 unsigned ncomps)
{
	assert_int_equal(p->len, want_len);
	assert_memory_equal(p->bytes, want, want_len);
	assert_int_equal(p->ncomps, ncomps);
	/* the rest is zero: the kernel compares whole words */
	for (size_t i = want_len; i < PM_FILTER_PATTERN_MAX; i++)
		assert_int_equal(p->bytes[i], 0);
}

static void test_encode_name(void **state)
{
	struct pm_filter_pattern p;

	(void)state;
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_NAME, "capsh"), 0);
	assert_int_equal(p.kind, PM_PATTERN_NAME);
	assert_bytes(&p, "capsh", 5, 0);
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_NAME, "a/b"), -EINVAL);
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_NAME, ""), -EINVAL);
}

static void test_encode_path(void **state)
{
	struct pm_filter_pattern p;

	(void)state;
	/* leaf first, each component NUL-terminated, as the dentry walk writes */
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PATH, "/usr/sbin/capsh"), 0);
	assert_bytes(&p, "capsh\0sbin\0usr\0", 15, 3);
	assert_int_equal(p.partial_len, 0);
	/* repeated and trailing slashes make no component */
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PATH, "//usr///bin/id/"), 0);
	assert_bytes(&p, "id\0bin\0usr\0", 11, 3);
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PATH, "usr/bin/id"), -EINVAL);
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PATH, "/"), -EINVAL);
}

static void test_encode_prefix(void **state)
{
	struct pm_filter_pattern p;

	(void)state;
	/* a directory: whole components, nothing partial */
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PREFIX, "/usr/bin/"), 0);
	assert_bytes(&p, "bin\0usr\0", 8, 2);
	assert_int_equal(p.partial_len, 0);
	/* ending inside a name: the name's start is the partial component */
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PREFIX, "/usr/bin/ca"), 0);
	assert_bytes(&p, "bin\0usr\0", 8, 2);
	assert_int_equal(p.partial_len, 2);
	assert_memory_equal(p.partial, "ca", 2);
	/* "/" is a prefix of every path */
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PREFIX, "/"), 0);
	assert_bytes(&p, "", 0, 0);
	assert_int_equal(p.partial_len, 0);
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PREFIX, "bin/"), -EINVAL);
}

static void test_encode_limits(void **state)
{
	char text[PM_FILTER_PATTERN_MAX + 2];
	struct pm_filter_pattern p;

	(void)state;
	/* a path of PM_FILTER_PATTERN_MAX bytes encodes in as many */
	memset(text, 'a', sizeof(text));
	text[0] = '/';
	text[PM_FILTER_PATTERN_MAX] = '\0';
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PATH, text), 0);
	assert_int_equal(p.len, PM_FILTER_PATTERN_MAX);
	text[PM_FILTER_PATTERN_MAX] = 'a';
	text[PM_FILTER_PATTERN_MAX + 1] = '\0';
	assert_int_equal(pm_filter_pattern_encode(&p, PM_PATTERN_PATH, text), -EINVAL);
}

static char *names[] = { "capsh", "tail" };
static char *paths[] = { "/usr/sbin/capsh" };
static char *prefixes[] = { "/usr/local/bin/", "/opt/to" };

static struct pm_process_filter binary_filter(void)
{
	struct pm_process_filter pf = {
		.name = { names, 2 },
		.path = { paths, 1 },
		.prefix = { prefixes, 2 },
	};

	return pf;
}

static void test_binary_matches(void **state)
{
	struct pm_process_filter pf = binary_filter();

	(void)state;
	assert_true(pm_filter_binary_matches(&pf, "tail", "/usr/bin/tail"));
	assert_true(pm_filter_binary_matches(&pf, "x", "/usr/sbin/capsh"));
	assert_false(pm_filter_binary_matches(&pf, "capsh2", "/usr/sbin/capsh2"));
	assert_true(pm_filter_binary_matches(&pf, "x", "/usr/local/bin/x"));
	assert_false(pm_filter_binary_matches(&pf, "bin", "/usr/local/bin"));
	assert_true(pm_filter_binary_matches(&pf, "tool", "/opt/tool"));
	assert_true(pm_filter_binary_matches(&pf, "to", "/opt/to"));
	assert_true(pm_filter_binary_matches(&pf, "y", "/opt/tools/y"));
	assert_false(pm_filter_binary_matches(&pf, "t", "/opt/t"));
	/* a deleted file keeps its prefix, not its path */
	assert_true(pm_filter_binary_matches(&pf, "x", "/usr/local/bin/x (deleted)"));
	assert_false(pm_filter_binary_matches(&pf, "x", "/usr/sbin/capsh (deleted)"));
}

static void test_patterns_from_config(void **state)
{
	struct pm_config cfg = { .process_filter = binary_filter() };
	struct pm_filter_pattern out[PM_FILTER_PATTERNS_MAX];

	(void)state;
	assert_int_equal(pm_filter_patterns_from_config(&cfg, out, PM_FILTER_PATTERNS_MAX), 5);
	assert_int_equal(out[0].kind, PM_PATTERN_NAME);
	assert_int_equal(out[1].kind, PM_PATTERN_NAME);
	assert_int_equal(out[2].kind, PM_PATTERN_PATH);
	assert_int_equal(out[3].kind, PM_PATTERN_PREFIX);
	assert_int_equal(out[4].kind, PM_PATTERN_PREFIX);
	assert_int_equal(pm_filter_patterns_from_config(&cfg, out, 4), -EINVAL);
}

static void test_conf_flags(void **state)
{
	uint32_t uids[] = { 0 }, egids[] = { 0, 10 };
	struct pm_config cfg = { 0 };
	struct pm_filter_conf conf;

	(void)state;
	/* deny_list alone filters nothing: Bombini's empty mask */
	cfg.process_filter.deny_list = true;
	pm_filter_conf_from_config(&cfg, &conf);
	assert_int_equal(conf.process, 0);

	cfg.process_filter.euid = (struct pm_idlist){ uids, 1 };
	cfg.process_filter.name = (struct pm_strlist){ names, 2 };
	cfg.block[PM_BLOCK_SETGID].cred_filter = (struct pm_cred_filter){ .has_uid_filter = true,
							  .euid = { egids, 2 } };
	cfg.block[PM_BLOCK_CAPSET].cred_filter = (struct pm_cred_filter){ .has_cap_filter = true,
							  .cap_effective = 1 << 13,
							  .cap_deny_list = true };
	cfg.block[PM_BLOCK_CREATE_USER_NS].cred_filter = (struct pm_cred_filter){ .has_cap_filter = true,
								  .cap_any = true };
	pm_filter_conf_from_config(&cfg, &conf);
	assert_int_equal(conf.process, PM_PF_EUID | PM_PF_BINARY | PM_PF_DENY);
	assert_int_equal(conf.npatterns, 2);
	assert_int_equal(conf.cred[PM_HOOK_SETUID].flags, 0);
	assert_int_equal(conf.cred[PM_HOOK_SETGID].flags, PM_CF_IDS);
	assert_int_equal(conf.cred[PM_HOOK_CAPSET].flags, PM_CF_CAPS | PM_CF_CAPS_DENY);
	assert_int_equal(conf.cred[PM_HOOK_CAPSET].caps, 1 << 13);
	assert_int_equal(conf.cred[PM_HOOK_USER_NS].flags, PM_CF_CAPS | PM_CF_CAPS_ANY);
}

struct seen {
	__u32 list[8], id[8];
	size_t n;
};

static int collect(__u32 list, __u32 id, void *arg)
{
	struct seen *s = arg;

	s->list[s->n] = list;
	s->id[s->n++] = id;
	return s->n == 8 ? -1 : 0;
}

static void test_for_each_id(void **state)
{
	uint32_t uids[] = { 0, 1000 }, auids[] = { 4242 }, euids[] = { 0 };
	struct pm_config cfg = { 0 };
	struct seen s = { .n = 0 };

	(void)state;
	cfg.process_filter.uid = (struct pm_idlist){ uids, 2 };
	cfg.process_filter.auid = (struct pm_idlist){ auids, 1 };
	cfg.block[PM_BLOCK_SETUID].cred_filter.euid = (struct pm_idlist){ euids, 1 };
	assert_int_equal(pm_filter_for_each_id(&cfg, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.list[0], PM_IDS_UID);
	assert_int_equal(s.id[1], 1000);
	assert_int_equal(s.list[2], PM_IDS_AUID);
	assert_int_equal(s.id[2], 4242);
	assert_int_equal(s.list[3], PM_IDS_SETUID_EUID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_name),
		cmocka_unit_test(test_encode_path),
		cmocka_unit_test(test_encode_prefix),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_binary_matches),
		cmocka_unit_test(test_patterns_from_config),
		cmocka_unit_test(test_conf_flags),
		cmocka_unit_test(test_for_each_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
