// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* fgetpwent */
#include "users.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>

struct pm_user {
	uint32_t uid;
	size_t line; /* order in the file: the first entry of a uid wins */
	char *name;
};

struct pm_users {
	struct pm_user *v; /* sorted by uid, then line */
	size_t n;
};

static int by_uid(const void *a, const void *b)
{
	const struct pm_user *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

struct pm_users *pm_users_parse(FILE *passwd)
{
	struct pm_users *u = calloc(1, sizeof(*u));
	size_t cap = 0;
	struct passwd *pw;

	if (!u)
		return NULL;
	while (passwd && (pw = fgetpwent(passwd))) {
		if (u->n == cap) {
			struct pm_user *v = realloc(u->v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (!v)
				goto oom;
			u->v = v;
		}
		u->v[u->n].uid = pw->pw_uid;
		u->v[u->n].line = u->n;
		if (!(u->v[u->n].name = strdup(pw->pw_name)))
			goto oom;
		u->n++;
	}
	qsort(u->v, u->n, sizeof(*u->v), by_uid);
	return u;
oom:
	pm_users_free(u);
	return NULL;
}

struct pm_users *pm_users_load(void)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct pm_users *u = pm_users_parse(f);

	if (f)
		fclose(f);
	return u;
}

void pm_users_free(struct pm_users *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i].name);
	free(u->v);
	free(u);
}

const char *pm_user_name(const struct pm_users *u, uint32_t uid)
{
	size_t lo = 0, hi = u ? u->n : 0;

	/* the first entry with this uid */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < (u ? u->n : 0) && u->v[lo].uid == uid ? u->v[lo].name : NULL;
}
