/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's parts, by job: the command line (cli.c), one path from a
 * configuration to the running state, at start-up and on SIGHUP
 * (apply.c), and the main loop (main.c).
 */
#ifndef PROCMON_DAEMON_H
#define PROCMON_DAEMON_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/event_id.h"
#include "collect/loader.h"
#include "collect/reader.h"
#include "config/config.h"
#include "enrich/detections.h"
#include "output/fleet.h"
#include "output/metrics.h"
#include "output/sink.h"
#include "render/compact.h"
#include "render/json.h"
#include "render/render.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* Room for every error of a configuration file, a line each. */
#define PM_CONFIG_ERR_MAX 8192

/* The command line. */
struct options {
	const char *config;
	const char *format;
	const char *output;
	const char *nats; /* --nats URL */
	int color; /* --color: -1 auto, 0 never, 1 always */
	const char *check_config; /* --check-config FILE */
	bool print_config;
};

struct daemon {
	struct pm_config cfg;
	struct pm_sink sink;
	struct pm_loader *loader;
	struct ring_buffer *rb;
	struct pm_reader reader;
	struct pm_render_ctx render;
	pm_renderer render_event;
	char hostname[256];
	struct json_buf line;
	/* --format compact: the native line made short, for the local output */
	struct pm_buf compact_line;
	struct pm_compact_opts compact;
	struct pm_users *compact_users; /* its user names; NULL until asked for */
	/* fleet output and identity (contract section 8) */
	struct pm_fleet *fleet; /* NULL: NATS off */
	struct pm_event_ids ids;
	char event_id[37];
	const char *event_type[PM_EVENT_TYPE_END]; /* each type's name: the fleet's subject token */
	/* metrics (src/output/metrics.h): NULL when off; the counters always */
	struct pm_metrics *metrics;
	uint64_t written[PM_EVENT_TYPE_END]; /* events queued for output, by type */
	uint64_t kernel_lost[PM_DROP_MAX];   /* read at most once a second */
	uint64_t kernel_lost_read_ns;
	bool attached;
	uint64_t shaped_out; /* events output_shaping left out */
	bool reseeding; /* a reload changed the binary patterns */
	const struct options *opts; /* the command line, for reloads and messages */
	struct pm_detections det; /* Sigma rules (contract section 10) */
	uint64_t det_reported;    /* Detection events at the last periodic report */
};

/* ---- cli.c ---- */

/* Returns -1 to go on, or the exit status. */
int pm_cli_parse(int argc, char **argv, struct options *o);
/* The configuration file (or the built-in default), then the command
 * line over it. -1 to go on, or the exit status (message logged). */
int pm_cli_load_config(struct pm_config *cfg, const struct options *o);
/* The command line over a configuration: --format, --output, --nats. */
int pm_cli_apply_overrides(struct pm_config *cfg, const struct options *o);
/* Each line of text (a configuration's errors, say) as an error message
 * of its own, after prefix. */
void pm_cli_log_lines(const char *prefix, const char *text);
/* Fill closed standard descriptors with /dev/null; whether stdout was open. */
bool pm_cli_stdout_was_open(void);

/* ---- apply.c ---- */

enum pm_seed {
	PM_SEED_NONE,  /* process_filter's verdicts stay */
	PM_SEED_FIRST, /* at start-up, for the processes the /proc scan found */
	PM_SEED_AGAIN, /* after a reload changed the binary patterns */
};

/*
 * What of d->cfg can change while procmon runs, put in force: the
 * renderer and its settings, the output's rotation and process_filter's
 * verdicts for the processes known. One path for the start and SIGHUP.
 */
void pm_daemon_apply(struct daemon *d, enum pm_seed seed);
/* SIGHUP: read the configuration again (contract 3). */
void pm_daemon_reload(struct daemon *d);

#endif
