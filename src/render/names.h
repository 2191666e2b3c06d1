/* SPDX-License-Identifier: GPL-2.0 */
/* Names of kernel constants as procmon prints them: capabilities, signals,
 * secureexec flags. Pure functions, unit-tested. */
#ifndef PROCMON_NAMES_H
#define PROCMON_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "base/caps.h"
#include "render/json.h"

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
