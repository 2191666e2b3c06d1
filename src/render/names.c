// SPDX-License-Identifier: GPL-2.0
#include "render/names.h"
#include "render/render.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by signal number (x86 and most other Linux architectures). */
static const char *const sig_names[] = {
	[1] = "SIGHUP",	    "SIGINT",	 "SIGQUIT", "SIGILL",	 "SIGTRAP",
	"SIGABRT",	    "SIGBUS",	 "SIGFPE",  "SIGKILL",	 "SIGUSR1",
	"SIGSEGV",	    "SIGUSR2",	 "SIGPIPE", "SIGALRM",	 "SIGTERM",
	"SIGSTKFLT",	    "SIGCHLD",	 "SIGCONT", "SIGSTOP",	 "SIGTSTP",
	"SIGTTIN",	    "SIGTTOU",	 "SIGURG",  "SIGXCPU",	 "SIGXFSZ",
	"SIGVTALRM",	    "SIGPROF",	 "SIGWINCH", "SIGIO",	 "SIGPWR",
	"SIGSYS",
};

/* The kernel's numbering, not glibc's (which reserves 32 and 33). */
#define PM_SIGRTMIN 32
#define PM_SIGRTMAX 64

/* Bit order of enum pm_secureexec. */
static const char *const secureexec_names[] = {
	"SETUID", "SETGID", "FILE_CAPS", "FILELESS_EXEC",
};

#define SEP " | "

/* Sized for all 64 capability bits with separators. */
struct joiner {
	char s[64 * (sizeof("CAP_CHECKPOINT_RESTORE") + sizeof(SEP))];
	size_t len;
};

/* A plain copy: this runs for every capability of every process object
 * rendered (four sets per event), where snprintf was most of procmon's
 * CPU time in an exec storm. */
static void join_add(struct joiner *j, const char *name)
{
	size_t n = strlen(name), room = sizeof(j->s) - 1 - j->len;

	if (j->len && room >= sizeof(SEP) - 1) {
		memcpy(j->s + j->len, SEP, sizeof(SEP) - 1);
		j->len += sizeof(SEP) - 1;
		room -= sizeof(SEP) - 1;
	}
	if (n > room)
		n = room;
	memcpy(j->s + j->len, name, n);
	j->len += n;
	j->s[j->len] = '\0';
}


/* The names of the bits of caps, " | "-joined (cap_last as pm_json_caps). */
static void join_caps(struct joiner *j, uint64_t caps, unsigned cap_last)
{
	uint64_t all = cap_last >= 63 ? UINT64_MAX : (2ULL << cap_last) - 1;

	j->len = 0;
	j->s[0] = '\0';
	/* bits above cap_last cannot be set by this kernel: ignore them */
	if ((caps & all) == all) {
		join_add(j, "ALL_CAPS");
		return;
	}
	for (unsigned bit = 0; bit < 64; bit++) {
		char num[sizeof("CAP_64")];
		const char *name;

		if (!(caps & (1ULL << bit)))
			continue;
		name = pm_cap_name(bit);
		if (!name) {
			snprintf(num, sizeof(num), "CAP_%u", bit);
			name = num;
		}
		join_add(j, name);
	}
}

/*
 * A host has few distinct capability sets, and every process object
 * carries three of them: the last few joined strings are kept, per
 * thread, keyed by (caps, cap_last).
 */
#define CAPS_MEMO_SLOTS 8

struct caps_memo {
	uint64_t caps;
	unsigned cap_last;
	bool used;
	/* the JSON string, quotes included: capability names need no
	 * escaping, so a hit is one copy, not a scan of ~750 bytes */
	char json[sizeof(((struct joiner *)0)->s) + 2];
	size_t json_len;
};

void pm_json_caps(struct json_buf *b, uint64_t caps, unsigned cap_last)
{
	static _Thread_local struct caps_memo memo[CAPS_MEMO_SLOTS];
	struct caps_memo *m;

	/* No kernel has cap_last_cap 0: it means "could not read", and
	 * CAP_CHOWN alone must not print as ALL_CAPS. */
	if (!cap_last)
		cap_last = PM_CAP_LAST_KNOWN;
	m = &memo[(caps ^ (caps >> 17) ^ (caps >> 35)) % CAPS_MEMO_SLOTS];
	if (!m->used || m->caps != caps || m->cap_last != cap_last) {
		struct joiner j;

		join_caps(&j, caps, cap_last);
		m->json[0] = '"';
		memcpy(m->json + 1, j.s, j.len);
		m->json[j.len + 1] = '"';
		m->json_len = j.len + 2;
		m->caps = caps;
		m->cap_last = cap_last;
		m->used = true;
	}
	json_raw(b, m->json, m->json_len);
}

void pm_json_caps_hex(struct json_buf *b, uint64_t caps)
{
	char s[20];
	int n = snprintf(s, sizeof(s), "\"%016llx\"", (unsigned long long)caps);

	json_raw(b, s, (size_t)n);
}

const char *pm_signal_name(int sig, char *buf, size_t len)
{
	if (sig == 0)
		return "";
	if (sig > 0 && (size_t)sig < ARRAY_SIZE(sig_names))
		return sig_names[sig];
	if (!buf || !len)
		return "";
	if (sig == PM_SIGRTMIN)
		snprintf(buf, len, "SIGRTMIN");
	else if (sig > PM_SIGRTMIN && sig <= PM_SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - PM_SIGRTMIN);
	else
		snprintf(buf, len, "SIG%d", sig);
	return buf;
}

/* The names of the set bits (names[i] for bit i), " | "-joined. */
static void json_bit_names(struct json_buf *b, unsigned flags, const char *const *names,
			   size_t n)
{
	struct joiner j = { .len = 0 };

	j.s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (flags & (1U << i))
			join_add(&j, names[i]);
	json_strn(b, j.s, j.len);
}

void pm_json_secureexec(struct json_buf *b, unsigned flags)
{
	json_bit_names(b, flags, secureexec_names, ARRAY_SIZE(secureexec_names));
}

/* Bit order of LSM_SETID_* (include/linux/security.h). */
static const char *const setid_names[] = {
	"LSM_SETID_ID", "LSM_SETID_RE", "LSM_SETID_RES", "LSM_SETID_FS",
};

void pm_json_setid_flags(struct json_buf *b, unsigned flags)
{
	json_bit_names(b, flags, setid_names, ARRAY_SIZE(setid_names));
}

void pm_json_setid(struct json_buf *b, const struct pm_event *ev,
		   const struct pm_setid_keys keys[2], bool effective_first)
{
	const struct pm_process *p = ev->proc;
	bool gid = ev->type == PM_EVENT_SETGID;
	const struct pm_setid_keys *k = &keys[gid];
	uint64_t id = gid ? p->gid : p->uid, eid = gid ? p->egid : p->euid;

	if (effective_first)
		json_kv_u64(b, k->eid, eid);
	json_kv_u64(b, k->id, id);
	if (!effective_first)
		json_kv_u64(b, k->eid, eid);
	json_kv_u64(b, k->fsid, ev->priv.fsid);
	json_key(b, k->flags);
	pm_json_setid_flags(b, ev->priv.flags);
}

/* Bit order of PTRACE_MODE_* (include/linux/ptrace.h). */
static const char *const ptrace_mode_names[] = {
	"PTRACE_MODE_READ", "PTRACE_MODE_ATTACH", "PTRACE_MODE_NOAUDIT",
	"PTRACE_MODE_FSCREDS", "PTRACE_MODE_REALCREDS",
};

void pm_json_ptrace_mode(struct json_buf *b, unsigned mode)
{
	json_bit_names(b, mode, ptrace_mode_names, ARRAY_SIZE(ptrace_mode_names));
}

/* CLONE_NEW* bits (include/uapi/linux/sched.h), ascending. */
static const char *const ns_names[32] = {
	[7] = "CLONE_NEWTIME",	 [17] = "CLONE_NEWNS",	 [25] = "CLONE_NEWCGROUP",
	[26] = "CLONE_NEWUTS",	 [27] = "CLONE_NEWIPC",	 [28] = "CLONE_NEWUSER",
	[29] = "CLONE_NEWPID",	 [30] = "CLONE_NEWNET",
};

void pm_json_namespaces(struct json_buf *b, unsigned flags)
{
	struct joiner j = { .len = 0 };

	j.s[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
		if ((flags & (1U << i)) && ns_names[i])
			join_add(&j, ns_names[i]);
	json_strn(b, j.s, j.len);
}

/* include/uapi/linux/prctl.h */
#define PR_SET_DUMPABLE 4
#define PR_SET_KEEPCAPS 8
#define PR_SET_NAME 15
#define PR_SET_SECCOMP 22
#define PR_CAPBSET_DROP 24
#define PR_SET_SECUREBITS 28
#define PR_SET_CHILD_SUBREAPER 36
#define PR_SET_NO_NEW_PRIVS 38
#define PR_CAP_AMBIENT 47

static const char *const ambient_ops[] = {
	[1] = "PR_CAP_AMBIENT_IS_SET",
	[2] = "PR_CAP_AMBIENT_RAISE",
	[3] = "PR_CAP_AMBIENT_LOWER",
	[4] = "PR_CAP_AMBIENT_CLEAR_ALL",
};

static void json_cap_value(struct json_buf *b, uint64_t cap)
{
	const char *name = cap < 64 ? pm_cap_name(cap) : NULL;

	if (name)
		json_str(b, name);
	else
		json_u64(b, cap);
}

void pm_json_prctl_cmd(struct json_buf *b, uint64_t option, uint64_t arg2, uint64_t arg3,
		       const char *name, size_t name_max)
{
	json_obj_begin(b);
	switch (option) {
	case PR_SET_DUMPABLE:
		json_kv_u64(b, "PrSetDumpable", arg2);
		break;
	case PR_SET_KEEPCAPS:
		json_kv_u64(b, "PrSetKeepCaps", arg2);
		break;
	case PR_SET_NAME:
		json_key(b, "PrSetName");
		json_obj_begin(b);
		json_key(b, "name");
		json_strn(b, name, strnlen(name, name_max));
		json_obj_end(b);
		break;
	case PR_SET_SECUREBITS:
		json_kv_u64(b, "PrSetSecurebits", arg2);
		break;
	/* beyond Bombini: the other options that change what a process may do */
	case PR_SET_NO_NEW_PRIVS:
		json_kv_u64(b, "PrSetNoNewPrivs", arg2);
		break;
	case PR_SET_SECCOMP:
		json_kv_u64(b, "PrSetSeccomp", arg2);
		break;
	case PR_SET_CHILD_SUBREAPER:
		json_kv_u64(b, "PrSetChildSubreaper", arg2);
		break;
	case PR_CAPBSET_DROP:
		json_key(b, "PrCapbsetDrop");
		json_cap_value(b, arg2);
		break;
	case PR_CAP_AMBIENT:
		json_key(b, "PrCapAmbient");
		json_obj_begin(b);
		json_key(b, "op");
		if (arg2 < ARRAY_SIZE(ambient_ops) && ambient_ops[arg2])
			json_str(b, ambient_ops[arg2]);
		else
			json_u64(b, arg2);
		if (arg2 != 4) { /* CLEAR_ALL names no capability */
			json_key(b, "cap");
			json_cap_value(b, arg3);
		}
		json_obj_end(b);
		break;
	default:
		json_kv_u64(b, "Opcode", option);
	}
	json_obj_end(b);
}

void pm_json_string_list(struct json_buf *b, const char *strings, size_t len)
{
	json_arr_begin(b);
	for (size_t i = 0; i < len;) {
		const char *nul = memchr(strings + i, '\0', len - i);
		size_t n = nul ? (size_t)(nul - strings - i) : len - i;

		json_strn(b, strings + i, n);
		i += n + 1;
	}
	json_arr_end(b);
}

const char *pm_open_mode_name(uint64_t f_mode)
{
	/* FMODE_READ 0x1, FMODE_WRITE 0x2 (include/linux/fs.h) */
	static const char *const names[] = { "", "read", "write", "read_write" };

	return names[f_mode & 3];
}
