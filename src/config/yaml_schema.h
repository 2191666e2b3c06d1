/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A YAML schema walker (yaml_schema.c): tables of keys, a walk that
 * checks types and names file:line:key in every error, and the helpers a
 * key with its own rules parses with.
 */
#ifndef PROCMON_YAML_SCHEMA_H
#define PROCMON_YAML_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

struct pm_strlist {
	char **v;
	size_t n;
};

struct pm_idlist {
	uint32_t *v;
	size_t n;
};

struct pm_yaml_ctx {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	char path[256]; /* dotted key of the node being parsed */
	size_t plen;
	size_t nerr; /* errors so far: each a line of err */
};

enum pm_yaml_type {
	PM_YAML_BOOL,    /* bool */
	PM_YAML_IDLIST,  /* struct pm_idlist of uint32 */
	PM_YAML_STRLIST, /* struct pm_strlist, elements of at most .max bytes */
	PM_YAML_MAP,     /* nested mapping described by .sub */
	PM_YAML_FUNC,    /* anything else: .fn */
};

/*
 * One key of a mapping. The value lives at base + off, where base is what
 * the enclosing mapping was given; PM_YAML_MAP hands base + off down to .sub.
 */
struct pm_yaml_field {
	const char *key;
	enum pm_yaml_type type;
	size_t off;
	const struct pm_yaml_field *sub;
	int (*fn)(struct pm_yaml_ctx *c, const yaml_node_t *n, void *p);
	size_t max;
	const char *alias_of; /* same setting as another key of the table */
	/* PM_YAML_FUNC: writes the value as the key's parser reads it back,
	 * and compares two values; or, for a block that parses itself (a
	 * mapping with checks across its keys), .sub describes its keys */
	void (*print)(FILE *f, const void *p);
	bool (*eq)(const void *a, const void *b);
};


/* A table's last row. */
#define PM_YAML_END { .key = NULL }

/*
 * Parse text (named `name` in messages) against the top-level table, into
 * base. 0, or -EINVAL/-ENOMEM with "NAME:LINE: key 'a.b': what" in err:
 * one line for each error in the file (a key that does not fit is
 * reported and the walk goes on with the next; invalid YAML stops it).
 */
int pm_yaml_parse(const char *name, const char *text, size_t len,
		  const struct pm_yaml_field *top, void *base, char *err, size_t errlen);

/* A mapping by a table of its keys, into base (a block whose keys must
 * then agree with each other parses itself with this, then checks). */
int pm_yaml_parse_map(struct pm_yaml_ctx *c, const yaml_node_t *n,
		      const struct pm_yaml_field *fields, void *base);

/* For keys with their own rules (PM_YAML_FUNC). Each failure returns
 * -EINVAL with the message added to the context's err, a line each. */
int pm_yaml_fail(struct pm_yaml_ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int pm_yaml_fail_at(struct pm_yaml_ctx *c, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pm_yaml_errf(struct pm_yaml_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
size_t pm_yaml_line(const yaml_node_t *n);
/* "a mapping", "a list", "null", "'abc'" or "the string 'abc'", into buf. */
const char *pm_yaml_describe(const yaml_node_t *n, char *buf, size_t len);
const char *pm_yaml_scalar(const yaml_node_t *n);
/* Exact comparison: a scalar may hold NUL bytes ("true\0x" is not true). */
bool pm_yaml_scalar_is(const yaml_node_t *n, const char *s);
bool pm_yaml_is_null(const yaml_node_t *n);
int pm_yaml_bool(struct pm_yaml_ctx *c, const yaml_node_t *n, bool *out);
/* A non-negative integer no larger than max. */
int pm_yaml_uint(struct pm_yaml_ctx *c, const yaml_node_t *n, uint64_t max, uint64_t *out);
/* Any non-null scalar of at most max bytes, as a fresh C string. */
int pm_yaml_str(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t max, char **out);
const yaml_node_t *pm_yaml_node(struct pm_yaml_ctx *c, int id);
/* n is a list: its length in *count. */
int pm_yaml_list(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t *count);
/* Append ".key" (or "[index]" when key is NULL) to the key path shown in
 * messages; returns what pm_yaml_path_pop restores. */
size_t pm_yaml_path_push(struct pm_yaml_ctx *c, const yaml_node_t *key, size_t index);
void pm_yaml_path_pop(struct pm_yaml_ctx *c, size_t old);

/* Lists: parsed whole before they replace *out, so a failure leaves the
 * old list (a default, or nothing) intact. */
int pm_strlist_parse(struct pm_yaml_ctx *c, const yaml_node_t *n, size_t max,
		     struct pm_strlist *out);
int pm_idlist_parse(struct pm_yaml_ctx *c, const yaml_node_t *n, struct pm_idlist *out);
int pm_strlist_set(struct pm_strlist *l, const char *const *v, size_t n);
void pm_strlist_free(struct pm_strlist *l);
void pm_idlist_free(struct pm_idlist *l);

/*
 * Writing values back as YAML (--print-config). Strings are double-quoted
 * with every byte below 0x20, '"' and '\\' escaped, so no path or glob
 * can change the YAML's structure.
 */
void pm_yaml_print_str(FILE *f, const char *s);
void pm_yaml_print_strlist(FILE *f, const void *strlist);
void pm_yaml_print_idlist(FILE *f, const void *idlist);
/* A C string (char *, NULL written as ""), a uint32_t, a uint64_t. */
void pm_yaml_print_cstr(FILE *f, const void *p);
void pm_yaml_print_u32(FILE *f, const void *p);
void pm_yaml_print_u64(FILE *f, const void *p);
/* Every key of a table but aliases, at `indent` spaces, from base. */
void pm_yaml_print_map(FILE *f, const struct pm_yaml_field *fields, const void *base,
		       int indent);

/* Comparing two parsed values, for a reload: the same keys, the same
 * values (NULL and "" are the same string). */
bool pm_yaml_eq_cstr(const void *a, const void *b);
bool pm_yaml_eq_u32(const void *a, const void *b);
bool pm_yaml_eq_u64(const void *a, const void *b);
bool pm_yaml_eq_strlist(const void *a, const void *b);
/* One key of a table, its value at a + f->off and b + f->off. */
bool pm_yaml_field_equal(const struct pm_yaml_field *f, const void *a, const void *b);
/* The row of a table with that key, or NULL. */
const struct pm_yaml_field *pm_yaml_field_find(const struct pm_yaml_field *fields,
					       const char *key);

#endif
