// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* vasprintf */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
