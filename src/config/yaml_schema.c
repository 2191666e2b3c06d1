// SPDX-License-Identifier: GPL-2.0
/*
 * A YAML schema walker on libyaml's document API (the generic half of the
 * configuration loader; config.c holds procmon's schema and defaults).
 *
 * A schema is a set of tables (struct pm_yaml_field), one per mapping, so
 * that every block, filter and list is parsed by the same few functions
 * and every error names the file, the line and the dotted key. The walk
 * only ever descends where a table says so, which bounds it by the
 * schema's depth whatever the input: self-referencing (anchor/alias)
 * documents end at the first node that does not fit. A first pass over
 * the event stream (check_stream) refuses what would make libyaml itself
 * slow, so a hostile file gets an error in milliseconds.
 *
 * Conventions (docs/configuration.md has them all):
 *  - booleans are YAML 1.2 core: true/True/TRUE/false/False/FALSE, plain
 *    (unquoted). yes/no/on/off are errors, because YAML 1.1 and 1.2
 *    readers disagree on them (Bombini's is 1.2: a string).
 *  - integers are plain decimal, 0x hex or 0o octal.
 *  - a null value (`key:`, `key: ~`, `key: null`) is the same as leaving
 *    the key out.
 *  - a key given twice in one mapping is an error (so are a key and its
 *    alias together).
 */
#include "config/yaml_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Far beyond what a schema needs (procmon's: 5 levels) and what a person
 * writes, far below where libyaml's quadratic corners start to show. */
#define MAX_DEPTH 32
#define MAX_ANCHORS 1000
#define MAX_ALIASES 10000

/* ---- messages ---- */


void pm_yaml_errf(struct pm_yaml_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->err || !c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

size_t pm_yaml_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

/*
 * Copy text from the file into a message: printable ASCII only and at
 * most 48 bytes, so a hostile or binary file cannot put escape sequences
 * or megabytes on the terminal.
 */
static void sanitize(char *dst, size_t dstlen, const unsigned char *s,
		     size_t len)
{
	const size_t keep = 48;
	size_t i, o = 0;

	if (!dstlen)
		return;
	for (i = 0; i < len && i < keep && o + 1 < dstlen; i++)
		dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (i < len && o + 4 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

const char *pm_yaml_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Exact comparison: a scalar may hold NUL bytes ("true\0x" is not true). */
bool pm_yaml_scalar_is(const yaml_node_t *n, const char *s)
{
	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

bool pm_yaml_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return false;
	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (pm_yaml_scalar_is(n, nulls[i]))
			return true;
	return false;
}

/* "a mapping", "a list", "null", "'abc'" or "the string 'abc'". */
const char *pm_yaml_describe(const yaml_node_t *n, char *buf, size_t len)
{
	char v[64];

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (pm_yaml_is_null(n))
		return "null";
	sanitize(v, sizeof(v), n->data.scalar.value, n->data.scalar.length);
	snprintf(buf, len, "%s'%s'", is_plain(n) ? "" : "the string ", v);
	return buf;
}

int pm_yaml_fail(struct pm_yaml_ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "NAME:LINE: key 'a.b.c': what" added to err, a line each; always
 * -EINVAL. What does not fit is counted in a last line. */
static int vfail(struct pm_yaml_ctx *c, size_t line, const char *fmt, va_list ap)
{
	char what[512], msg[1024];
	size_t used, n;

	vsnprintf(what, sizeof(what), fmt, ap);
	if (c->plen)
		n = (size_t)snprintf(msg, sizeof(msg), "%s:%zu: key '%s': %s", c->name, line,
				     c->path, what);
	else
		n = (size_t)snprintf(msg, sizeof(msg), "%s:%zu: %s", c->name, line, what);
	if (!c->nerr++ || !c->err || !c->errlen) {
		pm_yaml_errf(c, "%s", msg);
		return -EINVAL;
	}
	used = strnlen(c->err, c->errlen);
	/* room for this line and for the note that more were left out */
	if (used + 1 + (n < sizeof(msg) ? n : sizeof(msg) - 1) + 64 < c->errlen)
		snprintf(c->err + used, c->errlen - used, "\n%s", msg);
	else if (!strstr(c->err, "\n(more errors"))
		snprintf(c->err + used, c->errlen - used, "\n(more errors: fix these first)");
	return -EINVAL;
}

int pm_yaml_fail_at(struct pm_yaml_ctx *c, size_t line, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(c, line, fmt, ap);
	va_end(ap);
	return ret;
}

int pm_yaml_fail(struct pm_yaml_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(c, pm_yaml_line(n), fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- the key path ---- */

/* Append ".key" (or "[i]" when key is NULL); returns the length to restore. */
size_t pm_yaml_path_push(struct pm_yaml_ctx *c, const yaml_node_t *key, size_t index)
{
	size_t old = c->plen, room = sizeof(c->path) - c->plen;
	char seg[64];
	int w;

	if (key) {
		sanitize(seg, sizeof(seg), key->data.scalar.value,
			 key->data.scalar.length);
		w = snprintf(c->path + c->plen, room, "%s%s",
			     c->plen ? "." : "", seg);
	} else {
		w = snprintf(c->path + c->plen, room, "[%zu]", index);
	}
	if (w > 0)
		c->plen += (size_t)w < room ? (size_t)w : room - 1;
	return old;
}

void pm_yaml_path_pop(struct pm_yaml_ctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

/* ---- scalars ---- */

int pm_yaml_bool(struct pm_yaml_ctx *c, const yaml_node_t *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	char buf[96];
	size_t i;

	if (n->type == YAML_SCALAR_NODE && is_plain(n)) {
		for (i = 0; i < ARRAY_SIZE(yes); i++) {
			if (pm_yaml_scalar_is(n, yes[i])) {
				*out = true;
				return 0;
			}
			if (pm_yaml_scalar_is(n, no[i])) {
				*out = false;
				return 0;
			}
		}
	}
	return pm_yaml_fail(c, n, "expected true or false, got %s",
		    pm_yaml_describe(n, buf, sizeof(buf)));
}

static int digit_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return 99;
}

/* A non-negative integer no larger than max (YAML 1.2 core forms). */
int pm_yaml_uint(struct pm_yaml_ctx *c, const yaml_node_t *n, uint64_t max,
		    uint64_t *out)
{
	const char *s;
	unsigned base = 10;
	uint64_t v = 0;
	char buf[96];
	int d;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n) || pm_yaml_is_null(n))
		goto bad;
	s = pm_yaml_scalar(n);
	if (strlen(s) != n->data.scalar.length)
		goto bad;
	if (*s == '-' && s[1] >= '0' && s[1] <= '9')
		return pm_yaml_fail(c, n, "must not be negative, got %s",
			    pm_yaml_describe(n, buf, sizeof(buf)));
	if (*s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		s += 2;
	}
	if (!*s)
		goto bad;
	for (; *s; s++) {
		d = digit_value(*s);
		if (d >= (int)base)
			goto bad;
		if (v > (max - (uint64_t)d) / base)
			return pm_yaml_fail(c, n, "%s is out of range (0..%llu)",
				    pm_yaml_describe(n, buf, sizeof(buf)),
				    (unsigned long long)max);
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return 0;
bad:
	return pm_yaml_fail(c, n, "expected a non-negative integer, got %s",
		    pm_yaml_describe(n, buf, sizeof(buf)));
}

/* Any non-null scalar, quoted or not, as a fresh C string. */
int pm_yaml_str(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t max,
		   char **out)
{
	size_t len;
	char buf[96];

	if (n->type != YAML_SCALAR_NODE || pm_yaml_is_null(n))
		return pm_yaml_fail(c, n, "expected a string, got %s",
			    pm_yaml_describe(n, buf, sizeof(buf)));
	len = n->data.scalar.length;
	/* "\0" in a double-quoted scalar would silently cut a C string */
	if (strlen(pm_yaml_scalar(n)) != len)
		return pm_yaml_fail(c, n, "must not contain a NUL byte");
	if (len > max)
		return pm_yaml_fail(c, n, "longer than %zu bytes", max);
	*out = strndup(pm_yaml_scalar(n), len);
	if (!*out) {
		pm_yaml_errf(c, "%s: out of memory", c->name);
		return -ENOMEM;
	}
	return 0;
}

/* ---- lists ---- */

const yaml_node_t *pm_yaml_node(struct pm_yaml_ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

int pm_yaml_list(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t *count)
{
	char buf[96];

	if (n->type != YAML_SEQUENCE_NODE)
		return pm_yaml_fail(c, n, "expected a list, got %s",
			    pm_yaml_describe(n, buf, sizeof(buf)));
	*count = (size_t)(n->data.sequence.items.top -
			  n->data.sequence.items.start);
	return 0;
}

void pm_strlist_free(struct pm_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void pm_idlist_free(struct pm_idlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Each item of list n, with its index in the key path of messages. */
static int each_item(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t count,
		     int (*item)(struct pm_yaml_ctx *c, const yaml_node_t *node, void *arg),
		     void *arg)
{
	int first = 0;

	/* every item's error, not only the first */
	for (size_t i = 0; i < count && first != -ENOMEM; i++) {
		size_t old = pm_yaml_path_push(c, NULL, i);
		int ret = item(c, pm_yaml_node(c, n->data.sequence.items.start[i]), arg);

		pm_yaml_path_pop(c, old);
		if (ret && (!first || ret == -ENOMEM))
			first = ret;
	}
	return first;
}

/* n's length in *count and a zeroed array for as many items in *v. */
static int new_items(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t item_size,
		     size_t *count, void **v)
{
	int ret = pm_yaml_list(c, n, count);

	*v = NULL;
	if (ret || !*count)
		return ret;
	*v = calloc(*count, item_size);
	if (!*v) {
		pm_yaml_errf(c, "%s: out of memory", c->name);
		return -ENOMEM;
	}
	return 0;
}

static int id_item(struct pm_yaml_ctx *c, const yaml_node_t *node, void *arg)
{
	struct pm_idlist *l = arg;
	uint64_t v = 0;
	int ret = pm_yaml_uint(c, node, UINT32_MAX, &v);

	if (!ret)
		l->v[l->n++] = (uint32_t)v;
	return ret;
}

struct str_items {
	struct pm_strlist l;
	size_t max;
};

static int str_item(struct pm_yaml_ctx *c, const yaml_node_t *node, void *arg)
{
	struct str_items *s = arg;
	int ret = pm_yaml_str(c, node, s->max, &s->l.v[s->l.n]);

	if (!ret)
		s->l.n++;
	return ret;
}

/* Parse into a new list and swap it in only when it is complete, so a
 * failure leaves the old list (a default, or nothing) intact. */
int pm_idlist_parse(struct pm_yaml_ctx *c, const yaml_node_t *n, struct pm_idlist *out)
{
	struct pm_idlist l = { 0 };
	size_t count = 0;
	int ret = new_items(c, n, sizeof(*l.v), &count, (void **)&l.v);

	if (!ret)
		ret = each_item(c, n, count, id_item, &l);
	if (ret) {
		pm_idlist_free(&l);
		return ret;
	}
	pm_idlist_free(out);
	*out = l;
	return 0;
}

int pm_strlist_parse(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t max,
		     struct pm_strlist *out)
{
	struct str_items s = { .max = max };
	size_t count = 0;
	int ret = new_items(c, n, sizeof(*s.l.v), &count, (void **)&s.l.v);

	if (!ret)
		ret = each_item(c, n, count, str_item, &s);
	if (ret) {
		pm_strlist_free(&s.l);
		return ret;
	}
	pm_strlist_free(out);
	*out = s.l;
	return 0;
}

int pm_strlist_set(struct pm_strlist *l, const char *const *v, size_t n)
{
	size_t i;

	l->v = calloc(n, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	for (l->n = 0; l->n < n; l->n++) {
		l->v[l->n] = strdup(v[l->n]);
		if (!l->v[l->n]) {
			for (i = 0; i < l->n; i++)
				free(l->v[i]);
			free(l->v);
			l->v = NULL;
			l->n = 0;
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- the walk ---- */

static const struct pm_yaml_field *find_field(const struct pm_yaml_field *fields,
				      const yaml_node_t *key)
{
	const struct pm_yaml_field *f;

	if (key->type != YAML_SCALAR_NODE)
		return NULL;
	for (f = fields; f->key; f++)
		if (key->data.scalar.length == strlen(f->key) &&
		    !memcmp(key->data.scalar.value, f->key,
			    key->data.scalar.length))
			return f;
	return NULL;
}

static const char *canonical(const struct pm_yaml_field *f)
{
	return f->alias_of ? f->alias_of : f->key;
}

static int unknown_key(struct pm_yaml_ctx *c, const yaml_node_t *key,
		       const struct pm_yaml_field *fields)
{
	const char *sep = " (expected ";
	char expected[256] = "";
	const struct pm_yaml_field *f;
	size_t n = 0, len = 0;

	for (f = fields; f->key; f++)
		n++;
	/* the top level has too many keys for one line: docs list them */
	if (n <= 8) {
		for (f = fields; f->key && len < sizeof(expected); f++) {
			len += snprintf(expected + len, sizeof(expected) - len,
					"%s%s", sep, f->key);
			sep = ", ";
		}
		if (len < sizeof(expected))
			snprintf(expected + len, sizeof(expected) - len, ")");
	}
	return pm_yaml_fail(c, key, "unknown key%s", expected);
}

static int parse_value(struct pm_yaml_ctx *c, const struct pm_yaml_field *f,
		       const yaml_node_t *v, char *base)
{
	void *p = base + f->off;

	if (pm_yaml_is_null(v))
		return 0;
	switch (f->type) {
	case PM_YAML_BOOL:
		return pm_yaml_bool(c, v, p);
	case PM_YAML_IDLIST:
		return pm_idlist_parse(c, v, p);
	case PM_YAML_STRLIST:
		return pm_strlist_parse(c, v, f->max, p);
	case PM_YAML_MAP:
		return pm_yaml_parse_map(c, v, f->sub, p);
	case PM_YAML_FUNC:
		return f->fn(c, v, p);
	}
	return pm_yaml_fail(c, v, "internal error: bad schema");
}

int pm_yaml_parse_map(struct pm_yaml_ctx *c, const yaml_node_t *n,
		      const struct pm_yaml_field *fields, void *base)
{
	const yaml_node_pair_t *start = n->data.mapping.pairs.start;
	const yaml_node_pair_t *pair, *prev;
	const struct pm_yaml_field *f, *pf;
	const yaml_node_t *k, *v;
	char buf[96];
	size_t old;
	int ret, first = 0;

	if (n->type != YAML_MAPPING_NODE)
		return pm_yaml_fail(c, n, "expected a mapping, got %s",
			    pm_yaml_describe(n, buf, sizeof(buf)));
	/* every key's error: a key that does not fit keeps its default, and
	 * the walk goes on with the next */
	for (pair = start; pair < n->data.mapping.pairs.top && first != -ENOMEM; pair++) {
		k = pm_yaml_node(c, pair->key);
		v = pm_yaml_node(c, pair->value);
		if (!k || !v)
			return pm_yaml_fail(c, n, "malformed YAML document");
		if (k->type != YAML_SCALAR_NODE) {
			ret = pm_yaml_fail(c, k, "a key must be a string, got %s",
					   pm_yaml_describe(k, buf, sizeof(buf)));
			first = first ? first : ret;
			continue;
		}
		old = pm_yaml_path_push(c, k, 0);
		f = find_field(fields, k);
		if (!f) {
			ret = unknown_key(c, k, fields);
			goto next;
		}
		for (prev = start; prev < pair; prev++) {
			const yaml_node_t *pk = pm_yaml_node(c, prev->key);

			pf = pk->type == YAML_SCALAR_NODE ? find_field(fields, pk) : NULL;
			if (!pf || strcmp(canonical(pf), canonical(f)))
				continue;
			ret = pm_yaml_fail(c, k, "given twice (first on line %zu)",
				   pm_yaml_line(pm_yaml_node(c, prev->key)));
			goto next;
		}
		ret = parse_value(c, f, v, base);
next:
		pm_yaml_path_pop(c, old);
		if (ret && (!first || ret == -ENOMEM))
			first = ret;
	}
	return first;
}

/* ---- whole documents ---- */

static int syntax_error(struct pm_yaml_ctx *c, const yaml_parser_t *p,
			const char *text, size_t len)
{
	char ctxmsg[128] = "", val[32] = "";
	size_t line, i;

	if (p->error == YAML_MEMORY_ERROR) {
		pm_yaml_errf(c, "%s: out of memory", c->name);
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		/* encoding problems have a byte offset, not a mark */
		line = 1;
		for (i = 0; i < p->problem_offset && i < len; i++)
			line += text[i] == '\n';
		if (p->problem_value != -1)
			snprintf(val, sizeof(val), " (#%X)", p->problem_value);
	} else {
		line = p->problem_mark.line + 1;
	}
	if (p->context)
		snprintf(ctxmsg, sizeof(ctxmsg), " %s on line %zu", p->context,
			 p->context_mark.line + 1);
	pm_yaml_errf(c, "%s:%zu: invalid YAML: %s%s%s", c->name, line,
	     p->problem ? p->problem : "syntax error", val, ctxmsg);
	return -EINVAL;
}

static const yaml_char_t *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

/*
 * A first pass over the event stream, for what the document loader would
 * take too long over or silently ignore. libyaml's scanner costs
 * O(depth) per token and its anchor table is a list, so deep nesting
 * and anchor floods are quadratic: a few megabytes would hang the
 * daemon. Deeper than MAX_DEPTH cannot fit the schema anyway. A second
 * document would be ignored by the loader, so it is refused here.
 */
static int check_stream(struct pm_yaml_ctx *c, const char *text, size_t len)
{
	size_t depth = 0, anchors = 0, aliases = 0, docs = 0;
	yaml_event_type_t type;
	yaml_parser_t p;
	yaml_event_t ev;
	int ret = 0;

	if (!yaml_parser_initialize(&p)) {
		pm_yaml_errf(c, "%s: out of memory", c->name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	do {
		if (!yaml_parser_parse(&p, &ev)) {
			ret = syntax_error(c, &p, text, len);
			break;
		}
		type = ev.type;
		anchors += event_anchor(&ev) != NULL;
		aliases += type == YAML_ALIAS_EVENT;
		if (type == YAML_SEQUENCE_START_EVENT ||
		    type == YAML_MAPPING_START_EVENT)
			depth++;
		if (type == YAML_SEQUENCE_END_EVENT ||
		    type == YAML_MAPPING_END_EVENT)
			depth--;
		if (type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			ret = pm_yaml_fail_at(c, ev.start_mark.line + 1,
				      "more than one YAML document");
		else if (depth > MAX_DEPTH)
			ret = pm_yaml_fail_at(c, ev.start_mark.line + 1,
				      "nested deeper than %d levels",
				      MAX_DEPTH);
		else if (anchors > MAX_ANCHORS || aliases > MAX_ALIASES)
			ret = pm_yaml_fail_at(c, ev.start_mark.line + 1,
				      "more than %d anchors or %d aliases",
				      MAX_ANCHORS, MAX_ALIASES);
		yaml_event_delete(&ev);
	} while (!ret && type != YAML_STREAM_END_EVENT);
	yaml_parser_delete(&p);
	return ret;
}


int pm_yaml_parse(const char *name, const char *text, size_t len,
		  const struct pm_yaml_field *top, void *base, char *err, size_t errlen)
{
	struct pm_yaml_ctx c = {
		.name = name ? name : "<config>",
		.err = err,
		.errlen = errlen,
	};
	const yaml_node_t *root;
	yaml_parser_t parser;
	yaml_document_t doc;
	char buf[96];
	int ret;

	if (err && errlen)
		err[0] = '\0';
	/* libyaml asserts on a NULL input, even an empty one */
	if (!text) {
		text = "";
		len = 0;
	}
	ret = check_stream(&c, text, len);
	if (ret)
		return ret;
	if (!yaml_parser_initialize(&parser)) {
		pm_yaml_errf(&c, "%s: out of memory", c.name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = syntax_error(&c, &parser, text, len);
		goto out_parser;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* no root: an empty file, or only comments */
	if (root && !pm_yaml_is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			ret = pm_yaml_fail(&c, root, "the top level must be %s, got %s",
					   "a mapping of keys",
					   pm_yaml_describe(root, buf, sizeof(buf)));
		else
			ret = pm_yaml_parse_map(&c, root, top, base);
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}

/* ---- writing it back ---- */

void pm_yaml_print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void pm_yaml_print_strlist(FILE *f, const void *strlist)
{
	const struct pm_strlist *l = strlist;

	fputc('[', f);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		pm_yaml_print_str(f, l->v[i]);
	}
	fputc(']', f);
}

void pm_yaml_print_idlist(FILE *f, const void *idlist)
{
	const struct pm_idlist *l = idlist;

	fputc('[', f);
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s%u", i ? ", " : "", l->v[i]);
	fputc(']', f);
}

void pm_yaml_print_map(FILE *f, const struct pm_yaml_field *fields, const void *base,
		       int indent)
{
	for (const struct pm_yaml_field *k = fields; k->key; k++) {
		const void *p = (const char *)base + k->off;

		if (k->alias_of)
			continue;
		fprintf(f, "%*s%s:", indent, "", k->key);
		switch (k->type) {
		case PM_YAML_BOOL:
			fprintf(f, " %s", *(const bool *)p ? "true" : "false");
			break;
		case PM_YAML_IDLIST:
			fputc(' ', f);
			pm_yaml_print_idlist(f, p);
			break;
		case PM_YAML_STRLIST:
			fputc(' ', f);
			pm_yaml_print_strlist(f, p);
			break;
		case PM_YAML_MAP:
			fputc('\n', f);
			pm_yaml_print_map(f, k->sub, p, indent + 2);
			continue;
		case PM_YAML_FUNC:
			if (!k->print && k->sub) { /* a block that parses itself */
				fputc('\n', f);
				pm_yaml_print_map(f, k->sub, p, indent + 2);
				continue;
			}
			fputc(' ', f);
			if (k->print)
				k->print(f, p);
			else
				fputs("null", f);
			break;
		}
		fputc('\n', f);
	}
}

void pm_yaml_print_cstr(FILE *f, const void *p)
{
	const char *s = *(char *const *)p;

	pm_yaml_print_str(f, s ? s : "");
}

void pm_yaml_print_u32(FILE *f, const void *p)
{
	fprintf(f, "%u", *(const uint32_t *)p);
}

void pm_yaml_print_u64(FILE *f, const void *p)
{
	fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)p);
}

/* ---- comparing ---- */

bool pm_yaml_eq_cstr(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	return !strcmp(x ? x : "", y ? y : "");
}

bool pm_yaml_eq_u32(const void *a, const void *b)
{
	return *(const uint32_t *)a == *(const uint32_t *)b;
}

bool pm_yaml_eq_u64(const void *a, const void *b)
{
	return *(const uint64_t *)a == *(const uint64_t *)b;
}

bool pm_yaml_eq_strlist(const void *a, const void *b)
{
	const struct pm_strlist *x = a, *y = b;

	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i], y->v[i]))
			return false;
	return true;
}

static bool eq_idlist(const struct pm_idlist *x, const struct pm_idlist *y)
{
	return x->n == y->n && (!x->n || !memcmp(x->v, y->v, x->n * sizeof(x->v[0])));
}

static bool map_equal(const struct pm_yaml_field *fields, const void *a, const void *b)
{
	for (const struct pm_yaml_field *f = fields; f->key; f++)
		if (!f->alias_of && !pm_yaml_field_equal(f, a, b))
			return false;
	return true;
}

bool pm_yaml_field_equal(const struct pm_yaml_field *f, const void *a, const void *b)
{
	const void *x = (const char *)a + f->off, *y = (const char *)b + f->off;

	switch (f->type) {
	case PM_YAML_BOOL:
		return *(const bool *)x == *(const bool *)y;
	case PM_YAML_IDLIST:
		return eq_idlist(x, y);
	case PM_YAML_STRLIST:
		return pm_yaml_eq_strlist(x, y);
	case PM_YAML_MAP:
		return map_equal(f->sub, x, y);
	case PM_YAML_FUNC:
		if (f->eq)
			return f->eq(x, y);
		return f->sub && map_equal(f->sub, x, y);
	}
	return false;
}

const struct pm_yaml_field *pm_yaml_field_find(const struct pm_yaml_field *fields,
					       const char *key)
{
	for (const struct pm_yaml_field *f = fields; f->key; f++)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}
