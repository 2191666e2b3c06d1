/* SPDX-License-Identifier: GPL-2.0 */
/* Names of kernel constants as procmon prints them: capabilities, signals,
 * secureexec flags. Pure functions, unit-tested. */
#ifndef PROCMON_NAMES_H
#define PROCMON_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "render/json.h"

/* Highest capability bit this procmon knows by name (CAP_CHECKPOINT_RESTORE). */
#define PM_CAP_LAST_KNOWN 40

/* "CAP_CHOWN" for 0 ... NULL when unknown. */
const char *pm_cap_name(unsigned bit);
/* Bit number for "CAP_NET_RAW" (case-insensitive, "CAP_" prefix optional),
 * or -1 when the name is unknown. */
int pm_cap_from_name(const char *name);

/*
 * Write the capability set as a JSON string: names in ascending bit order
 * joined by " | ", "" when empty, "ALL_CAPS" when the set holds every
 * capability up to cap_last (the running kernel's /proc/sys/kernel/cap_last_cap).
 * A bit without a name is written as "CAP_<n>".
 */
void pm_json_caps(struct json_buf *b, uint64_t caps, unsigned cap_last);

/* The set as /proc/PID/status shows it: 16 hex digits ("000001ffffffffff"),
 * as a JSON string (caps_format: hex). */
void pm_json_caps_hex(struct json_buf *b, uint64_t caps);

/* "SIGKILL" for 9 ..., "SIG<n>" for an unnamed number, "" for 0. */
const char *pm_signal_name(int sig, char *buf, size_t len);

/* secureexec flag bits (user-space only; derived from the exec record) */
enum pm_secureexec {
	PM_SECUREEXEC_SETUID = 1 << 0,
	PM_SECUREEXEC_SETGID = 1 << 1,
	PM_SECUREEXEC_FILE_CAPS = 1 << 2,
	PM_SECUREEXEC_FILELESS_EXEC = 1 << 3,
};
/* Write the flags as a JSON string: " | "-joined names, "" when none. */
void pm_json_secureexec(struct json_buf *b, unsigned flags);

/* Setuid/Setgid flags (enum pm_setid_flags) as "LSM_SETID_RES" etc. */
void pm_json_setid_flags(struct json_buf *b, unsigned flags);
/* PTRACE_MODE_* bits, " | "-joined: "PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS". */
void pm_json_ptrace_mode(struct json_buf *b, unsigned mode);
/* CLONE_NEW* namespace bits by name, " | "-joined ("CLONE_NEWNS | CLONE_NEWNET"). */
void pm_json_namespaces(struct json_buf *b, unsigned flags);
/* A /proc/PID/mem file's f_mode as "read", "write" or "read_write". */
const char *pm_open_mode_name(uint64_t f_mode);

/*
 * Prctl's `cmd` object: {"PrSetDumpable":n}, {"PrSetKeepCaps":n},
 * {"PrSetName":{"name":"..."}} (name: the task's name after the call, at
 * most name_max bytes), {"PrSetSecurebits":n}, procmon's own
 * {"PrSetNoNewPrivs":n}, {"PrSetSeccomp":n}, {"PrSetChildSubreaper":n},
 * {"PrCapbsetDrop":"CAP_X"}, {"PrCapAmbient":{"op":"PR_CAP_AMBIENT_RAISE","cap":"CAP_X"}},
 * and {"Opcode":n} for every other option.
 */
void pm_json_prctl_cmd(struct json_buf *b, uint64_t option, uint64_t arg2, uint64_t arg3,
		       const char *name, size_t name_max);

/* NUL-terminated strings (the last may lack its NUL) as a JSON array. */
void pm_json_string_list(struct json_buf *b, const char *strings, size_t len);

#endif /* PROCMON_NAMES_H */
