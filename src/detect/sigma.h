/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sigma rules (contract section 10): load SigmaHQ-format YAML rules for
 * `logsource: {product: linux, category: process_creation}`, compile every
 * rule's literals into one multi-pattern prefilter, and evaluate the rule
 * set against one process start at a time.
 *
 * Pure: no BPF, no root, no global state. The daemon, --check-rules and
 * --replay all go through this header.
 */
#ifndef PROCMON_DETECT_SIGMA_H
#define PROCMON_DETECT_SIGMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The Sigma levels, lowest first: min_level compares by this order. */
enum pm_sigma_level {
	PM_SIGMA_INFORMATIONAL,
	PM_SIGMA_LOW,
	PM_SIGMA_MEDIUM,
	PM_SIGMA_HIGH,
	PM_SIGMA_CRITICAL,
};

/* "informational" ... "critical"; -EINVAL for anything else. */
int pm_sigma_level_parse(const char *name);
const char *pm_sigma_level_name(enum pm_sigma_level level);

/* What a detection event reports of the rule that fired. Strings are
 * NUL-terminated as read from the rule (any bytes: the renderers escape). */
struct pm_sigma_rule_info {
	const char *id;          /* the rule's `id` (a UUID in SigmaHQ) */
	const char *title;
	const char *status;      /* "" when absent */
	const char *description; /* "" when absent */
	const char *author;      /* "" when absent */
	enum pm_sigma_level level;
	const char *const *tags; /* n_tags entries */
	size_t n_tags;
	const char *const *references;
	size_t n_references;
	const char *file;        /* the path it was loaded from */
	unsigned line;           /* line of its first key in that file */
};

/*
 * The facts of one process start, as Sigma's process_creation fields
 * (docs/detections.md maps each to procmon's events). A NULL string is a
 * fact procmon does not have for this event: it matches only `null` and
 * fails `|exists`. Strings need not be valid UTF-8.
 */
struct pm_sigma_event {
	const char *image;              /* Image: binary_path */
	const char *command_line;       /* CommandLine: argv joined by ' ', argv[0] first */
	const char *parent_image;       /* ParentImage */
	const char *parent_command_line;/* ParentCommandLine */
	const char *user;               /* User: user name of the ruid */
	const char *current_directory;  /* CurrentDirectory: cwd at exec */
	const char *original_file_name; /* OriginalFileName: the executed file's name */
	int64_t process_id;             /* ProcessId, -1 unknown */
	int64_t parent_process_id;      /* ParentProcessId, -1 unknown */
	int64_t logon_id;               /* LogonId: auid, -1 unknown */
	int64_t uid, euid;              /* -1 unknown */
};

/* Counts and problems of one load. */
struct pm_sigma_problem {
	char *file;
	unsigned line;
	char *reason;
};
struct pm_sigma_report {
	size_t loaded;      /* usable process_creation rules */
	size_t skipped;     /* other logsource: not errors */
	size_t unsupported; /* process_creation rules that could not be used */
	size_t bad_files;   /* not YAML, not Sigma, unsafe (owner/mode), unreadable */
	size_t below_level; /* usable, but below min_level: not loaded */
	struct pm_sigma_problem *problems; /* one per unsupported rule or bad file */
	size_t n_problems;
};
void pm_sigma_report_free(struct pm_sigma_report *rep);

struct pm_sigma_rules;

/*
 * Load every rule in paths (files, or directories read recursively for
 * *.yml / *.yaml), keep those of min_level or above, and compile them.
 * check_owner: refuse files and directories writable by anyone but root
 * (or owned by another user), as for the configuration (the daemon and
 * --check-rules as root set it; --replay by a user may not).
 * Returns 0 and *out (possibly holding zero rules), or -errno when
 * nothing could be compiled at all (memory, Hyperscan failure); rep is
 * filled in either way.
 */
int pm_sigma_load(const char *const *paths, size_t n_paths, enum pm_sigma_level min_level,
		  bool check_owner, struct pm_sigma_rules **out, struct pm_sigma_report *rep);
void pm_sigma_free(struct pm_sigma_rules *rules);
size_t pm_sigma_count(const struct pm_sigma_rules *rules);

/*
 * Scratch space for matching; one per thread that calls pm_sigma_match.
 * Made for a given rule set (Hyperscan scratch is per database).
 */
struct pm_sigma_scratch;
int pm_sigma_scratch_new(const struct pm_sigma_rules *rules, struct pm_sigma_scratch **out);
void pm_sigma_scratch_free(struct pm_sigma_scratch *s);

/*
 * Evaluate every rule against ev. Calls hit(info, ctx) once per rule that
 * matches, in load order. Returns the number of rules that matched, or
 * -errno.
 */
typedef void (*pm_sigma_hit_fn)(const struct pm_sigma_rule_info *info, void *ctx);
int pm_sigma_match(const struct pm_sigma_rules *rules, struct pm_sigma_scratch *scratch,
		   const struct pm_sigma_event *ev, pm_sigma_hit_fn hit, void *ctx);

/* Added by the engine (docs/detections.md) */

/* Sigma's name of the i-th field the engine knows (the mapping table's
 * rows, in pm_sigma_event's order), or NULL past the last. */
const char *pm_sigma_field_name(unsigned i);

/* Whether the Hyperscan prefilter is in use (false: no SSSE3, or
 * PROCMON_SIGMA_PREFILTER=0; every rule is then evaluated exactly). */
bool pm_sigma_prefiltered(const struct pm_sigma_rules *rules);

/* Regex evaluations that stopped at PCRE2's limits (counted as no match). */
uint64_t pm_sigma_regex_errors(const struct pm_sigma_scratch *s);

#endif
