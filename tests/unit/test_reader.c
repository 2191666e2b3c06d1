// SPDX-License-Identifier: GPL-2.0
/* Decoding helpers of the record reader: argv joining, d_path-style path
 * assembly, secureexec derivation, dev_t conversion, /proc exe names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "render/names.h"
#include "collect/proc_scan.h"
#include "procmon/events.h"
#include "collect/procfs.h"
#include "collect/reader.h"

static void check_args(const char *argv, size_t len, const char *want, size_t want_len)
{
	size_t n = 99;
	char *s = pm_join_args(argv, len, &n);

	assert_non_null(s);
	assert_int_equal(n, want_len);
	assert_memory_equal(s, want, want_len);
	free(s);
}

static void test_join_args(void **state)
{
	(void)state;
	check_args("ls\0-lah\0/tmp\0", 13, "-lah /tmp", 9);
	check_args("true\0", 5, "", 0);         /* argv[0] only */
	check_args("", 0, "", 0);               /* nothing read */
	check_args("a\0\0b\0", 5, " b", 2);     /* an empty argument stays visible */
	check_args("a\0bc", 4, "bc", 2);        /* cut mid-argument: no terminator */
	check_args("argv0-cut", 9, "", 0);      /* cut inside argv[0] */
	check_args("x\0a\nb\0\"\0", 8, "a\nb \"", 5); /* bytes pass through */
}

static void test_argv0(void **state)
{
	size_t n = 99;
	char *s;

	(void)state;
	s = pm_argv0("sshd\0-D\0", 8, &n);
	assert_string_equal(s, "sshd");
	assert_int_equal(n, 4);
	free(s);
	s = pm_argv0("argv0-cut", 9, &n); /* cut inside argv[0]: what was read */
	assert_string_equal(s, "argv0-cut");
	free(s);
	s = pm_argv0("", 0, &n);
	assert_string_equal(s, "");
	assert_int_equal(n, 0);
	free(s);
}

static void check_path(const char *comps, size_t len, uint32_t flags, const char *want)
{
	char *s = pm_build_path(comps, len, flags);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_build_path(void **state)
{
	(void)state;
	check_path("ls\0bin\0usr\0", 11, 0, "/usr/bin/ls");
	check_path("", 0, 0, "/");
	check_path("f\0tmp\0", 6, PM_EXEC_PATH_DELETED, "/tmp/f (deleted)");
	check_path("memfd:fileless-exec-test\0", 25, PM_EXEC_PATH_PSEUDO,
		   "/memfd:fileless-exec-test (deleted)");
	/* cut walks are relative: the root side is missing */
	check_path("true\0d2\0d1\0", 11, PM_EXEC_PATH_CUT, "d1/d2/true");
	check_path("", 0, PM_EXEC_PATH_CUT, ""); /* nothing fit: not "/" */
	check_path("a\nb\0tmp\0", 8, 0, "/tmp/a\nb");
}

static void test_build_path_max_components(void **state)
{
	/* PM_PATH_DEPTH one-letter components, the most the walk sends */
	char comps[PM_PATH_DEPTH * 2];
	char *s;

	(void)state;
	for (int i = 0; i < PM_PATH_DEPTH; i++) {
		comps[2 * i] = 'a';
		comps[2 * i + 1] = '\0';
	}
	s = pm_build_path(comps, sizeof(comps), PM_EXEC_PATH_CUT);
	assert_non_null(s);
	assert_int_equal(strlen(s), PM_PATH_DEPTH * 2 - 1);
	free(s);
}

#define SETID (0x0400000 | 0x0040000 | 0x0200000 | 0x0100000)
#define SUID (S_IFREG | 04755)
#define SGID (S_IFREG | 02755)
#define PLAIN (S_IFREG | 0755)

static unsigned flags(uint32_t per_clear, uint32_t mode, uint32_t uid, uint32_t euid,
		      uint32_t gid, uint32_t egid, uint32_t nlink)
{
	const struct pm_secureexec_facts f = {
		.per_clear = per_clear, .mode = mode, .nlink = nlink,
		.uid = uid, .euid = euid, .gid = gid, .egid = egid,
	};

	return pm_secureexec_flags(&f);
}

static void test_secureexec(void **state)
{
	(void)state;
	/* plain exec */
	assert_int_equal(flags(0, PLAIN, 1000, 1000, 1000, 1000, 1), 0);
	/* setuid-root binary run by 65534 */
	assert_int_equal(flags(SETID, SUID, 65534, 0, 65534, 65534, 1), PM_SECUREEXEC_SETUID);
	/* ... run by root: nothing changes, as in the seed's sudo example */
	assert_int_equal(flags(SETID, SUID, 0, 0, 0, 0, 1), 0);
	/* setgid binary */
	assert_int_equal(flags(SETID, SGID, 65534, 65534, 65534, 0, 1), PM_SECUREEXEC_SETGID);
	assert_int_equal(flags(SETID, S_IFREG | 06755, 65534, 0, 65534, 0, 1),
			 PM_SECUREEXEC_SETUID | PM_SECUREEXEC_SETGID);
	/* capabilities from the file, no id change, no set-id bit */
	assert_int_equal(flags(SETID, PLAIN, 65534, 65534, 65534, 65534, 1),
			 PM_SECUREEXEC_FILE_CAPS);
	/* root regaining capabilities it had dropped is not FILE_CAPS */
	assert_int_equal(flags(SETID, PLAIN, 0, 0, 0, 0, 1), 0);
	/* setgid without group-exec is mandatory locking: per_clear came from caps */
	assert_int_equal(flags(SETID, S_IFREG | 02745, 65534, 65534, 65534, 65534, 1),
			 PM_SECUREEXEC_FILE_CAPS);
	/* ids differ but the kernel changed nothing at this exec (no per_clear) */
	assert_int_equal(flags(0, SUID, 65534, 0, 65534, 65534, 1), 0);
}

/* Issue 23: fileless is a file that never had a link or had none when run. */
static void test_fileless(void **state)
{
	struct pm_secureexec_facts f = { .mode = PLAIN, .nlink = 0 };

	(void)state;
	/* a memfd (its dentry is its own parent) */
	f.exec_flags = PM_EXEC_PATH_PSEUDO | PM_EXEC_PATH_DELETED;
	assert_int_equal(pm_secureexec_flags(&f), PM_SECUREEXEC_FILELESS_EXEC);
	/* an unlinked file run from an fd (fexecve) */
	f.exec_flags = PM_EXEC_VIA_FD | PM_EXEC_PATH_DELETED;
	assert_int_equal(pm_secureexec_flags(&f), PM_SECUREEXEC_FILELESS_EXEC);
	/* run by path, its link gone by the exec's end: deleted or replaced */
	f.exec_flags = PM_EXEC_PATH_DELETED;
	assert_int_equal(pm_secureexec_flags(&f), 0);
	assert_false(pm_exec_fileless(0, PM_EXEC_PATH_DELETED));
	/* a linked file is never fileless, however reached */
	f.nlink = 1;
	f.exec_flags = PM_EXEC_VIA_FD;
	assert_int_equal(pm_secureexec_flags(&f), 0);

	assert_true(pm_exe_is_pseudo("/memfd:payload (deleted)"));
	assert_true(pm_exe_is_pseudo("/memfd: (deleted)"));
	assert_false(pm_exe_is_pseudo("/tmp/implant (deleted)"));
	assert_false(pm_exe_is_pseudo("/usr/bin/true"));
	assert_false(pm_exe_is_pseudo("/memfd:x"));
	assert_false(pm_exe_is_pseudo(" (deleted)"));
}

static void check_trim(const char *argv, size_t len, size_t want)
{
	assert_int_equal(pm_trim_empty_args(argv, len), want);
}

/* Issue 23: a zeroed argv area read back from /proc. */
static void test_trim_empty_args(void **state)
{
	(void)state;
	check_trim("spoof\0\0\0\0\0", 10, 6);
	check_trim("ls\0-l\0", 6, 6);        /* nothing to trim */
	check_trim("ls\0-l\0\0\0", 8, 6);
	check_trim("a\0\0b\0", 5, 5);       /* an empty argument inside stays */
	check_trim("\0\0\0", 3, 1);          /* all zero: an empty argv[0] */
	check_trim("", 0, 0);
	check_trim("x", 1, 1);                /* cut: no terminator */
	check_args("spoof\0\0\0\0", pm_trim_empty_args("spoof\0\0\0\0", 9), "", 0);
}

static void check_exe(const char *exe, const char *want)
{
	char *s = pm_filename_from_exe(exe);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_redact_env(void **state)
{
	static char *globs_v[] = { "*TOKEN*", "*SECRET*", "KEY" };
	const struct pm_strlist globs = { globs_v, 3 };
	/* the last string was cut: no NUL */
	static const char env[] = "A=1\0GH_TOKEN=t\0KEY=k\0MYKEY=v\0NOEQUALS\0X_SECRET_Y=a=b\0CUT=abc";
	static const char want[] = "A=1\0GH_TOKEN=<redacted>\0KEY=<redacted>\0MYKEY=v\0NOEQUALS\0"
				   "X_SECRET_Y=<redacted>\0CUT=abc";
	size_t len;
	char *out = pm_redact_env(env, sizeof(env) - 1, &globs, &len);

	(void)state;
	assert_non_null(out);
	assert_int_equal(len, sizeof(want)); /* the cut one gains its NUL */
	assert_memory_equal(out, want, sizeof(want));
	free(out);
	/* every string a bare "N=": the worst case for the output size */
	out = pm_redact_env("KEY=\0KEY=\0KEY=", 14, &globs, &len);
	assert_int_equal(len, 3 * sizeof("KEY=<redacted>"));
	free(out);
}

/* Names match case-insensitively: db_password is a password too. */
static void test_redact_env_ignores_case(void **state)
{
	static char *globs_v[] = { "*PASSWORD*", "*Token*" };
	const struct pm_strlist globs = { globs_v, 2 };
	static const char env[] = "db_password=hunter2\0Db_PassWord=x\0gh_token=t\0path=/bin";
	static const char want[] = "db_password=<redacted>\0Db_PassWord=<redacted>\0"
				   "gh_token=<redacted>\0path=/bin";
	size_t len;
	char *out = pm_redact_env(env, sizeof(env) - 1, &globs, &len);

	(void)state;
	assert_non_null(out);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	free(out);
}

static void test_fifo_path(void **state)
{
	static const char dir[] = "sub\0tmp\0"; /* /tmp/sub, leaf first */
	char *p;

	(void)state;
	p = pm_fifo_path(dir, sizeof(dir) - 1, 0, "f", 2);
	assert_string_equal(p, "/tmp/sub/f");
	free(p);
	/* an absolute name needs no directory */
	p = pm_fifo_path("", 0, 0, "/run/x", 7);
	assert_string_equal(p, "/run/x");
	free(p);
	/* relative to the root */
	p = pm_fifo_path("", 0, 0, "a/b", 4);
	assert_string_equal(p, "/a/b");
	free(p);
	/* an open: the walked path is the FIFO's own */
	p = pm_fifo_path(dir, sizeof(dir) - 1, 0, NULL, 0);
	assert_string_equal(p, "/tmp/sub");
	free(p);
	/* a deleted cwd is a directory, not the FIFO: no " (deleted)" inside */
	p = pm_fifo_path(dir, sizeof(dir) - 1, PM_EXEC_PATH_DELETED, "f", 2);
	assert_string_equal(p, "/tmp/sub/f");
	free(p);
}

static void test_filename_from_exe(void **state)
{
	(void)state;
	check_exe("/usr/bin/ls", "ls");
	check_exe("/memfd:x (deleted)", "memfd:x");
	check_exe("/tmp/gone (deleted)", "gone");
	check_exe("/", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_args),
		cmocka_unit_test(test_argv0),
		cmocka_unit_test(test_build_path),
		cmocka_unit_test(test_build_path_max_components),
		cmocka_unit_test(test_secureexec),
		cmocka_unit_test(test_fileless),
		cmocka_unit_test(test_trim_empty_args),
		cmocka_unit_test(test_redact_env),
		cmocka_unit_test(test_redact_env_ignores_case),
		cmocka_unit_test(test_fifo_path),
		cmocka_unit_test(test_filename_from_exe),
	};

	return cmocka_run_group_tests_name("reader", tests, NULL, NULL);
}
