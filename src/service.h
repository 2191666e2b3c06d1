/* SPDX-License-Identifier: GPL-2.0 */
/*
 * systemd's notification protocol (sd_notify(3)) without libsystemd:
 * readiness, and the watchdog keep-alive. Both do nothing unless systemd
 * (or a test) set NOTIFY_SOCKET.
 */
#ifndef PROCMON_SERVICE_H
#define PROCMON_SERVICE_H

#include <stdint.h>

/* READY=1: every probe is attached and the running processes are known. */
void pm_service_ready(void);
/*
 * WATCHDOG=1, at most every half of $WATCHDOG_USEC (and only if
 * $WATCHDOG_PID, when set, is this process). Called once per pass of the
 * main loop, so a loop that stops coming round (an output write that
 * never returns, a deadlock) stops the keep-alives and systemd restarts
 * procmon. now_ns: CLOCK_MONOTONIC.
 */
void pm_service_watchdog(uint64_t now_ns);

#endif
