// SPDX-License-Identifier: GPL-2.0
#include "names.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by bit number, as in linux/capability.h. */
static const char *const cap_names[PM_CAP_LAST_KNOWN + 1] = {
	"CAP_CHOWN",		"CAP_DAC_OVERRIDE",	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",		"CAP_FSETID",		"CAP_KILL",
	"CAP_SETGID",		"CAP_SETUID",		"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",	"CAP_NET_BIND_SERVICE",	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",	"CAP_NET_RAW",		"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",	"CAP_SYS_MODULE",	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",	"CAP_SYS_PTRACE",	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",	"CAP_SYS_BOOT",		"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",	"CAP_SYS_TIME",		"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",		"CAP_LEASE",		"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",	"CAP_SETFCAP",		"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",	"CAP_SYSLOG",		"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",	"CAP_AUDIT_READ",	"CAP_PERFMON",
	"CAP_BPF",		"CAP_CHECKPOINT_RESTORE",
};

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

static void join_add(struct joiner *j, const char *name)
{
	int n = snprintf(j->s + j->len, sizeof(j->s) - j->len, "%s%s",
			 j->len ? SEP : "", name);

	if (n > 0)
		j->len += (size_t)n;
	if (j->len >= sizeof(j->s))
		j->len = sizeof(j->s) - 1;
}

const char *pm_cap_name(unsigned bit)
{
	return bit < ARRAY_SIZE(cap_names) ? cap_names[bit] : NULL;
}

int pm_cap_from_name(const char *name)
{
	size_t i;

	if (!name)
		return -1;
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (!strcasecmp(name, cap_names[i] + 4))
			return (int)i;
	return -1;
}

void pm_json_caps(struct json_buf *b, uint64_t caps, unsigned cap_last)
{
	struct joiner j = { .len = 0 };
	uint64_t all;
	unsigned bit;

	/* No kernel has cap_last_cap 0: it means "could not read", and
	 * CAP_CHOWN alone must not print as ALL_CAPS. */
	if (!cap_last)
		cap_last = PM_CAP_LAST_KNOWN;
	all = cap_last >= 63 ? UINT64_MAX : (2ULL << cap_last) - 1;
	/* bits above cap_last cannot be set by this kernel: ignore them */
	if ((caps & all) == all) {
		json_str(b, "ALL_CAPS");
		return;
	}
	j.s[0] = '\0';
	for (bit = 0; bit < 64; bit++) {
		char num[sizeof("CAP_64")];
		const char *name;

		if (!(caps & (1ULL << bit)))
			continue;
		name = pm_cap_name(bit);
		if (!name) {
			snprintf(num, sizeof(num), "CAP_%u", bit);
			name = num;
		}
		join_add(&j, name);
	}
	json_strn(b, j.s, j.len);
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

void pm_json_secureexec(struct json_buf *b, unsigned flags)
{
	struct joiner j = { .len = 0 };
	size_t i;

	j.s[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(secureexec_names); i++)
		if (flags & (1U << i))
			join_add(&j, secureexec_names[i]);
	json_strn(b, j.s, j.len);
}
