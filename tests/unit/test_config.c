// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the configuration loader (src/config/config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "detect/sigma.h"
#include "output/metrics.h" /* pm_listen_parse, behind metrics.listen */
#include "procmon/events.h"

#define ERRLEN 512
#define NAME "test.yaml"

/* Linux capability bits used below (stable kernel ABI). */
#define CAP_NET_RAW 13
#define CAP_SYS_ADMIN 21
#define CAP_SYS_PTRACE 19

static int parse_len(struct pm_config *cfg, const char *yaml, size_t len,
		     char *err)
{
	return pm_config_parse(cfg, NAME, yaml, len, err, ERRLEN);
}

static int parse(struct pm_config *cfg, const char *yaml, char *err)
{
	return parse_len(cfg, yaml, strlen(yaml), err);
}

/* Parse yaml that must succeed; the caller frees cfg. */
static void parse_ok(struct pm_config *cfg, const char *yaml)
{
	char err[ERRLEN];
	int ret = parse(cfg, yaml, err);

	if (ret)
		fail_msg("unexpected error %d for:\n%s\n%s", ret, yaml, err);
}

/* The config must be freed and zeroed after a failed parse. */
static void assert_zeroed(const struct pm_config *cfg)
{
	static const struct pm_config zero;

	assert_memory_equal(cfg, &zero, sizeof(zero));
}

/* Parse yaml that must fail with a message containing want. */
static void parse_fails(const char *yaml, const char *want)
{
	struct pm_config cfg;
	char err[ERRLEN];
	int ret = parse(&cfg, yaml, err);

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", ret, yaml);
	if (!strstr(err, want))
		fail_msg("message '%s' lacks '%s' for:\n%s", err, want, yaml);
	assert_zeroed(&cfg);
	pm_config_free(&cfg);
}

static bool strlist_has(const struct pm_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

static void assert_strlist(const struct pm_strlist *l, size_t n, ...)
{
	va_list ap;
	size_t i;

	assert_int_equal(l->n, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(l->v[i], va_arg(ap, const char *));
	va_end(ap);
}

static void assert_no_cred_filter(const struct pm_hook *h)
{
	assert_false(h->cred_filter.has_uid_filter);
	assert_false(h->cred_filter.has_cap_filter);
}

/* Whether the space-separated list has word. */
static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* Exactly the blocks named in `on` (space-separated keys) are on. */
static void assert_switches(const struct pm_config *cfg, const char *on)
{
	for (size_t b = 1; b < PM_BLOCK_COUNT; b++)
		if (cfg->block[b].enabled != word_in(on, pm_blocks[b].key))
			fail_msg("block %s: enabled %d, expected %d", pm_blocks[b].key,
				 cfg->block[b].enabled, !cfg->block[b].enabled);
}

static void test_default_config(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN] = "unset";
	(void)state;

	assert_int_equal(pm_config_load_default(&cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.format, PM_FORMAT_BOMBINI);
	assert_null(cfg.output);
	assert_true(cfg.hash);
	assert_int_equal(cfg.ring_buffer_kb, 8192);

	assert_switches(&cfg, "setuid setgid capset prctl create_user_ns ptrace_access_check "
			      "existing_process code_identity module_load named_pipe "
			      "remote_thread thread_injection sensitive_process_access namespaces "
			      "detections");

	/* open filters: everything is reported */
	assert_false(cfg.process_filter.present);
	assert_no_cred_filter(&cfg.block[PM_BLOCK_SETUID]);
	assert_no_cred_filter(&cfg.block[PM_BLOCK_SETGID]);
	assert_no_cred_filter(&cfg.block[PM_BLOCK_CAPSET]);
	assert_no_cred_filter(&cfg.block[PM_BLOCK_CREATE_USER_NS]);

	assert_strlist(&cfg.redact, 4, "*TOKEN*", "*SECRET*", "*PASSWORD*",
		       "*KEY*");
	assert_strlist(&cfg.sensitive_processes, 9, "sshd", "sudo", "su",
		       "login", "passwd", "gpg-agent", "ssh-agent",
		       "gnome-keyring-daemon", "systemd");
	pm_config_free(&cfg);
}

/* Contract section 4, verbatim. */
static const char bombini_example[] =
	"ima_hash: true            # hash executed binaries (alias: hash). Here SHA-256 computed by procmon, see 5.3\n"
	"setuid:   { enabled: true, cred_filter: { uid_filter: { euid: [0] } } }\n"
	"setgid:   { enabled: true, cred_filter: { gid_filter: { egid: [0] } } }\n"
	"capset:   { enabled: true, cred_filter: { cap_filter: { effective: [\"CAP_NET_RAW\"], deny_list: false } } }\n"
	"prctl:    { enabled: true }\n"
	"create_user_ns: { enabled: true, cred_filter: { cap_filter: { effective: [\"CAP_SYS_ADMIN\"] } } }\n"
	"ptrace_access_check: { enabled: true }\n"
	"process_filter:           # applies to ProcessEvent hooks (not to exec/clone/exit)\n"
	"  uid: [0]\n"
	"  euid: [0]\n"
	"  auid: []\n"
	"  binary: { name: [capsh], path: [/usr/sbin/capsh], prefix: [/usr/bin/] }\n"
	"  deny_list: false\n";

static void test_bombini_example(void **state)
{
	struct pm_config cfg;
	(void)state;

	parse_ok(&cfg, bombini_example);
	assert_true(cfg.hash);

	assert_true(cfg.block[PM_BLOCK_SETUID].enabled);
	assert_true(cfg.block[PM_BLOCK_SETUID].cred_filter.has_uid_filter);
	assert_int_equal(cfg.block[PM_BLOCK_SETUID].cred_filter.euid.n, 1);
	assert_int_equal(cfg.block[PM_BLOCK_SETUID].cred_filter.euid.v[0], 0);
	assert_false(cfg.block[PM_BLOCK_SETUID].cred_filter.has_cap_filter);

	assert_true(cfg.block[PM_BLOCK_SETGID].enabled);
	assert_true(cfg.block[PM_BLOCK_SETGID].cred_filter.has_uid_filter);
	assert_int_equal(cfg.block[PM_BLOCK_SETGID].cred_filter.euid.n, 1);
	assert_int_equal(cfg.block[PM_BLOCK_SETGID].cred_filter.euid.v[0], 0);

	assert_true(cfg.block[PM_BLOCK_CAPSET].enabled);
	assert_true(cfg.block[PM_BLOCK_CAPSET].cred_filter.has_cap_filter);
	assert_false(cfg.block[PM_BLOCK_CAPSET].cred_filter.has_uid_filter);
	assert_int_equal(cfg.block[PM_BLOCK_CAPSET].cred_filter.cap_effective,
			 1ULL << CAP_NET_RAW);
	assert_false(cfg.block[PM_BLOCK_CAPSET].cred_filter.cap_any);
	assert_false(cfg.block[PM_BLOCK_CAPSET].cred_filter.cap_deny_list);

	assert_true(cfg.block[PM_BLOCK_PRCTL].enabled);
	assert_true(cfg.block[PM_BLOCK_CREATE_USER_NS].enabled);
	assert_int_equal(cfg.block[PM_BLOCK_CREATE_USER_NS].cred_filter.cap_effective,
			 1ULL << CAP_SYS_ADMIN);
	assert_true(cfg.block[PM_BLOCK_PTRACE_ACCESS_CHECK].enabled);

	assert_true(cfg.process_filter.present);
	assert_int_equal(cfg.process_filter.uid.n, 1);
	assert_int_equal(cfg.process_filter.uid.v[0], 0);
	assert_int_equal(cfg.process_filter.euid.n, 1);
	assert_int_equal(cfg.process_filter.auid.n, 0);
	assert_strlist(&cfg.process_filter.name, 1, "capsh");
	assert_strlist(&cfg.process_filter.path, 1, "/usr/sbin/capsh");
	assert_strlist(&cfg.process_filter.prefix, 1, "/usr/bin/");
	assert_false(cfg.process_filter.deny_list);

	/* a file enables only what it names */
	assert_false(cfg.block[PM_BLOCK_EXISTING_PROCESS].enabled);
	assert_false(cfg.block[PM_BLOCK_MODULE_LOAD].enabled);
	assert_false(cfg.block[PM_BLOCK_SENSITIVE_PROCESS_ACCESS].enabled);
	assert_int_equal(cfg.format, PM_FORMAT_BOMBINI);
	assert_null(cfg.output);
	assert_int_equal(cfg.ring_buffer_kb, 8192);
	pm_config_free(&cfg);
}

/* Contract section 4, procmon's own keys, verbatim. */
static void test_procmon_keys(void **state)
{
	struct pm_config cfg;
	(void)state;

	parse_ok(&cfg,
		 "format: bombini           # or limacharlie\n"
		 "output: stdout            # or a file path\n"
		 "existing_process:    { enabled: true }\n"
		 "code_identity:       { enabled: true }\n"
		 "ongoing_identity:    { enabled: false }\n"
		 "module_load:         { enabled: true }\n"
		 "named_pipe:          { enabled: true }        # NEW_NAMED_PIPE and OPEN_NAMED_PIPE\n"
		 "process_environment: { enabled: false, redact: [\"*TOKEN*\", \"*SECRET*\", \"*PASSWORD*\", \"*KEY*\"] }\n"
		 "remote_thread:       { enabled: true }        # NEW_REMOTE_THREAD\n"
		 "thread_injection:    { enabled: true }\n"
		 "sensitive_process_access: { enabled: true, processes: [sshd, sudo, su, login, passwd, gpg-agent, ssh-agent, gnome-keyring-daemon, systemd] }\n");
	/* detections: absent is "on when rules load", in a file too */
	assert_switches(&cfg, "existing_process code_identity module_load named_pipe "
			      "remote_thread thread_injection sensitive_process_access detections");
	assert_int_equal(cfg.redact.n, 4);
	assert_int_equal(cfg.sensitive_processes.n, 9);
	assert_true(strlist_has(&cfg.sensitive_processes,
				"gnome-keyring-daemon"));
	assert_false(cfg.block[PM_BLOCK_SETUID].enabled);
	assert_false(cfg.hash);
	pm_config_free(&cfg);
}

static void test_format_output_ring(void **state)
{
	struct pm_config cfg;
	(void)state;

	parse_ok(&cfg, "format: limacharlie\noutput: /var/log/procmon.json\n"
		       "hash: true\nring_buffer_kb: 0x10000\n");
	assert_int_equal(cfg.format, PM_FORMAT_LIMACHARLIE);
	assert_string_equal(cfg.output, "/var/log/procmon.json");
	assert_true(cfg.hash);
	assert_int_equal(cfg.ring_buffer_kb, 65536);
	pm_config_free(&cfg);

	parse_ok(&cfg, "ring_buffer_kb: 64\nima_hash: False\n");
	assert_int_equal(cfg.ring_buffer_kb, 64);
	assert_false(cfg.hash);
	pm_config_free(&cfg);

	parse_ok(&cfg, "ring_buffer_kb: 1048576\noutput: \"stdout\"\n");
	assert_int_equal(cfg.ring_buffer_kb, 1048576);
	assert_null(cfg.output);
	pm_config_free(&cfg);
}

static void test_empty_file(void **state)
{
	static const char *const empties[] = {
		"", "\n", "# nothing but a comment\n", "---\n", "~\n",
		"---\n...\n",
	};
	struct pm_config cfg;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		parse_ok(&cfg, empties[i]);
		assert_int_equal(cfg.format, PM_FORMAT_BOMBINI);
		assert_null(cfg.output);
		assert_false(cfg.hash);
		assert_int_equal(cfg.ring_buffer_kb, 8192);
		assert_false(cfg.block[PM_BLOCK_SETUID].enabled);
		assert_false(cfg.block[PM_BLOCK_EXISTING_PROCESS].enabled);
		assert_false(cfg.block[PM_BLOCK_SENSITIVE_PROCESS_ACCESS].enabled);
		assert_false(cfg.process_filter.present);
		pm_config_free(&cfg);
	}
	/* NULL text with length 0 is an empty file too */
	char err[ERRLEN];
	assert_int_equal(pm_config_parse(&cfg, NAME, NULL, 0, err, ERRLEN), 0);
	pm_config_free(&cfg);
}

static void test_null_values(void **state)
{
	struct pm_config cfg;
	(void)state;

	/* a key with no value is the same as no key */
	parse_ok(&cfg, "format:\noutput: ~\nsetuid:\nprocess_filter:\n"
		       "  uid:\n  binary: null\n");
	assert_int_equal(cfg.format, PM_FORMAT_BOMBINI);
	assert_null(cfg.output);
	assert_false(cfg.block[PM_BLOCK_SETUID].enabled);
	assert_false(cfg.process_filter.present);
	pm_config_free(&cfg);
}

static void test_unknown_top_key(void **state)
{
	(void)state;
	parse_fails("format: bombini\nbogus: 1\n",
		    "test.yaml:2: key 'bogus': unknown key");
	/* a hook key at the top level is a classic indentation slip */
	parse_fails("setuid:\nenabled: true\n",
		    "test.yaml:2: key 'enabled': unknown key");
}

static void test_unknown_nested_key(void **state)
{
	(void)state;
	parse_fails("setuid:\n"
		    "  enabled: true\n"
		    "  cred_filter:\n"
		    "    uid_filter:\n"
		    "      uid: [0]\n",
		    "test.yaml:5: key 'setuid.cred_filter.uid_filter.uid': unknown key (expected euid)");
	parse_fails("prctl: { enabled: true, cred_filter: {} }\n",
		    "test.yaml:1: key 'prctl.cred_filter': unknown key");
	/* uid_filter only where Bombini has it, gid_filter on setgid */
	parse_fails("setuid:\n  cred_filter:\n    gid_filter: { egid: [0] }\n",
		    "test.yaml:3: key 'setuid.cred_filter.gid_filter': unknown key (expected uid_filter, cap_filter)");
	parse_fails("setgid:\n  cred_filter:\n    uid_filter: { euid: [0] }\n",
		    "test.yaml:3: key 'setgid.cred_filter.uid_filter': unknown key");
	parse_fails("process_filter:\n  binary:\n    names: [a]\n",
		    "test.yaml:3: key 'process_filter.binary.names': unknown key");
	parse_fails("process_environment: { enabled: true, redacted: [] }\n",
		    "key 'process_environment.redacted': unknown key");
}

static void test_wrong_types(void **state)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		{ "setuid: { enabled: \"true\" }",
		  "test.yaml:1: key 'setuid.enabled': expected true or false, got the string 'true'" },
		{ "setuid:\n  enabled: yes\n",
		  "test.yaml:2: key 'setuid.enabled': expected true or false, got 'yes'" },
		{ "setuid: { enabled: [true] }", "expected true or false, got a list" },
		{ "setuid: true", "key 'setuid': expected a mapping, got 'true'" },
		{ "setuid: [enabled]", "key 'setuid': expected a mapping, got a list" },
		{ "process_filter: { uid: 0 }",
		  "key 'process_filter.uid': expected a list, got '0'" },
		{ "process_filter: { uid: [0, -1] }",
		  "key 'process_filter.uid[1]': must not be negative" },
		{ "process_filter: { euid: [4294967296] }",
		  "key 'process_filter.euid[0]': '4294967296' is out of range" },
		{ "process_filter: { auid: [99999999999999999999999] }",
		  "is out of range" },
		{ "process_filter: { auid: [abc] }",
		  "expected a non-negative integer, got 'abc'" },
		{ "process_filter: { auid: [1.5] }",
		  "expected a non-negative integer, got '1.5'" },
		{ "process_filter: { auid: [\"7\"] }",
		  "expected a non-negative integer, got the string '7'" },
		{ "process_filter: { auid: [~] }",
		  "expected a non-negative integer, got null" },
		{ "process_filter: { deny_list: 1 }",
		  "key 'process_filter.deny_list': expected true or false" },
		{ "process_filter: { binary: { name: capsh } }",
		  "key 'process_filter.binary.name': expected a list" },
		{ "process_filter: { binary: { name: [\"a\\0b\"] } }",
		  "key 'process_filter.binary.name[0]': must not contain a NUL byte" },
		{ "sensitive_process_access: { processes: [sshd, [su]] }",
		  "key 'sensitive_process_access.processes[1]': expected a string, got a list" },
		{ "process_environment: { redact: [{a: b}] }",
		  "key 'process_environment.redact[0]': expected a string, got a mapping" },
		{ "format: { a: b }",
		  "key 'format': expected bombini, limacharlie or compact, got a mapping" },
		{ "output: [a]", "key 'output': expected a string, got a list" },
		{ "output: ''", "key 'output': expected stdout, none or a file path" },
		/* the nats block (fleet output) */
		{ "nats: { servers: [nats://a:4222, http://b] }",
		  "test.yaml:1: key 'nats.servers[1]': 'http://b': not a NATS URL" },
		{ "nats: { servers: [] }", "key 'nats.servers': at least one server URL" },
		{ "nats: { servers: ['nats://h:99999'] }", "bad port" },
		{ "nats: { bogus: 1 }", "key 'nats.bogus': unknown key" },
		{ "nats:\n  token: a\n  user: b\n  password: c\n",
		  "test.yaml:2: key 'nats': nats: at most one of token, user + password, creds" },
		{ "nats: { user: b }", "user and password go together" },
		{ "nats: { tls: { ca: /nonexistent/ca.pem } }",
		  "key 'nats.tls.ca': cannot read /nonexistent/ca.pem" },
		{ "nats: { creds: /nonexistent.creds }", "key 'nats.creds': cannot read" },
		{ "nats: { spool_dir: var/spool }", "key 'nats.spool_dir': expected an absolute path" },
		{ "nats: { subject_prefix: 'a.*' }", "key 'nats.subject_prefix': a subject prefix" },
		{ "nats: { subject_prefix: 'a..b' }", "empty token" },
		{ "nats: { stream: 'A.B' }", "key 'nats.stream': a stream name cannot" },
		{ "nats: { spool_max_mb: 0 }", "key 'nats.spool_max_mb': must be at least 1" },
		{ "nats: { batch_ms: 1001 }", "key 'nats.batch_ms': '1001' is out of range (0..1000)" },
		{ "nats: { batch_ms: -1 }", "key 'nats.batch_ms': must not be negative" },
		{ "nats:\n  partitions: 0\n",
		  "test.yaml:2: key 'nats.partitions': must be from 1 to 1024, got 0" },
		{ "nats: { partitions: -3 }", "key 'nats.partitions': must not be negative" },
		{ "nats: { partitions: 1025 }", "key 'nats.partitions': must be from 1 to 1024" },
		{ "nats: { enabled: yes }", "key 'nats.enabled': expected true or false" },
		{ "ring_buffer_kb: 100",
		  "key 'ring_buffer_kb': must be a power of two from 64 to 1048576, got 100" },
		{ "ring_buffer_kb: 32", "must be a power of two" },
		{ "ring_buffer_kb: 2097152", "must be a power of two" },
		{ "ring_buffer_kb: -64", "must not be negative" },
		{ "ring_buffer_kb: 16k", "expected a non-negative integer" },
		{ "hash: true\nima_hash: false\n",
		  "test.yaml:2: key 'ima_hash': given twice (first on line 1)" },
		{ "setuid: { enabled: true, enabled: false }",
		  "key 'setuid.enabled': given twice" },
		{ "? [a]\n: b\n", "a key must be a string, got a list" },
		{ "- a\n- b\n",
		  "test.yaml:1: the top level must be a mapping of keys, got a list" },
		{ "hello\n", "the top level must be a mapping of keys, got 'hello'" },
		{ "gc_period: -5\n", "key 'gc_period': must not be negative" },
		{ "expose_events: 3\n", "key 'expose_events': expected true or false" },
		{ "capset: { cred_filter: { cap_filter: { effective: CAP_CHOWN } } }",
		  "key 'capset.cred_filter.cap_filter.effective': expected a list" },
		{ "capset: { cred_filter: { cap_filter: { effective: [[CAP_CHOWN]] } } }",
		  "effective[0]': expected a capability name, got a list" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(cases[i].yaml, cases[i].want);
}

static void test_unknown_capability(void **state)
{
	(void)state;
	parse_fails("capset:\n"
		    "  enabled: true\n"
		    "  cred_filter:\n"
		    "    cap_filter:\n"
		    "      effective: [CAP_NET_RAW, CAP_BOGUS]\n",
		    "test.yaml:5: key 'capset.cred_filter.cap_filter.effective[1]': unknown capability 'CAP_BOGUS'");
	parse_fails("create_user_ns:\n"
		    "  cred_filter:\n"
		    "    cap_filter:\n"
		    "      effective:\n"
		    "        - CAP_SYS_ADMIN\n"
		    "        - \"\"\n",
		    "test.yaml:6: key 'create_user_ns.cred_filter.cap_filter.effective[1]': unknown capability");
}

static void test_binary_lists(void **state)
{
	char yaml[8192];
	size_t n;

	(void)state;
	parse_fails("process_filter:\n"
		    "  binary:\n"
		    "    path: [/usr/bin/id, usr/bin/id]\n",
		    "test.yaml:3: key 'process_filter.binary.path[1]': 'usr/bin/id' is not an absolute path");
	parse_fails("process_filter:\n"
		    "  binary:\n"
		    "    prefix:\n"
		    "      - bin/\n",
		    "test.yaml:4: key 'process_filter.binary.prefix[0]': 'bin/' is not an absolute path");
	parse_fails("process_filter:\n"
		    "  binary:\n"
		    "    name: [ok, bin/id]\n",
		    "key 'process_filter.binary.name[1]': 'bin/id' is not a file name");
	/* what the kernel compares is bounded: so are the lists */
	n = snprintf(yaml, sizeof(yaml), "process_filter:\n  binary:\n    name:\n");
	for (int i = 0; i < PM_FILTER_PATTERNS_MAX / 3 + 1; i++)
		n += snprintf(yaml + n, sizeof(yaml) - n, "      - n%d\n", i);
	parse_fails(yaml, "key 'process_filter.binary.name': at most 64 entries, got 65");
}

static void test_cred_filters(void **state)
{
	struct pm_config cfg;
	(void)state;

	/* ANY, names without CAP_ or in lower case, deny_list, uid_filter
	 * on capset (Bombini's CredFilter is shared by all three hooks) */
	parse_ok(&cfg,
		 "capset:\n"
		 "  enabled: true\n"
		 "  cred_filter:\n"
		 "    uid_filter: { euid: [0, 1000] }\n"
		 "    cap_filter: { effective: [ANY], deny_list: true }\n"
		 "create_user_ns:\n"
		 "  enabled: true\n"
		 "  cred_filter:\n"
		 "    cap_filter:\n"
		 "      effective: [sys_admin, cap_sys_ptrace, CAP_NET_RAW]\n"
		 "setuid:\n"
		 "  enabled: true\n"
		 "  cred_filter:\n"
		 "    uid_filter: { euid: [4294967295] }\n"
		 "    cap_filter: { effective: [\"any\"] }\n");
	assert_true(cfg.block[PM_BLOCK_CAPSET].cred_filter.has_uid_filter);
	assert_int_equal(cfg.block[PM_BLOCK_CAPSET].cred_filter.euid.n, 2);
	assert_int_equal(cfg.block[PM_BLOCK_CAPSET].cred_filter.euid.v[1], 1000);
	assert_true(cfg.block[PM_BLOCK_CAPSET].cred_filter.has_cap_filter);
	assert_true(cfg.block[PM_BLOCK_CAPSET].cred_filter.cap_any);
	assert_int_equal(cfg.block[PM_BLOCK_CAPSET].cred_filter.cap_effective, 0);
	assert_true(cfg.block[PM_BLOCK_CAPSET].cred_filter.cap_deny_list);

	assert_int_equal(cfg.block[PM_BLOCK_CREATE_USER_NS].cred_filter.cap_effective,
			 (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SYS_PTRACE) |
				 (1ULL << CAP_NET_RAW));
	assert_false(cfg.block[PM_BLOCK_CREATE_USER_NS].cred_filter.cap_any);
	assert_false(cfg.block[PM_BLOCK_CREATE_USER_NS].cred_filter.has_uid_filter);

	assert_int_equal(cfg.block[PM_BLOCK_SETUID].cred_filter.euid.v[0], 4294967295u);
	assert_true(cfg.block[PM_BLOCK_SETUID].cred_filter.cap_any);
	pm_config_free(&cfg);

	/* empty lists are no filter, whatever deny_list says */
	parse_ok(&cfg,
		 "setuid:\n"
		 "  enabled: true\n"
		 "  cred_filter:\n"
		 "    uid_filter: { euid: [] }\n"
		 "    cap_filter: { effective: [], deny_list: true }\n"
		 "process_filter:\n"
		 "  uid: []\n"
		 "  binary: { name: [] }\n"
		 "  deny_list: true\n");
	assert_no_cred_filter(&cfg.block[PM_BLOCK_SETUID]);
	assert_false(cfg.process_filter.present);
	assert_true(cfg.process_filter.deny_list);
	pm_config_free(&cfg);

	parse_ok(&cfg, "process_filter: { auid: [4294967295], deny_list: true }\n");
	assert_true(cfg.process_filter.present);
	assert_true(cfg.process_filter.deny_list);
	assert_int_equal(cfg.process_filter.auid.v[0], 4294967295u);
	pm_config_free(&cfg);
}

static void test_lists_defaults(void **state)
{
	struct pm_config cfg;
	(void)state;

	/* enabling without a list keeps the safe default list ... */
	parse_ok(&cfg, "process_environment: { enabled: true }\n"
		       "sensitive_process_access: { enabled: true }\n");
	assert_true(cfg.block[PM_BLOCK_PROCESS_ENVIRONMENT].enabled);
	assert_int_equal(cfg.redact.n, 4);
	assert_int_equal(cfg.sensitive_processes.n, 9);
	pm_config_free(&cfg);

	/* ... an explicit list replaces it, an empty one clears it */
	parse_ok(&cfg, "process_environment: { enabled: true, redact: [] }\n"
		       "sensitive_process_access:\n"
		       "  processes: [keepassxc, 'sshd']\n");
	assert_int_equal(cfg.redact.n, 0);
	assert_strlist(&cfg.sensitive_processes, 2, "keepassxc", "sshd");
	pm_config_free(&cfg);
}

static void test_bad_format(void **state)
{
	(void)state;
	parse_fails("setuid: { enabled: true }\nformat: json\n",
		    "test.yaml:2: key 'format': expected bombini, limacharlie or compact, got 'json'");
	parse_fails("format: Bombini\n", "got 'Bombini'");
}

static void test_unreadable_file(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];
	int ret;
	(void)state;

	ret = pm_config_load_file(&cfg, "/nonexistent-procmon-dir/procmon.yaml",
				  err, sizeof(err));
	assert_int_equal(ret, -ENOENT);
	assert_string_equal(err, "/nonexistent-procmon-dir/procmon.yaml: "
				 "cannot read: No such file or directory");
	assert_zeroed(&cfg);
	pm_config_free(&cfg);

	ret = pm_config_load_file(&cfg, "/", err, sizeof(err));
	assert_int_equal(ret, -EISDIR);
	assert_string_equal(err, "/: cannot read: Is a directory");
	pm_config_free(&cfg);
}

static void write_temp(char *path, const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/procmon-test-config-XXXXXX";
	char want[128];
	struct pm_config cfg;
	char err[ERRLEN];
	(void)state;

	write_temp(path, "setuid:\n  enabled: true\n");
	assert_int_equal(pm_config_load_file(&cfg, path, err, sizeof(err)), 0);
	assert_true(cfg.block[PM_BLOCK_SETUID].enabled);
	pm_config_free(&cfg);
	unlink(path);

	strcpy(path, "/tmp/procmon-test-config-XXXXXX");
	write_temp(path, "# procmon\nsetuid:\n  enabled: true\n  bogus: 1\n");
	assert_int_equal(pm_config_load_file(&cfg, path, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:4: key 'setuid.bogus': unknown key",
		 path);
	assert_non_null(strstr(err, want));
	pm_config_free(&cfg);
	unlink(path);
}

/* Run a parse with stderr redirected; returns what was written. */
static char *parse_capturing_stderr(struct pm_config *cfg, const char *yaml,
				    int *ret)
{
	static char out[4096];
	char err[ERRLEN];
	FILE *tmp = tmpfile();
	int saved;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	*ret = parse(cfg, yaml, err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void test_bombini_unused_keys(void **state)
{
	struct pm_config cfg;
	char *log;
	int ret;
	(void)state;

	log = parse_capturing_stderr(&cfg, "setuid: { enabled: true }\n"
					   "gc_period: 30\n"
					   "expose_events: true\n",
				     &ret);
	assert_int_equal(ret, 0);
	assert_true(cfg.block[PM_BLOCK_SETUID].enabled);
	assert_non_null(strstr(log, "warning: test.yaml:2: key 'gc_period'"));
	assert_non_null(strstr(log, "test.yaml:3: key 'expose_events'"));
	pm_config_free(&cfg);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	parse_fails("setuid:\n  enabled: true\n\tcapset: {}\n",
		    "test.yaml:3: invalid YAML: found a tab character");
	parse_fails("setuid: [unclosed\n", "invalid YAML");
	parse_fails("setuid: {enabled: true\n", "invalid YAML");
	parse_fails("a: &x b\nc: *y\n", "test.yaml:2: invalid YAML: found undefined alias");
	parse_fails("setuid: { enabled: true }\n---\ncapset: { enabled: true }\n",
		    "test.yaml:2: more than one YAML document");
	/* syntax errors anywhere come before schema errors */
	parse_fails("bogus: 1\nsetuid: [\n", "test.yaml:3: invalid YAML");
	parse_fails("format: bombini\n\xff\xfe\n", "test.yaml:2: invalid YAML: invalid leading UTF-8 octet");
}

static void test_aliases(void **state)
{
	struct pm_config cfg;
	(void)state;

	/* aliases work where the aliased node fits */
	parse_ok(&cfg, "setuid: &on { enabled: true }\n"
		       "capset: *on\n"
		       "process_filter: { uid: &ids [0, 1], euid: *ids }\n");
	assert_true(cfg.block[PM_BLOCK_CAPSET].enabled);
	assert_int_equal(cfg.process_filter.euid.n, 2);
	pm_config_free(&cfg);

	/* and self-references end at the first node that does not fit */
	parse_fails("setuid: &a { cred_filter: *a }\n",
		    "key 'setuid.cred_filter.cred_filter': unknown key");
	parse_fails("process_filter: &a { uid: [*a] }\n",
		    "key 'process_filter.uid[0]': expected a non-negative integer, got a mapping");
	parse_fails("process_filter: { uid: &a [*a] }\n", "process_filter.uid[0]");
}

/* Inputs that must give an error, never a crash (run this under valgrind
 * or ASan to make "never" mean something). */
static void test_malformed(void **state)
{
	static const char *const inputs[] = {
		"]", "}", ":", "- - -", "? ? ?", "*alias", "&a &b c",
		"!!map [a]", "!<tag:yaml.org,2002:int> x: 1",
		"key: 'unterminated\n", "\"\\xZZ\": 1\n", "%YAML 2.0\n---\na: 1\n",
		"%FOO\n", "a:\n- b\n c\n", "a: b: c\n", "a: |\n  x\n b\n",
		"setuid: { enabled: true, cred_filter: { cap_filter: { effective: [ ",
		"\xef\xbb\xbf\xef\xbb\xbf:", "\x01", "a: \"\\u0000\"\n",
		"process_filter:\n  uid:\n    - 0\n   - 1\n",
	};
	struct pm_config cfg;
	char err[ERRLEN];
	size_t i;
	int ret;
	(void)state;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		ret = parse(&cfg, inputs[i], err);
		if (ret != -EINVAL)
			fail_msg("expected -EINVAL, got %d for '%s'", ret,
				 inputs[i]);
		assert_int_equal(strncmp(err, NAME ":", strlen(NAME ":")), 0);
		assert_zeroed(&cfg);
		pm_config_free(&cfg);
	}

	/* NUL bytes inside the text are an error, not an early end */
	static const char nul[] = "format: bombini\0\nsetuid: x\n";
	ret = parse_len(&cfg, nul, sizeof(nul) - 1, err);
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "test.yaml:1: invalid YAML"));
	pm_config_free(&cfg);
}

static void test_deep_nesting(void **state)
{
	const size_t depth = 100000;
	struct pm_config cfg;
	char err[ERRLEN];
	char *s = malloc(2 * depth + 64), *p;
	size_t i;
	int ret;
	(void)state;

	assert_non_null(s);
	/* a top-level list of lists of ... */
	for (i = 0; i < depth; i++)
		s[i] = '[';
	for (i = 0; i < depth; i++)
		s[depth + i] = ']';
	s[2 * depth] = '\0';
	ret = parse(&cfg, s, err);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(err, "test.yaml:1: nested deeper than 32 levels");
	pm_config_free(&cfg);

	/* ... and the same under a key that takes a list */
	p = s + sprintf(s, "process_filter: { uid: ");
	for (i = 0; i < depth; i++)
		*p++ = '[';
	*p = '\0';
	ret = parse(&cfg, s, err);
	assert_int_equal(ret, -EINVAL);
	pm_config_free(&cfg);

	/* block nesting too */
	p = s;
	for (i = 0; i < 40; i++)
		p += sprintf(p, "%*sk:\n", (int)i, "");
	ret = parse(&cfg, s, err);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(err, "test.yaml:33: nested deeper than 32 levels");
	pm_config_free(&cfg);

	/* shallow enough nesting stops at the first level that does not
	 * fit the schema */
	p = s + sprintf(s, "process_filter: { uid: ");
	for (i = 0; i < 20; i++)
		*p++ = '[';
	for (i = 0; i < 20; i++)
		*p++ = ']';
	strcpy(p, " }\n");
	ret = parse(&cfg, s, err);
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "key 'process_filter.uid[0]'"));
	pm_config_free(&cfg);
	free(s);
}

/* Inputs libyaml needs quadratic time for are refused early. */
static void test_anchor_flood(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];
	char *s = malloc(30 * 2000 + 64), *p;
	size_t i;
	int ret;
	(void)state;

	assert_non_null(s);
	p = s + sprintf(s, "process_filter:\n  uid: [");
	for (i = 0; i < 2000; i++)
		p += sprintf(p, "&a%zu 1, ", i);
	strcpy(p, "]\n");
	ret = parse(&cfg, s, err);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(err, "test.yaml:2: more than 1000 anchors or 10000 aliases");
	pm_config_free(&cfg);
	free(s);
}

static void test_long_key(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];
	char *s = malloc(20000);
	(void)state;

	assert_non_null(s);
	/* "\e" is YAML's escape for ESC: a terminal escape in a key */
	strcpy(s, "\"\\e[31m");
	/* YAML caps implicit keys at 1024 characters */
	memset(s + 7, 'k', 1000);
	strcpy(s + 1007, "\": 1\n");
	assert_int_equal(parse(&cfg, s, err), -EINVAL);
	/* cut short, with no terminal escape copied through */
	assert_true(strlen(err) < 200);
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "test.yaml:1: key '?[31mkkk"));
	assert_non_null(strstr(err, "...': unknown key"));
	pm_config_free(&cfg);
	free(s);
}

/* Deterministic mutations of the default configuration: every result is
 * a config or a clean -EINVAL with a message. */
static void test_mutations(void **state)
{
	const size_t len = pm_default_config_yaml_len;
	static const char junk[] = "\t\n :-[]{}&*!|>'\"%@`#,?\\\0\xff\x80";
	struct pm_config cfg;
	char err[ERRLEN];
	unsigned seed = 12345;
	char *buf = malloc(len + 1);
	size_t i, j;
	int ret;
	(void)state;

	assert_non_null(buf);
	for (i = 0; i <= len; i++) {
		ret = parse_len(&cfg, pm_default_config_yaml, i, err);
		assert_true(ret == 0 || (ret == -EINVAL && err[0]));
		pm_config_free(&cfg);
	}
	for (i = 0; i < 5000; i++) {
		memcpy(buf, pm_default_config_yaml, len);
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] =
				junk[(seed >> 20) % (sizeof(junk) - 1)];
		}
		ret = parse_len(&cfg, buf, len, err);
		assert_true(ret == 0 || (ret == -EINVAL && err[0]));
		pm_config_free(&cfg);
	}
	free(buf);
}

static void test_config_free(void **state)
{
	struct pm_config cfg;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	pm_config_free(&cfg);
	pm_config_free(&cfg);
	pm_config_free(NULL);

	assert_int_equal(pm_config_load_default(&cfg, NULL, 0), 0);
	pm_config_free(&cfg);
	pm_config_free(&cfg);
	assert_zeroed(&cfg);

	/* a NULL or empty err buffer is fine on failure too */
	assert_int_equal(pm_config_parse(&cfg, NULL, "x: 1", 4, NULL, 0),
			 -EINVAL);
	pm_config_free(&cfg);
}

/* Issue 24: detections (contract section 10). */
static void test_detections(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];

	(void)state;
	/* absent: on when a rules path holds rules, the shipped and the user's */
	parse_ok(&cfg, "");
	assert_int_equal(cfg.detections.enabled, PM_DETECT_AUTO);
	assert_int_equal(cfg.detections.rules.n, 2);
	assert_string_equal(cfg.detections.rules.v[0], "/usr/share/procmon/rules/sigma");
	assert_string_equal(cfg.detections.rules.v[1], "/etc/procmon/rules.d");
	assert_int_equal(cfg.detections.min_level, PM_SIGMA_LOW);
	pm_config_free(&cfg);

	assert_int_equal(pm_config_load_default(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.detections.enabled, PM_DETECT_AUTO);
	assert_int_equal(cfg.detections.rules.n, 2);
	pm_config_free(&cfg);

	parse_ok(&cfg, "detections:\n  enabled: true\n  rules: [/r/a.yml, /r/dir]\n"
		       "  min_level: high\n");
	assert_int_equal(cfg.detections.enabled, PM_DETECT_ON);
	assert_int_equal(cfg.detections.rules.n, 2);
	assert_string_equal(cfg.detections.rules.v[1], "/r/dir");
	assert_int_equal(cfg.detections.min_level, PM_SIGMA_HIGH);
	pm_config_free(&cfg);

	parse_ok(&cfg, "detections: { enabled: false, min_level: informational, rules: [] }\n");
	assert_int_equal(cfg.detections.enabled, PM_DETECT_OFF);
	assert_int_equal(cfg.detections.rules.n, 0);
	assert_int_equal(cfg.detections.min_level, PM_SIGMA_INFORMATIONAL);
	pm_config_free(&cfg);

	parse_fails("detections: { enabled: maybe }\n", "key 'detections.enabled'");
	parse_fails("detections:\n  rules: [rules/sigma]\n",
		    ":2: key 'detections.rules[0]': 'rules/sigma' is not an absolute path");
	parse_fails("detections: { rules: /etc/procmon/rules.d }\n", "key 'detections.rules'");
	parse_fails("detections:\n  min_level: severe\n",
		    ":2: key 'detections.min_level': expected informational, low, medium, high "
		    "or critical, got");
	parse_fails("detections: { min_level: [high] }\n", "key 'detections.min_level'");
	parse_fails("detections: { min_level: High }\n", "key 'detections.min_level'");
	parse_fails("detections: { level: high }\n", "detections.level");
}

/* Issue 15's keys: metrics, rotation, output shaping, caps_format. */
static void test_operating_keys(void **state)
{
	struct pm_config cfg;
	char host[64];
	uint16_t port;

	(void)state;
	parse_ok(&cfg, "");
	assert_null(cfg.metrics_listen);
	assert_int_equal(cfg.output_max_mb, 0);
	assert_int_equal(cfg.output_backups, 5);
	assert_false(cfg.output_compress);
	assert_false(cfg.caps_hex);
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++)
		assert_false(cfg.shaping_drop[t]);
	pm_config_free(&cfg);

	parse_ok(&cfg, "metrics: { listen: \"[::1]:9464\" }\noutput_max_mb: 100\n"
		       "output_backups: 1000\noutput_compress: true\ncaps_format: hex\n"
		       "output_shaping: { deny: [ProcessEvent, MODULE_LOAD] }\n");
	assert_string_equal(cfg.metrics_listen, "[::1]:9464");
	assert_int_equal(cfg.output_max_mb, 100);
	assert_int_equal(cfg.output_backups, 1000);
	assert_true(cfg.output_compress);
	assert_true(cfg.caps_hex);
	/* ProcessEvent: every sub-type */
	assert_true(cfg.shaping_drop[PM_EVENT_SETUID]);
	assert_true(cfg.shaping_drop[PM_EVENT_PTRACE_ACCESS]);
	assert_true(cfg.shaping_drop[PM_EVENT_MODULE_LOAD]);
	assert_false(cfg.shaping_drop[PM_EVENT_EXEC]);
	pm_config_free(&cfg);

	/* allow keeps only what it names; deny takes away from it */
	parse_ok(&cfg, "output_shaping: { allow: [ProcessExec, Setuid, Setgid], deny: [Setgid] }\n");
	assert_false(cfg.shaping_drop[PM_EVENT_EXEC]);
	assert_false(cfg.shaping_drop[PM_EVENT_SETUID]);
	assert_true(cfg.shaping_drop[PM_EVENT_SETGID]);
	assert_true(cfg.shaping_drop[PM_EVENT_EXIT]);
	assert_true(cfg.shaping_drop[PM_EVENT_CODE_IDENTITY]);
	pm_config_free(&cfg);

	parse_fails("metrics: { listen: 9464 }\n", "key 'metrics.listen': expected ADDRESS:PORT");
	parse_fails("metrics: { listen: \"localhost:9464\" }\n", "expected ADDRESS:PORT");
	parse_fails("metrics: { listen: \"::1:9464\" }\n", "expected ADDRESS:PORT");
	parse_fails("metrics: { listen: \"127.0.0.1:65536\" }\n", "expected ADDRESS:PORT");
	parse_fails("metrics: { listen: \"127.0.0.1:+80\" }\n", "expected ADDRESS:PORT");
	parse_fails("output_backups: 0\n", "must be from 1 to 1000, got 0");
	parse_fails("output_max_mb: 1048577\n", "must be from 0 to 1048576");
	parse_fails("caps_format: mask\n", "expected names or hex");
	parse_fails("output_shaping: { deny: [processexec] }\n", "unknown event type 'processexec'");
	parse_fails("output_shaping: { allow: ModuleLoad }\n", "key 'output_shaping.allow'");

	assert_int_equal(pm_listen_parse("127.0.0.1:9464", host, sizeof(host), &port), AF_INET);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(pm_listen_parse("[::]:1", host, sizeof(host), &port), AF_INET6);
	assert_string_equal(host, "::");
	assert_int_equal(port, 1);
	assert_true(pm_listen_parse("127.0.0.1:", host, sizeof(host), &port) < 0);
	assert_true(pm_listen_parse("[::1]9464", host, sizeof(host), &port) < 0);
	assert_true(pm_listen_parse("127.0.0.1:0", host, sizeof(host), &port) < 0);
}

/* Issue 23: repeat_limit's rate and interval. */
static void test_repeat_limit(void **state)
{
	struct pm_config cfg;

	(void)state;
	parse_ok(&cfg, "");
	assert_int_equal(cfg.repeat_events, 100);
	assert_int_equal(cfg.repeat_interval_ms, 1000);
	pm_config_free(&cfg);
	parse_ok(&cfg, "repeat_limit: { events: 1 }\n");
	assert_int_equal(cfg.repeat_events, 1);
	assert_int_equal(cfg.repeat_interval_ms, 1000);
	pm_config_free(&cfg);
	parse_ok(&cfg, "repeat_limit:\n  events: 1000000\n  interval_ms: 10\n");
	assert_int_equal(cfg.repeat_events, 1000000);
	assert_int_equal(cfg.repeat_interval_ms, 10);
	pm_config_free(&cfg);

	parse_fails("repeat_limit: { events: 0 }\n",
		    "test.yaml:1: key 'repeat_limit.events': must be from 1 to 1000000, got 0");
	parse_fails("repeat_limit: { events: 1000001 }\n", "must be from 1 to 1000000");
	parse_fails("repeat_limit: { events: -5 }\n", "key 'repeat_limit.events'");
	parse_fails("repeat_limit: { events: lots }\n", "key 'repeat_limit.events'");
	parse_fails("repeat_limit:\n  interval_ms: 9\n",
		    "test.yaml:2: key 'repeat_limit.interval_ms': must be from 10 to 3600000, got 9");
	parse_fails("repeat_limit: { interval_ms: 3600001 }\n", "must be from 10 to 3600000");
	parse_fails("repeat_limit: { interval: 5 }\n", "repeat_limit.interval");
	parse_fails("repeat_limit: 100\n", "key 'repeat_limit'");
}

/* Every key of a block has a way back to YAML (--print-config) and a
 * comparison (a reload). */
static void assert_printable(const struct pm_yaml_field *fields)
{
	for (const struct pm_yaml_field *f = fields; f->key; f++) {
		if (f->type == PM_YAML_FUNC) {
			assert_non_null(f->print);
			assert_non_null(f->eq);
		}
		if (f->type == PM_YAML_MAP)
			assert_printable(f->sub);
	}
}

/* The block table: keys unique, every block printable and reachable by
 * its key, the cred_filters in distinct slots, the needs NULL-ended. */
static void test_block_table(void **state)
{
	bool slot[PM_CRED_HOOKS] = { 0 };
	struct pm_config cfg;
	char yaml[128], err[256];

	(void)state;
	for (size_t b = 1; b < PM_BLOCK_COUNT; b++) {
		const struct pm_block_info *i = &pm_blocks[b];
		size_t n = 0;

		assert_non_null(i->key);
		assert_printable(i->fields);
		for (size_t o = 1; o < b; o++)
			assert_string_not_equal(pm_blocks[o].key, i->key);
		if (i->cred_hook >= 0) {
			assert_true(i->cred_hook < PM_CRED_HOOKS);
			assert_false(slot[i->cred_hook]);
			slot[i->cred_hook] = true;
			assert_int_not_equal(i->cred_ids, 0);
		}
		while (n < PM_BLOCK_NEEDS_MAX && i->needs[n])
			n++;
		assert_true(n < PM_BLOCK_NEEDS_MAX);
		/* an empty block parses; a hook's `enabled` lands in its slot */
		snprintf(yaml, sizeof(yaml), "%s: {}\n", i->key);
		assert_int_equal(pm_config_parse(&cfg, "t", yaml, strlen(yaml), err, sizeof(err)), 0);
		pm_config_free(&cfg);
	}
	assert_printable(pm_config_key("nats")->sub);
	assert_printable(pm_config_key("metrics")->sub);
	assert_int_equal(pm_config_parse(&cfg, "t", "namespaces: {enabled: true}\n", 28, err,
					 sizeof(err)), 0);
	assert_true(cfg.block[PM_BLOCK_NAMESPACES].enabled);
	assert_true(cfg.block[PM_BLOCK_NONE].enabled); /* always on */
	assert_int_equal(pm_config_needs(&cfg, "pm_exit_setns"), 1);
	assert_int_equal(pm_config_needs(&cfg, "pm_exit_mmap"), 0);
	assert_int_equal(pm_config_needs(&cfg, "pm_exit_nothing"), -1);
	assert_true(pm_config_block_loaded(&cfg, PM_BLOCK_NAMESPACES));
	assert_false(pm_config_block_loaded(&cfg, PM_BLOCK_MODULE_LOAD));
	pm_config_free(&cfg);
	/* thread_injection loads what ptrace_access_check and remote_thread read */
	assert_int_equal(pm_config_parse(&cfg, "t", "thread_injection: {enabled: true}\n", 34,
					 err, sizeof(err)), 0);
	assert_true(pm_config_block_loaded(&cfg, PM_BLOCK_PTRACE_ACCESS_CHECK));
	assert_true(pm_config_block_loaded(&cfg, PM_BLOCK_REMOTE_THREAD));
	assert_true(pm_config_block_loaded(&cfg, PM_BLOCK_SENSITIVE_PROCESS_ACCESS));
	assert_false(pm_config_block_loaded(&cfg, PM_BLOCK_NAMED_PIPE));
	pm_config_free(&cfg);
}

/* Every error of a file in one round, a line each, in file order; a
 * small buffer says that more were left out. */
static void test_every_error_at_once(void **state)
{
	static const char yaml[] = "setuid:\n"
				   "  enabled: maybe\n"
				   "bogus: 1\n"
				   "process_filter:\n"
				   "  uid: [1, x, -2]\n"
				   "  binary: {name: [a/b, ok, c/d]}\n"
				   "ring_buffer_kb: 3\n"
				   "setuid: {}\n";
	struct pm_config cfg;
	char err[2048], small[200];

	(void)state;
	assert_int_equal(pm_config_parse(&cfg, NAME, yaml, strlen(yaml), err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(
		err,
		NAME ":2: key 'setuid.enabled': expected true or false, got 'maybe'\n" NAME
		":3: key 'bogus': unknown key\n" NAME
		":5: key 'process_filter.uid[1]': expected a non-negative integer, got 'x'\n" NAME
		":5: key 'process_filter.uid[2]': must not be negative, got '-2'\n" NAME
		":6: key 'process_filter.binary.name[0]': 'a/b' is not a file name\n" NAME
		":6: key 'process_filter.binary.name[2]': 'c/d' is not a file name\n" NAME
		":7: key 'ring_buffer_kb': must be a power of two from 64 to 1048576, got 3\n" NAME
		":8: key 'setuid': given twice (first on line 1)");
	assert_zeroed(&cfg);
	/* cut where the buffer ends, at a line, and said so */
	assert_int_equal(pm_config_parse(&cfg, NAME, yaml, strlen(yaml), small, sizeof(small)),
			 -EINVAL);
	assert_non_null(strstr(small, "'maybe'\n"));
	assert_non_null(strstr(small, "\n(more errors: fix these first)"));
	assert_true(strlen(small) < sizeof(small));
}

/* output: and --output share their words: stdout or -, none, a path. */
static void test_set_output(void **state)
{
	struct pm_config cfg;

	(void)state;
	parse_ok(&cfg, "output: /tmp/x\n");
	assert_int_equal(pm_config_set_output(&cfg, "-"), 0);
	assert_null(cfg.output);
	assert_false(cfg.output_none);
	assert_int_equal(pm_config_set_output(&cfg, "none"), 0);
	assert_null(cfg.output);
	assert_true(cfg.output_none);
	assert_int_equal(pm_config_set_output(&cfg, "./none"), 0);
	assert_string_equal(cfg.output, "./none");
	assert_false(cfg.output_none);
	assert_int_equal(pm_config_set_output(&cfg, "stdout"), 0);
	assert_null(cfg.output);
	assert_int_equal(pm_config_set_output(&cfg, ""), -EINVAL);
	pm_config_free(&cfg);
	parse_ok(&cfg, "output: \"-\"\n");
	assert_null(cfg.output);
	pm_config_free(&cfg);
}

/* A reload's decision, on two parsed configurations: what differs of
 * the fixed settings is named and keeps its running value; each block
 * switch follows its row's policy. */
static void test_reload_plan(void **state)
{
	struct pm_config old, next;
	char restart[512];

	(void)state;
	/* nothing changed: nothing to say */
	parse_ok(&old, "nats: {servers: [\"nats://127.0.0.1:1\"]}\n");
	parse_ok(&next, "nats: {servers: [\"nats://127.0.0.1:1\"]}\n");
	pm_config_reload_plan(&old, &next, restart, sizeof(restart));
	assert_string_equal(restart, "");
	pm_config_free(&next);

	/* fixed settings: named once each, the running value kept */
	parse_ok(&next, "output: /tmp/x\nring_buffer_kb: 64\nnats: {servers: "
			"[\"nats://127.0.0.1:2\"], tls: {}}\nmetrics: {listen: \"127.0.0.1:1\"}\n"
			"caps_format: hex\n");
	pm_config_reload_plan(&old, &next, restart, sizeof(restart));
	assert_string_equal(restart, "output, ring_buffer_kb, metrics, nats");
	assert_null(next.output);
	assert_int_equal(next.ring_buffer_kb, 8192); /* the running one */
	assert_string_equal(next.nats.servers[0], "nats://127.0.0.1:1");
	assert_null(next.metrics_listen);
	assert_true(next.caps_hex); /* live: not touched */
	pm_config_free(&next);
	pm_config_free(&old);

	/* switches: restart keeps, live and loaded follow */
	parse_ok(&old, "thread_injection: {enabled: true}\n");
	parse_ok(&next, "setuid: {enabled: true}\nongoing_identity: {enabled: true}\n"
			"ptrace_access_check: {enabled: true}\nremote_thread: {enabled: true}\n"
			"named_pipe: {enabled: true}\nthread_injection: {enabled: true}\n");
	pm_config_reload_plan(&old, &next, restart, sizeof(restart));
	assert_string_equal(restart, "setuid.enabled, named_pipe.enabled");
	assert_false(next.block[PM_BLOCK_SETUID].enabled);
	assert_false(next.block[PM_BLOCK_NAMED_PIPE].enabled);
	assert_true(next.block[PM_BLOCK_ONGOING_IDENTITY].enabled);
	assert_true(next.block[PM_BLOCK_PTRACE_ACCESS_CHECK].enabled); /* loaded for thread_injection */
	assert_true(next.block[PM_BLOCK_REMOTE_THREAD].enabled);
	pm_config_free(&next);
	/* turned off: the restart block stays on, a loaded one goes off */
	parse_ok(&next, "ptrace_access_check: {enabled: false}\n");
	old.block[PM_BLOCK_PTRACE_ACCESS_CHECK].enabled = true;
	pm_config_reload_plan(&old, &next, restart, sizeof(restart));
	assert_string_equal(restart, "thread_injection.enabled");
	assert_true(next.block[PM_BLOCK_THREAD_INJECTION].enabled);
	assert_false(next.block[PM_BLOCK_PTRACE_ACCESS_CHECK].enabled);
	pm_config_free(&next);
	pm_config_free(&old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_block_table),
		cmocka_unit_test(test_reload_plan),
		cmocka_unit_test(test_every_error_at_once),
		cmocka_unit_test(test_set_output),
		cmocka_unit_test(test_operating_keys),
		cmocka_unit_test(test_detections),
		cmocka_unit_test(test_repeat_limit),
		cmocka_unit_test(test_bombini_example),
		cmocka_unit_test(test_procmon_keys),
		cmocka_unit_test(test_format_output_ring),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_unknown_top_key),
		cmocka_unit_test(test_unknown_nested_key),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_unknown_capability),
		cmocka_unit_test(test_binary_lists),
		cmocka_unit_test(test_cred_filters),
		cmocka_unit_test(test_lists_defaults),
		cmocka_unit_test(test_bad_format),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_bombini_unused_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_anchor_flood),
		cmocka_unit_test(test_long_key),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_config_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
