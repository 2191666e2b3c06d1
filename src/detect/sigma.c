// SPDX-License-Identifier: GPL-2.0
/*
 * The Sigma engine (sigma.h, docs/detections.md).
 *
 * Loading turns each rule into a small tree: selections (an OR of maps,
 * each an AND of field items, each an OR, or with `all` an AND, of value
 * groups, each an OR of alternatives that base64offset and windash expand
 * one value into) under a condition tree. Matching follows Suricata's
 * shape: one Hyperscan literal database per event field holds, for every
 * rule, a set of literals at least one of which must occur for the rule
 * to match (its "necessary" set, worked out from the condition); a scan
 * of the event's fields marks the candidate rules, and only those, plus
 * the rules no literal can guard (a `null`, a pure regex), are evaluated
 * exactly. Without Hyperscan (no SSSE3) every rule is evaluated exactly:
 * slower, the same answers.
 */
#define _GNU_SOURCE
#include "detect/sigma.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include "base/safe_file.h"

#define RULE_MAX_BYTES (1 << 20) /* a Sigma rule is a few KiB */
#define DIR_MAX_DEPTH 16
#define WINDASH_MAX 256 /* alternatives one value may expand into */
#define REGEX_MATCH_LIMIT 1000000 /* PCRE2's steps per evaluation (its default: 10M) */
#define NODE_BUDGET 100000 /* YAML nodes visited per file (aliases can multiply) */

/* ---- levels ---- */

static const char *const level_names[] = { "informational", "low", "medium", "high", "critical" };

int pm_sigma_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (name && !strcmp(name, level_names[i]))
			return (int)i;
	return -EINVAL;
}

const char *pm_sigma_level_name(enum pm_sigma_level level)
{
	return (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level] :
										 "unknown";
}

/* ---- fields: Sigma's names in pm_sigma_event's order (the mapping table) ---- */

enum field {
	F_IMAGE,
	F_COMMAND_LINE,
	F_PARENT_IMAGE,
	F_PARENT_COMMAND_LINE,
	F_USER,
	F_CURRENT_DIRECTORY,
	F_ORIGINAL_FILE_NAME,
	F_PROCESS_ID,
	F_PARENT_PROCESS_ID,
	F_LOGON_ID,
	N_FIELDS,
};

static const char *const field_names[N_FIELDS] = {
	[F_IMAGE] = "Image",
	[F_COMMAND_LINE] = "CommandLine",
	[F_PARENT_IMAGE] = "ParentImage",
	[F_PARENT_COMMAND_LINE] = "ParentCommandLine",
	[F_USER] = "User",
	[F_CURRENT_DIRECTORY] = "CurrentDirectory",
	[F_ORIGINAL_FILE_NAME] = "OriginalFileName",
	[F_PROCESS_ID] = "ProcessId",
	[F_PARENT_PROCESS_ID] = "ParentProcessId",
	[F_LOGON_ID] = "LogonId",
};

const char *pm_sigma_field_name(unsigned i)
{
	return i < N_FIELDS ? field_names[i] : NULL;
}

/* ---- an arena: a rule set is freed at once ---- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		struct chunk *c = malloc(sizeof(*c) + cap);

		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	void *p = (char *)a->head->data + a->head->used;
	a->head->used += n;
	memset(p, 0, n);
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
}

/* ---- the compiled form ---- */

/* A pattern unit: a byte, or one of Sigma's two wildcards. */
#define U_STAR 256
#define U_ONE 257

enum pat_kind { P_EQ, P_PREFIX, P_SUFFIX, P_CONTAINS, P_GLOB };
enum alt_kind { A_PAT, A_RE, A_NULL };

struct alt {
	enum alt_kind kind;
	bool cased;
	enum pat_kind pk;
	const uint16_t *units; /* P_GLOB */
	size_t n_units;
	const char *lit; /* P_EQ..P_CONTAINS: the literal, lowered unless cased */
	size_t lit_len;
	pcre2_code *re;
	const char *re_src; /* A_RE: the pattern, and its flags as Hyperscan's */
	size_t re_len;
	unsigned re_hs_flags;
	int literal; /* prefilter literal id or -1 */
};

struct group {
	struct alt *alts;
	size_t n;
};

struct item {
	enum field field;
	bool all;
	bool exists; /* |exists: exists_val decides */
	bool exists_val;
	struct group *groups;
	size_t n;
};

struct map {
	struct item *items;
	size_t n;
};

struct selection {
	const char *name;
	struct map *maps;
	size_t n;
};

enum cop { C_AND, C_OR, C_NOT, C_SEL, C_ONE_OF, C_ALL_OF };
struct cnode {
	enum cop op;
	struct cnode *a, *b;
	size_t *sels; /* C_SEL: one; C_*_OF: n_sels */
	size_t n_sels;
};

struct rule {
	struct pm_sigma_rule_info info;
	struct selection *sels;
	size_t n_sels;
	struct cnode *cond;
	bool always; /* no literal guards it: evaluated on every event */
};

/* A prefilter literal: its field, bytes (lowered) and the rules it guards. */
struct literal {
	enum field field;
	char *bytes;
	size_t len;
	unsigned re_hs_flags; /* a regex in prefilter mode (HS_FLAG_PREFILTER set), or 0 */
	size_t *rules;
	size_t n_rules, cap_rules;
};

struct pm_sigma_rules {
	struct arena arena;
	struct rule *rules;
	size_t n_rules, cap_rules;
	pcre2_code **res; /* every regex compiled, kept or not, for freeing */
	size_t n_res, cap_res;
	struct literal *lits;
	size_t n_lits, cap_lits;
	bool prefilter; /* Hyperscan databases in use */
	hs_database_t *db[N_FIELDS];
	unsigned *db_ids[N_FIELDS]; /* a database's pattern id -> literal index */
};

struct pm_sigma_scratch {
	const struct pm_sigma_rules *rules;
	hs_scratch_t *hs;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	uint64_t *cand; /* bitmap of candidate rules */
	size_t cand_words;
	/* the event's fields as bytes, and their lowered copies made on demand */
	const char *val[N_FIELDS];
	size_t len[N_FIELDS];
	char num[N_FIELDS][24];
	char *low[N_FIELDS];
	size_t low_cap[N_FIELDS];
	bool low_ok[N_FIELDS];
	uint64_t regex_errors;
};

/* ---- problems ---- */

void pm_sigma_report_free(struct pm_sigma_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->n_problems; i++) {
		free(rep->problems[i].file);
		free(rep->problems[i].reason);
	}
	free(rep->problems);
	memset(rep, 0, sizeof(*rep));
}

__attribute__((format(printf, 4, 5))) static void problem(struct pm_sigma_report *rep,
							  const char *file, unsigned line,
							  const char *fmt, ...)
{
	struct pm_sigma_problem *np;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	np = realloc(rep->problems, (rep->n_problems + 1) * sizeof(*np));
	if (!np)
		return;
	rep->problems = np;
	np[rep->n_problems].file = strdup(file);
	np[rep->n_problems].line = line;
	np[rep->n_problems].reason = strdup(buf);
	if (np[rep->n_problems].file && np[rep->n_problems].reason)
		rep->n_problems++;
	else {
		free(np[rep->n_problems].file);
		free(np[rep->n_problems].reason);
	}
}

/* ---- YAML helpers ---- */

/* One file being compiled: where a rule's problem is reported. */
struct ctx {
	struct pm_sigma_rules *rs;
	yaml_document_t *doc;
	const char *file;
	unsigned err_line;
	char err[400];
	size_t budget;
};

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, yaml_node_t *at,
						      const char *fmt, ...)
{
	va_list ap;

	if (c->err[0])
		return -EINVAL; /* the first reason wins */
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->err_line = at ? (unsigned)at->start_mark.line + 1 : 0;
	return -EINVAL;
}

static yaml_node_t *node(struct ctx *c, int id)
{
	if (c->budget == 0)
		return NULL;
	c->budget--;
	return yaml_document_get_node(c->doc, id);
}

static bool is_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static const char *scalar(yaml_node_t *n)
{
	return is_scalar(n) ? (const char *)n->data.scalar.value : NULL;
}

/* YAML's null: `null`, `~`, `Null`, `NULL` or nothing, when not quoted. */
static bool is_null(yaml_node_t *n)
{
	const char *s = scalar(n);

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static yaml_node_t *map_get(struct ctx *c, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(c, p->key));

		if (k && !strcmp(k, key))
			return node(c, p->value);
	}
	return NULL;
}

static const char *map_str(struct ctx *c, yaml_node_t *m, const char *key)
{
	const char *s = scalar(map_get(c, m, key));

	return s ? arena_strndup(&c->rs->arena, s, strlen(s)) : "";
}

/* A scalar or a list of scalars, as an arena array. */
static int str_list(struct ctx *c, yaml_node_t *n, const char *const **out, size_t *count)
{
	const char **v;
	size_t k = 0;

	*out = NULL;
	*count = 0;
	if (!n || is_null(n))
		return 0;
	if (is_scalar(n)) {
		v = arena_alloc(&c->rs->arena, sizeof(*v));
		if (!v)
			return -ENOMEM;
		v[0] = arena_strndup(&c->rs->arena, scalar(n), strlen(scalar(n)));
		*out = v;
		*count = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return 0;
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	v = arena_alloc(&c->rs->arena, (len ? len : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
	     i++) {
		const char *s = scalar(node(c, *i));

		if (s)
			v[k++] = arena_strndup(&c->rs->arena, s, strlen(s));
	}
	*out = v;
	*count = k;
	return 0;
}

/* ---- values: wildcards, modifiers ---- */

enum mod {
	M_CONTAINS = 1 << 0,
	M_STARTSWITH = 1 << 1,
	M_ENDSWITH = 1 << 2,
	M_ALL = 1 << 3,
	M_RE = 1 << 4,
	M_I = 1 << 5,
	M_M = 1 << 6,
	M_S = 1 << 7,
	M_CASED = 1 << 8,
	M_EXISTS = 1 << 9,
	M_BASE64 = 1 << 10,
	M_BASE64OFFSET = 1 << 11,
	M_WINDASH = 1 << 12,
};

static const struct {
	const char *name;
	unsigned bit;
} mod_names[] = {
	{ "contains", M_CONTAINS }, { "startswith", M_STARTSWITH },
	{ "endswith", M_ENDSWITH }, { "all", M_ALL },
	{ "re", M_RE },		    { "i", M_I },
	{ "m", M_M },		    { "s", M_S },
	{ "ignorecase", M_I },	    { "multiline", M_M },
	{ "dotall", M_S },
	{ "cased", M_CASED },	    { "exists", M_EXISTS },
	{ "base64", M_BASE64 },	    { "base64offset", M_BASE64OFFSET },
	{ "windash", M_WINDASH },
};

/* Sigma's modifiers procmon knows of but does not implement. */
static const char *const mods_unsupported[] = {
	"utf16le", "utf16be", "utf16", "wide", "cidr", "lt",   "lte",  "gt",   "gte",
	"neq",	   "expand",  "fieldref", "minute", "hour", "day", "week", "month", "year",
};

/* Plain value -> units, with Sigma's escaping: `\*`, `\?` are the
 * characters, `\\` before a wildcard (or another backslash) is one
 * backslash, any other backslash is itself. */
static size_t parse_wild(const char *s, size_t n, uint16_t *u)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
			u[k++] = (unsigned char)s[++i];
		} else if (ch == '*') {
			u[k++] = U_STAR;
		} else if (ch == '?') {
			u[k++] = U_ONE;
		} else {
			u[k++] = ch;
		}
	}
	return k;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of in (padded), into out (4 * ceil(n/3) + 1 bytes): its length. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t k = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[k++] = b64[v >> 18];
		out[k++] = b64[(v >> 12) & 63];
		out[k++] = b64[(v >> 6) & 63];
		out[k++] = b64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[k++] = b64[v >> 18];
		out[k++] = b64[(v >> 12) & 63];
		out[k++] = '=';
		out[k++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[k++] = b64[v >> 18];
		out[k++] = b64[(v >> 12) & 63];
		out[k++] = b64[(v >> 6) & 63];
		out[k++] = '=';
	}
	out[k] = 0;
	return k;
}

/* A value turned into plain bytes (a unit list without wildcards). */
struct strv {
	uint16_t *u;
	size_t n;
};

static bool has_wild(const uint16_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (u[i] >= U_STAR)
			return true;
	return false;
}

/*
 * Fill alt from units: contains/startswith/endswith become wildcards at
 * the ends, and the common shapes get a fast path.
 */
static int make_pat(struct ctx *c, struct alt *a, const uint16_t *units, size_t n, unsigned mods)
{
	struct arena *ar = &c->rs->arena;
	uint16_t *u = arena_alloc(ar, (n + 2) * sizeof(*u));
	size_t k = 0, lo, hi;

	if (!u)
		return -ENOMEM;
	if (mods & (M_CONTAINS | M_ENDSWITH))
		u[k++] = U_STAR;
	for (size_t i = 0; i < n; i++)
		u[k++] = (!(mods & M_CASED) && units[i] < 256) ? (uint16_t)tolower(units[i]) :
								 units[i];
	if (mods & (M_CONTAINS | M_STARTSWITH))
		u[k++] = U_STAR;
	a->kind = A_PAT;
	a->cased = mods & M_CASED;
	a->units = u;
	a->n_units = k;
	a->literal = -1;
	/* the shape: literal between at most one leading and one trailing * */
	lo = 0;
	hi = k;
	bool lead = false, trail = false;
	while (lo < hi && u[lo] == U_STAR) {
		lead = true;
		lo++;
	}
	while (hi > lo && u[hi - 1] == U_STAR) {
		trail = true;
		hi--;
	}
	if (has_wild(u + lo, hi - lo)) {
		a->pk = P_GLOB;
		return 0;
	}
	char *lit = arena_alloc(ar, hi - lo + 1);
	if (!lit)
		return -ENOMEM;
	for (size_t i = lo; i < hi; i++)
		lit[i - lo] = (char)u[i];
	a->lit = lit;
	a->lit_len = hi - lo;
	a->pk = lead && trail ? P_CONTAINS : lead ? P_SUFFIX : trail ? P_PREFIX : P_EQ;
	if (lead && trail && hi == lo)
		a->pk = P_CONTAINS; /* `*`: anything, even "" */
	return 0;
}

static bool is_word(unsigned ch)
{
	return ch < 256 && (isalnum((int)ch) || ch == '_');
}

/*
 * windash: every `-` or `/` that starts a word (preceded by a non-word
 * character or the start, followed by a word character) may be written
 * `-`, `/`, en dash, em dash or horizontal bar, as pySigma expands it.
 */
static const char *const dashes[] = { "-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95" };

static int windash(struct ctx *c, yaml_node_t *at, const uint16_t *u, size_t n,
		   struct strv **out, size_t *n_out)
{
	size_t pos[16], np = 0, total = 1;

	for (size_t i = 0; i < n; i++) {
		if ((u[i] == '-' || u[i] == '/') && (i == 0 || !is_word(u[i - 1])) && i + 1 < n &&
		    is_word(u[i + 1])) {
			if (np == 16 || total * 5 > WINDASH_MAX)
				return fail(c, at, "windash: too many dashes in one value");
			pos[np++] = i;
			total *= 5;
		}
	}
	struct strv *v = arena_alloc(&c->rs->arena, total * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t t = 0; t < total; t++) {
		uint16_t *w = arena_alloc(&c->rs->arena, (n * 3 + 1) * sizeof(*w));
		size_t k = 0, code = t, p = 0;

		if (!w)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			if (p < np && pos[p] == i) {
				const char *d = dashes[code % 5];

				code /= 5;
				p++;
				while (*d)
					w[k++] = (unsigned char)*d++;
			} else {
				w[k++] = u[i];
			}
		}
		v[t].u = w;
		v[t].n = k;
	}
	*out = v;
	*n_out = total;
	return 0;
}

/* base64 / base64offset of a plain value: the strings to look for. */
static int base64_forms(struct ctx *c, yaml_node_t *at, const uint16_t *u, size_t n, bool offset,
			struct strv **out, size_t *n_out)
{
	unsigned char *raw = malloc(n + 3);
	char *enc = malloc((n + 3) / 3 * 4 + 8);
	size_t forms = offset ? 3 : 1;
	struct strv *v = arena_alloc(&c->rs->arena, forms * sizeof(*v));
	int ret = 0;

	if (!raw || !enc || !v) {
		ret = -ENOMEM;
		goto out;
	}
	if (has_wild(u, n)) {
		ret = fail(c, at, "a wildcard in a base64 value: encode the literal or escape it");
		goto out;
	}
	for (size_t i = 0; i < forms; i++) {
		/* base64offset: the value after 0, 1, 2 bytes, minus the
		 * characters that depend on its neighbours (pySigma's table) */
		static const size_t start[3] = { 0, 2, 3 };
		static const size_t cut_end[3] = { 0, 3, 2 };
		size_t m = 0, len, s, e;

		for (size_t j = 0; j < i; j++)
			raw[m++] = ' ';
		for (size_t j = 0; j < n; j++)
			raw[m++] = (unsigned char)u[j];
		len = b64_encode(raw, m, enc);
		s = offset ? start[i] : 0;
		e = offset ? cut_end[(n + i) % 3] : 0;
		if (s + e > len)
			s = e = 0;
		uint16_t *w = arena_alloc(&c->rs->arena, (len + 1) * sizeof(*w));
		if (!w) {
			ret = -ENOMEM;
			goto out;
		}
		v[i].n = 0;
		for (size_t j = s; j < len - e; j++)
			w[v[i].n++] = (unsigned char)enc[j];
		v[i].u = w;
	}
	*out = v;
	*n_out = forms;
out:
	free(raw);
	free(enc);
	return ret;
}

static int add_regex(struct ctx *c, pcre2_code *re)
{
	struct pm_sigma_rules *rs = c->rs;

	if (rs->n_res == rs->cap_res) {
		size_t cap = rs->cap_res ? rs->cap_res * 2 : 16;
		pcre2_code **nr = realloc(rs->res, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		rs->res = nr;
		rs->cap_res = cap;
	}
	rs->res[rs->n_res++] = re;
	return 0;
}

/* One YAML value of an item into a group of alternatives. */
static int compile_value(struct ctx *c, yaml_node_t *v, unsigned mods, struct group *g)
{
	const char *s = scalar(v);
	size_t n;

	if (!s)
		return fail(c, v, "a value must be a string or a number, not a %s",
			    v && v->type == YAML_MAPPING_NODE ? "mapping" : "list");
	if (is_null(v)) {
		if (mods & ~M_ALL)
			return fail(c, v, "null with a modifier");
		g->alts = arena_alloc(&c->rs->arena, sizeof(*g->alts));
		if (!g->alts)
			return -ENOMEM;
		g->alts[0].kind = A_NULL;
		g->alts[0].literal = -1;
		g->n = 1;
		return 0;
	}
	n = v->data.scalar.length;
	if (mods & M_RE) {
		uint32_t opts = ((mods & M_I) ? PCRE2_CASELESS : 0) |
				((mods & M_M) ? PCRE2_MULTILINE : 0) |
				((mods & M_S) ? PCRE2_DOTALL : 0);
		int err;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, n, opts, &err, &off, NULL);

		if (!re) {
			PCRE2_UCHAR msg[160];

			pcre2_get_error_message(err, msg, sizeof(msg));
			return fail(c, v, "regex rejected by PCRE2 at offset %zu: %s", (size_t)off,
				    (char *)msg);
		}
		if (add_regex(c, re)) {
			pcre2_code_free(re);
			return -ENOMEM;
		}
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter if not */
		g->alts = arena_alloc(&c->rs->arena, sizeof(*g->alts));
		if (!g->alts)
			return -ENOMEM;
		g->alts[0].kind = A_RE;
		g->alts[0].re = re;
		g->alts[0].re_src = arena_strndup(&c->rs->arena, s, n);
		g->alts[0].re_len = n;
		g->alts[0].re_hs_flags = HS_FLAG_PREFILTER | ((mods & M_I) ? HS_FLAG_CASELESS : 0) |
					 ((mods & M_M) ? HS_FLAG_MULTILINE : 0) |
					 ((mods & M_S) ? HS_FLAG_DOTALL : 0);
		if (!g->alts[0].re_src)
			return -ENOMEM;
		g->alts[0].literal = -1;
		g->n = 1;
		return 0;
	}
	uint16_t *u = arena_alloc(&c->rs->arena, (n + 1) * sizeof(*u));
	if (!u)
		return -ENOMEM;
	size_t k = parse_wild(s, n, u);
	struct strv one = { u, k }, *forms = &one;
	size_t n_forms = 1;
	int ret;

	/* transformations in the order Sigma applies them (left to right is
	 * what a rule writes; these two never meet in one value) */
	if (mods & (M_BASE64 | M_BASE64OFFSET)) {
		ret = base64_forms(c, v, u, k, mods & M_BASE64OFFSET, &forms, &n_forms);
		if (ret)
			return ret;
	} else if (mods & M_WINDASH) {
		ret = windash(c, v, u, k, &forms, &n_forms);
		if (ret)
			return ret;
	}
	g->alts = arena_alloc(&c->rs->arena, n_forms * sizeof(*g->alts));
	if (!g->alts)
		return -ENOMEM;
	for (size_t i = 0; i < n_forms; i++) {
		ret = make_pat(c, &g->alts[i], forms[i].u, forms[i].n, mods);
		if (ret)
			return ret;
	}
	g->n = n_forms;
	return 0;
}

static int field_index(const char *name, size_t len)
{
	for (int i = 0; i < N_FIELDS; i++)
		if (strlen(field_names[i]) == len && !memcmp(field_names[i], name, len))
			return i;
	return -1;
}

/* `Field|mod|mod: value(s)` */
static int compile_item(struct ctx *c, yaml_node_t *key, yaml_node_t *val, struct item *it)
{
	const char *k = scalar(key);
	const char *bar;
	unsigned mods = 0;
	int f;

	if (!k)
		return fail(c, key, "a field name must be a string");
	bar = strchr(k, '|');
	if (bar == k)
		return fail(c, key, "keyword searches (no field name) are not supported");
	f = field_index(k, bar ? (size_t)(bar - k) : strlen(k));
	if (f < 0)
		return fail(c, key, "field '%.*s': procmon has no such fact for process_creation",
			    (int)(bar ? (size_t)(bar - k) : strlen(k)), k);
	it->field = (enum field)f;
	while (bar) {
		const char *m = bar + 1;
		size_t len;
		bool found = false;

		bar = strchr(m, '|');
		len = bar ? (size_t)(bar - m) : strlen(m);
		for (size_t i = 0; i < sizeof(mod_names) / sizeof(mod_names[0]); i++)
			if (strlen(mod_names[i].name) == len && !memcmp(mod_names[i].name, m, len)) {
				mods |= mod_names[i].bit;
				found = true;
			}
		if (found)
			continue;
		for (size_t i = 0; i < sizeof(mods_unsupported) / sizeof(mods_unsupported[0]); i++)
			if (strlen(mods_unsupported[i]) == len &&
			    !memcmp(mods_unsupported[i], m, len))
				return fail(c, key, "modifier '%.*s' is not supported", (int)len, m);
		return fail(c, key, "unknown modifier '%.*s'", (int)len, m);
	}
	if ((mods & (M_I | M_M | M_S)) && !(mods & M_RE))
		return fail(c, key, "modifiers i, m, s apply to re only");
	if ((mods & M_RE) && (mods & (M_CONTAINS | M_STARTSWITH | M_ENDSWITH | M_BASE64 |
				      M_BASE64OFFSET | M_WINDASH)))
		return fail(c, key, "re with another value modifier is not supported");
	if (__builtin_popcount(mods & (M_CONTAINS | M_STARTSWITH | M_ENDSWITH)) > 1)
		return fail(c, key, "more than one of contains, startswith, endswith");
	if ((mods & M_BASE64) && (mods & M_BASE64OFFSET))
		return fail(c, key, "base64 and base64offset together");
	if ((mods & (M_BASE64 | M_BASE64OFFSET)) && (mods & M_WINDASH))
		return fail(c, key, "windash with base64 is not supported");
	if (mods & M_EXISTS) {
		const char *s = scalar(val);

		if (mods != M_EXISTS || !s || (strcmp(s, "true") && strcmp(s, "false") &&
					      strcmp(s, "yes") && strcmp(s, "no")))
			return fail(c, val ? val : key, "exists takes true or false, alone");
		it->exists = true;
		it->exists_val = !strcmp(s, "true") || !strcmp(s, "yes");
		return 0;
	}
	it->all = mods & M_ALL;
	if (val && val->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);

		if (!n)
			return fail(c, val, "an empty list of values");
		it->groups = arena_alloc(&c->rs->arena, n * sizeof(*it->groups));
		if (!it->groups)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			int ret = compile_value(c, node(c, val->data.sequence.items.start[i]), mods,
						&it->groups[i]);

			if (ret)
				return ret;
		}
		it->n = n;
		return 0;
	}
	it->groups = arena_alloc(&c->rs->arena, sizeof(*it->groups));
	if (!it->groups)
		return -ENOMEM;
	it->n = 1;
	return compile_value(c, val, mods, &it->groups[0]);
}

static int compile_map(struct ctx *c, yaml_node_t *m, struct map *out)
{
	size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);

	if (!n)
		return fail(c, m, "an empty selection");
	out->items = arena_alloc(&c->rs->arena, n * sizeof(*out->items));
	if (!out->items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &m->data.mapping.pairs.start[i];
		int ret = compile_item(c, node(c, p->key), node(c, p->value), &out->items[i]);

		if (ret)
			return ret;
	}
	out->n = n;
	return 0;
}

static int compile_selection(struct ctx *c, const char *name, yaml_node_t *v, struct selection *s)
{
	s->name = arena_strndup(&c->rs->arena, name, strlen(name));
	if (!s->name)
		return -ENOMEM;
	if (v && v->type == YAML_MAPPING_NODE) {
		s->maps = arena_alloc(&c->rs->arena, sizeof(*s->maps));
		if (!s->maps)
			return -ENOMEM;
		s->n = 1;
		return compile_map(c, v, &s->maps[0]);
	}
	if (v && v->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);

		if (!n)
			return fail(c, v, "selection '%s' is an empty list", name);
		s->maps = arena_alloc(&c->rs->arena, n * sizeof(*s->maps));
		if (!s->maps)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *m = node(c, v->data.sequence.items.start[i]);

			if (!m || m->type != YAML_MAPPING_NODE)
				return fail(c, m ? m : v,
					    "selection '%s': keyword searches (a list of values without field names) are not supported",
					    name);
			int ret = compile_map(c, m, &s->maps[i]);
			if (ret)
				return ret;
		}
		s->n = n;
		return 0;
	}
	return fail(c, v, "selection '%s' must be a mapping or a list of mappings", name);
}

/* ---- conditions ---- */

struct lexer {
	struct ctx *c;
	yaml_node_t *at;
	struct rule *r;
	const char *p;
	char tok[128];
	int depth;
};

/* The next token into lx->tok: a word, `(`, `)`, or "" at the end. */
static int lex(struct lexer *lx)
{
	size_t k = 0;

	while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
		lx->p++;
	if (*lx->p == '(' || *lx->p == ')') {
		lx->tok[0] = *lx->p++;
		lx->tok[1] = 0;
		return 0;
	}
	if (*lx->p == '|')
		return fail(lx->c, lx->at, "aggregations (| count() ...) are not supported");
	while (*lx->p && (isalnum((unsigned char)*lx->p) || strchr("_*-.", *lx->p))) {
		if (k + 1 >= sizeof(lx->tok))
			return fail(lx->c, lx->at, "a condition word longer than %zu bytes",
				    sizeof(lx->tok) - 1);
		lx->tok[k++] = *lx->p++;
	}
	lx->tok[k] = 0;
	if (!k && *lx->p)
		return fail(lx->c, lx->at, "unexpected '%c' in the condition", *lx->p);
	return 0;
}

static bool word_is(const char *tok, const char *w)
{
	return !strcasecmp(tok, w);
}

static bool name_glob(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

static struct cnode *cnew(struct lexer *lx, enum cop op)
{
	struct cnode *n = arena_alloc(&lx->c->rs->arena, sizeof(*n));

	if (n)
		n->op = op;
	return n;
}

static struct cnode *parse_or(struct lexer *lx);

static struct cnode *parse_primary(struct lexer *lx)
{
	struct cnode *n;

	if (!lx->tok[0]) {
		fail(lx->c, lx->at, "the condition ends too early");
		return NULL;
	}
	if (!strcmp(lx->tok, "(")) {
		if (++lx->depth > 64) {
			fail(lx->c, lx->at, "parentheses nested too deep");
			return NULL;
		}
		if (lex(lx))
			return NULL;
		n = parse_or(lx);
		if (!n)
			return NULL;
		if (strcmp(lx->tok, ")")) {
			fail(lx->c, lx->at, "a '(' without its ')'");
			return NULL;
		}
		lx->depth--;
		return lex(lx) ? NULL : n;
	}
	if (!strcmp(lx->tok, ")") || word_is(lx->tok, "and") || word_is(lx->tok, "or") ||
	    word_is(lx->tok, "of")) {
		fail(lx->c, lx->at, "unexpected '%s' in the condition", lx->tok);
		return NULL;
	}
	bool one = !strcmp(lx->tok, "1"), all = word_is(lx->tok, "all");
	bool digits = strspn(lx->tok, "0123456789") == strlen(lx->tok);
	char first[128];

	snprintf(first, sizeof(first), "%s", lx->tok);
	if (lex(lx))
		return NULL;
	if ((one || all || digits) && word_is(lx->tok, "of")) {
		if (!one && !all) {
			fail(lx->c, lx->at, "'%s of' is not supported (only 1 of, all of)", first);
			return NULL;
		}
		if (lex(lx))
			return NULL;
		if (!lx->tok[0] || !strcmp(lx->tok, "(") || !strcmp(lx->tok, ")")) {
			fail(lx->c, lx->at, "'%s of' without a name", first);
			return NULL;
		}
		bool them = word_is(lx->tok, "them");
		n = cnew(lx, one ? C_ONE_OF : C_ALL_OF);
		if (!n)
			return NULL;
		n->sels = arena_alloc(&lx->c->rs->arena, (lx->r->n_sels + 1) * sizeof(*n->sels));
		if (!n->sels)
			return NULL;
		for (size_t i = 0; i < lx->r->n_sels; i++) {
			const char *name = lx->r->sels[i].name;

			if (them ? name[0] != '_' : name_glob(lx->tok, name))
				n->sels[n->n_sels++] = i;
		}
		if (!n->n_sels) {
			fail(lx->c, lx->at, "condition: '%s of %s' names no selection", first,
			     lx->tok);
			return NULL;
		}
		return lex(lx) ? NULL : n;
	}
	/* a plain selection name: the token after it is already read */
	if (strchr(first, '*')) {
		fail(lx->c, lx->at, "condition: a wildcard outside '1 of' / 'all of': '%s'", first);
		return NULL;
	}
	for (size_t i = 0; i < lx->r->n_sels; i++) {
		if (!strcmp(lx->r->sels[i].name, first)) {
			n = cnew(lx, C_SEL);
			if (!n)
				return NULL;
			n->sels = arena_alloc(&lx->c->rs->arena, sizeof(*n->sels));
			if (!n->sels)
				return NULL;
			n->sels[0] = i;
			n->n_sels = 1;
			return n;
		}
	}
	fail(lx->c, lx->at, "condition names no selection '%s'", first);
	return NULL;
}

static struct cnode *parse_not(struct lexer *lx)
{
	if (word_is(lx->tok, "not")) {
		if (++lx->depth > 64) {
			fail(lx->c, lx->at, "condition nested too deep");
			return NULL;
		}
		if (lex(lx))
			return NULL;
		struct cnode *a = parse_not(lx), *n;
		lx->depth--;
		if (!a || !(n = cnew(lx, C_NOT)))
			return NULL;
		n->a = a;
		return n;
	}
	return parse_primary(lx);
}

/* sub (WORD sub)*, left-associative: `and` over `not`, `or` over `and` */
static struct cnode *parse_chain(struct lexer *lx, const char *word, enum cop op,
				 struct cnode *(*sub)(struct lexer *))
{
	struct cnode *l = sub(lx);

	while (l && word_is(lx->tok, word)) {
		struct cnode *r, *n;

		if (lex(lx))
			return NULL;
		r = sub(lx);
		if (!r || !(n = cnew(lx, op)))
			return NULL;
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct cnode *parse_and(struct lexer *lx)
{
	return parse_chain(lx, "and", C_AND, parse_not);
}

static struct cnode *parse_or(struct lexer *lx)
{
	return parse_chain(lx, "or", C_OR, parse_and);
}

static struct cnode *parse_condition(struct ctx *c, struct rule *r, yaml_node_t *at,
				     const char *text)
{
	struct lexer lx = { .c = c, .at = at, .r = r, .p = text };
	struct cnode *n;

	if (lex(&lx))
		return NULL;
	n = parse_or(&lx);
	if (n && lx.tok[0]) {
		fail(c, at, "unexpected '%s' in the condition", lx.tok);
		return NULL;
	}
	if (!n && !c->err[0])
		fail(c, at, "out of memory");
	return n;
}

/* ---- the prefilter's necessary literals ---- */

/* A set of literal ids one of which must occur; NULL set = no guard. */
struct need {
	bool none;
	int *ids;
	size_t n;
	size_t min_len; /* the shortest literal's length: the guard's quality */
};

static int lit_id(struct pm_sigma_rules *rs, enum field f, const char *b, size_t len,
		  unsigned re_hs_flags)
{
	for (size_t i = 0; i < rs->n_lits; i++)
		if (rs->lits[i].field == f && rs->lits[i].len == len &&
		    rs->lits[i].re_hs_flags == re_hs_flags && !memcmp(rs->lits[i].bytes, b, len))
			return (int)i;
	if (rs->n_lits == rs->cap_lits) {
		size_t cap = rs->cap_lits ? rs->cap_lits * 2 : 256;
		struct literal *nl = realloc(rs->lits, cap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		rs->lits = nl;
		rs->cap_lits = cap;
	}
	struct literal *l = &rs->lits[rs->n_lits];
	memset(l, 0, sizeof(*l));
	l->bytes = arena_strndup(&rs->arena, b, len);
	if (!l->bytes)
		return -ENOMEM;
	l->field = f;
	l->len = len;
	l->re_hs_flags = re_hs_flags;
	return (int)rs->n_lits++;
}

/* The longest wildcard-free run of an alternative, lowered, as a literal. */
static int alt_literal(struct pm_sigma_rules *rs, enum field f, struct alt *a)
{
	size_t best = 0, best_at = 0, run = 0;
	char buf[256];

	if (a->kind == A_RE) {
		/* Hyperscan's prefilter mode: a superset of the regex's
		 * matches (PCRE's syntax, assertions and back-references
		 * approximated); a pattern it cannot take guards nothing */
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *err = NULL;

		if (hs_valid_platform() != HS_SUCCESS || memchr(a->re_src, 0, a->re_len) ||
		    hs_expression_info(a->re_src, a->re_hs_flags, &info, &err) != HS_SUCCESS) {
			hs_free_compile_error(err);
			return -1;
		}
		free(info);
		return lit_id(rs, f, a->re_src, a->re_len, a->re_hs_flags);
	}
	if (a->kind != A_PAT)
		return -1;
	if (a->pk != P_GLOB) {
		if (!a->lit_len)
			return -1;
		best = a->lit_len < sizeof(buf) ? a->lit_len : sizeof(buf);
		for (size_t i = 0; i < best; i++)
			buf[i] = (char)tolower((unsigned char)a->lit[i]);
	} else {
		for (size_t i = 0; i <= a->n_units; i++) {
			if (i < a->n_units && a->units[i] < 256) {
				run++;
				continue;
			}
			if (run > best) {
				best = run;
				best_at = i - run;
			}
			run = 0;
		}
		if (!best)
			return -1;
		if (best > sizeof(buf))
			best = sizeof(buf);
		for (size_t i = 0; i < best; i++)
			buf[i] = (char)tolower(a->units[best_at + i]);
	}
	return lit_id(rs, f, buf, best, 0);
}

static void need_free(struct need *n)
{
	free(n->ids);
	n->ids = NULL;
	n->n = 0;
}

static int need_add(struct need *n, int id, size_t len)
{
	int *ni = realloc(n->ids, (n->n + 1) * sizeof(*ni));

	if (!ni)
		return -ENOMEM;
	n->ids = ni;
	n->ids[n->n++] = id;
	if (n->n == 1 || len < n->min_len)
		n->min_len = len;
	return 0;
}

static int need_union(struct need *into, struct need *from)
{
	size_t ml = into->n && into->min_len < from->min_len ? into->min_len : from->min_len;
	int *ni = realloc(into->ids, (into->n + from->n + 1) * sizeof(*ni));

	if (!ni) {
		need_free(from);
		return -ENOMEM;
	}
	memcpy(ni + into->n, from->ids, from->n * sizeof(*ni));
	into->ids = ni;
	into->n += from->n;
	into->min_len = ml;
	need_free(from);
	return 0;
}

/* The better guard of two (AND: either must hold): the longer shortest literal. */
static void need_pick(struct need *a, struct need *b)
{
	bool take_b = a->none ? !b->none :
		      !b->none && (b->min_len > a->min_len ||
				   (b->min_len == a->min_len && b->n < a->n));

	if (take_b) {
		need_free(a);
		*a = *b;
	} else {
		need_free(b);
	}
	b->ids = NULL;
}

static int need_item(struct pm_sigma_rules *rs, struct item *it, struct need *out)
{
	struct need acc = { 0 };

	memset(out, 0, sizeof(*out));
	out->none = true;
	if (it->exists)
		return 0;
	/* all: every group must match, so one group's literals suffice;
	 * otherwise any group may: all of them */
	for (size_t g = 0; g < it->n; g++) {
		struct need gn = { 0 };

		for (size_t a = 0; a < it->groups[g].n; a++) {
			struct alt *al = &it->groups[g].alts[a];
			int id = alt_literal(rs, it->field, al);

			if (id == -ENOMEM) {
				need_free(&gn);
				need_free(&acc);
				return -ENOMEM;
			}
			if (id < 0) {
				gn.none = true;
				break;
			}
			al->literal = id;
			if (need_add(&gn, id, rs->lits[id].re_hs_flags ? 1 : rs->lits[id].len)) {
				need_free(&gn);
				need_free(&acc);
				return -ENOMEM;
			}
		}
		if (it->all) {
			if (g == 0) {
				acc.none = true;
				need_pick(&acc, &gn);
			} else {
				need_pick(&acc, &gn);
			}
		} else {
			if (gn.none) {
				need_free(&gn);
				need_free(&acc);
				return 0;
			}
			if (need_union(&acc, &gn))
				return -ENOMEM;
		}
	}
	*out = acc;
	return 0;
}

static int need_sel(struct pm_sigma_rules *rs, struct selection *s, struct need *out)
{
	struct need acc = { 0 };

	for (size_t m = 0; m < s->n; m++) {
		struct need mn = { .none = true };

		for (size_t i = 0; i < s->maps[m].n; i++) {
			struct need in;

			if (need_item(rs, &s->maps[m].items[i], &in))
				return -ENOMEM;
			need_pick(&mn, &in);
		}
		if (mn.none) {
			need_free(&acc);
			*out = (struct need){ .none = true };
			return 0;
		}
		if (need_union(&acc, &mn))
			return -ENOMEM;
	}
	*out = acc;
	return 0;
}

static int need_cond(struct pm_sigma_rules *rs, struct rule *r, struct cnode *c, struct need *out)
{
	struct need a = { 0 }, b = { 0 };

	*out = (struct need){ .none = true };
	switch (c->op) {
	case C_NOT:
		return 0;
	case C_SEL:
		return need_sel(rs, &r->sels[c->sels[0]], out);
	case C_AND:
	case C_OR:
		if (need_cond(rs, r, c->a, &a) || need_cond(rs, r, c->b, &b))
			return -ENOMEM;
		if (c->op == C_AND) {
			need_pick(&a, &b);
			*out = a;
			return 0;
		}
		if (a.none || b.none) {
			need_free(&a);
			need_free(&b);
			return 0;
		}
		if (need_union(&a, &b))
			return -ENOMEM;
		*out = a;
		return 0;
	case C_ONE_OF:
	case C_ALL_OF:
		for (size_t i = 0; i < c->n_sels; i++) {
			struct need s;

			if (need_sel(rs, &r->sels[c->sels[i]], &s))
				return -ENOMEM;
			if (c->op == C_ALL_OF) {
				if (i == 0)
					a.none = true;
				need_pick(&a, &s);
				continue;
			}
			if (s.none) {
				need_free(&a);
				return 0;
			}
			if (need_union(&a, &s))
				return -ENOMEM;
		}
		*out = a;
		return 0;
	}
	return 0;
}

static int lit_add_rule(struct literal *l, size_t rule)
{
	if (l->n_rules && l->rules[l->n_rules - 1] == rule)
		return 0;
	if (l->n_rules == l->cap_rules) {
		size_t cap = l->cap_rules ? l->cap_rules * 2 : 4;
		size_t *nr = realloc(l->rules, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		l->rules = nr;
		l->cap_rules = cap;
	}
	l->rules[l->n_rules++] = rule;
	return 0;
}

/* ---- one rule file ---- */

static bool logsource_is_ours(struct ctx *c, yaml_node_t *ls)
{
	const char *product = scalar(map_get(c, ls, "product"));
	const char *category = scalar(map_get(c, ls, "category"));

	return product && category && !strcmp(product, "linux") &&
	       !strcmp(category, "process_creation") && !map_get(c, ls, "service");
}

static int compile_rule(struct ctx *c, yaml_node_t *root, enum pm_sigma_level min_level,
			struct pm_sigma_report *rep)
{
	struct pm_sigma_rules *rs = c->rs;
	yaml_node_t *det = map_get(c, root, "detection"), *cond;
	struct rule r = { 0 };
	const char *lvl;
	int level;

	r.info.file = arena_strndup(&rs->arena, c->file, strlen(c->file));
	r.info.line = (unsigned)root->start_mark.line + 1;
	r.info.id = map_str(c, root, "id");
	r.info.title = map_str(c, root, "title");
	r.info.status = map_str(c, root, "status");
	r.info.description = map_str(c, root, "description");
	r.info.author = map_str(c, root, "author");
	if (!r.info.file || !r.info.id || !r.info.title || !r.info.status ||
	    !r.info.description || !r.info.author)
		return -ENOMEM;
	if (str_list(c, map_get(c, root, "tags"), &r.info.tags, &r.info.n_tags) ||
	    str_list(c, map_get(c, root, "references"), &r.info.references,
		     &r.info.n_references))
		return -ENOMEM;
	if (!*r.info.title)
		return fail(c, root, "no title");
	lvl = scalar(map_get(c, root, "level"));
	level = lvl ? pm_sigma_level_parse(lvl) : PM_SIGMA_MEDIUM;
	if (level < 0)
		return fail(c, map_get(c, root, "level"), "unknown level '%s'", lvl);
	r.info.level = (enum pm_sigma_level)level;
	if (map_get(c, root, "correlation"))
		return fail(c, root, "correlation rules are not supported");
	if (!det || det->type != YAML_MAPPING_NODE)
		return fail(c, det ? det : root, "detection must be a mapping");
	cond = map_get(c, det, "condition");
	if (!cond)
		return fail(c, det, "detection has no condition");
	if (map_get(c, det, "timeframe"))
		return fail(c, det, "timeframe (aggregations) is not supported");

	size_t n = (size_t)(det->data.mapping.pairs.top - det->data.mapping.pairs.start);
	r.sels = arena_alloc(&rs->arena, n * sizeof(*r.sels));
	if (!r.sels)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &det->data.mapping.pairs.start[i];
		const char *name = scalar(node(c, p->key));
		int ret;

		if (!name)
			return fail(c, det, "a detection key must be a string");
		if (!strcmp(name, "condition"))
			continue;
		ret = compile_selection(c, name, node(c, p->value), &r.sels[r.n_sels]);
		if (ret)
			return ret;
		r.n_sels++;
	}
	if (is_scalar(cond)) {
		r.cond = parse_condition(c, &r, cond, scalar(cond));
	} else if (cond->type == YAML_SEQUENCE_NODE) {
		/* a list of conditions: any of them */
		for (yaml_node_item_t *i = cond->data.sequence.items.start;
		     i < cond->data.sequence.items.top; i++) {
			yaml_node_t *cn = node(c, *i);
			struct cnode *one, *or;

			if (!is_scalar(cn))
				return fail(c, cn ? cn : cond, "a condition must be a string");
			one = parse_condition(c, &r, cn, scalar(cn));
			if (!one)
				return -EINVAL;
			if (!r.cond) {
				r.cond = one;
				continue;
			}
			or = arena_alloc(&rs->arena, sizeof(*or));
			if (!or)
				return -ENOMEM;
			or->op = C_OR;
			or->a = r.cond;
			or->b = one;
			r.cond = or;
		}
		if (!r.cond)
			return fail(c, cond, "an empty condition list");
	} else {
		return fail(c, cond, "condition must be a string or a list");
	}
	if (!r.cond)
		return -EINVAL;
	if (!c->budget)
		return fail(c, root, "too many YAML nodes (aliases?)");
	if (r.info.level < min_level) {
		rep->below_level++;
		return 0;
	}

	/* the guard: literals that make this rule a candidate */
	struct need nd;
	size_t idx = rs->n_rules;
	if (need_cond(rs, &r, r.cond, &nd))
		return -ENOMEM;
	r.always = nd.none;
	for (size_t i = 0; i < nd.n; i++)
		if (lit_add_rule(&rs->lits[nd.ids[i]], idx)) {
			need_free(&nd);
			return -ENOMEM;
		}
	need_free(&nd);
	if (rs->n_rules == rs->cap_rules) {
		size_t cap = rs->cap_rules ? rs->cap_rules * 2 : 64;
		struct rule *nr = realloc(rs->rules, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		rs->rules = nr;
		rs->cap_rules = cap;
	}
	rs->rules[rs->n_rules++] = r;
	rep->loaded++;
	return 0;
}

/* Literals appended for a rule that then failed keep no rule: harmless. */

static int read_rule_file(const char *path, bool check_owner, char **text, size_t *len,
			  char *why, size_t whylen)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), ret = 0;

	if (fd < 0) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(why, whylen, "not a regular file");
	} else if (st.st_size > RULE_MAX_BYTES) {
		ret = -EFBIG;
		snprintf(why, whylen, "larger than %d bytes", RULE_MAX_BYTES);
	} else if (check_owner) {
		char w[512] = "";

		ret = pm_safe_check_read(path, &st, w, sizeof(w));
		if (ret)
			snprintf(why, whylen, "unsafe, not loaded: %s", w[0] ? w : strerror(-ret));
	}
	if (ret) {
		close(fd);
		return ret;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*text = buf;
	*len = n;
	return 0;
}

static int load_file(struct pm_sigma_rules *rs, const char *path, enum pm_sigma_level min_level,
		     bool check_owner, struct pm_sigma_report *rep)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	char *text = NULL, why[600];
	size_t len = 0;
	int ret, docs = 0;

	ret = read_rule_file(path, check_owner, &text, &len, why, sizeof(why));
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		problem(rep, path, 0, "%s", why);
		rep->bad_files++;
		return 0;
	}
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_load(&parser, &doc)) {
			problem(rep, path, (unsigned)parser.problem_mark.line + 1, "not YAML: %s",
				parser.problem ? parser.problem : "parse error");
			rep->bad_files++;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			if (!docs) {
				problem(rep, path, 1, "not a Sigma rule: empty");
				rep->bad_files++;
			}
			break;
		}
		struct ctx c = { .rs = rs, .doc = &doc, .file = path, .budget = NODE_BUDGET };
		unsigned line = (unsigned)root->start_mark.line + 1;

		if (++docs > 1) {
			problem(rep, path, line,
				"more than one YAML document: rule collections are not supported");
			rep->unsupported++;
		} else if (root->type != YAML_MAPPING_NODE || !map_get(&c, root, "logsource") ||
			   !map_get(&c, root, "detection")) {
			problem(rep, path, line, "not a Sigma rule: %s",
				root->type != YAML_MAPPING_NODE ? "not a mapping" :
				!map_get(&c, root, "logsource") ? "no logsource" :
								  "no detection");
			rep->bad_files++;
		} else if (!logsource_is_ours(&c, map_get(&c, root, "logsource"))) {
			rep->skipped++;
		} else {
			ret = compile_rule(&c, root, min_level, rep);
			if (ret == -ENOMEM) {
				yaml_document_delete(&doc);
				break;
			}
			if (ret || c.err[0] || !c.budget) {
				problem(rep, path, c.err_line ? c.err_line : line, "%s",
					!c.budget ? "too many YAML nodes (aliases?)" :
				c.err[0] ? c.err : "cannot be used");
				rep->unsupported++;
				ret = 0;
			}
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	free(text);
	return ret == -ENOMEM ? ret : 0;
}

static bool rule_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml"));
}

static int load_path(struct pm_sigma_rules *rs, const char *path, int depth,
		     enum pm_sigma_level min_level, bool check_owner, struct pm_sigma_report *rep)
{
	struct stat st;
	struct dirent **ents = NULL;
	int n, ret = 0;

	if (stat(path, &st)) {
		problem(rep, path, 0, "cannot read: %s", strerror(errno));
		rep->bad_files++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(rs, path, min_level, check_owner, rep);
	if (depth > DIR_MAX_DEPTH) {
		problem(rep, path, 0, "directories nested deeper than %d", DIR_MAX_DEPTH);
		rep->bad_files++;
		return 0;
	}
	if (check_owner) {
		char why[512] = "";

		if (pm_safe_check_dir_chain(path, why, sizeof(why))) {
			problem(rep, path, 0, "unsafe, not loaded: %s", why);
			rep->bad_files++;
			return 0;
		}
	}
	/* sorted: the load order, and so the order of hits, is the same every time */
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		problem(rep, path, 0, "cannot list: %s", strerror(errno));
		rep->bad_files++;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *sub = NULL;
		struct stat sst;

		if (ret || name[0] == '.' ||
		    asprintf(&sub, "%s/%s", path, name) < 0) {
			free(ents[i]);
			continue;
		}
		/* a link to a directory could loop: only real directories are walked */
		if (!lstat(sub, &sst) && S_ISDIR(sst.st_mode))
			ret = load_path(rs, sub, depth + 1, min_level, check_owner, rep);
		else if (rule_name(name))
			ret = load_file(rs, sub, min_level, check_owner, rep);
		free(sub);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

/* ---- compiling the prefilter ---- */

/*
 * A field whose guards include regexes: one regex database, the literals
 * written as \xHH escapes (flags[i] without HS_FLAG_PREFILTER), the
 * regexes as they are.
 */
static hs_error_t compile_mixed(const char **exprs, const size_t *lens, const unsigned *flags,
				const unsigned *ids, size_t n, hs_database_t **db,
				hs_compile_error_t **err)
{
	char **esc = calloc(n, sizeof(*esc));
	const char **pats = calloc(n, sizeof(*pats));
	hs_error_t e = HS_NOMEM;

	if (!esc || !pats)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (flags[i] & HS_FLAG_PREFILTER) {
			pats[i] = exprs[i];
			continue;
		}
		esc[i] = malloc(lens[i] * 4 + 1);
		if (!esc[i])
			goto out;
		for (size_t j = 0; j < lens[i]; j++)
			snprintf(esc[i] + j * 4, 5, "\\x%02x", (unsigned char)exprs[i][j]);
		esc[i][lens[i] * 4] = 0;
		pats[i] = esc[i];
	}
	e = hs_compile_multi(pats, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, db, err);
out:
	for (size_t i = 0; esc && i < n; i++)
		free(esc[i]);
	free(esc);
	free(pats);
	return e;
}

static int build_prefilter(struct pm_sigma_rules *rs)
{
	if (hs_valid_platform() != HS_SUCCESS)
		return 0;
	const char *env = getenv("PROCMON_SIGMA_PREFILTER");
	if (env && !strcmp(env, "0"))
		return 0; /* bench and tests: the exact path alone */

	for (int f = 0; f < N_FIELDS; f++) {
		size_t n = 0;

		for (size_t i = 0; i < rs->n_lits; i++)
			n += rs->lits[i].field == (enum field)f && rs->lits[i].n_rules;
		if (!n)
			continue;
		const char **exprs = calloc(n, sizeof(*exprs));
		size_t *lens = calloc(n, sizeof(*lens));
		unsigned *flags = calloc(n, sizeof(*flags));
		unsigned *ids = calloc(n, sizeof(*ids));
		hs_compile_error_t *err = NULL;
		size_t k = 0;

		rs->db_ids[f] = calloc(n, sizeof(*rs->db_ids[f]));
		if (!exprs || !lens || !flags || !ids || !rs->db_ids[f]) {
			free(exprs);
			free(lens);
			free(flags);
			free(ids);
			return -ENOMEM;
		}
		bool has_re = false;
		for (size_t i = 0; i < rs->n_lits; i++) {
			if (rs->lits[i].field != (enum field)f || !rs->lits[i].n_rules)
				continue;
			exprs[k] = rs->lits[i].bytes;
			lens[k] = rs->lits[i].len;
			flags[k] = rs->lits[i].re_hs_flags ? rs->lits[i].re_hs_flags | HS_FLAG_SINGLEMATCH :
							     HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
			has_re |= rs->lits[i].re_hs_flags != 0;
			ids[k] = (unsigned)k;
			rs->db_ids[f][k] = (unsigned)i;
			k++;
		}
		hs_error_t e = has_re ? compile_mixed(exprs, lens, flags, ids, k, &rs->db[f], &err) :
					hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)k,
							     HS_MODE_BLOCK, NULL, &rs->db[f], &err);
		free(exprs);
		free(lens);
		free(flags);
		free(ids);
		if (e != HS_SUCCESS) {
			hs_free_compile_error(err);
			return e == HS_NOMEM ? -ENOMEM : -EINVAL;
		}
	}
	rs->prefilter = true;
	return 0;
}

int pm_sigma_load(const char *const *paths, size_t n_paths, enum pm_sigma_level min_level,
		  bool check_owner, struct pm_sigma_rules **out, struct pm_sigma_report *rep)
{
	struct pm_sigma_rules *rs = calloc(1, sizeof(*rs));
	int ret = 0;

	memset(rep, 0, sizeof(*rep));
	*out = NULL;
	if (!rs)
		return -ENOMEM;
	for (size_t i = 0; i < n_paths && !ret; i++)
		ret = load_path(rs, paths[i], 0, min_level, check_owner, rep);
	if (!ret) {
		ret = build_prefilter(rs);
		if (ret == -EINVAL) {
			/* Hyperscan refused the literals: the exact path
			 * alone gives the same answers */
			for (int f = 0; f < N_FIELDS; f++) {
				hs_free_database(rs->db[f]);
				rs->db[f] = NULL;
			}
			rs->prefilter = false;
			ret = 0;
		}
	}
	if (ret) {
		pm_sigma_free(rs);
		return ret;
	}
	*out = rs;
	return 0;
}

void pm_sigma_free(struct pm_sigma_rules *rs)
{
	if (!rs)
		return;
	for (int f = 0; f < N_FIELDS; f++) {
		hs_free_database(rs->db[f]);
		free(rs->db_ids[f]);
	}
	for (size_t i = 0; i < rs->n_res; i++)
		pcre2_code_free(rs->res[i]);
	for (size_t i = 0; i < rs->n_lits; i++)
		free(rs->lits[i].rules);
	free(rs->lits);
	free(rs->res);
	free(rs->rules);
	arena_free(&rs->arena);
	free(rs);
}

size_t pm_sigma_count(const struct pm_sigma_rules *rs)
{
	return rs ? rs->n_rules : 0;
}

bool pm_sigma_prefiltered(const struct pm_sigma_rules *rs)
{
	return rs && rs->prefilter;
}

/* ---- matching ---- */

int pm_sigma_scratch_new(const struct pm_sigma_rules *rs, struct pm_sigma_scratch **out)
{
	struct pm_sigma_scratch *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->rules = rs;
	s->cand_words = (rs->n_rules + 63) / 64;
	s->cand = calloc(s->cand_words ? s->cand_words : 1, sizeof(*s->cand));
	s->md = pcre2_match_data_create(1, NULL);
	s->mc = pcre2_match_context_create(NULL);
	if (!s->cand || !s->md || !s->mc) {
		pm_sigma_scratch_free(s);
		return -ENOMEM;
	}
	/* a regex that backtracks without end on a hostile 32 KiB command
	 * line must not stall the sensor: stopped, counted, no match */
	pcre2_set_match_limit(s->mc, REGEX_MATCH_LIMIT);
	for (int f = 0; f < N_FIELDS && rs->prefilter; f++) {
		if (rs->db[f] && hs_alloc_scratch(rs->db[f], &s->hs) != HS_SUCCESS) {
			pm_sigma_scratch_free(s);
			return -ENOMEM;
		}
	}
	*out = s;
	return 0;
}

void pm_sigma_scratch_free(struct pm_sigma_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mc);
	for (int f = 0; f < N_FIELDS; f++)
		free(s->low[f]);
	free(s->cand);
	free(s);
}

uint64_t pm_sigma_regex_errors(const struct pm_sigma_scratch *s)
{
	return s ? s->regex_errors : 0;
}

/* The field lowered (ASCII), made once per event when first asked for. */
static const char *lowered(struct pm_sigma_scratch *s, enum field f)
{
	if (s->low_ok[f])
		return s->low[f];
	if (s->low_cap[f] < s->len[f] + 1) {
		size_t cap = s->len[f] + 1 > 256 ? s->len[f] + 1 : 256;
		char *n = realloc(s->low[f], cap);

		if (!n)
			return NULL;
		s->low[f] = n;
		s->low_cap[f] = cap;
	}
	for (size_t i = 0; i < s->len[f]; i++) {
		unsigned char ch = (unsigned char)s->val[f][i];

		s->low[f][i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	s->low_ok[f] = true;
	return s->low[f];
}

/* Sigma's * and ? over bytes; iterative, so no input makes it recurse. */
static bool glob(const uint16_t *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == U_STAR) {
			star = pi++;
			mark = si;
		} else if (pi < pn && (p[pi] == U_ONE || p[pi] == (unsigned char)s[si])) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == U_STAR)
		pi++;
	return pi == pn;
}

static bool alt_match(struct pm_sigma_scratch *s, enum field f, const struct alt *a)
{
	const char *v = s->val[f];
	size_t n = s->len[f];

	if (a->kind == A_NULL)
		return !v;
	if (!v)
		return false;
	if (a->kind == A_RE) {
		int rc = pcre2_match(a->re, (PCRE2_SPTR)v, n, 0, 0, s->md, s->mc);

		if (rc < PCRE2_ERROR_NOMATCH)
			s->regex_errors++; /* a match limit hit: counted, not a match */
		return rc >= 0;
	}
	if (!a->cased && !(v = lowered(s, f)))
		return false;
	switch (a->pk) {
	case P_EQ:
		return n == a->lit_len && !memcmp(v, a->lit, n);
	case P_PREFIX:
		return n >= a->lit_len && !memcmp(v, a->lit, a->lit_len);
	case P_SUFFIX:
		return n >= a->lit_len && !memcmp(v + n - a->lit_len, a->lit, a->lit_len);
	case P_CONTAINS:
		return !a->lit_len || memmem(v, n, a->lit, a->lit_len);
	case P_GLOB:
		return glob(a->units, a->n_units, v, n);
	}
	return false;
}

static bool item_match(struct pm_sigma_scratch *s, const struct item *it)
{
	if (it->exists)
		return (s->val[it->field] != NULL) == it->exists_val;
	for (size_t g = 0; g < it->n; g++) {
		bool any = false;

		for (size_t a = 0; a < it->groups[g].n && !any; a++)
			any = alt_match(s, it->field, &it->groups[g].alts[a]);
		if (it->all && !any)
			return false;
		if (!it->all && any)
			return true;
	}
	return it->all;
}

static bool sel_match(struct pm_sigma_scratch *s, const struct selection *sel)
{
	for (size_t m = 0; m < sel->n; m++) {
		size_t i;

		for (i = 0; i < sel->maps[m].n; i++)
			if (!item_match(s, &sel->maps[m].items[i]))
				break;
		if (i == sel->maps[m].n)
			return true;
	}
	return false;
}

static bool cond_match(struct pm_sigma_scratch *s, const struct rule *r, const struct cnode *c)
{
	switch (c->op) {
	case C_AND:
		return cond_match(s, r, c->a) && cond_match(s, r, c->b);
	case C_OR:
		return cond_match(s, r, c->a) || cond_match(s, r, c->b);
	case C_NOT:
		return !cond_match(s, r, c->a);
	case C_SEL:
		return sel_match(s, &r->sels[c->sels[0]]);
	case C_ONE_OF:
		for (size_t i = 0; i < c->n_sels; i++)
			if (sel_match(s, &r->sels[c->sels[i]]))
				return true;
		return false;
	case C_ALL_OF:
		for (size_t i = 0; i < c->n_sels; i++)
			if (!sel_match(s, &r->sels[c->sels[i]]))
				return false;
		return true;
	}
	return false;
}

struct scan_ctx {
	struct pm_sigma_scratch *s;
	enum field f;
};

static int on_literal(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		      void *ctx)
{
	struct scan_ctx *sc = ctx;
	const struct pm_sigma_rules *rs = sc->s->rules;
	const struct literal *l = &rs->lits[rs->db_ids[sc->f][id]];

	(void)from;
	(void)to;
	(void)flags;
	for (size_t i = 0; i < l->n_rules; i++)
		sc->s->cand[l->rules[i] / 64] |= 1ULL << (l->rules[i] % 64);
	return 0;
}

static void set_num(struct pm_sigma_scratch *s, enum field f, int64_t v)
{
	if (v < 0) {
		s->val[f] = NULL;
		s->len[f] = 0;
		return;
	}
	s->len[f] = (size_t)snprintf(s->num[f], sizeof(s->num[f]), "%" PRId64, v);
	s->val[f] = s->num[f];
}

int pm_sigma_match(const struct pm_sigma_rules *rs, struct pm_sigma_scratch *s,
		   const struct pm_sigma_event *ev, pm_sigma_hit_fn hit, void *ctx)
{
	const char *strs[] = {
		[F_IMAGE] = ev->image,
		[F_COMMAND_LINE] = ev->command_line,
		[F_PARENT_IMAGE] = ev->parent_image,
		[F_PARENT_COMMAND_LINE] = ev->parent_command_line,
		[F_USER] = ev->user,
		[F_CURRENT_DIRECTORY] = ev->current_directory,
		[F_ORIGINAL_FILE_NAME] = ev->original_file_name,
	};
	int hits = 0;

	if (!rs || !s || s->rules != rs)
		return -EINVAL;
	for (int f = 0; f <= F_ORIGINAL_FILE_NAME; f++) {
		s->val[f] = strs[f];
		s->len[f] = strs[f] ? strlen(strs[f]) : 0;
	}
	set_num(s, F_PROCESS_ID, ev->process_id);
	set_num(s, F_PARENT_PROCESS_ID, ev->parent_process_id);
	set_num(s, F_LOGON_ID, ev->logon_id);
	memset(s->low_ok, 0, sizeof(s->low_ok));

	if (rs->prefilter) {
		memset(s->cand, 0, s->cand_words * sizeof(*s->cand));
		for (int f = 0; f < N_FIELDS; f++) {
			struct scan_ctx sc = { s, (enum field)f };

			if (!rs->db[f] || !s->val[f])
				continue;
			/* hs_scan takes an unsigned length: a longer field
			 * is looked at whole by the exact checks instead */
			if (s->len[f] > UINT_MAX) {
				memset(s->cand, 0xff, s->cand_words * sizeof(*s->cand));
				continue;
			}
			if (hs_scan(rs->db[f], s->val[f], (unsigned)s->len[f], 0, s->hs, on_literal,
				    &sc) != HS_SUCCESS)
				return -EIO;
		}
	}
	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct rule *r = &rs->rules[i];

		if (rs->prefilter && !r->always && !(s->cand[i / 64] & (1ULL << (i % 64))))
			continue;
		if (cond_match(s, r, r->cond)) {
			hits++;
			if (hit)
				hit(&r->info, ctx);
		}
	}
	return hits;
}
