// SPDX-License-Identifier: GPL-2.0
/*
 * One path from a configuration to the running state: pm_daemon_apply()
 * at start-up and after a SIGHUP, which first decides, comparing the two
 * configurations (pm_config_reload_plan), what a reload may change.
 */
#include "daemon.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collect/filter.h"
#include "collect/proc_cache.h"
#include "enrich/users.h"
#include "log.h"

#define SWAP(a, b)                             \
	do {                                   \
		__typeof__(a) swap_tmp_ = (a); \
		(a) = (b);                     \
		(b) = swap_tmp_;               \
	} while (0)

/*
 * The key that makes process atoms this host's: SHA-256 of the machine id
 * and the boot id. Atoms are exec_ids (unique per boot) XOR this, so two
 * hosts never share an atom and one host's atoms stay unique.
 */
static void host_atom_key(uint8_t key[16])
{
	static const char *const files[] = { "/etc/machine-id", "/proc/sys/kernel/random/boot_id" };
	unsigned char digest[EVP_MAX_MD_SIZE];
	char text[256] = "procmon-atom";
	size_t n = strlen(text);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "re");

		if (f) {
			n += fread(text + n, 1, sizeof(text) - 1 - n, f);
			fclose(f);
		}
	}
	if (!EVP_Digest(text, n, digest, NULL, EVP_sha256(), NULL))
		memset(digest, 0, 16); /* atoms are then exec_ids: unique, not per host */
	memcpy(key, digest, 16);
}

/* process_filter's binary verdict for a process the /proc scan found. */
static void seed_binary_filter(const struct pm_process *p, void *arg)
{
	struct daemon *d = arg;
	const struct pm_image *img = p->image;
	bool match = img && pm_filter_binary_matches(&d->cfg.process_filter,
						     img->filename ?: "", img->binary_path ?: "");
	int err = pm_loader_seed_process(d->loader, p->pid, match, d->reseeding);

	if (err && err != -ESRCH)
		pm_log_debug("seeding the filter for pid %u: %s", p->pid, strerror(-err));
}

void pm_daemon_apply(struct daemon *d, enum pm_seed seed)
{
	const struct pm_config *cfg = &d->cfg;

	d->render.caps_hex = cfg->caps_hex;
	if (cfg->format == PM_FORMAT_LIMACHARLIE && !d->render.users) {
		host_atom_key(d->render.atom_key);
		d->render.users = pm_users_load();
	}
	d->render_event = cfg->format == PM_FORMAT_LIMACHARLIE ? pm_render_limacharlie
							       : pm_render_bombini;
	/* Sigma's User: names by uid, as LimaCharlie's USER_NAME */
	if (cfg->block[PM_BLOCK_DETECTIONS].enabled && !d->render.users)
		d->render.users = pm_users_load();
	d->det.users = d->render.users;
	/* each type's name in that format: the fleet output's subject token */
	for (uint32_t t = 0; t < PM_EVENT_TYPE_END; t++) {
		const struct pm_event_info *info = pm_event_info(t);
		const char *name = !info ? NULL
				   : cfg->format == PM_FORMAT_LIMACHARLIE ? info->limacharlie
									   : info->native;

		d->event_type[t] = name ? name : "unknown";
	}
	if (cfg->format == PM_FORMAT_COMPACT && !d->compact_users)
		d->compact.users = d->compact_users = pm_users_load();
	/* --color auto: colour when the output is stdout and that is a terminal */
	d->compact.color = d->opts->color >= 0 ? d->opts->color
					       : !cfg->output && pm_color_choice("auto", STDOUT_FILENO);
	pm_sink_set_rotation(&d->sink, (uint64_t)cfg->output_max_mb << 20, cfg->output_backups,
			     cfg->output_compress);
	if (seed != PM_SEED_NONE && pm_loader_binary_filter(d->loader)) {
		d->reseeding = seed == PM_SEED_AGAIN;
		pm_proc_cache_for_each(d->reader.cache, seed_binary_filter, d);
		d->reseeding = false;
	}
}

/*
 * SIGHUP: read the configuration again (contract 3). A file that does not
 * parse, or that root must refuse, changes nothing. Of a good one, what
 * lives in maps and user-space flags takes effect now: the filters, the
 * hook switches whose programs are loaded, the derived events' lists,
 * process_environment.redact, output_shaping, caps_format, format and the
 * output rotation. What was fixed when the BPF programs were loaded (their
 * rodata, which programs load, the ring buffer) or opened at start (the
 * output file's path, metrics, nats) keeps its running value, and one line
 * names those keys: they need a restart.
 */
void pm_daemon_reload(struct daemon *d)
{
	const struct options *o = d->opts;
	const char *name = o->config ? o->config : "the built-in configuration";
	struct pm_config next = { 0 }, *old = &d->cfg;
	char err[PM_CONFIG_ERR_MAX], restart[1024];
	size_t n;
	int ret;

	ret = o->config ? pm_config_load_file(&next, o->config, err, sizeof(err))
			: pm_config_load_default(&next, err, sizeof(err));
	if (ret) {
		pm_cli_log_lines("SIGHUP: configuration not reloaded, the running one stays: ", err);
		pm_config_free(&next);
		return;
	}
	if (pm_cli_apply_overrides(&next, o) >= 0) {
		pm_log_error("SIGHUP: configuration not reloaded, the running one stays");
		pm_config_free(&next);
		return;
	}
	/* what only a restart changes keeps its running value */
	pm_config_reload_plan(old, &next, restart, sizeof(restart));
	/* the kernel's filters: maps and each object's flags */
	ret = pm_loader_update_filters(d->loader, &next, err, sizeof(err));
	if (ret == -EBUSY) {
		/* the filters go together: none of them changes */
		n = strlen(restart);
		snprintf(restart + n, sizeof(restart) - n, "%s%.400s (so every filter stays as it was)",
			 n ? ", " : "", err);
		SWAP(next.process_filter, old->process_filter);
		for (size_t b = 0; b < PM_BLOCK_COUNT; b++)
			SWAP(next.block[b].cred_filter, old->block[b].cred_filter);
	} else if (ret) {
		pm_log_error("SIGHUP: %s: configuration not reloaded, the running one stays",
			     err);
		pm_config_free(&next);
		return;
	}
	/* in force: next becomes the configuration, the old one is freed
	 * (the reader and the derive rules read it where it is) */
	SWAP(*old, next);
	pm_config_free(&next);
	/* the rules are read again; a set that loads nothing keeps the old */
	pm_detections_reload(&d->det, &old->detections);
	pm_daemon_apply(d, ret ? PM_SEED_NONE : PM_SEED_AGAIN);
	if (restart[0])
		pm_log_warn("SIGHUP: %s: %s change only at a restart; running with the values "
			    "procmon started with",
			    name, restart);
	pm_log_info("SIGHUP: configuration reloaded from %s", name);
}
