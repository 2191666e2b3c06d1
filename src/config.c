// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration loader (contract section 4), on libyaml's document API.
 *
 * The schema is a set of tables (struct field), one per YAML mapping, so
 * that every hook block, filter and list is parsed by the same few
 * functions and every error names the file, the line and the dotted key.
 * The walk only ever descends where a table says so, which bounds it by
 * the schema's depth whatever the input: self-referencing (anchor/alias)
 * documents end at the first node that does not fit. A first pass over
 * the event stream (check_stream) refuses what would make libyaml itself
 * slow, so a hostile file gets an error in milliseconds.
 *
 * Conventions beyond the contract (docs/configuration.md has them all):
 *  - booleans are YAML 1.2 core: true/True/TRUE/false/False/FALSE, plain
 *    (unquoted). yes/no/on/off are errors, because YAML 1.1 and 1.2
 *    readers disagree on them (Bombini's is 1.2: a string).
 *  - integers are plain decimal, 0x hex or 0o octal.
 *  - a null value (`key:`, `key: ~`, `key: null`) is the same as leaving
 *    the key out.
 *  - a key given twice in one mapping is an error (so are ima_hash and
 *    its alias hash together).
 *  - an empty list is the same as no list: a filter without a non-empty
 *    list filters nothing, whatever its deny_list says (Bombini builds a
 *    mask from the non-empty lists; an empty mask disables the filter).
 *
 * pm_config_parse() treats cfg as output only: it does not free what cfg
 * held before. Call pm_config_free() on a config before reusing it.
 */
#include "config.h"

#include <linux/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "log.h"
#include "names.h"
#include "procmon/events.h"
#include "safe_file.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_RING_BUFFER_KB 8192
#define RING_BUFFER_KB_MIN 64
#define RING_BUFFER_KB_MAX 1048576

/* A configuration is a page of text; anything this big is a mistake
 * (or /dev/zero) and must not eat the daemon's memory. */
#define CONFIG_MAX_BYTES (16u << 20)

#define NAME_LEN_MAX NAME_MAX       /* one path component */
#define PATH_LEN_MAX (PATH_MAX - 1) /* a path the kernel would accept */
#define GLOB_LEN_MAX 1024

/* Far beyond what the schema needs (5 levels) and what a person writes,
 * far below where libyaml's quadratic corners start to show. */
#define MAX_DEPTH 32
#define MAX_ANCHORS 1000
#define MAX_ALIASES 10000

/* Shown in messages about the built-in configuration. */
#define DEFAULT_CONFIG_NAME "built-in config/procmon.yaml"

/*
 * Used when the key is absent, so that turning process_environment or
 * sensitive_process_access on without a list still does the safe thing.
 * config/procmon.yaml spells the same lists out.
 */
static const char *const default_redact[] = {
	"*TOKEN*",
	"*SECRET*",
	"*PASSWORD*",
	"*KEY*",
};

static const char *const default_sensitive[] = {
	"sshd",
	"sudo",
	"su",
	"login",
	"passwd",
	"gpg-agent",
	"ssh-agent",
	"gnome-keyring-daemon",
	"systemd",
};

struct ctx {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	char path[256]; /* dotted key of the node being parsed */
	size_t plen;
};

enum field_type {
	F_BOOL,    /* bool */
	F_IDLIST,  /* struct pm_idlist of uint32 */
	F_STRLIST, /* struct pm_strlist, elements of at most .max bytes */
	F_MAP,     /* nested mapping described by .sub */
	F_FUNC,    /* anything else: .fn */
};

/*
 * One key of a mapping. The value lives at base + off, where base is what
 * the enclosing mapping was given; F_MAP hands base + off down to .sub.
 */
struct field {
	const char *key;
	enum field_type type;
	size_t off;
	const struct field *sub;
	int (*fn)(struct ctx *c, const yaml_node_t *n, void *p);
	size_t max;
	const char *alias_of; /* same setting as another key of the table */
};

/* ---- messages ---- */

static void errf(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void errf(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->err || !c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

static size_t node_line(const yaml_node_t *n)
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

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Exact comparison: a scalar may hold NUL bytes ("true\0x" is not true). */
static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return false;
	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (scalar_is(n, nulls[i]))
			return true;
	return false;
}

/* "a mapping", "a list", "null", "'abc'" or "the string 'abc'". */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
	char v[64];

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (is_null(n))
		return "null";
	sanitize(v, sizeof(v), n->data.scalar.value, n->data.scalar.length);
	snprintf(buf, len, "%s'%s'", is_plain(n) ? "" : "the string ", v);
	return buf;
}

static int fail_at(struct ctx *c, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "NAME:LINE: key 'a.b.c': what" into err; always -EINVAL. */
static int vfail(struct ctx *c, size_t line, const char *fmt, va_list ap)
{
	char what[512];

	vsnprintf(what, sizeof(what), fmt, ap);
	if (c->plen)
		errf(c, "%s:%zu: key '%s': %s", c->name, line, c->path, what);
	else
		errf(c, "%s:%zu: %s", c->name, line, what);
	return -EINVAL;
}

static int fail_at(struct ctx *c, size_t line, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(c, line, fmt, ap);
	va_end(ap);
	return ret;
}

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(c, node_line(n), fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- the key path ---- */

/* Append ".key" (or "[i]" when key is NULL); returns the length to restore. */
static size_t path_push(struct ctx *c, const yaml_node_t *key, size_t index)
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

static void path_pop(struct ctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

/* ---- scalars ---- */

static int get_bool(struct ctx *c, const yaml_node_t *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	char buf[96];
	size_t i;

	if (n->type == YAML_SCALAR_NODE && is_plain(n)) {
		for (i = 0; i < ARRAY_SIZE(yes); i++) {
			if (scalar_is(n, yes[i])) {
				*out = true;
				return 0;
			}
			if (scalar_is(n, no[i])) {
				*out = false;
				return 0;
			}
		}
	}
	return fail(c, n, "expected true or false, got %s",
		    describe(n, buf, sizeof(buf)));
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
static int get_uint(struct ctx *c, const yaml_node_t *n, uint64_t max,
		    uint64_t *out)
{
	const char *s;
	unsigned base = 10;
	uint64_t v = 0;
	char buf[96];
	int d;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n) || is_null(n))
		goto bad;
	s = scalar(n);
	if (strlen(s) != n->data.scalar.length)
		goto bad;
	if (*s == '-' && s[1] >= '0' && s[1] <= '9')
		return fail(c, n, "must not be negative, got %s",
			    describe(n, buf, sizeof(buf)));
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
			return fail(c, n, "%s is out of range (0..%llu)",
				    describe(n, buf, sizeof(buf)),
				    (unsigned long long)max);
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return 0;
bad:
	return fail(c, n, "expected a non-negative integer, got %s",
		    describe(n, buf, sizeof(buf)));
}

/* Any non-null scalar, quoted or not, as a fresh C string. */
static int get_str(struct ctx *c, const yaml_node_t *n, size_t max,
		   char **out)
{
	size_t len;
	char buf[96];

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(c, n, "expected a string, got %s",
			    describe(n, buf, sizeof(buf)));
	len = n->data.scalar.length;
	/* "\0" in a double-quoted scalar would silently cut a C string */
	if (strlen(scalar(n)) != len)
		return fail(c, n, "must not contain a NUL byte");
	if (len > max)
		return fail(c, n, "longer than %zu bytes", max);
	*out = strndup(scalar(n), len);
	if (!*out) {
		errf(c, "%s: out of memory", c->name);
		return -ENOMEM;
	}
	return 0;
}

/* ---- lists ---- */

static const yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static int expect_list(struct ctx *c, const yaml_node_t *n, size_t *count)
{
	char buf[96];

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "expected a list, got %s",
			    describe(n, buf, sizeof(buf)));
	*count = (size_t)(n->data.sequence.items.top -
			  n->data.sequence.items.start);
	return 0;
}

static void strlist_free(struct pm_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void idlist_free(struct pm_idlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Parse into a new list and swap it in only when it is complete, so a
 * failure leaves the old list (a default, or nothing) intact. */
static int parse_idlist(struct ctx *c, const yaml_node_t *n,
			struct pm_idlist *out)
{
	struct pm_idlist l = { 0 };
	size_t count = 0, i, old;
	uint64_t v = 0;
	int ret;

	ret = expect_list(c, n, &count);
	if (ret)
		return ret;
	if (count) {
		l.v = calloc(count, sizeof(*l.v));
		if (!l.v) {
			errf(c, "%s: out of memory", c->name);
			return -ENOMEM;
		}
	}
	for (i = 0; i < count; i++) {
		old = path_push(c, NULL, i);
		ret = get_uint(c, node(c, n->data.sequence.items.start[i]),
			       UINT32_MAX, &v);
		path_pop(c, old);
		if (ret) {
			idlist_free(&l);
			return ret;
		}
		l.v[l.n++] = (uint32_t)v;
	}
	idlist_free(out);
	*out = l;
	return 0;
}

static int parse_strlist(struct ctx *c, const yaml_node_t *n, size_t max,
			 struct pm_strlist *out)
{
	struct pm_strlist l = { 0 };
	size_t count = 0, i, old;
	int ret;

	ret = expect_list(c, n, &count);
	if (ret)
		return ret;
	if (count) {
		l.v = calloc(count, sizeof(*l.v));
		if (!l.v) {
			errf(c, "%s: out of memory", c->name);
			return -ENOMEM;
		}
	}
	for (i = 0; i < count; i++) {
		old = path_push(c, NULL, i);
		ret = get_str(c, node(c, n->data.sequence.items.start[i]), max,
			      &l.v[i]);
		path_pop(c, old);
		if (ret) {
			l.n = i;
			strlist_free(&l);
			return ret;
		}
	}
	l.n = count;
	strlist_free(out);
	*out = l;
	return 0;
}

static int strlist_set(struct pm_strlist *l, const char *const *v, size_t n)
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

/* ---- keys with their own rules ---- */

static int parse_format(struct ctx *c, const yaml_node_t *n, void *p)
{
	enum pm_format *f = p;
	char buf[96];

	if (scalar_is(n, "bombini")) {
		*f = PM_FORMAT_BOMBINI;
		return 0;
	}
	if (scalar_is(n, "limacharlie")) {
		*f = PM_FORMAT_LIMACHARLIE;
		return 0;
	}
	return fail(c, n, "expected bombini or limacharlie, got %s",
		    describe(n, buf, sizeof(buf)));
}

static int parse_output(struct ctx *c, const yaml_node_t *n, void *p)
{
	char **out = p;
	char *s = NULL;
	int ret;

	ret = get_str(c, n, PATH_LEN_MAX, &s);
	if (ret)
		return ret;
	if (!*s) {
		free(s);
		return fail(c, n, "expected stdout, none or a file path, got ''");
	}
	free(*out);
	*out = NULL;
	/* output: none (NATS only) */
	((struct pm_config *)((char *)out - offsetof(struct pm_config, output)))->output_none =
		!strcmp(s, "none");
	if (!strcmp(s, "stdout") || !strcmp(s, "none"))
		free(s);
	else
		*out = s;
	return 0;
}

static int parse_ring_buffer_kb(struct ctx *c, const yaml_node_t *n, void *p)
{
	uint32_t *kb = p;
	uint64_t v = 0;
	int ret;

	ret = get_uint(c, n, UINT32_MAX, &v);
	if (ret)
		return ret;
	/* BPF ring buffers are a power-of-two number of pages */
	if (v < RING_BUFFER_KB_MIN || v > RING_BUFFER_KB_MAX || (v & (v - 1)))
		return fail(c, n,
			    "must be a power of two from %u to %u, got %llu",
			    RING_BUFFER_KB_MIN, RING_BUFFER_KB_MAX,
			    (unsigned long long)v);
	*kb = (uint32_t)v;
	return 0;
}

static int parse_caps(struct ctx *c, const yaml_node_t *n, void *p)
{
	struct pm_cred_filter *f = p;
	uint64_t caps = 0;
	bool any = false;
	size_t count = 0, i, old;
	const yaml_node_t *e;
	char buf[96];
	int ret = 0, bit;

	ret = expect_list(c, n, &count);
	if (ret)
		return ret;
	for (i = 0; i < count && !ret; i++) {
		e = node(c, n->data.sequence.items.start[i]);
		old = path_push(c, NULL, i);
		if (e->type != YAML_SCALAR_NODE || is_null(e) ||
		    strlen(scalar(e)) != e->data.scalar.length) {
			ret = fail(c, e, "expected a capability name, got %s",
				   describe(e, buf, sizeof(buf)));
		} else if (!strcasecmp(scalar(e), "ANY")) {
			any = true;
		} else {
			bit = pm_cap_from_name(scalar(e));
			if (bit < 0 || bit > 63)
				ret = fail(c, e, "unknown capability %s",
					   describe(e, buf, sizeof(buf)));
			else
				caps |= 1ULL << bit;
		}
		path_pop(c, old);
	}
	if (!ret) {
		f->cap_effective = caps;
		f->cap_any = any;
	}
	return ret;
}

/* Bombini keys with no meaning here: still type-checked, so that a
 * config Bombini rejects is not accepted by procmon either. */
static void warn_unused(struct ctx *c, const yaml_node_t *n)
{
	pm_log_warn("%s:%zu: key '%s': %s", c->name, node_line(n), c->path,
		    "Bombini setting procmon has no use for, ignored");
}

static int parse_gc_period(struct ctx *c, const yaml_node_t *n, void *p)
{
	uint64_t v = 0;
	int ret;

	(void)p;
	ret = get_uint(c, n, UINT64_MAX, &v);
	if (!ret)
		warn_unused(c, n);
	return ret;
}

static int parse_expose_events(struct ctx *c, const yaml_node_t *n, void *p)
{
	bool v = false;
	int ret;

	(void)p;
	ret = get_bool(c, n, &v);
	if (!ret)
		warn_unused(c, n);
	return ret;
}

/* ---- the schema ---- */

#define FIELD(k, t, o, ...) { .key = (k), .type = (t), .off = (o), __VA_ARGS__ }
#define END { .key = NULL }
#define HOOK_OFF(member) offsetof(struct pm_hook, member)
#define CFG_OFF(member) offsetof(struct pm_config, member)
#define PF_OFF(member) offsetof(struct pm_process_filter, member)
#define ENABLED FIELD("enabled", F_BOOL, HOOK_OFF(enabled))

static const struct field cap_filter_fields[] = {
	FIELD("effective", F_FUNC, HOOK_OFF(cred_filter), .fn = parse_caps),
	FIELD("deny_list", F_BOOL, HOOK_OFF(cred_filter.cap_deny_list)),
	END
};

static const struct field uid_filter_fields[] = {
	FIELD("euid", F_IDLIST, HOOK_OFF(cred_filter.euid)),
	END
};

/* setgid keeps its egid list where setuid keeps euid (see config.h) */
static const struct field gid_filter_fields[] = {
	FIELD("egid", F_IDLIST, HOOK_OFF(cred_filter.euid)),
	END
};

static const struct field uid_cred_fields[] = {
	FIELD("uid_filter", F_MAP, 0, .sub = uid_filter_fields),
	FIELD("cap_filter", F_MAP, 0, .sub = cap_filter_fields),
	END
};

static const struct field gid_cred_fields[] = {
	FIELD("gid_filter", F_MAP, 0, .sub = gid_filter_fields),
	FIELD("cap_filter", F_MAP, 0, .sub = cap_filter_fields),
	END
};

static const struct field hook_fields[] = { ENABLED, END };

/*
 * Bombini has one CredFilter message (uid_filter OR cap_filter) for every
 * hook that takes a cred_filter, so capset and create_user_ns accept
 * uid_filter too: the euid of the task after capset(2), or of the task
 * creating the namespace. setgid compares the new egid instead.
 */
static const struct field uid_hook_fields[] = {
	ENABLED,
	FIELD("cred_filter", F_MAP, 0, .sub = uid_cred_fields),
	END
};

static const struct field gid_hook_fields[] = {
	ENABLED,
	FIELD("cred_filter", F_MAP, 0, .sub = gid_cred_fields),
	END
};

/* Most names, paths or prefixes one process_filter list may hold: each
 * is one comparison at every exec (src/bpf/common/filter.bpf.h). */
#define BINARY_LIST_MAX (PM_FILTER_PATTERNS_MAX / 3)

/* process_filter.binary.{name,path,prefix}: what the kernel can compare. */
static int parse_binary_list(struct ctx *c, const yaml_node_t *n, void *p, bool paths)
{
	struct pm_strlist *l = p;
	int ret = parse_strlist(c, n, paths ? PM_FILTER_PATTERN_MAX : NAME_LEN_MAX, l);

	if (ret)
		return ret;
	if (l->n > BINARY_LIST_MAX)
		return fail(c, n, "at most %d entries, got %zu", BINARY_LIST_MAX, l->n);
	for (size_t i = 0; i < l->n; i++) {
		const char *v = l->v[i];
		const char *what = paths ? (v[0] != '/' ? "is not an absolute path" : NULL)
					 : (!v[0] || strchr(v, '/') ? "is not a file name" : NULL);
		size_t old;

		if (!what)
			continue;
		old = path_push(c, NULL, i);
		ret = fail(c, node(c, n->data.sequence.items.start[i]), "'%s' %s", v, what);
		path_pop(c, old);
		return ret;
	}
	return 0;
}

static int parse_binary_names(struct ctx *c, const yaml_node_t *n, void *p)
{
	return parse_binary_list(c, n, p, false);
}

static int parse_binary_paths(struct ctx *c, const yaml_node_t *n, void *p)
{
	return parse_binary_list(c, n, p, true);
}

static const struct field binary_fields[] = {
	FIELD("name", F_FUNC, PF_OFF(name), .fn = parse_binary_names),
	FIELD("path", F_FUNC, PF_OFF(path), .fn = parse_binary_paths),
	FIELD("prefix", F_FUNC, PF_OFF(prefix), .fn = parse_binary_paths),
	END
};

static const struct field process_filter_fields[] = {
	FIELD("uid", F_IDLIST, PF_OFF(uid)),
	FIELD("euid", F_IDLIST, PF_OFF(euid)),
	FIELD("auid", F_IDLIST, PF_OFF(auid)),
	FIELD("binary", F_MAP, 0, .sub = binary_fields),
	FIELD("deny_list", F_BOOL, PF_OFF(deny_list)),
	END
};

/* These two keep their lists in pm_config, so their base is the config. */
static const struct field process_environment_fields[] = {
	FIELD("enabled", F_BOOL, CFG_OFF(process_environment.enabled)),
	FIELD("redact", F_STRLIST, CFG_OFF(redact), .max = GLOB_LEN_MAX),
	END
};

static const struct field sensitive_process_access_fields[] = {
	FIELD("enabled", F_BOOL, CFG_OFF(sensitive_process_access.enabled)),
	FIELD("processes", F_STRLIST, CFG_OFF(sensitive_processes),
	      .max = NAME_LEN_MAX),
	END
};

/* ---- the nats block (fleet output, src/output/fleet.h) ---- */

static int nats_string(struct ctx *c, const yaml_node_t *n, void *p, size_t max,
		       const char *(*check)(const char *))
{
	char **out = p, *s = NULL;
	const char *bad;
	int ret = get_str(c, n, max, &s);

	if (ret)
		return ret;
	if (check && (bad = check(s))) {
		free(s);
		return fail(c, n, "%s", bad);
	}
	free(*out);
	*out = s;
	return 0;
}

static int parse_nats_str(struct ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, GLOB_LEN_MAX, NULL);
}

static int parse_nats_stream(struct ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, 255, pm_nats_check_stream);
}

static int parse_nats_prefix(struct ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, 200, pm_nats_check_prefix);
}

static const char *check_abs_path(const char *s)
{
	return s[0] == '/' ? NULL : "expected an absolute path";
}

static int parse_nats_dir(struct ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, PATH_LEN_MAX, check_abs_path);
}

/* creds and TLS files: "" (none), or a file procmon can read now. */
static int parse_nats_file(struct ctx *c, const yaml_node_t *n, void *p)
{
	char **out = p;
	int ret = nats_string(c, n, p, PATH_LEN_MAX, NULL), fd;

	if (ret || !**out)
		return ret;
	fd = open(*out, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return fail(c, n, "cannot read %s: %s", *out, strerror(errno));
	close(fd);
	return 0;
}

static int parse_nats_servers(struct ctx *c, const yaml_node_t *n, void *p)
{
	struct pm_nats_config *nc = p;
	struct pm_strlist l = { 0 };
	const char *bad;
	int ret = parse_strlist(c, n, PATH_LEN_MAX, &l);

	if (ret)
		return ret;
	if (!l.n)
		return fail(c, n, "at least one server URL is needed");
	for (size_t i = 0; i < l.n; i++) {
		if ((bad = pm_nats_check_url(l.v[i]))) {
			size_t old = path_push(c, NULL, i);

			ret = fail(c, node(c, n->data.sequence.items.start[i]), "'%s': %s",
				   l.v[i], bad);
			path_pop(c, old);
			strlist_free(&l);
			return ret;
		}
	}
	for (size_t i = 0; i < nc->n_servers; i++)
		free(nc->servers[i]);
	free(nc->servers);
	nc->servers = l.v;
	nc->n_servers = l.n;
	return 0;
}

static int parse_nats_mb(struct ctx *c, const yaml_node_t *n, void *p)
{
	uint64_t v = 0;
	int ret = get_uint(c, n, 1 << 24, &v);

	if (ret)
		return ret;
	if (!v)
		return fail(c, n, "must be at least 1");
	*(uint64_t *)p = v;
	return 0;
}

#define NATS_OFF(member) offsetof(struct pm_nats_config, member)

static const struct field nats_tls_fields[] = {
	FIELD("ca", F_FUNC, NATS_OFF(tls_ca), .fn = parse_nats_file),
	FIELD("cert", F_FUNC, NATS_OFF(tls_cert), .fn = parse_nats_file),
	FIELD("key", F_FUNC, NATS_OFF(tls_key), .fn = parse_nats_file),
	END
};

static const struct field nats_fields[] = {
	FIELD("enabled", F_BOOL, NATS_OFF(enabled)),
	FIELD("servers", F_FUNC, 0, .fn = parse_nats_servers),
	FIELD("stream", F_FUNC, NATS_OFF(stream), .fn = parse_nats_stream),
	FIELD("create_stream", F_BOOL, NATS_OFF(create_stream)),
	FIELD("subject_prefix", F_FUNC, NATS_OFF(subject_prefix), .fn = parse_nats_prefix),
	FIELD("spool_dir", F_FUNC, NATS_OFF(spool_dir), .fn = parse_nats_dir),
	FIELD("spool_max_mb", F_FUNC, NATS_OFF(spool_max_mb), .fn = parse_nats_mb),
	FIELD("token", F_FUNC, NATS_OFF(token), .fn = parse_nats_str),
	FIELD("user", F_FUNC, NATS_OFF(user), .fn = parse_nats_str),
	FIELD("password", F_FUNC, NATS_OFF(password), .fn = parse_nats_str),
	FIELD("creds", F_FUNC, NATS_OFF(creds), .fn = parse_nats_file),
	FIELD("tls", F_MAP, 0, .sub = nats_tls_fields),
	END
};

static int parse_map(struct ctx *c, const yaml_node_t *n, const struct field *fields, char *base);

/* The block, then what its keys must agree on. */
static int parse_nats(struct ctx *c, const yaml_node_t *n, void *p)
{
	const char *bad;
	int ret = parse_map(c, n, nats_fields, p);

	if (!ret && (bad = pm_nats_check(p)))
		ret = fail(c, n, "%s", bad);
	return ret;
}

#define HOOK(name, table) FIELD(#name, F_MAP, CFG_OFF(name), .sub = (table))

static const struct field top_fields[] = {
	FIELD("format", F_FUNC, CFG_OFF(format), .fn = parse_format),
	FIELD("output", F_FUNC, CFG_OFF(output), .fn = parse_output),
	FIELD("ima_hash", F_BOOL, CFG_OFF(hash)),
	FIELD("hash", F_BOOL, CFG_OFF(hash), .alias_of = "ima_hash"),
	FIELD("ring_buffer_kb", F_FUNC, CFG_OFF(ring_buffer_kb),
	      .fn = parse_ring_buffer_kb),
	FIELD("gc_period", F_FUNC, 0, .fn = parse_gc_period),
	FIELD("expose_events", F_FUNC, 0, .fn = parse_expose_events),
	HOOK(setuid, uid_hook_fields),
	HOOK(setgid, gid_hook_fields),
	HOOK(capset, uid_hook_fields),
	HOOK(prctl, hook_fields),
	HOOK(create_user_ns, uid_hook_fields),
	HOOK(ptrace_access_check, hook_fields),
	FIELD("process_filter", F_MAP, CFG_OFF(process_filter),
	      .sub = process_filter_fields),
	HOOK(existing_process, hook_fields),
	HOOK(code_identity, hook_fields),
	HOOK(ongoing_identity, hook_fields),
	HOOK(module_load, hook_fields),
	HOOK(named_pipe, hook_fields),
	FIELD("process_environment", F_MAP, 0,
	      .sub = process_environment_fields),
	HOOK(remote_thread, hook_fields),
	HOOK(thread_injection, hook_fields),
	FIELD("sensitive_process_access", F_MAP, 0,
	      .sub = sensitive_process_access_fields),
	FIELD("nats", F_FUNC, CFG_OFF(nats), .fn = parse_nats),
	END
};

/* ---- the walk ---- */

static int parse_map(struct ctx *c, const yaml_node_t *n,
		     const struct field *fields, char *base);

static const struct field *find_field(const struct field *fields,
				      const yaml_node_t *key)
{
	const struct field *f;

	if (key->type != YAML_SCALAR_NODE)
		return NULL;
	for (f = fields; f->key; f++)
		if (key->data.scalar.length == strlen(f->key) &&
		    !memcmp(key->data.scalar.value, f->key,
			    key->data.scalar.length))
			return f;
	return NULL;
}

static const char *canonical(const struct field *f)
{
	return f->alias_of ? f->alias_of : f->key;
}

static int unknown_key(struct ctx *c, const yaml_node_t *key,
		       const struct field *fields)
{
	const char *sep = " (expected ";
	char expected[256] = "";
	const struct field *f;
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
	return fail(c, key, "unknown key%s", expected);
}

static int parse_value(struct ctx *c, const struct field *f,
		       const yaml_node_t *v, char *base)
{
	void *p = base + f->off;

	if (is_null(v))
		return 0;
	switch (f->type) {
	case F_BOOL:
		return get_bool(c, v, p);
	case F_IDLIST:
		return parse_idlist(c, v, p);
	case F_STRLIST:
		return parse_strlist(c, v, f->max, p);
	case F_MAP:
		return parse_map(c, v, f->sub, p);
	case F_FUNC:
		return f->fn(c, v, p);
	}
	return fail(c, v, "internal error: bad schema");
}

static int parse_map(struct ctx *c, const yaml_node_t *n,
		     const struct field *fields, char *base)
{
	const yaml_node_pair_t *start = n->data.mapping.pairs.start;
	const yaml_node_pair_t *pair, *prev;
	const struct field *f, *pf;
	const yaml_node_t *k, *v;
	char buf[96];
	size_t old;
	int ret;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "expected a mapping, got %s",
			    describe(n, buf, sizeof(buf)));
	for (pair = start; pair < n->data.mapping.pairs.top; pair++) {
		k = node(c, pair->key);
		v = node(c, pair->value);
		if (!k || !v)
			return fail(c, n, "malformed YAML document");
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, "a key must be a string, got %s",
				    describe(k, buf, sizeof(buf)));
		old = path_push(c, k, 0);
		f = find_field(fields, k);
		if (!f) {
			ret = unknown_key(c, k, fields);
			goto next;
		}
		/* every earlier key is known, or we would have stopped */
		for (prev = start; prev < pair; prev++) {
			pf = find_field(fields, node(c, prev->key));
			if (strcmp(canonical(pf), canonical(f)))
				continue;
			ret = fail(c, k, "given twice (first on line %zu)",
				   node_line(node(c, prev->key)));
			goto next;
		}
		ret = parse_value(c, f, v, base);
next:
		path_pop(c, old);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- whole documents ---- */

static int syntax_error(struct ctx *c, const yaml_parser_t *p,
			const char *text, size_t len)
{
	char ctxmsg[128] = "", val[32] = "";
	size_t line, i;

	if (p->error == YAML_MEMORY_ERROR) {
		errf(c, "%s: out of memory", c->name);
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
	errf(c, "%s:%zu: invalid YAML: %s%s%s", c->name, line,
	     p->problem ? p->problem : "syntax error", val, ctxmsg);
	return -EINVAL;
}

static int config_reset(struct pm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = PM_FORMAT_BOMBINI;
	cfg->ring_buffer_kb = DEFAULT_RING_BUFFER_KB;
	if (pm_nats_config_defaults(&cfg->nats))
		return -ENOMEM;
	if (strlist_set(&cfg->redact, default_redact,
			ARRAY_SIZE(default_redact)) ||
	    strlist_set(&cfg->sensitive_processes, default_sensitive,
			ARRAY_SIZE(default_sensitive)))
		return -ENOMEM;
	return 0;
}

/* The hooks that can carry a cred_filter. */
static size_t cred_hooks(struct pm_config *cfg, struct pm_hook *out[4])
{
	out[0] = &cfg->setuid;
	out[1] = &cfg->setgid;
	out[2] = &cfg->capset;
	out[3] = &cfg->create_user_ns;
	return 4;
}

/* Derive the "is this filter in force" flags from what was parsed. */
static void config_finish(struct pm_config *cfg)
{
	struct pm_process_filter *pf = &cfg->process_filter;
	struct pm_hook *hooks[4];
	size_t i, n = cred_hooks(cfg, hooks);

	for (i = 0; i < n; i++) {
		struct pm_cred_filter *f = &hooks[i]->cred_filter;

		f->has_uid_filter = f->euid.n > 0;
		f->has_cap_filter = f->cap_effective || f->cap_any;
	}
	pf->present = pf->uid.n || pf->euid.n || pf->auid.n || pf->name.n ||
		      pf->path.n || pf->prefix.n;
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
static int check_stream(struct ctx *c, const char *text, size_t len)
{
	size_t depth = 0, anchors = 0, aliases = 0, docs = 0;
	yaml_event_type_t type;
	yaml_parser_t p;
	yaml_event_t ev;
	int ret = 0;

	if (!yaml_parser_initialize(&p)) {
		errf(c, "%s: out of memory", c->name);
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
			ret = fail_at(c, ev.start_mark.line + 1,
				      "more than one YAML document");
		else if (depth > MAX_DEPTH)
			ret = fail_at(c, ev.start_mark.line + 1,
				      "nested deeper than %d levels",
				      MAX_DEPTH);
		else if (anchors > MAX_ANCHORS || aliases > MAX_ALIASES)
			ret = fail_at(c, ev.start_mark.line + 1,
				      "more than %d anchors or %d aliases",
				      MAX_ANCHORS, MAX_ALIASES);
		yaml_event_delete(&ev);
	} while (!ret && type != YAML_STREAM_END_EVENT);
	yaml_parser_delete(&p);
	return ret;
}

int pm_config_parse(struct pm_config *cfg, const char *name, const char *text,
		    size_t len, char *err, size_t errlen)
{
	struct ctx c = {
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
	ret = config_reset(cfg);
	if (ret) {
		errf(&c, "%s: out of memory", c.name);
		goto out;
	}
	/* libyaml asserts on a NULL input, even an empty one */
	if (!text) {
		text = "";
		len = 0;
	}
	ret = check_stream(&c, text, len);
	if (ret)
		goto out;
	if (!yaml_parser_initialize(&parser)) {
		errf(&c, "%s: out of memory", c.name);
		ret = -ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = syntax_error(&c, &parser, text, len);
		goto out_parser;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* no root: an empty file, or only comments */
	if (root && !is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			ret = fail(&c, root, "the top level must be %s, got %s",
				   "a mapping of keys",
				   describe(root, buf, sizeof(buf)));
		else
			ret = parse_map(&c, root, top_fields, (char *)cfg);
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
out:
	if (ret)
		pm_config_free(cfg);
	else
		config_finish(cfg);
	return ret;
}

/*
 * The whole file, read through fd so that pipes and /proc work too. The
 * file decides what the sensor watches: one another user could have
 * written is refused (safe_file.h), with the reason in why.
 */
static int read_file(const char *path, char **text, size_t *len, char *why, size_t whylen)
{
	size_t cap = 0, n = 0;
	char *buf = NULL, *nb;
	struct stat st;
	ssize_t r;
	int fd, ret = 0;

	/* O_NONBLOCK: a FIFO with no writer must not hang the start */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
	} else {
		ret = pm_safe_check_read(path, &st, why, whylen);
		if (!ret && fcntl(fd, F_SETFL, 0))
			ret = -errno;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= CONFIG_MAX_BYTES) {
				ret = -EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	*text = buf;
	*len = n;
	return 0;
}

int pm_config_load_file(struct pm_config *cfg, const char *path, char *err,
			size_t errlen)
{
	char *text = NULL, why[1024];
	size_t len = 0;
	int ret;

	ret = read_file(path, &text, &len, why, sizeof(why));
	if (ret) {
		/* leave cfg as a failed parse would: freed and zeroed */
		memset(cfg, 0, sizeof(*cfg));
		if (err && errlen && ret == -EPERM)
			snprintf(err, errlen, "refusing the configuration %s", why);
		else if (err && errlen)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}
	ret = pm_config_parse(cfg, path, text, len, err, errlen);
	free(text);
	return ret;
}

int pm_config_load_default(struct pm_config *cfg, char *err, size_t errlen)
{
	return pm_config_parse(cfg, DEFAULT_CONFIG_NAME, pm_default_config_yaml,
			       pm_default_config_yaml_len, err, errlen);
}

void pm_config_free(struct pm_config *cfg)
{
	struct pm_process_filter *pf;
	struct pm_hook *hooks[4];
	size_t i, n;

	if (!cfg)
		return;
	pf = &cfg->process_filter;
	n = cred_hooks(cfg, hooks);
	for (i = 0; i < n; i++)
		idlist_free(&hooks[i]->cred_filter.euid);
	idlist_free(&pf->uid);
	idlist_free(&pf->euid);
	idlist_free(&pf->auid);
	strlist_free(&pf->name);
	strlist_free(&pf->path);
	strlist_free(&pf->prefix);
	strlist_free(&cfg->redact);
	strlist_free(&cfg->sensitive_processes);
	free(cfg->output);
	pm_nats_config_free(&cfg->nats);
	memset(cfg, 0, sizeof(*cfg));
}
