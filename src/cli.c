// SPDX-License-Identifier: GPL-2.0
/*
 * procmon's command line: the options, and the configuration they name
 * with the options that override it.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "render/compact.h"
#include "rules_cli.h"
#include "version.h" /* generated: build/version.h */

static const char usage[] =
	"usage: procmon [--config FILE] [--format bombini|limacharlie|compact] [--output FILE] [-v]\n"
	"               [--nats URL] [--color=never|auto|always]\n"
	"       procmon --check-config FILE [--print-config]\n"
	"       procmon [--config FILE] [--format NAME] [--output FILE] --print-config\n"
	"       procmon --check-rules PATH...\n"
	"       procmon --replay FILE.jsonl --rules PATH...\n"
	"       procmon --version | --help\n"
	"\n"
	"Reports process activity on this host as one JSON object per line.\n"
	"\n"
	"  --config FILE   YAML configuration (default: the built-in config/procmon.yaml)\n"
	"  --format NAME   output schema: bombini (default) or limacharlie; or compact,\n"
	"                  one short line per event for people (the fleet output\n"
	"                  then carries the bombini JSON)\n"
	"  --color WHEN    compact lines in colour: auto (default: when stdout is a\n"
	"                  terminal), always or never\n"
	"  --output FILE   append events to FILE (created 0600) instead of stdout;\n"
	"                  - or stdout: stdout, none: no local output (with --nats)\n"
	"  --nats URL      also publish every event to NATS JetStream at URL (docs/fleet.md)\n"
	"  --check-config FILE  check FILE and exit (no root, no BPF): prints 'FILE: ok'\n"
	"                  and exits 0, or names file:line:key and exits 2\n"
	"  --print-config  print the effective configuration (defaults filled in) as\n"
	"                  YAML procmon accepts, and exit\n"
	"  --check-rules PATH...  check Sigma rules (files, directories) and exit (no\n"
	"                  root, no BPF): file:line: reason per unusable rule, then\n"
	"                  the counts; exits 0 when every rule loaded, 2 otherwise\n"
	"  --replay FILE --rules PATH...  evaluate the rules over the ProcessExec\n"
	"                  events recorded in FILE (native format, - for stdin) and\n"
	"                  print the detections as JSON lines (docs/detections.md)\n"
	"  -v              debug logging to stderr\n"
	"  --version       print the version and exit\n"
	"  --help          print this help and exit\n"
	"\n"
	"Signals: SIGINT/SIGTERM flush and exit, SIGHUP reopens the output file and\n"
	"reloads the configuration.\n"
	"Exit status: 0 normal stop, 1 runtime or environment error, 2 bad usage or configuration.\n";

/* Returns -1 to go on, or the exit status. */
int pm_cli_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "nats", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "color", required_argument, NULL, 'K' },
		{ 0 },
	};
	int c;

	/* --check-rules, --replay: the rule author's commands, no daemon */
	c = pm_sigma_cli(argc, argv);
	if (c >= 0)
		return c;

	while ((c = getopt_long(argc, argv, "c:f:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->format = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'N':
			o->nats = optarg;
			break;
		case 'K':
			o->color = !strcmp(optarg, "auto") ? -1 : pm_color_choice(optarg, STDOUT_FILENO);
			if (o->color == -1 && strcmp(optarg, "auto")) {
				pm_log_error("--color: expected never, auto or always, got '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			pm_log_verbose = true;
			break;
		case 'V':
			printf("procmon %s\n", PROCMON_VERSION);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'C':
			o->check_config = optarg;
			break;
		case 'P':
			o->print_config = true;
			break;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pm_log_error("unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (o->check_config && o->config) {
		pm_log_error("--check-config FILE and --config FILE: give one of them");
		return EXIT_USAGE;
	}
	return -1;
}

/* The command line over the configuration file: --format, --output, --nats.
 * Returns -1 to go on, or the exit status (message logged). */
int pm_cli_apply_overrides(struct pm_config *cfg, const struct options *o)
{
	int err;

	if (o->format) {
		int format = pm_format_from_name(o->format, strlen(o->format));

		if (format < 0) {
			pm_log_error("--format: unknown format '%s' (bombini, limacharlie or compact)",
				     o->format);
			return EXIT_USAGE;
		}
		cfg->format = format;
	}
	if ((cfg->block[PM_BLOCK_CODE_IDENTITY].enabled || cfg->block[PM_BLOCK_ONGOING_IDENTITY].enabled) && !cfg->hash)
		pm_log_warn("code_identity and ongoing_identity report hashes: without "
			    "ima_hash: true they report nothing");
	/* the words output: takes in the file: stdout, -, none or a path */
	if (o->output && (err = pm_config_set_output(cfg, o->output))) {
		if (err == -ENOMEM)
			return EXIT_RUNTIME;
		pm_log_error("--output: expected stdout, -, none or a file path, got ''");
		return EXIT_USAGE;
	}
	/* fleet output: --nats URL enables it with that server */
	if (o->nats) {
		const char *bad = pm_nats_check_url(o->nats);

		if (bad) {
			pm_log_error("--nats '%s': %s", o->nats, bad);
			return EXIT_USAGE;
		}
		if (pm_nats_config_set_server(&cfg->nats, o->nats))
			return EXIT_RUNTIME;
		cfg->nats.enabled = true;
	}
	if (cfg->output_none && !cfg->nats.enabled) {
		pm_log_error("%s: output: none without nats.enabled: true (or --nats URL) "
			     "would send the events nowhere",
			     o->config ? o->config : "configuration");
		return EXIT_USAGE;
	}
	return -1;
}

/* Configuration file (or built-in default), then command-line overrides. */
int pm_cli_load_config(struct pm_config *cfg, const struct options *o)
{
	char err[PM_CONFIG_ERR_MAX];
	/* --check-config by a user other than root: the file's safety (what
	 * root would refuse) is a warning, its syntax still the verdict */
	int ret = o->check_config ? pm_config_check_file(cfg, o->check_config, geteuid() != 0,
							 err, sizeof(err))
		  : o->config ? pm_config_load_file(cfg, o->config, err, sizeof(err))
			      : pm_config_load_default(cfg, err, sizeof(err));

	if (ret) {
		pm_cli_log_lines(NULL, err);
		return EXIT_USAGE;
	}
	return pm_cli_apply_overrides(cfg, o);
}

/*
 * Started with a standard descriptor closed (`procmon >&-`), the first
 * file procmon opens would become fd 0, 1 or 2, and events or messages
 * would go into it. Fill the gaps with /dev/null; say whether stdout was
 * there at all (events to a closed stdout would be lost, not written).
 */
void pm_cli_log_lines(const char *prefix, const char *text)
{
	for (const char *line = text, *end; *line; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		pm_log_error("%s%.*s", prefix ? prefix : "", (int)(end - line), line);
	}
}

bool pm_cli_stdout_was_open(void)
{
	bool open_1 = true;

	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == STDOUT_FILENO)
			open_1 = false;
		/* the lowest free descriptor: this one */
		if (open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			abort();
	}
	return open_1;
}
