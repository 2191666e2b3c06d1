/* SPDX-License-Identifier: GPL-2.0 */
/*
 * procmon configuration (contract section 4): one YAML file, parsed with
 * libyaml. Every Bombini procmon.yaml loads unchanged. Unknown keys, wrong
 * types and unknown capability names are errors naming file:line and key.
 *
 * The built-in default configuration is config/procmon.yaml, compiled
 * into the binary (see pm_default_config_yaml), so the shipped file and
 * the defaults can never disagree.
 */
#ifndef PROCMON_CONFIG_H
#define PROCMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "output/fleet_config.h" /* struct pm_nats_config */
#include "procmon/events.h"
#include "config/yaml_schema.h"
#include "base/blocks.h"

enum pm_format {
	PM_FORMAT_BOMBINI = 0,
	PM_FORMAT_LIMACHARLIE = 1,
	PM_FORMAT_COMPACT = 2, /* the native line, compacted for people (render/compact.h) */
};

/* Bombini cred_filter: uid_filter OR cap_filter. */
struct pm_cred_filter {
	bool has_uid_filter;
	struct pm_idlist euid; /* uid_filter.euid (setuid) or gid_filter.egid (setgid) */
	bool has_cap_filter;
	uint64_t cap_effective; /* required capability bits */
	bool cap_any;           /* "ANY": any non-empty effective set */
	bool cap_deny_list;
};

struct pm_hook {
	bool enabled;
	struct pm_cred_filter cred_filter; /* only where Bombini has one */
};

/* Bombini process_filter: uid AND euid AND auid AND (name OR path OR prefix). */
struct pm_process_filter {
	bool present;
	struct pm_idlist uid, euid, auid;
	struct pm_strlist name, path, prefix;
	bool deny_list;
};

struct pm_config {
	enum pm_format format;
	char *output; /* NULL for stdout */
	bool hash;    /* ima_hash / hash */
	uint32_t ring_buffer_kb; /* ring buffer size, power of two, >= 64 */
	/* repeat_limit: per process and event type, at most repeat_events
	 * written per repeat_interval_ms; the rest summarised */
	uint32_t repeat_events, repeat_interval_ms;

	/* the blocks' switches and cred_filters, by enum pm_block
	 * (base/blocks.h); [PM_BLOCK_NONE] is always on */
	struct pm_hook block[PM_BLOCK_COUNT];
	struct pm_process_filter process_filter;
	struct pm_strlist redact; /* process_environment.redact globs */
	struct pm_strlist sensitive_processes; /* sensitive_process_access.processes */

	/* fleet output (contract section 8) */
	bool output_none; /* output: none (NATS only) */
	struct pm_nats_config nats;
	/* Operating it (contract section 9) */
	char *metrics_listen;    /* metrics.listen, "HOST:PORT"; NULL: no metrics */
	uint32_t output_max_mb;  /* rotate the output file past this size; 0: never */
	uint32_t output_backups; /* keep FILE.1 ... FILE.N */
	bool output_compress;    /* gzip the rotated files (FILE.N.gz) */

	bool caps_hex; /* caps_format: hex */

	/* output_shaping: event types left out of the output */
	struct pm_strlist shaping_allow, shaping_deny;
	bool shaping_drop[PM_EVENT_TYPE_END]; /* derived from the two lists */

	/* detections: Sigma rules on every ProcessExec (contract section 10) */
	struct pm_detections_config {
		/* PM_DETECT_AUTO when the key is absent: on when a rules path
		 * holds rules, and then no rule loading is not an error */
		int8_t enabled;
		struct pm_strlist rules; /* files or directories */
		uint8_t min_level;       /* enum pm_sigma_level */
	} detections;
};

enum { PM_DETECT_OFF = 0, PM_DETECT_ON = 1, PM_DETECT_AUTO = -1 };

/* enum pm_format of a format name (len bytes), or -EINVAL. */
int pm_format_from_name(const char *name, size_t len);

/* output: "stdout" or "-" (stdout), "none" (no local output) or a file
 * path; the same words in the file and on the command line. 0, -EINVAL
 * for "", -ENOMEM. */
int pm_config_set_output(struct pm_config *cfg, const char *s);

/* The text of config/procmon.yaml, embedded at build time. */
extern const char pm_default_config_yaml[];
extern const size_t pm_default_config_yaml_len;

/*
 * Parse YAML text into cfg (which is first reset to "everything off",
 * format bombini, stdout, no hash, ring_buffer_kb 8192). `name` is used in
 * messages. Returns 0, or -EINVAL with a message "NAME:LINE: key 'K': ..."
 * written to err. Warnings (accepted-but-unused Bombini keys) go through
 * pm_log_warn().
 */
int pm_config_parse(struct pm_config *cfg, const char *name, const char *text,
		    size_t len, char *err, size_t errlen);

/* Read and parse a file. -errno with a message on read failure. */
int pm_config_load_file(struct pm_config *cfg, const char *path, char *err,
			size_t errlen);
/*
 * As pm_config_load_file, for --check-config: when safety_warns, a file
 * another user could have written is parsed anyway and the refusal goes
 * through pm_log_warn() (a user checking a file of their own).
 */
int pm_config_check_file(struct pm_config *cfg, const char *path, bool safety_warns,
			 char *err, size_t errlen);

/* Write cfg as YAML that pm_config_parse() accepts and reads back as cfg
 * (--print-config): every key, defaults filled in. 0 or -errno. */
int pm_config_print(FILE *f, const struct pm_config *cfg);

/* The built-in default (config/procmon.yaml). */
int pm_config_load_default(struct pm_config *cfg, char *err, size_t errlen);

void pm_config_free(struct pm_config *cfg);

/* The top-level row of the schema for key, or NULL. */
const struct pm_yaml_field *pm_config_key(const char *key);

/*
 * A SIGHUP's decision, before anything changes: what of next only a
 * restart applies takes old's running value again (swapped, so freeing
 * next frees what old had), and its key is appended to `restart`
 * ("nats, setuid.enabled"): the keys of fixed settings (the output's
 * path, ima_hash, ring_buffer_kb, metrics, nats) that differ, and each
 * block switch its row's reload policy keeps (blocks.h).
 */
void pm_config_reload_plan(struct pm_config *old, struct pm_config *next, char *restart,
			   size_t len);

/* 1: a block on in cfg lists `need` (a BPF program or switch), 0: only
 * blocks that are off list it, -1: no block does. */
int pm_config_needs(const struct pm_config *cfg, const char *need);

/* Whether everything block b needs is loaded when cfg is running. */
bool pm_config_block_loaded(const struct pm_config *cfg, enum pm_block b);

#endif /* PROCMON_CONFIG_H */
