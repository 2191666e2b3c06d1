/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Privilege vocabulary every stage shares: capability names (the
 * configuration reads them, the loader names what it lacks, the renderers
 * write them) and the secureexec bits (decoded in collect, written in
 * render). Pure functions, unit-tested (tests/unit/test_names.c).
 */
#ifndef PROCMON_BASE_CAPS_H
#define PROCMON_BASE_CAPS_H

/* Highest capability bit this procmon knows by name (CAP_CHECKPOINT_RESTORE). */
#define PM_CAP_LAST_KNOWN 40

/* "CAP_CHOWN" for 0 ... NULL when unknown. */
const char *pm_cap_name(unsigned bit);

/* Bit number for "CAP_NET_RAW" (case-insensitive, "CAP_" prefix optional),
 * or -1 when the name is unknown. */
int pm_cap_from_name(const char *name);

/* secureexec flag bits (user-space only; derived from the exec record) */
enum pm_secureexec {
	PM_SECUREEXEC_SETUID = 1 << 0,
	PM_SECUREEXEC_SETGID = 1 << 1,
	PM_SECUREEXEC_FILE_CAPS = 1 << 2,
	PM_SECUREEXEC_FILELESS_EXEC = 1 << 3,
};

#endif
