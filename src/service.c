// SPDX-License-Identifier: GPL-2.0
#include "service.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* One datagram to $NOTIFY_SOCKET; nothing when it is unset or unusable. */
static void notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	if (!path || !path[0] || (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       offsetof(struct sockaddr_un, sun_path) + n);
	close(fd);
}

void pm_service_ready(void)
{
	notify("READY=1");
}

/* Nanoseconds between keep-alives: half of $WATCHDOG_USEC; 0: no watchdog. */
static uint64_t watchdog_interval_ns(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || !usec[0])
		return 0;
	v = strtoull(usec, &end, 10);
	if (*end || !v || v > UINT64_MAX / 1000)
		return 0;
	/* set for another process (a parent that passed its environment on) */
	if (pid && pid[0] && strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	return v * 1000 / 2;
}

void pm_service_watchdog(uint64_t now_ns)
{
	static uint64_t interval_ns = UINT64_MAX, next_ns;

	if (interval_ns == UINT64_MAX)
		interval_ns = watchdog_interval_ns();
	if (!interval_ns || now_ns < next_ns)
		return;
	notify("WATCHDOG=1");
	next_ns = now_ns + interval_ns;
}
