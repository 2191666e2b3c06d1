/* SPDX-License-Identifier: GPL-2.0 */
/* Diagnostics: always stderr, never the event stream. */
#ifndef PROCMON_LOG_H
#define PROCMON_LOG_H

#include <stdbool.h>

extern bool pm_log_verbose;

void pm_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
