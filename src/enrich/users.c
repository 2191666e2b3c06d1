// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* fgetpwent */
#include "enrich/users.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* NSS answers are kept this long: a user renamed or added shows up within
 * these times, and a uid costs at most one lookup per period. */
#define NSS_TTL_NS (600 * 1000000000ull)
#define NSS_NEGATIVE_TTL_NS (60 * 1000000000ull)
/* Distinct uids cached before the cache starts over (a bound on memory
 * whatever uids a host runs, user namespaces included). */
#define NSS_CACHE_MAX 4096
#define NSS_BUCKETS 1024

struct pm_user {
	uint32_t uid;
	size_t line; /* order in the file: the first entry of a uid wins */
	char *name;
};

/* A cached NSS answer; name NULL: the uid has no name. */
struct pm_nss_entry {
	uint32_t uid;
	char *name;
	uint64_t expires_ns;
	struct pm_nss_entry *next;
};

struct pm_users {
	struct pm_user *v; /* sorted by uid, then line */
	size_t n;
	/* NSS mode (pm_users_load): getpwuid_r, answers cached */
	bool nss;
	struct pm_nss_entry *buckets[NSS_BUCKETS];
	size_t cached;
	char *buf; /* getpwuid_r's scratch */
	size_t buflen;
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
	struct pm_users *u = calloc(1, sizeof(*u));
	long max = sysconf(_SC_GETPW_R_SIZE_MAX);

	if (!u)
		return NULL;
	u->nss = true;
	u->buflen = max > 0 ? (size_t)max : 1024;
	u->buf = malloc(u->buflen);
	if (!u->buf) {
		free(u);
		return NULL;
	}
	return u;
}

static void nss_clear(struct pm_users *u)
{
	for (size_t i = 0; i < NSS_BUCKETS; i++) {
		struct pm_nss_entry *e = u->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->name);
			free(e);
		}
		u->buckets[i] = NULL;
	}
	u->cached = 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* getpwuid_r: 0 with *name (NULL: no such user), or -errno (the lookup
 * failed: not cached, so the next event asks again). */
static int nss_lookup(struct pm_users *u, uint32_t uid, char **name)
{
	struct passwd pw, *res = NULL;
	int err;

	*name = NULL;
	while ((err = getpwuid_r(uid, &pw, u->buf, u->buflen, &res)) == ERANGE &&
	       u->buflen < (1u << 20)) {
		char *nb = realloc(u->buf, u->buflen * 2);

		if (!nb)
			return -ENOMEM;
		u->buf = nb;
		u->buflen *= 2;
	}
	/* "not found" is 0 and no result, or for some NSS modules ENOENT & co. */
	if (err && err != ENOENT && err != ESRCH && err != EBADF && err != EPERM)
		return -err;
	if (res && !(*name = strdup(res->pw_name)))
		return -ENOMEM;
	return 0;
}

/*
 * The name from the cache, or from NSS when the cache has none (or an
 * expired one). The cache is a memo: pm_user_name's callers see it as
 * const, as they would a table.
 */
static const char *nss_name(struct pm_users *u, uint32_t uid)
{
	struct pm_nss_entry **b = &u->buckets[uid % NSS_BUCKETS], *e;
	uint64_t now = mono_ns();
	char *name;

	for (e = *b; e; e = e->next)
		if (e->uid == uid)
			break;
	if (e && now < e->expires_ns)
		return e->name;
	if (nss_lookup(u, uid, &name))
		return e ? e->name : NULL; /* keep the last answer while NSS fails */
	if (!e) {
		if (u->cached >= NSS_CACHE_MAX) {
			nss_clear(u);
			b = &u->buckets[uid % NSS_BUCKETS];
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(name);
			return NULL;
		}
		e->uid = uid;
		e->next = *b;
		*b = e;
		u->cached++;
	}
	free(e->name);
	e->name = name;
	e->expires_ns = now + (name ? NSS_TTL_NS : NSS_NEGATIVE_TTL_NS);
	return name;
}

void pm_users_free(struct pm_users *u)
{
	if (!u)
		return;
	nss_clear(u);
	free(u->buf);
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i].name);
	free(u->v);
	free(u);
}

const char *pm_user_name(const struct pm_users *u, uint32_t uid)
{
	size_t lo = 0, hi = u ? u->n : 0;

	if (u && u->nss)
		return nss_name((struct pm_users *)u, uid);

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
