// SPDX-License-Identifier: GPL-2.0
#include "enrich/identity.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pm_identity {
	struct pm_identity *next;
	size_t len;
	char key[]; /* hash, NUL, path, NUL */
};

struct pm_identities {
	struct pm_identity **buckets;
	size_t nbuckets, n, max;
};

struct pm_identities *pm_identities_new(size_t max)
{
	struct pm_identities *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max = max;
	s->nbuckets = 1024;
	while (s->nbuckets < max / 2)
		s->nbuckets *= 2;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return NULL;
	}
	return s;
}

static void clear(struct pm_identities *s)
{
	for (size_t i = 0; i < s->nbuckets; i++)
		while (s->buckets[i]) {
			struct pm_identity *e = s->buckets[i];

			s->buckets[i] = e->next;
			free(e);
		}
	s->n = 0;
}

void pm_identities_free(struct pm_identities *s)
{
	if (!s)
		return;
	clear(s);
	free(s->buckets);
	free(s);
}

/* FNV-1a over the key: a table index only, compared in full after. */
static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
	return h;
}

bool pm_identity_first(struct pm_identities *s, const char *path, const char *hash)
{
	size_t hl = strlen(hash) + 1, pl = strlen(path) + 1;
	struct pm_identity *e = malloc(sizeof(*e) + hl + pl), **slot;

	if (!e)
		return true; /* cannot remember it: report it rather than drop it */
	e->len = hl + pl;
	memcpy(e->key, hash, hl);
	memcpy(e->key + hl, path, pl);
	slot = &s->buckets[hash_key(e->key, e->len) & (s->nbuckets - 1)];
	for (struct pm_identity *o = *slot; o; o = o->next)
		if (o->len == e->len && !memcmp(o->key, e->key, e->len)) {
			free(e);
			return false;
		}
	if (s->n == s->max) { /* full: start over (see identity.h) */
		clear(s);
		slot = &s->buckets[hash_key(e->key, e->len) & (s->nbuckets - 1)];
	}
	e->next = *slot;
	*slot = e;
	s->n++;
	return true;
}
