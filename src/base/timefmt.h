/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PROCMON_TIMEFMT_H
#define PROCMON_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PM_RFC3339_LEN sizeof("2025-12-11T11:45:47.773Z")

/* Format nanoseconds since the Unix epoch as RFC 3339 UTC with
 * milliseconds and a Z suffix: "2025-12-11T11:45:47.773Z". Negative
 * input is clamped to the epoch. Returns buf. */
char *pm_format_rfc3339_ms(int64_t unix_ns, char buf[PM_RFC3339_LEN]);

/* clock_gettime(id) in nanoseconds. */
uint64_t pm_clock_ns(clockid_t id);

/* Seconds since the epoch kept within +-2^40 (34,000 years), so that any
 * file time a filesystem allows converts to ns or ms without overflow. */
static inline int64_t pm_clamp_sec(int64_t sec)
{
	const int64_t max = (int64_t)1 << 40;

	return sec > max ? max : sec < -max ? -max : sec;
}

#endif
