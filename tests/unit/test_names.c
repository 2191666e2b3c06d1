// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>

#include "render/names.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALL_KNOWN ((1ULL << (PM_CAP_LAST_KNOWN + 1)) - 1)

struct named {
	int num;
	const char *name;
};

/* Numbers from the system headers, names by stringification, so the
 * tables in names.c are checked against the kernel's own spelling. */
#define N(x) { x, #x }

static const struct named caps[] = {
	N(CAP_CHOWN), N(CAP_DAC_OVERRIDE), N(CAP_DAC_READ_SEARCH),
	N(CAP_FOWNER), N(CAP_FSETID), N(CAP_KILL), N(CAP_SETGID),
	N(CAP_SETUID), N(CAP_SETPCAP), N(CAP_LINUX_IMMUTABLE),
	N(CAP_NET_BIND_SERVICE), N(CAP_NET_BROADCAST), N(CAP_NET_ADMIN),
	N(CAP_NET_RAW), N(CAP_IPC_LOCK), N(CAP_IPC_OWNER), N(CAP_SYS_MODULE),
	N(CAP_SYS_RAWIO), N(CAP_SYS_CHROOT), N(CAP_SYS_PTRACE),
	N(CAP_SYS_PACCT), N(CAP_SYS_ADMIN), N(CAP_SYS_BOOT), N(CAP_SYS_NICE),
	N(CAP_SYS_RESOURCE), N(CAP_SYS_TIME), N(CAP_SYS_TTY_CONFIG),
	N(CAP_MKNOD), N(CAP_LEASE), N(CAP_AUDIT_WRITE), N(CAP_AUDIT_CONTROL),
	N(CAP_SETFCAP), N(CAP_MAC_OVERRIDE), N(CAP_MAC_ADMIN), N(CAP_SYSLOG),
	N(CAP_WAKE_ALARM), N(CAP_BLOCK_SUSPEND), N(CAP_AUDIT_READ),
	N(CAP_PERFMON), N(CAP_BPF), N(CAP_CHECKPOINT_RESTORE),
};

static const struct named sigs[] = {
	N(SIGHUP), N(SIGINT), N(SIGQUIT), N(SIGILL), N(SIGTRAP), N(SIGABRT),
	N(SIGBUS), N(SIGFPE), N(SIGKILL), N(SIGUSR1), N(SIGSEGV), N(SIGUSR2),
	N(SIGPIPE), N(SIGALRM), N(SIGTERM), N(SIGSTKFLT), N(SIGCHLD),
	N(SIGCONT), N(SIGSTOP), N(SIGTSTP), N(SIGTTIN), N(SIGTTOU), N(SIGURG),
	N(SIGXCPU), N(SIGXFSZ), N(SIGVTALRM), N(SIGPROF), N(SIGWINCH),
	N(SIGIO), N(SIGPWR), N(SIGSYS),
};

static void check_caps(uint64_t set, unsigned cap_last, const char *want)
{
	struct json_buf b;
	char got[4096];

	json_init(&b);
	pm_json_caps(&b, set, cap_last);
	assert_false(b.buf.oom);
	assert_true(b.buf.len < sizeof(got));
	memcpy(got, b.buf.data, b.buf.len);
	got[b.buf.len] = '\0';
	assert_string_equal(got, want);
	json_free(&b);
}

static void check_secureexec(unsigned flags, const char *want)
{
	struct json_buf b;
	char got[256];

	json_init(&b);
	pm_json_secureexec(&b, flags);
	assert_true(b.buf.len < sizeof(got));
	memcpy(got, b.buf.data, b.buf.len);
	got[b.buf.len] = '\0';
	assert_string_equal(got, want);
	json_free(&b);
}

static void test_cap_table(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(ARRAY_SIZE(caps), PM_CAP_LAST_KNOWN + 1);
	assert_int_equal(CAP_LAST_CAP, PM_CAP_LAST_KNOWN);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		assert_non_null(pm_cap_name((unsigned)caps[i].num));
		assert_string_equal(pm_cap_name((unsigned)caps[i].num),
				    caps[i].name);
		assert_int_equal(pm_cap_from_name(caps[i].name), caps[i].num);
	}
	assert_null(pm_cap_name(PM_CAP_LAST_KNOWN + 1));
	assert_null(pm_cap_name(63));
	assert_null(pm_cap_name(~0u));
}

static void test_cap_from_name(void **state)
{
	(void)state;
	assert_int_equal(pm_cap_from_name("CAP_NET_RAW"), 13);
	assert_int_equal(pm_cap_from_name("net_raw"), 13);
	assert_int_equal(pm_cap_from_name("NET_RAW"), 13);
	assert_int_equal(pm_cap_from_name("cap_sys_admin"), 21);
	assert_int_equal(pm_cap_from_name("Cap_Bpf"), 39);
	assert_int_equal(pm_cap_from_name("chown"), 0);
	assert_int_equal(pm_cap_from_name("checkpoint_restore"), 40);
	assert_int_equal(pm_cap_from_name(""), -1);
	assert_int_equal(pm_cap_from_name("CAP_"), -1);
	assert_int_equal(pm_cap_from_name("CAP_FOO"), -1);
	assert_int_equal(pm_cap_from_name("CAP_CAP_CHOWN"), -1);
	assert_int_equal(pm_cap_from_name("CAP_CHOWN "), -1);
	assert_int_equal(pm_cap_from_name("CAP_50"), -1);
	assert_int_equal(pm_cap_from_name(NULL), -1);
}

static void test_caps_json(void **state)
{
	(void)state;
	check_caps(0, 40, "\"\"");
	check_caps(1ULL << CAP_NET_RAW, 40, "\"CAP_NET_RAW\"");
	/* the seed's Setcaps example */
	check_caps(1ULL << CAP_SYS_ADMIN | 1ULL << CAP_NET_RAW, 40,
		   "\"CAP_NET_RAW | CAP_SYS_ADMIN\"");
	check_caps(1ULL << CAP_CHECKPOINT_RESTORE | 1ULL << CAP_CHOWN |
			   1ULL << CAP_SETFCAP,
		   40, "\"CAP_CHOWN | CAP_SETFCAP | CAP_CHECKPOINT_RESTORE\"");
}

static void check_hex(uint64_t caps, const char *want)
{
	struct json_buf b;

	json_init(&b);
	pm_json_caps_hex(&b, caps);
	assert_int_equal(b.buf.len, strlen(want));
	assert_memory_equal(b.buf.data, want, b.buf.len);
	json_free(&b);
}

/* caps_format: hex, as /proc/PID/status prints CapEff */
static void test_caps_hex(void **state)
{
	(void)state;
	check_hex(0, "\"0000000000000000\"");
	check_hex(ALL_KNOWN, "\"000001ffffffffff\"");
	check_hex(UINT64_MAX, "\"ffffffffffffffff\"");
	check_hex(1ULL << CAP_NET_RAW, "\"0000000000002000\"");
}

static void test_caps_all(void **state)
{
	(void)state;
	check_caps(ALL_KNOWN, 40, "\"ALL_CAPS\"");
	/* bits the kernel cannot hold do not spoil ALL_CAPS */
	check_caps(ALL_KNOWN | 1ULL << 50, 40, "\"ALL_CAPS\"");
	check_caps(UINT64_MAX, 40, "\"ALL_CAPS\"");
	/* an older kernel knows fewer capabilities */
	check_caps((1ULL << 38) - 1, 37, "\"ALL_CAPS\"");
	check_caps(UINT64_MAX, 63, "\"ALL_CAPS\"");
	check_caps(UINT64_MAX, 200, "\"ALL_CAPS\"");
	/* cap_last 0 means "unknown": CAP_CHOWN alone is not everything */
	check_caps(1, 0, "\"CAP_CHOWN\"");
	check_caps(ALL_KNOWN, 0, "\"ALL_CAPS\"");
}

/* The JSON string of every known name but skip, in bit order. */
static const char *names_except(int skip)
{
	static char want[2048];
	unsigned i;

	strcpy(want, "\"");
	for (i = 0; i <= PM_CAP_LAST_KNOWN; i++) {
		if ((int)i == skip)
			continue;
		if (strlen(want) > 1)
			strcat(want, " | ");
		strcat(want, pm_cap_name(i));
	}
	strcat(want, "\"");
	return want;
}

static void test_caps_not_all(void **state)
{
	(void)state;
	check_caps(ALL_KNOWN & ~(1ULL << CAP_SYS_ADMIN), 40,
		   names_except(CAP_SYS_ADMIN));
	check_caps(ALL_KNOWN & ~1ULL, 40, names_except(CAP_CHOWN));
	check_caps(ALL_KNOWN & ~(1ULL << 40), 40, names_except(40));
	/* a newer kernel (cap_last 41) would also need bit 41 */
	check_caps(ALL_KNOWN, 41, names_except(-1));

	/* a newer kernel's unnamed bits are written by number */
	check_caps(1ULL << 41 | 1ULL << 50 | 1ULL << 63, 63,
		   "\"CAP_41 | CAP_50 | CAP_63\"");
	check_caps(1ULL << CAP_KILL | 1ULL << 50, 40,
		   "\"CAP_KILL | CAP_50\"");
}

static void test_caps_every_bit(void **state)
{
	char want[64];
	unsigned i;

	(void)state;
	/* no bit alone reads as the full set (cap_last 40) */
	for (i = 0; i < 64; i++) {
		const char *name = pm_cap_name(i);

		if (name)
			snprintf(want, sizeof(want), "\"%s\"", name);
		else
			snprintf(want, sizeof(want), "\"CAP_%u\"", i);
		check_caps(1ULL << i, 40, want);
	}
}

static void test_signals(void **state)
{
	char buf[32];
	size_t i;

	(void)state;
	assert_int_equal(ARRAY_SIZE(sigs), 31);
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		assert_int_equal(sigs[i].num, (int)i + 1);
		assert_string_equal(pm_signal_name(sigs[i].num, buf,
						   sizeof(buf)),
				    sigs[i].name);
	}
	assert_string_equal(pm_signal_name(0, buf, sizeof(buf)), "");
	assert_string_equal(pm_signal_name(32, buf, sizeof(buf)), "SIGRTMIN");
	assert_string_equal(pm_signal_name(33, buf, sizeof(buf)),
			    "SIGRTMIN+1");
	assert_string_equal(pm_signal_name(34, buf, sizeof(buf)),
			    "SIGRTMIN+2");
	assert_string_equal(pm_signal_name(64, buf, sizeof(buf)),
			    "SIGRTMIN+32");
	assert_string_equal(pm_signal_name(65, buf, sizeof(buf)), "SIG65");
	assert_string_equal(pm_signal_name(-1, buf, sizeof(buf)), "SIG-1");
	assert_string_equal(pm_signal_name(INT32_MIN, buf, sizeof(buf)),
			    "SIG-2147483648");
	/* named signals need no buffer; unnamed ones never crash without */
	assert_string_equal(pm_signal_name(9, NULL, 0), "SIGKILL");
	assert_non_null(pm_signal_name(40, NULL, 0));
	/* a short buffer truncates but stays terminated */
	assert_string_equal(pm_signal_name(40, buf, 6), "SIGRT");
}

static void test_secureexec(void **state)
{
	(void)state;
	check_secureexec(0, "\"\"");
	check_secureexec(PM_SECUREEXEC_SETUID, "\"SETUID\"");
	check_secureexec(PM_SECUREEXEC_FILELESS_EXEC, "\"FILELESS_EXEC\"");
	check_secureexec(PM_SECUREEXEC_FILE_CAPS | PM_SECUREEXEC_SETGID,
			 "\"SETGID | FILE_CAPS\"");
	check_secureexec(PM_SECUREEXEC_SETUID | PM_SECUREEXEC_SETGID |
				 PM_SECUREEXEC_FILE_CAPS |
				 PM_SECUREEXEC_FILELESS_EXEC,
			 "\"SETUID | SETGID | FILE_CAPS | FILELESS_EXEC\"");
	/* unknown bits are not invented into names */
	check_secureexec(1u << 4 | 1u << 31 | PM_SECUREEXEC_SETUID,
			 "\"SETUID\"");
}

/* What one writer call appends, as a C string (static buffer). */
#define RENDERED(call)                                       \
	({                                                   \
		static char out_[512];                       \
		struct json_buf b_;                          \
		json_init(&b_);                              \
		call;                                        \
		snprintf(out_, sizeof(out_), "%.*s", (int)b_.buf.len, b_.buf.data); \
		json_free(&b_);                              \
		out_;                                        \
	})

static void test_setid_flags(void **state)
{
	(void)state;
	assert_string_equal(RENDERED(pm_json_setid_flags(&b_, 1)), "\"LSM_SETID_ID\"");
	assert_string_equal(RENDERED(pm_json_setid_flags(&b_, 2)), "\"LSM_SETID_RE\"");
	assert_string_equal(RENDERED(pm_json_setid_flags(&b_, 4)), "\"LSM_SETID_RES\"");
	assert_string_equal(RENDERED(pm_json_setid_flags(&b_, 8)), "\"LSM_SETID_FS\"");
}

static void test_ptrace_modes(void **state)
{
	(void)state;
	/* the seed's spelling, ascending bits */
	assert_string_equal(RENDERED(pm_json_ptrace_mode(&b_, 0x02 | 0x10)),
			    "\"PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS\"");
	assert_string_equal(RENDERED(pm_json_ptrace_mode(&b_, 0x02 | 0x08)),
			    "\"PTRACE_MODE_ATTACH | PTRACE_MODE_FSCREDS\"");
	assert_string_equal(RENDERED(pm_json_ptrace_mode(&b_, 0x01 | 0x04)),
			    "\"PTRACE_MODE_READ | PTRACE_MODE_NOAUDIT\"");
}

static void test_prctl_cmds(void **state)
{
	static const char name[16] = "abc\"\n\xff";
	static const char full[16] = "0123456789abcdef"; /* no NUL: cut at 16 */

	(void)state;
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_DUMPABLE, 1, 0, name, 16)),
			    "{\"PrSetDumpable\":1}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_KEEPCAPS, 1, 0, name, 16)),
			    "{\"PrSetKeepCaps\":1}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_SECUREBITS, 0x2f, 0, name, 16)),
			    "{\"PrSetSecurebits\":47}");
	/* the name is any bytes: escaped, invalid UTF-8 replaced */
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_NAME, 0, 0, name, 16)),
			    "{\"PrSetName\":{\"name\":\"abc\\\"\\n\xef\xbf\xbd\"}}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_NAME, 0, 0, full, 16)),
			    "{\"PrSetName\":{\"name\":\"0123456789abcdef\"}}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_NO_NEW_PRIVS, 1, 0, name, 16)),
			    "{\"PrSetNoNewPrivs\":1}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_SECCOMP, 2, 0, name, 16)),
			    "{\"PrSetSeccomp\":2}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_SET_CHILD_SUBREAPER, 1, 0, name, 16)),
			    "{\"PrSetChildSubreaper\":1}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_CAPBSET_DROP, CAP_NET_RAW, 0, name, 16)),
			    "{\"PrCapbsetDrop\":\"CAP_NET_RAW\"}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_CAPBSET_DROP, 99, 0, name, 16)),
			    "{\"PrCapbsetDrop\":99}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
						       CAP_SYS_ADMIN, name, 16)),
			    "{\"PrCapAmbient\":{\"op\":\"PR_CAP_AMBIENT_RAISE\",\"cap\":\"CAP_SYS_ADMIN\"}}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL,
						       0, name, 16)),
			    "{\"PrCapAmbient\":{\"op\":\"PR_CAP_AMBIENT_CLEAR_ALL\"}}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_CAP_AMBIENT, 9, 1, name, 16)),
			    "{\"PrCapAmbient\":{\"op\":9,\"cap\":\"CAP_DAC_OVERRIDE\"}}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, PR_GET_DUMPABLE, 0, 0, name, 16)),
			    "{\"Opcode\":3}");
	assert_string_equal(RENDERED(pm_json_prctl_cmd(&b_, 0xffffffffull, 0, 0, name, 16)),
			    "{\"Opcode\":4294967295}");
}

static void test_in_object(void **state)
{
	struct json_buf b;
	char got[256];

	(void)state;
	/* the writers take part in comma bookkeeping like any value */
	json_init(&b);
	json_obj_begin(&b);
	json_key(&b, "cap_effective");
	pm_json_caps(&b, 0, 40);
	json_key(&b, "secureexec");
	pm_json_secureexec(&b, 0);
	json_obj_end(&b);
	memcpy(got, b.buf.data, b.buf.len);
	got[b.buf.len] = '\0';
	assert_string_equal(got, "{\"cap_effective\":\"\",\"secureexec\":\"\"}");
	json_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_table),
		cmocka_unit_test(test_cap_from_name),
		cmocka_unit_test(test_caps_json),
		cmocka_unit_test(test_caps_hex),
		cmocka_unit_test(test_caps_all),
		cmocka_unit_test(test_caps_not_all),
		cmocka_unit_test(test_caps_every_bit),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_secureexec),
		cmocka_unit_test(test_setid_flags),
		cmocka_unit_test(test_ptrace_modes),
		cmocka_unit_test(test_prctl_cmds),
		cmocka_unit_test(test_in_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
