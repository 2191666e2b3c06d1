// SPDX-License-Identifier: GPL-2.0
/*
 * --print-config: the effective configuration as YAML, every key spelled
 * out with its default filled in. The output is itself a configuration
 * procmon accepts and reads back as the same pm_config, so printing what
 * --print-config printed gives the same text again (tests/integration/
 * test_check_config.py).
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

int pm_config_print(FILE *f, const struct pm_config *cfg)
{
	const struct pm_yaml_field *nats, *repeat;

	fputs("# procmon --print-config: the effective configuration, defaults filled in\n", f);
	fprintf(f, "format: %s\n", cfg->format == PM_FORMAT_LIMACHARLIE ? "limacharlie"
				    : cfg->format == PM_FORMAT_COMPACT   ? "compact"
									 : "bombini");
	fputs("output: ", f);
	pm_yaml_print_str(f, cfg->output_none ? "none" : cfg->output ? cfg->output : "stdout");
	fprintf(f, "\nima_hash: %s\nring_buffer_kb: %u\n", tf(cfg->hash), cfg->ring_buffer_kb);
	repeat = pm_config_key("repeat_limit");
	fputs("repeat_limit:\n", f);
	pm_yaml_print_map(f, repeat->sub, (const char *)cfg + repeat->off, 2);
	fprintf(f, "output_max_mb: %u\noutput_backups: %u\noutput_compress: %s\n",
		cfg->output_max_mb, cfg->output_backups, tf(cfg->output_compress));
	fprintf(f, "caps_format: %s\n", cfg->caps_hex ? "hex" : "names");
	fputs("output_shaping:\n  allow: ", f);
	pm_yaml_print_strlist(f, &cfg->shaping_allow);
	fputs("\n  deny: ", f);
	pm_yaml_print_strlist(f, &cfg->shaping_deny);
	fputc('\n', f);
	if (cfg->metrics_listen) {
		fputs("metrics:\n  listen: ", f);
		pm_yaml_print_str(f, cfg->metrics_listen);
		fputc('\n', f);
	} else {
		fputs("metrics: {}\n", f);
	}
	nats = pm_config_key("nats");
	fputs("nats:\n", f);
	pm_yaml_print_map(f, nats->sub, (const char *)cfg + nats->off, 2);

	/* the blocks, as their schema rows read them (blocks.h) */
	for (size_t b = 1; b < PM_BLOCK_COUNT; b++) {
		fprintf(f, "%s:\n", pm_blocks[b].key);
		pm_yaml_print_map(f, pm_blocks[b].fields, (const char *)cfg + pm_blocks[b].at, 2);
	}
	return fflush(f) || ferror(f) ? -EIO : 0;
}
