// SPDX-License-Identifier: GPL-2.0
#include "base/buf.h"

#include <stdint.h>
#include <stdlib.h>

#define PM_BUF_MIN_CAP 256

void pm_buf_init(struct pm_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void pm_buf_free(struct pm_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

bool __attribute__((noinline)) pm_buf_grow(struct pm_buf *b, size_t extra)
{
	size_t want, cap;
	char *p;

	if (b->oom)
		return false;
	if (extra > SIZE_MAX - b->len)
		goto fail;
	want = b->len + extra;
	cap = b->cap ? b->cap : PM_BUF_MIN_CAP;
	while (cap < want) {
		if (cap > SIZE_MAX / 2) {
			cap = want;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		goto fail;
	b->data = p;
	b->cap = cap;
	return true;
fail:
	b->oom = true;
	return false;
}
