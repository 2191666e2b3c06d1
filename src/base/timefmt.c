// SPDX-License-Identifier: GPL-2.0
#include "base/timefmt.h"

#include <time.h>

#define NS_PER_SEC 1000000000LL
#define NS_PER_MS 1000000LL

/* Right-aligned, zero-padded decimal; fixed width keeps the format exact
 * without snprintf's truncation bookkeeping. */
static char *put_num(char *p, unsigned v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

char *pm_format_rfc3339_ms(int64_t unix_ns, char buf[PM_RFC3339_LEN])
{
	time_t sec;
	struct tm tm;
	char *p = buf;
	int64_t ms;

	/* after the clamp, C's truncating division is the floor we want:
	 * 999999 ns is still millisecond .000 */
	if (unix_ns < 0)
		unix_ns = 0;
	sec = (time_t)(unix_ns / NS_PER_SEC);
	ms = (unix_ns % NS_PER_SEC) / NS_PER_MS;
	/* cannot fail for any int64 of nanoseconds (year <= 2262) */
	if (!gmtime_r(&sec, &tm)) {
		sec = 0;
		ms = 0;
		gmtime_r(&sec, &tm);
	}

	p = put_num(p, (unsigned)tm.tm_year + 1900, 4);
	*p++ = '-';
	p = put_num(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_num(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_num(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_num(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_num(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_num(p, (unsigned)ms, 3);
	*p++ = 'Z';
	*p = '\0';
	return buf;
}

uint64_t pm_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}
