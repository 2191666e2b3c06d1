// SPDX-License-Identifier: GPL-2.0
/* The pure parts of --format limacharlie: atoms, event ids, user names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "render/json.h"
#include "render/render.h"
#include "enrich/users.h"

static void test_atom(void **state)
{
	static const uint8_t zero[16], key[16] = { 0xff, 0x01, [15] = 0x80 };
	const char *exec_id = "0123456789abcdef0123456789abcdef";
	char atom[33];

	(void)state;
	pm_atom(exec_id, zero, atom);
	assert_string_equal(atom, exec_id);
	pm_atom(exec_id, key, atom);
	assert_string_equal(atom, "fe22456789abcdef0123456789abcd6f");
	/* another process, another atom: XOR with one key is one-to-one */
	pm_atom("0123456789abcdef0123456789abcdee", key, atom);
	assert_string_equal(atom, "fe22456789abcdef0123456789abcd6e");
}

static void test_uuid4(void **state)
{
	uint8_t ones[16], zeros[16] = { 0 };
	char id[37];

	(void)state;
	memset(ones, 0xff, sizeof(ones));
	pm_uuid4_format(ones, id);
	assert_string_equal(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	pm_uuid4_format(zeros, id);
	assert_string_equal(id, "00000000-0000-4000-8000-000000000000");
}

static void test_users(void **state)
{
	static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n"
				     "nobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n"
				     "toor:x:0:0::/root:/bin/sh\n"
				     "alice:x:1000:1000::/home/alice:/bin/bash\n";
	FILE *f = fmemopen((void *)passwd, sizeof(passwd) - 1, "r");
	struct pm_users *u = pm_users_parse(f);

	(void)state;
	fclose(f);
	assert_non_null(u);
	/* the first entry of a uid wins, as getpwuid would return */
	assert_string_equal(pm_user_name(u, 0), "root");
	assert_string_equal(pm_user_name(u, 1000), "alice");
	assert_string_equal(pm_user_name(u, 65534), "nobody");
	assert_null(pm_user_name(u, 1));
	assert_null(pm_user_name(NULL, 0));
	pm_users_free(u);
}

/* Through NSS (this host's files: root is 0), answers cached. */
static void test_users_nss(void **state)
{
	struct pm_users *u = pm_users_load();
	const char *root;

	(void)state;
	assert_non_null(u);
	root = pm_user_name(u, 0);
	assert_non_null(root);
	assert_string_equal(root, "root");
	/* the cached answer: the same string, not a new lookup */
	assert_ptr_equal(pm_user_name(u, 0), root);
	assert_null(pm_user_name(u, 4000000000u));
	assert_null(pm_user_name(u, 4000000000u));
	/* more uids than the cache holds: it starts over, answers stay right */
	for (uint32_t uid = 3000000000u; uid < 3000000000u + 5000; uid++)
		assert_null(pm_user_name(u, uid));
	assert_string_equal(pm_user_name(u, 0), "root");
	pm_users_free(u);
}

static void test_str_parts(void **state)
{
	const char *parts[] = { "/bin/\"x", " ", "a\nb\xff" };
	size_t lens[] = { 7, 1, 4 };
	struct json_buf b;
	char got[64];

	(void)state;
	json_init(&b);
	json_obj_begin(&b);
	json_key(&b, "k");
	json_str_parts(&b, parts, lens, 3);
	json_kv_u64(&b, "n", 1);
	json_obj_end(&b);
	snprintf(got, sizeof(got), "%.*s", (int)b.buf.len, b.buf.data);
	assert_string_equal(got, "{\"k\":\"/bin/\\\"x a\\nb\xef\xbf\xbd\",\"n\":1}");
	json_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atom),
		cmocka_unit_test(test_uuid4),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_users_nss),
		cmocka_unit_test(test_str_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
