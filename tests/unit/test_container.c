// SPDX-License-Identifier: GPL-2.0
/* Container ids from the cgroup paths of the common runtimes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "enrich/container.h"

#define ID "3f4e1c0b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

static void check(const char *path, const char *want)
{
	char out[PM_CONTAINER_ID_LEN + 1];

	if (!want) {
		assert_int_equal(pm_container_id_from_cgroup_path(path, out), 0);
		return;
	}
	assert_int_equal(pm_container_id_from_cgroup_path(path, out), 1);
	assert_string_equal(out, want);
}

static void test_runtimes(void **state)
{
	(void)state;
	check("/system.slice/docker-" ID ".scope", ID);
	check("/docker/" ID, ID);
	check("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
	      "cri-containerd-" ID ".scope", ID);
	check("/machine.slice/libpod-" ID ".scope/container", ID);
	check("/kubepods/besteffort/pod0f1e/crio-" ID ".scope", ID);
}

static void test_not_containers(void **state)
{
	(void)state;
	check("/", NULL);
	check("/user.slice/user-1000.slice/session-3.scope", NULL);
	check("/system.slice/ssh.service", NULL);
	/* 63 and 65 hex digits are not ids */
	check("/docker/" "3f4e1c0b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2", NULL);
	check("/docker/" ID "0", NULL);
}

static void test_upper_case_is_normalised(void **state)
{
	(void)state;
	check("/docker/3F4E1C0B9A8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F", ID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtimes),
		cmocka_unit_test(test_not_containers),
		cmocka_unit_test(test_upper_case_is_normalised),
	};

	return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}
