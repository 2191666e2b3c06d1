/* SPDX-License-Identifier: GPL-2.0 */
/* Diagnostics: always stderr, never the event stream. */
#ifndef PROCMON_LOG_H
#define PROCMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

extern bool pm_log_verbose;

void pm_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A diagnostic that can repeat on every flush (a full disk): the first
 * one is printed, the repeats within PM_LOG_LIMIT_S are counted, and the
 * next one after that, or pm_log_limit_flush, prints the last of them
 * with the count, so stderr gets a line every few seconds, not hundreds.
 */
#define PM_LOG_LIMIT_S 5
struct pm_log_limit {
	uint64_t next_ns; /* CLOCK_MONOTONIC: print again from then on */
	uint64_t repeats; /* held back since the last line printed */
	char last[256];   /* the last one held back */
};

void pm_log_error_limited(struct pm_log_limit *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print the summary of held-back repeats, if any. */
void pm_log_limit_flush(struct pm_log_limit *l);

#endif
