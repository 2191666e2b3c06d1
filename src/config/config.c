// SPDX-License-Identifier: GPL-2.0
/*
 * procmon's configuration (contract section 4): its schema, defaults and
 * the keys with rules of their own, walked by yaml_schema.c (which has
 * the YAML conventions: booleans, integers, nulls, keys given twice).
 *
 * procmon's own conventions beyond the contract (docs/configuration.md
 * has them all):
 *  - ima_hash and its alias hash together are an error.
 *  - an empty list is the same as no list: a filter without a non-empty
 *    list filters nothing, whatever its deny_list says (Bombini builds a
 *    mask from the non-empty lists; an empty mask disables the filter).
 *
 * pm_config_parse() treats cfg as output only: it does not free what cfg
 * held before. Call pm_config_free() on a config before reusing it.
 */
#include "config/config.h"

#include <linux/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "log.h"
#include "base/caps.h"
#include "procmon/events.h"
#include "output/metrics.h"
#include "base/safe_file.h"
#include "detect/sigma.h"

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

/* Where the shipped SigmaHQ rules are installed, then the user's own. */
static const char *const default_rules[] = {
	"/usr/share/procmon/rules/sigma",
	"/etc/procmon/rules.d",
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

/* ---- keys with their own rules ---- */

int pm_format_from_name(const char *name, size_t len)
{
	static const char *const names[] = {
		[PM_FORMAT_BOMBINI] = "bombini",
		[PM_FORMAT_LIMACHARLIE] = "limacharlie",
		[PM_FORMAT_COMPACT] = "compact",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == len && !memcmp(name, names[i], len))
			return (int)i;
	return -EINVAL;
}

static int parse_format(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	enum pm_format *f = p;
	char buf[96];
	int format = n->type == YAML_SCALAR_NODE
			     ? pm_format_from_name(pm_yaml_scalar(n), n->data.scalar.length)
			     : -EINVAL;

	if (format < 0)
		return pm_yaml_fail(c, n, "expected bombini, limacharlie or compact, got %s",
				    pm_yaml_describe(n, buf, sizeof(buf)));
	*f = format;
	return 0;
}

int pm_config_set_output(struct pm_config *cfg, const char *s)
{
	char *path = NULL;

	if (!*s)
		return -EINVAL;
	if (strcmp(s, "stdout") && strcmp(s, "-") && strcmp(s, "none") && !(path = strdup(s)))
		return -ENOMEM;
	free(cfg->output);
	cfg->output = path;
	cfg->output_none = !strcmp(s, "none");
	return 0;
}

/* output: stdout (or -), none (the fleet output alone) or a file; p is the config */
static int parse_output(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	char *s = NULL;
	int ret;

	ret = pm_yaml_str(c, n, PATH_LEN_MAX, &s);
	if (ret)
		return ret;
	ret = pm_config_set_output(p, s);
	free(s);
	if (ret == -ENOMEM)
		pm_yaml_errf(c, "%s: out of memory", c->name);
	else if (ret)
		return pm_yaml_fail(c, n, "expected stdout, none or a file path, got ''");
	return ret;
}

/* output, and whether it is none: parse_output's two members */
static bool eq_output(const void *a, const void *b)
{
	const struct pm_config *x = a, *y = b;

	return x->output_none == y->output_none && pm_yaml_eq_cstr(&x->output, &y->output);
}

static int parse_ring_buffer_kb(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	uint32_t *kb = p;
	uint64_t v = 0;
	int ret;

	ret = pm_yaml_uint(c, n, UINT32_MAX, &v);
	if (ret)
		return ret;
	/* BPF ring buffers are a power-of-two number of pages */
	if (v < RING_BUFFER_KB_MIN || v > RING_BUFFER_KB_MAX || (v & (v - 1)))
		return pm_yaml_fail(c, n,
			    "must be a power of two from %u to %u, got %llu",
			    RING_BUFFER_KB_MIN, RING_BUFFER_KB_MAX,
			    (unsigned long long)v);
	*kb = (uint32_t)v;
	return 0;
}

static int parse_caps(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	struct pm_cred_filter *f = p;
	uint64_t caps = 0;
	bool any = false;
	size_t count = 0, i, old;
	const yaml_node_t *e;
	char buf[96];
	int ret = 0, bit;

	ret = pm_yaml_list(c, n, &count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) { /* every bad name, not only the first */
		e = pm_yaml_node(c, n->data.sequence.items.start[i]);
		old = pm_yaml_path_push(c, NULL, i);
		if (e->type != YAML_SCALAR_NODE || pm_yaml_is_null(e) ||
		    strlen(pm_yaml_scalar(e)) != e->data.scalar.length) {
			ret = pm_yaml_fail(c, e, "expected a capability name, got %s",
				   pm_yaml_describe(e, buf, sizeof(buf)));
		} else if (!strcasecmp(pm_yaml_scalar(e), "ANY")) {
			any = true;
		} else {
			bit = pm_cap_from_name(pm_yaml_scalar(e));
			if (bit < 0 || bit > 63)
				ret = pm_yaml_fail(c, e, "unknown capability %s",
					   pm_yaml_describe(e, buf, sizeof(buf)));
			else
				caps |= 1ULL << bit;
		}
		pm_yaml_path_pop(c, old);
	}
	if (!ret) {
		f->cap_effective = caps;
		f->cap_any = any;
	}
	return ret;
}

/* cap_filter.effective as parse_caps reads it: ANY, then the names */
static void print_caps(FILE *f, const void *p)
{
	const struct pm_cred_filter *c = p;
	bool first = true;

	fputc('[', f);
	if (c->cap_any) {
		fputs("ANY", f);
		first = false;
	}
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *n = pm_cap_name(bit);

		if (!(c->cap_effective & (1ULL << bit)) || !n)
			continue;
		fprintf(f, "%s%s", first ? "" : ", ", n);
		first = false;
	}
	fputc(']', f);
}

static bool eq_caps(const void *a, const void *b)
{
	const struct pm_cred_filter *x = a, *y = b;

	return x->cap_effective == y->cap_effective && x->cap_any == y->cap_any;
}

/* Bombini keys with no meaning here: still type-checked, so that a
 * config Bombini rejects is not accepted by procmon either. */
static void warn_unused(struct pm_yaml_ctx *c, const yaml_node_t *n)
{
	pm_log_warn("%s:%zu: key '%s': %s", c->name, pm_yaml_line(n), c->path,
		    "Bombini setting procmon has no use for, ignored");
}

static int parse_gc_period(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	uint64_t v = 0;
	int ret;

	(void)p;
	ret = pm_yaml_uint(c, n, UINT64_MAX, &v);
	if (!ret)
		warn_unused(c, n);
	return ret;
}

static int parse_expose_events(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	bool v = false;
	int ret;

	(void)p;
	ret = pm_yaml_bool(c, n, &v);
	if (!ret)
		warn_unused(c, n);
	return ret;
}

/* ---- operating it: metrics and output rotation (contract section 9) ---- */

#define OUTPUT_BACKUPS_DEFAULT 5
#define OUTPUT_BACKUPS_MAX 1000
#define OUTPUT_MAX_MB_MAX (1u << 20) /* 1 TiB */

static int parse_listen(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	char **out = p, host[INET6_ADDRSTRLEN + 1];
	char *s = NULL;
	uint16_t port;
	int ret = pm_yaml_str(c, n, 128, &s);

	if (ret)
		return ret;
	if (pm_listen_parse(s, host, sizeof(host), &port) < 0) {
		ret = pm_yaml_fail(c, n, "expected ADDRESS:PORT (127.0.0.1:9464, [::1]:9464), got '%s'", s);
		free(s);
		return ret;
	}
	free(*out);
	*out = s;
	return 0;
}

static int parse_uint_range(struct pm_yaml_ctx *c, const yaml_node_t *n, uint32_t *out,
			    uint32_t min, uint32_t max)
{
	uint64_t v = 0;
	int ret = pm_yaml_uint(c, n, UINT32_MAX, &v);

	if (ret)
		return ret;
	if (v < min || v > max)
		return pm_yaml_fail(c, n, "must be from %u to %u, got %llu", min, max,
				    (unsigned long long)v);
	*out = (uint32_t)v;
	return 0;
}

static int parse_output_max_mb(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, 0, OUTPUT_MAX_MB_MAX);
}

static int parse_output_backups(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, 1, OUTPUT_BACKUPS_MAX);
}

#define REPEAT_EVENTS_DEFAULT 100
#define REPEAT_EVENTS_MAX 1000000
#define REPEAT_INTERVAL_MS_DEFAULT 1000
#define REPEAT_INTERVAL_MS_MIN 10
#define REPEAT_INTERVAL_MS_MAX 3600000 /* an hour */

static int parse_repeat_events(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, 1, REPEAT_EVENTS_MAX);
}

static int parse_repeat_interval(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, REPEAT_INTERVAL_MS_MIN, REPEAT_INTERVAL_MS_MAX);
}

static int parse_caps_format(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	bool *hex = p;
	char buf[96];

	if (pm_yaml_scalar_is(n, "names"))
		*hex = false;
	else if (pm_yaml_scalar_is(n, "hex"))
		*hex = true;
	else
		return pm_yaml_fail(c, n, "expected names or hex, got %s",
				    pm_yaml_describe(n, buf, sizeof(buf)));
	return 0;
}

/* ---- output_shaping: event types by name ---- */

/* Each row's native type, ProcessEvent sub-type and LimaCharlie name. */
#define SHAPING_ROW(name, num, rec, native, sub, lc, ...) { num, native, sub, lc },
static const struct {
	uint32_t type;
	const char *native, *sub, *lc;
} event_names[] = { PM_EVENT_TABLE(SHAPING_ROW) };
#undef SHAPING_ROW

/* Mark in types[] the event types `name` stands for: a native type
 * (ProcessEvent: all its sub-types), a sub-type (Setuid) or a LimaCharlie
 * event_type (MODULE_LOAD). false when it names none. */
static bool event_types_of(const char *name, bool types[PM_EVENT_TYPE_END])
{
	bool any = false;

	for (size_t i = 0; i < ARRAY_SIZE(event_names); i++) {
		const char *const names[] = { event_names[i].native, event_names[i].sub,
					      event_names[i].lc };

		if (!event_names[i].native) /* never written */
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(names); k++)
			if (names[k] && !strcmp(names[k], name)) {
				types[event_names[i].type] = true;
				any = true;
			}
	}
	return any;
}

static int parse_event_types(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	struct pm_strlist *l = p;
	bool types[PM_EVENT_TYPE_END];
	int ret = pm_strlist_parse(c, n, NAME_LEN_MAX, l), bad = 0;

	/* a list that parsed: each name it has that is no event type */
	for (size_t i = 0; !ret && i < l->n; i++) {
		size_t old;

		if (event_types_of(l->v[i], types))
			continue;
		old = pm_yaml_path_push(c, NULL, i);
		bad = pm_yaml_fail(c, pm_yaml_node(c, n->data.sequence.items.start[i]),
				   "unknown event type '%s' (a type such as ModuleLoad, a "
				   "ProcessEvent sub-type such as Setuid, or a LimaCharlie "
				   "event_type such as MODULE_LOAD)", l->v[i]);
		pm_yaml_path_pop(c, old);
	}
	return ret ? ret : bad;
}

/* allow (when not empty) keeps only what it names; deny removes. */
static void shaping_finish(struct pm_config *cfg)
{
	bool allow[PM_EVENT_TYPE_END] = { 0 }, deny[PM_EVENT_TYPE_END] = { 0 };

	for (size_t i = 0; i < cfg->shaping_allow.n; i++)
		event_types_of(cfg->shaping_allow.v[i], allow);
	for (size_t i = 0; i < cfg->shaping_deny.n; i++)
		event_types_of(cfg->shaping_deny.v[i], deny);
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++)
		cfg->shaping_drop[t] = (cfg->shaping_allow.n && !allow[t]) || deny[t];
}

/* ---- the schema ---- */

#define FIELD(k, t, o, ...) { .key = (k), .type = PM_YAML_##t, .off = (o), __VA_ARGS__ }
/* how a FUNC key's value prints and compares, by its C type */
#define CSTR_IO .print = pm_yaml_print_cstr, .eq = pm_yaml_eq_cstr
#define U32_IO .print = pm_yaml_print_u32, .eq = pm_yaml_eq_u32
#define U64_IO .print = pm_yaml_print_u64, .eq = pm_yaml_eq_u64
#define STRLIST_IO .print = pm_yaml_print_strlist, .eq = pm_yaml_eq_strlist
#define END PM_YAML_END
#define HOOK_OFF(member) offsetof(struct pm_hook, member)
#define CFG_OFF(member) offsetof(struct pm_config, member)
#define PF_OFF(member) offsetof(struct pm_process_filter, member)
#define ENABLED FIELD("enabled", BOOL, HOOK_OFF(enabled))

static const struct pm_yaml_field cap_filter_fields[] = {
	FIELD("effective", FUNC, HOOK_OFF(cred_filter), .fn = parse_caps, .print = print_caps,
	      .eq = eq_caps),
	FIELD("deny_list", BOOL, HOOK_OFF(cred_filter.cap_deny_list)),
	END
};

static const struct pm_yaml_field uid_filter_fields[] = {
	FIELD("euid", IDLIST, HOOK_OFF(cred_filter.euid)),
	END
};

/* setgid keeps its egid list where setuid keeps euid (see config.h) */
static const struct pm_yaml_field gid_filter_fields[] = {
	FIELD("egid", IDLIST, HOOK_OFF(cred_filter.euid)),
	END
};

static const struct pm_yaml_field uid_cred_fields[] = {
	FIELD("uid_filter", MAP, 0, .sub = uid_filter_fields),
	FIELD("cap_filter", MAP, 0, .sub = cap_filter_fields),
	END
};

static const struct pm_yaml_field gid_cred_fields[] = {
	FIELD("gid_filter", MAP, 0, .sub = gid_filter_fields),
	FIELD("cap_filter", MAP, 0, .sub = cap_filter_fields),
	END
};

static const struct pm_yaml_field hook_fields[] = { ENABLED, END };

/*
 * Bombini has one CredFilter message (uid_filter OR cap_filter) for every
 * hook that takes a cred_filter, so capset and create_user_ns accept
 * uid_filter too: the euid of the task after capset(2), or of the task
 * creating the namespace. setgid compares the new egid instead.
 */
static const struct pm_yaml_field uid_hook_fields[] = {
	ENABLED,
	FIELD("cred_filter", MAP, 0, .sub = uid_cred_fields),
	END
};

static const struct pm_yaml_field gid_hook_fields[] = {
	ENABLED,
	FIELD("cred_filter", MAP, 0, .sub = gid_cred_fields),
	END
};

/* Most names, paths or prefixes one process_filter list may hold: each
 * is one comparison at every exec (src/bpf/common/filter.bpf.h). */
#define BINARY_LIST_MAX (PM_FILTER_PATTERNS_MAX / 3)

/* process_filter.binary.{name,path,prefix}: what the kernel can compare. */
static int parse_binary_list(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p, bool paths)
{
	struct pm_strlist *l = p;
	int ret = pm_strlist_parse(c, n, paths ? PM_FILTER_PATTERN_MAX : NAME_LEN_MAX, l);

	if (ret)
		return ret;
	if (l->n > BINARY_LIST_MAX)
		return pm_yaml_fail(c, n, "at most %d entries, got %zu", BINARY_LIST_MAX, l->n);
	for (size_t i = 0; i < l->n; i++) {
		const char *v = l->v[i];
		const char *what = paths ? (v[0] != '/' ? "is not an absolute path" : NULL)
					 : (!v[0] || strchr(v, '/') ? "is not a file name" : NULL);
		size_t old;

		if (!what)
			continue;
		old = pm_yaml_path_push(c, NULL, i);
		ret = pm_yaml_fail(c, pm_yaml_node(c, n->data.sequence.items.start[i]), "'%s' %s", v, what);
		pm_yaml_path_pop(c, old);
	}
	return ret;
}

static int parse_binary_names(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_binary_list(c, n, p, false);
}

static int parse_binary_paths(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_binary_list(c, n, p, true);
}

static const struct pm_yaml_field binary_fields[] = {
	FIELD("name", FUNC, PF_OFF(name), .fn = parse_binary_names, STRLIST_IO),
	FIELD("path", FUNC, PF_OFF(path), .fn = parse_binary_paths, STRLIST_IO),
	FIELD("prefix", FUNC, PF_OFF(prefix), .fn = parse_binary_paths, STRLIST_IO),
	END
};

static const struct pm_yaml_field process_filter_fields[] = {
	FIELD("uid", IDLIST, PF_OFF(uid)),
	FIELD("euid", IDLIST, PF_OFF(euid)),
	FIELD("auid", IDLIST, PF_OFF(auid)),
	FIELD("binary", MAP, 0, .sub = binary_fields),
	FIELD("deny_list", BOOL, PF_OFF(deny_list)),
	END
};

/* These two keep their lists in pm_config, so their base is the config. */
static const struct pm_yaml_field process_environment_fields[] = {
	FIELD("enabled", BOOL, CFG_OFF(block[PM_BLOCK_PROCESS_ENVIRONMENT].enabled)),
	FIELD("redact", STRLIST, CFG_OFF(redact), .max = GLOB_LEN_MAX),
	END
};

static const struct pm_yaml_field sensitive_process_access_fields[] = {
	FIELD("enabled", BOOL, CFG_OFF(block[PM_BLOCK_SENSITIVE_PROCESS_ACCESS].enabled)),
	FIELD("processes", STRLIST, CFG_OFF(sensitive_processes),
	      .max = NAME_LEN_MAX),
	END
};

/* ---- the nats block (fleet output, src/output/fleet.h) ---- */

static int nats_string(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p, size_t max,
		       const char *(*check)(const char *))
{
	char **out = p, *s = NULL;
	const char *bad;
	int ret = pm_yaml_str(c, n, max, &s);

	if (ret)
		return ret;
	if (check && (bad = check(s))) {
		free(s);
		return pm_yaml_fail(c, n, "%s", bad);
	}
	free(*out);
	*out = s;
	return 0;
}

static int parse_nats_str(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, GLOB_LEN_MAX, NULL);
}

static int parse_nats_stream(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, 255, pm_nats_check_stream);
}

static int parse_nats_prefix(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, 200, pm_nats_check_prefix);
}

static const char *check_abs_path(const char *s)
{
	return s[0] == '/' ? NULL : "expected an absolute path";
}

static int parse_nats_dir(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return nats_string(c, n, p, PATH_LEN_MAX, check_abs_path);
}

/* creds and TLS files: "" (none), or a file procmon can read now. */
static int parse_nats_file(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	char **out = p;
	int ret = nats_string(c, n, p, PATH_LEN_MAX, NULL), fd;

	if (ret || !**out)
		return ret;
	fd = open(*out, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return pm_yaml_fail(c, n, "cannot read %s: %s", *out, strerror(errno));
	close(fd);
	return 0;
}

static int parse_nats_servers(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	struct pm_nats_config *nc = p;
	struct pm_strlist l = { 0 };
	const char *bad;
	int ret = pm_strlist_parse(c, n, PATH_LEN_MAX, &l);

	if (ret)
		return ret;
	if (!l.n)
		return pm_yaml_fail(c, n, "at least one server URL is needed");
	for (size_t i = 0; i < l.n; i++) {
		if ((bad = pm_nats_check_url(l.v[i]))) {
			size_t old = pm_yaml_path_push(c, NULL, i);

			ret = pm_yaml_fail(c, pm_yaml_node(c, n->data.sequence.items.start[i]),
					   "'%s': %s", l.v[i], bad);
			pm_yaml_path_pop(c, old);
			pm_strlist_free(&l);
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

static int parse_nats_mb(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	uint64_t v = 0;
	int ret = pm_yaml_uint(c, n, 1 << 24, &v);

	if (ret)
		return ret;
	if (!v)
		return pm_yaml_fail(c, n, "must be at least 1");
	*(uint64_t *)p = v;
	return 0;
}

static int parse_nats_batch_ms(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	uint64_t v = 0;
	int ret = pm_yaml_uint(c, n, PM_NATS_MAX_BATCH_MS, &v);

	if (!ret)
		*(uint32_t *)p = (uint32_t)v;
	return ret;
}

static int parse_nats_batch_events(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, 1, PM_NATS_MAX_BATCH_EVENTS);
}

static int parse_nats_batch_bytes(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, PM_NATS_MIN_BATCH_BYTES, PM_NATS_MAX_BATCH_BYTES);
}

/* nats.message and nats.compression: one of two words each, the first
 * the enum's 0 */
static const char *const nats_message_words[] = { "batch", "event" };
static const char *const nats_compression_words[] = { "zstd", "none" };

static int parse_word_pair(struct pm_yaml_ctx *c, const yaml_node_t *n,
			   const char *const words[2], int *out)
{
	char buf[96];

	for (int i = 0; i < 2; i++)
		if (pm_yaml_scalar_is(n, words[i])) {
			*out = i;
			return 0;
		}
	return pm_yaml_fail(c, n, "expected %s or %s, got %s", words[0], words[1],
			    pm_yaml_describe(n, buf, sizeof(buf)));
}

static int parse_nats_message(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	int v = 0, ret = parse_word_pair(c, n, nats_message_words, &v);

	if (!ret)
		*(enum pm_nats_message *)p = v ? PM_NATS_MESSAGE_EVENT : PM_NATS_MESSAGE_BATCH;
	return ret;
}

static int parse_nats_compression(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	int v = 0, ret = parse_word_pair(c, n, nats_compression_words, &v);

	if (!ret)
		*(enum pm_nats_compression *)p =
			v ? PM_NATS_COMPRESSION_NONE : PM_NATS_COMPRESSION_ZSTD;
	return ret;
}

static int parse_nats_partitions(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	return parse_uint_range(c, n, p, 1, PM_NATS_MAX_PARTITIONS);
}

static void print_nats_message(FILE *f, const void *p)
{
	fputs(nats_message_words[*(const enum pm_nats_message *)p == PM_NATS_MESSAGE_EVENT], f);
}

static void print_nats_compression(FILE *f, const void *p)
{
	fputs(nats_compression_words[*(const enum pm_nats_compression *)p ==
				     PM_NATS_COMPRESSION_NONE],
	      f);
}

static bool eq_nats_enum(const void *a, const void *b)
{
	return !memcmp(a, b, sizeof(enum pm_nats_message));
}
_Static_assert(sizeof(enum pm_nats_message) == sizeof(enum pm_nats_compression),
	       "eq_nats_enum compares both");

#define NATS_OFF(member) offsetof(struct pm_nats_config, member)

/* servers as parse_nats_servers reads them */
static void print_nats_servers(FILE *f, const void *p)
{
	const struct pm_nats_config *n = p;

	pm_yaml_print_strlist(f, &(struct pm_strlist){ .v = n->servers, .n = n->n_servers });
}

static bool eq_nats_servers(const void *a, const void *b)
{
	const struct pm_nats_config *x = a, *y = b;

	return pm_yaml_eq_strlist(&(struct pm_strlist){ .v = x->servers, .n = x->n_servers },
				  &(struct pm_strlist){ .v = y->servers, .n = y->n_servers });
}

static const struct pm_yaml_field nats_tls_fields[] = {
	FIELD("ca", FUNC, NATS_OFF(tls_ca), .fn = parse_nats_file, CSTR_IO),
	FIELD("cert", FUNC, NATS_OFF(tls_cert), .fn = parse_nats_file, CSTR_IO),
	FIELD("key", FUNC, NATS_OFF(tls_key), .fn = parse_nats_file, CSTR_IO),
	END
};

/* A key here is one row: its parser, and how it prints and compares. */
static const struct pm_yaml_field nats_fields[] = {
	FIELD("enabled", BOOL, NATS_OFF(enabled)),
	FIELD("servers", FUNC, 0, .fn = parse_nats_servers, .print = print_nats_servers,
	      .eq = eq_nats_servers),
	FIELD("stream", FUNC, NATS_OFF(stream), .fn = parse_nats_stream, CSTR_IO),
	FIELD("create_stream", BOOL, NATS_OFF(create_stream)),
	FIELD("subject_prefix", FUNC, NATS_OFF(subject_prefix), .fn = parse_nats_prefix, CSTR_IO),
	FIELD("spool_dir", FUNC, NATS_OFF(spool_dir), .fn = parse_nats_dir, CSTR_IO),
	FIELD("spool_max_mb", FUNC, NATS_OFF(spool_max_mb), .fn = parse_nats_mb, U64_IO),
	FIELD("batch_ms", FUNC, NATS_OFF(batch_ms), .fn = parse_nats_batch_ms, U32_IO),
	FIELD("partitions", FUNC, NATS_OFF(partitions), .fn = parse_nats_partitions, U32_IO),
	FIELD("batch_events", FUNC, NATS_OFF(batch_events), .fn = parse_nats_batch_events, U32_IO),
	FIELD("batch_bytes", FUNC, NATS_OFF(batch_bytes), .fn = parse_nats_batch_bytes, U32_IO),
	FIELD("message", FUNC, NATS_OFF(message), .fn = parse_nats_message,
	      .print = print_nats_message, .eq = eq_nats_enum),
	FIELD("compression", FUNC, NATS_OFF(compression), .fn = parse_nats_compression,
	      .print = print_nats_compression, .eq = eq_nats_enum),
	FIELD("token", FUNC, NATS_OFF(token), .fn = parse_nats_str, CSTR_IO),
	FIELD("user", FUNC, NATS_OFF(user), .fn = parse_nats_str, CSTR_IO),
	FIELD("password", FUNC, NATS_OFF(password), .fn = parse_nats_str, CSTR_IO),
	FIELD("creds", FUNC, NATS_OFF(creds), .fn = parse_nats_file, CSTR_IO),
	FIELD("tls", MAP, 0, .sub = nats_tls_fields),
	END
};

/* The block, then what its keys must agree on. */
static int parse_nats(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	const char *bad;
	int ret = pm_yaml_parse_map(c, n, nats_fields, p);

	if (!ret && (bad = pm_nats_check(p)))
		ret = pm_yaml_fail(c, n, "%s", bad);
	return ret;
}

static const struct pm_yaml_field output_shaping_fields[] = {
	FIELD("allow", FUNC, CFG_OFF(shaping_allow), .fn = parse_event_types),
	FIELD("deny", FUNC, CFG_OFF(shaping_deny), .fn = parse_event_types),
	END
};

/* ---- detections: Sigma rules (contract section 10) ---- */

static int parse_detect_enabled(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	bool v = false;
	int ret = pm_yaml_bool(c, n, &v);

	if (!ret)
		*(int8_t *)p = v ? PM_DETECT_ON : PM_DETECT_OFF;
	return ret;
}

/* Absolute paths: the daemon's working directory is nobody's business. */
static int parse_detect_rules(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	struct pm_strlist l = { 0 };
	int ret = pm_strlist_parse(c, n, PATH_LEN_MAX, &l);

	for (size_t i = 0; !ret && i < l.n; i++) {
		size_t old;

		if (l.v[i][0] == '/')
			continue;
		old = pm_yaml_path_push(c, NULL, i);
		ret = pm_yaml_fail(c, pm_yaml_node(c, n->data.sequence.items.start[i]),
				   "'%s' is not an absolute path", l.v[i]);
		pm_yaml_path_pop(c, old);
	}
	if (ret) {
		pm_strlist_free(&l);
		return ret;
	}
	pm_strlist_free(p);
	*(struct pm_strlist *)p = l;
	return 0;
}

static int parse_detect_level(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p)
{
	char buf[96];
	int level = n->type == YAML_SCALAR_NODE &&
				    strlen(pm_yaml_scalar(n)) == n->data.scalar.length
			    ? pm_sigma_level_parse(pm_yaml_scalar(n))
			    : -EINVAL;

	if (level < 0)
		return pm_yaml_fail(c, n,
				    "expected informational, low, medium, high or critical, got %s",
				    pm_yaml_describe(n, buf, sizeof(buf)));
	*(uint8_t *)p = (uint8_t)level;
	return 0;
}

/* absent (null: what --print-config writes for it) is "on when rules load" */
static void print_detect_enabled(FILE *f, const void *p)
{
	int8_t v = *(const int8_t *)p;

	fputs(v == PM_DETECT_AUTO ? "null" : v ? "true" : "false", f);
}

static void print_detect_level(FILE *f, const void *p)
{
	fputs(pm_sigma_level_name(*(const uint8_t *)p), f);
}

static bool eq_byte(const void *a, const void *b)
{
	return *(const uint8_t *)a == *(const uint8_t *)b;
}

#define DET_OFF(member) CFG_OFF(detections.member)
static const struct pm_yaml_field detections_fields[] = {
	FIELD("enabled", FUNC, DET_OFF(enabled), .fn = parse_detect_enabled,
	      .print = print_detect_enabled, .eq = eq_byte),
	FIELD("rules", FUNC, DET_OFF(rules), .fn = parse_detect_rules, STRLIST_IO),
	FIELD("min_level", FUNC, DET_OFF(min_level), .fn = parse_detect_level,
	      .print = print_detect_level, .eq = eq_byte),
	END
};

static const struct pm_yaml_field repeat_limit_fields[] = {
	FIELD("events", FUNC, CFG_OFF(repeat_events), .fn = parse_repeat_events, U32_IO),
	FIELD("interval_ms", FUNC, CFG_OFF(repeat_interval_ms), .fn = parse_repeat_interval,
	      U32_IO),
	END
};

static const struct pm_yaml_field metrics_fields[] = {
	FIELD("listen", FUNC, CFG_OFF(metrics_listen), .fn = parse_listen, CSTR_IO),
	END
};

/* What a block's field offsets count from (blocks.h, column AT). */
#define AT_HOOK(id) CFG_OFF(block[PM_BLOCK_##id])
#define AT_CONFIG(id) 0
#define AT_FILTER(id) CFG_OFF(process_filter)
#define CRED_HOOK_NONE (-1)
#define CRED_IDS_NONE 0

#define BLOCK_INFO_ROW(id, key_, fields_, at_, hook, ids, reload_, ...)                   \
	[PM_BLOCK_##id] = { .key = key_, .fields = fields_, .at = AT_##at_(id),            \
			    .cred_hook = CRED_HOOK_##hook, .cred_ids = CRED_IDS_##ids,       \
			    .reload = PM_RELOAD_##reload_, .needs = { __VA_ARGS__, NULL } },
#define CRED_HOOK_SETUID PM_HOOK_SETUID
#define CRED_HOOK_SETGID PM_HOOK_SETGID
#define CRED_HOOK_CAPSET PM_HOOK_CAPSET
#define CRED_HOOK_USER_NS PM_HOOK_USER_NS
#define CRED_IDS_SETUID_EUID PM_IDS_SETUID_EUID
#define CRED_IDS_SETGID_EGID PM_IDS_SETGID_EGID
#define CRED_IDS_CAPSET_EUID PM_IDS_CAPSET_EUID
#define CRED_IDS_USER_NS_EUID PM_IDS_USER_NS_EUID
const struct pm_block_info pm_blocks[PM_BLOCK_COUNT] = { PM_BLOCK_TABLE(BLOCK_INFO_ROW) };
#undef BLOCK_INFO_ROW

#define BLOCK_FIELD_ROW(id, key, fields, at, ...) FIELD(key, MAP, AT_##at(id), .sub = (fields)),

static const struct pm_yaml_field top_fields[] = {
	FIELD("format", FUNC, CFG_OFF(format), .fn = parse_format),
	FIELD("output", FUNC, 0, .fn = parse_output, .eq = eq_output),
	FIELD("ima_hash", BOOL, CFG_OFF(hash)),
	FIELD("hash", BOOL, CFG_OFF(hash), .alias_of = "ima_hash"),
	FIELD("ring_buffer_kb", FUNC, CFG_OFF(ring_buffer_kb), .fn = parse_ring_buffer_kb, U32_IO),
	FIELD("repeat_limit", MAP, 0, .sub = repeat_limit_fields),
	FIELD("gc_period", FUNC, 0, .fn = parse_gc_period),
	FIELD("expose_events", FUNC, 0, .fn = parse_expose_events),
	PM_BLOCK_TABLE(BLOCK_FIELD_ROW)
	FIELD("nats", FUNC, CFG_OFF(nats), .fn = parse_nats, .sub = nats_fields),
	/* operating it */
	FIELD("metrics", MAP, 0, .sub = metrics_fields),
	FIELD("output_max_mb", FUNC, CFG_OFF(output_max_mb), .fn = parse_output_max_mb),
	FIELD("output_backups", FUNC, CFG_OFF(output_backups), .fn = parse_output_backups),
	FIELD("output_compress", BOOL, CFG_OFF(output_compress)),
	FIELD("output_shaping", MAP, 0, .sub = output_shaping_fields),
	FIELD("caps_format", FUNC, CFG_OFF(caps_hex), .fn = parse_caps_format),
	END
};
#undef BLOCK_FIELD_ROW

const struct pm_yaml_field *pm_config_key(const char *key)
{
	return pm_yaml_field_find(top_fields, key);
}

/* What only a restart changes: fixed when the BPF programs were loaded
 * (which programs, the ring buffer) or opened at start (the output's
 * path, metrics, nats). By key; a key may own several members. */
#define RESTART_ONLY(key, member) { key, CFG_OFF(member), sizeof(((struct pm_config *)0)->member) }
static const struct {
	const char *key;
	size_t off, size;
} restart_only[] = {
	RESTART_ONLY("output", output),
	RESTART_ONLY("output", output_none),
	RESTART_ONLY("ima_hash", hash),
	RESTART_ONLY("ring_buffer_kb", ring_buffer_kb),
	/* the kernel's rodata */
	RESTART_ONLY("repeat_limit", repeat_events),
	RESTART_ONLY("repeat_limit", repeat_interval_ms),
	RESTART_ONLY("metrics", metrics_listen),
	RESTART_ONLY("nats", nats),
};

static void note_key(char *list, size_t len, const char *key)
{
	size_t n = strlen(list);

	if (snprintf(list + n, len - n, "%s%s", n ? ", " : "", key) >= (int)(len - n))
		list[len - 1] = '\0'; /* cut short: the message says what it can */
}

static void swap_bytes(void *a, void *b, size_t n)
{
	unsigned char *x = a, *y = b, t;

	for (size_t i = 0; i < n; i++) {
		t = x[i];
		x[i] = y[i];
		y[i] = t;
	}
}

void pm_config_reload_plan(struct pm_config *old, struct pm_config *next, char *restart,
			   size_t len)
{
	restart[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(restart_only); i++) {
		const char *key = restart_only[i].key;

		if ((!i || strcmp(key, restart_only[i - 1].key)) &&
		    !pm_yaml_field_equal(pm_config_key(key), old, next))
			note_key(restart, len, key);
		swap_bytes((char *)old + restart_only[i].off, (char *)next + restart_only[i].off,
			   restart_only[i].size);
	}
	/* the blocks' switches, as each row's reload policy says */
	for (size_t b = 1; b < PM_BLOCK_COUNT; b++) {
		bool *was = &old->block[b].enabled, *now = &next->block[b].enabled;
		bool live;

		if (*was == *now)
			continue;
		switch (pm_blocks[b].reload) {
		case PM_RELOAD_LIVE:
			live = true;
			break;
		case PM_RELOAD_LOADED: /* read in user space, over what is loaded */
			live = !*now || pm_config_block_loaded(old, b);
			break;
		default:
			live = false;
		}
		if (!live) {
			char key[64];

			snprintf(key, sizeof(key), "%s.enabled", pm_blocks[b].key);
			note_key(restart, len, key);
			*now = *was;
		}
	}
}

int pm_config_needs(const struct pm_config *cfg, const char *need)
{
	int wanted = -1;

	for (size_t b = 1; b < PM_BLOCK_COUNT; b++)
		for (const char *const *p = pm_blocks[b].needs; *p; p++) {
			if (strcmp(*p, need))
				continue;
			if (cfg->block[b].enabled)
				return 1;
			wanted = 0;
		}
	return wanted;
}

bool pm_config_block_loaded(const struct pm_config *cfg, enum pm_block b)
{
	for (const char *const *p = pm_blocks[b].needs; *p; p++)
		if (pm_config_needs(cfg, *p) != 1)
			return false;
	return true;
}

static int config_reset(struct pm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->block[PM_BLOCK_NONE].enabled = true;
	cfg->format = PM_FORMAT_BOMBINI;
	cfg->ring_buffer_kb = DEFAULT_RING_BUFFER_KB;
	cfg->repeat_events = REPEAT_EVENTS_DEFAULT;
	cfg->repeat_interval_ms = REPEAT_INTERVAL_MS_DEFAULT;
	if (pm_nats_config_defaults(&cfg->nats))
		return -ENOMEM;
	cfg->output_backups = OUTPUT_BACKUPS_DEFAULT;
	cfg->detections.enabled = PM_DETECT_AUTO;
	cfg->detections.min_level = PM_SIGMA_LOW;
	if (pm_strlist_set(&cfg->detections.rules, default_rules, ARRAY_SIZE(default_rules)) ||
	    pm_strlist_set(&cfg->redact, default_redact,
			ARRAY_SIZE(default_redact)) ||
	    pm_strlist_set(&cfg->sensitive_processes, default_sensitive,
			ARRAY_SIZE(default_sensitive)))
		return -ENOMEM;
	return 0;
}

/* Derive the "is this filter in force" flags from what was parsed. */
static void config_finish(struct pm_config *cfg)
{
	struct pm_process_filter *pf = &cfg->process_filter;

	for (size_t b = 0; b < PM_BLOCK_COUNT; b++) {
		struct pm_cred_filter *f = &cfg->block[b].cred_filter;

		f->has_uid_filter = f->euid.n > 0;
		f->has_cap_filter = f->cap_effective || f->cap_any;
	}
	pf->present = pf->uid.n || pf->euid.n || pf->auid.n || pf->name.n ||
		      pf->path.n || pf->prefix.n;
	shaping_finish(cfg);
	/* the block's switch, as the other blocks': off only when said so */
	cfg->block[PM_BLOCK_DETECTIONS].enabled = cfg->detections.enabled != PM_DETECT_OFF;
}

int pm_config_parse(struct pm_config *cfg, const char *name, const char *text,
		    size_t len, char *err, size_t errlen)
{
	int ret = config_reset(cfg);

	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name ? name : "<config>");
	} else {
		ret = pm_yaml_parse(name, text, len, top_fields, cfg, err, errlen);
	}
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
static int read_file(const char *path, char **text, size_t *len, char *why, size_t whylen,
		     bool safety_warns)
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
		if (ret == -EPERM && safety_warns) {
			pm_log_warn("procmon running as root would refuse the configuration %s", why);
			ret = 0;
		}
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

int pm_config_check_file(struct pm_config *cfg, const char *path, bool safety_warns,
			 char *err, size_t errlen)
{
	char *text = NULL, why[1024];
	size_t len = 0;
	int ret;

	pm_safe_judge_as_root = safety_warns;
	ret = read_file(path, &text, &len, why, sizeof(why), safety_warns);
	pm_safe_judge_as_root = false;
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

int pm_config_load_file(struct pm_config *cfg, const char *path, char *err,
			size_t errlen)
{
	return pm_config_check_file(cfg, path, false, err, errlen);
}

int pm_config_load_default(struct pm_config *cfg, char *err, size_t errlen)
{
	return pm_config_parse(cfg, DEFAULT_CONFIG_NAME, pm_default_config_yaml,
			       pm_default_config_yaml_len, err, errlen);
}

void pm_config_free(struct pm_config *cfg)
{
	struct pm_process_filter *pf;

	if (!cfg)
		return;
	pf = &cfg->process_filter;
	for (size_t b = 0; b < PM_BLOCK_COUNT; b++)
		pm_idlist_free(&cfg->block[b].cred_filter.euid);
	pm_idlist_free(&pf->uid);
	pm_idlist_free(&pf->euid);
	pm_idlist_free(&pf->auid);
	pm_strlist_free(&pf->name);
	pm_strlist_free(&pf->path);
	pm_strlist_free(&pf->prefix);
	pm_strlist_free(&cfg->redact);
	pm_strlist_free(&cfg->sensitive_processes);
	free(cfg->output);
	pm_nats_config_free(&cfg->nats);
	free(cfg->metrics_listen);
	pm_strlist_free(&cfg->shaping_allow);
	pm_strlist_free(&cfg->shaping_deny);
	pm_strlist_free(&cfg->detections.rules);
	memset(cfg, 0, sizeof(*cfg));
}
