// SPDX-License-Identifier: GPL-2.0
#include "collect/filter.h"

#include <errno.h>
#include <string.h>

static void cred_conf(const struct pm_cred_filter *f, struct pm_cred_filter_conf *out)
{
	out->flags = 0;
	out->caps = f->cap_effective;
	if (f->has_uid_filter)
		out->flags |= PM_CF_IDS;
	if (f->has_cap_filter)
		out->flags |= PM_CF_CAPS;
	if (f->cap_any)
		out->flags |= PM_CF_CAPS_ANY;
	if (f->cap_deny_list)
		out->flags |= PM_CF_CAPS_DENY;
}

void pm_filter_conf_from_config(const struct pm_config *cfg, struct pm_filter_conf *out)
{
	const struct pm_process_filter *pf = &cfg->process_filter;

	memset(out, 0, sizeof(*out));
	if (pf->uid.n)
		out->process |= PM_PF_UID;
	if (pf->euid.n)
		out->process |= PM_PF_EUID;
	if (pf->auid.n)
		out->process |= PM_PF_AUID;
	if (pf->name.n || pf->path.n || pf->prefix.n)
		out->process |= PM_PF_BINARY;
	/* a filter with no list in force filters nothing, deny_list or not */
	if (pf->deny_list && out->process)
		out->process |= PM_PF_DENY;
	out->npatterns = pf->name.n + pf->path.n + pf->prefix.n;
	for (size_t b = 0; b < PM_BLOCK_COUNT; b++)
		if (pm_blocks[b].cred_hook >= 0)
			cred_conf(&cfg->block[b].cred_filter, &out->cred[pm_blocks[b].cred_hook]);
}

int pm_filter_pattern_encode(struct pm_filter_pattern *p, enum pm_pattern_kind kind,
			     const char *text)
{
	size_t n = strlen(text), at = 0;
	const char *end, *last;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	if (kind == PM_PATTERN_NAME) {
		if (!n || n >= PM_FILTER_PATTERN_MAX || strchr(text, '/'))
			return -EINVAL;
		memcpy(p->bytes, text, n);
		p->len = n;
		return 0;
	}
	if (text[0] != '/' || n > PM_FILTER_PATTERN_MAX)
		return -EINVAL;
	/*
	 * A path's components go leaf first. For a prefix, the text after
	 * its last '/' is the partial component; the ones before are whole.
	 */
	last = strrchr(text, '/');
	end = kind == PM_PATTERN_PREFIX ? last : text + n;
	if (kind == PM_PATTERN_PREFIX) {
		p->partial_len = n - (last + 1 - text);
		memcpy(p->partial, last + 1, p->partial_len);
	}
	/* components of [text, end), written from the last one back */
	while (end > text) {
		const char *start = end;
		size_t clen;

		while (start > text && start[-1] != '/')
			start--;
		clen = end - start;
		if (clen) { /* "//" and a trailing "/" make no component */
			if (at + clen + 1 > PM_FILTER_PATTERN_MAX)
				return -EINVAL;
			memcpy(p->bytes + at, start, clen);
			at += clen + 1; /* the NUL is already there */
			p->ncomps++;
		}
		end = start - 1;
	}
	p->len = at;
	/* a path with no component is "/", which no executed file is */
	return kind == PM_PATTERN_PATH && !p->ncomps ? -EINVAL : 0;
}

int pm_filter_patterns_from_config(const struct pm_config *cfg, struct pm_filter_pattern *out,
				   size_t max)
{
	const struct pm_process_filter *pf = &cfg->process_filter;
	const struct {
		const struct pm_strlist *list;
		enum pm_pattern_kind kind;
	} lists[] = {
		{ &pf->name, PM_PATTERN_NAME },
		{ &pf->path, PM_PATTERN_PATH },
		{ &pf->prefix, PM_PATTERN_PREFIX },
	};
	size_t n = 0;

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		for (size_t i = 0; i < lists[l].list->n; i++) {
			if (n == max ||
			    pm_filter_pattern_encode(&out[n], lists[l].kind, lists[l].list->v[i]))
				return -EINVAL;
			n++;
		}
	return n;
}

int pm_filter_for_each_id(const struct pm_config *cfg,
			  int (*add)(__u32 list, __u32 id, void *arg), void *arg)
{
	const struct pm_process_filter *pf = &cfg->process_filter;
	const struct {
		const struct pm_idlist *ids;
		__u32 list;
	} lists[] = {
		{ &pf->uid, PM_IDS_UID },
		{ &pf->euid, PM_IDS_EUID },
		{ &pf->auid, PM_IDS_AUID },
	};
	int ret;

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		for (size_t i = 0; i < lists[l].ids->n; i++)
			if ((ret = add(lists[l].list, lists[l].ids->v[i], arg)))
				return ret;
	/* the cred_filters' uid_filter.euid / gid_filter.egid */
	for (size_t b = 0; b < PM_BLOCK_COUNT; b++)
		for (size_t i = 0; pm_blocks[b].cred_ids && i < cfg->block[b].cred_filter.euid.n; i++)
			if ((ret = add(pm_blocks[b].cred_ids, cfg->block[b].cred_filter.euid.v[i], arg)))
				return ret;
	return 0;
}

static bool listed(const struct pm_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

bool pm_filter_binary_matches(const struct pm_process_filter *pf, const char *name,
			      const char *path)
{
	if (listed(&pf->name, name) || listed(&pf->path, path))
		return true;
	for (size_t i = 0; i < pf->prefix.n; i++)
		if (!strncmp(path, pf->prefix.v[i], strlen(pf->prefix.v[i])))
			return true;
	return false;
}
