// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* vasprintf */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bool pm_log_verbose;

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char *line = NULL;

	/* whole, however long (a verifier log is one message) */
	if (vasprintf(&line, fmt, ap) < 0)
		return;
	/* one write per line so concurrent threads do not interleave */
	fprintf(stderr, "procmon: %s%s\n", level, line);
	free(line);
}

#define PM_LOG_FN(fn, level, cond)                \
	void fn(const char *fmt, ...)             \
	{                                         \
		va_list ap;                       \
		if (!(cond))                      \
			return;                   \
		va_start(ap, fmt);                \
		vlog(level, fmt, ap);             \
		va_end(ap);                       \
	}

PM_LOG_FN(pm_log_debug, "debug: ", pm_log_verbose)
PM_LOG_FN(pm_log_info, "", 1)
PM_LOG_FN(pm_log_warn, "warning: ", 1)
PM_LOG_FN(pm_log_error, "error: ", 1)

void pm_log_limit_flush(struct pm_log_limit *l)
{
	if (!l->repeats)
		return;
	pm_log_error("%s (%llu more times)", l->last, (unsigned long long)l->repeats);
	l->repeats = 0;
}

void pm_log_error_limited(struct pm_log_limit *l, const char *fmt, ...)
{
	struct timespec ts;
	uint64_t now;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	va_start(ap, fmt);
	vsnprintf(l->last, sizeof(l->last), fmt, ap);
	va_end(ap);
	if (now < l->next_ns) {
		l->repeats++;
		return;
	}
	if (l->repeats) { /* this one, counted with those held back */
		l->repeats++;
		pm_log_limit_flush(l);
	} else {
		pm_log_error("%s", l->last);
	}
	l->next_ns = now + PM_LOG_LIMIT_S * 1000000000ull;
}
