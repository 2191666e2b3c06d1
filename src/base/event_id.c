// SPDX-License-Identifier: GPL-2.0
#include "base/event_id.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/timefmt.h"

void pm_uuid4_format(const uint8_t random[16], char out[PM_EVENT_ID_LEN])
{
	uint8_t b[16];

	memcpy(b, random, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, PM_EVENT_ID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

void pm_event_ids_init(struct pm_event_ids *ids)
{
	memset(ids, 0, sizeof(*ids));
	if (getrandom(ids->prefix, sizeof(ids->prefix), 0) != sizeof(ids->prefix)) {
		uint64_t t = pm_clock_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32);

		memcpy(ids->prefix, &t, sizeof(t));
	}
}

uint64_t pm_event_ids_next(struct pm_event_ids *ids, char id[PM_EVENT_ID_LEN])
{
	uint64_t seq = ++ids->seq;
	uint8_t b[16];

	if (ids->reserve && seq >= ids->reserved) {
		ids->reserved = seq + PM_EVENT_IDS_RESERVE;
		if (ids->reserve(ids->reserve_arg, ids->reserved))
			ids->reserved = UINT64_MAX;
	}
	memcpy(b, ids->prefix, 8);
	for (int i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
	pm_uuid4_format(b, id);
	return seq;
}

void pm_host_token(const char *host, char *out, size_t outlen)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)host; *p && n + 1 < outlen; p++)
		out[n++] = (*p <= ' ' || *p == 0x7f || *p == '.' || *p == '*' || *p == '>')
				   ? '_'
				   : (char)*p;
	if (!n && outlen > 1)
		out[n++] = '_';
	out[n] = '\0';
}
