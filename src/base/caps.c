// SPDX-License-Identifier: GPL-2.0
#include "base/caps.h"

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
