// SPDX-License-Identifier: GPL-2.0
/*
 * --print-config: the effective configuration as YAML, every key spelled
 * out with its default filled in. The output is itself a configuration
 * procmon accepts and reads back as the same pm_config, so printing what
 * --print-config printed gives the same text again (tests/integration/
 * test_check_config.py).
 *
 * Strings are written double-quoted with every byte below 0x20, '"' and
 * '\' escaped, so no path or glob can change the YAML's structure.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>

#include "detect/sigma.h"
#include "render/names.h"

static void quoted(FILE *f, const char *s)
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

static void strlist(FILE *f, const struct pm_strlist *l)
{
	fputc('[', f);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		quoted(f, l->v[i]);
	}
	fputc(']', f);
}

static void idlist(FILE *f, const struct pm_idlist *l)
{
	fputc('[', f);
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s%u", i ? ", " : "", l->v[i]);
	fputc(']', f);
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

/* A hook; id_key is "uid_filter"/"euid", "gid_filter"/"egid", or NULL
 * for a hook without a cred_filter. */
static void hook(FILE *f, const char *name, const struct pm_hook *h, const char *filter,
		 const char *id_key)
{
	const struct pm_cred_filter *c = &h->cred_filter;
	bool first = true;

	fprintf(f, "%s:\n  enabled: %s\n", name, tf(h->enabled));
	if (!filter)
		return;
	fprintf(f, "  cred_filter:\n    %s:\n      %s: ", filter, id_key);
	idlist(f, &c->euid);
	fputs("\n    cap_filter:\n      effective: [", f);
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
	fprintf(f, "]\n      deny_list: %s\n", tf(c->cap_deny_list));
}

static void detections(FILE *f, const struct pm_detections_config *d)
{
	fputs("detections:\n", f);
	/* absent: on when a rules path holds rules (no YAML value says that) */
	if (d->enabled == PM_DETECT_AUTO)
		fputs("  # enabled: on when a rules path holds rules\n", f);
	else
		fprintf(f, "  enabled: %s\n", tf(d->enabled));
	fputs("  rules: ", f);
	strlist(f, &d->rules);
	fprintf(f, "\n  min_level: %s\n", pm_sigma_level_name(d->min_level));
}

/* A key: "value" line of the nats block, at `indent` spaces. */
static void nats_str(FILE *f, int indent, const char *key, const char *v)
{
	fprintf(f, "%*s%s: ", indent, "", key);
	quoted(f, v ? v : "");
	fputc('\n', f);
}

static void nats(FILE *f, const struct pm_nats_config *n)
{
	fprintf(f, "nats:\n  enabled: %s\n  servers: [", tf(n->enabled));
	for (size_t i = 0; i < n->n_servers; i++) {
		fputs(i ? ", " : "", f);
		quoted(f, n->servers[i]);
	}
	fputs("]\n", f);
	nats_str(f, 2, "stream", n->stream);
	fprintf(f, "  create_stream: %s\n", tf(n->create_stream));
	nats_str(f, 2, "subject_prefix", n->subject_prefix);
	nats_str(f, 2, "spool_dir", n->spool_dir);
	fprintf(f, "  spool_max_mb: %llu\n", (unsigned long long)n->spool_max_mb);
	fprintf(f, "  batch_ms: %u\n", n->batch_ms);
	nats_str(f, 2, "token", n->token);
	nats_str(f, 2, "user", n->user);
	nats_str(f, 2, "password", n->password);
	nats_str(f, 2, "creds", n->creds);
	fputs("  tls:\n", f);
	nats_str(f, 4, "ca", n->tls_ca);
	nats_str(f, 4, "cert", n->tls_cert);
	nats_str(f, 4, "key", n->tls_key);
}

int pm_config_print(FILE *f, const struct pm_config *cfg)
{
	const struct pm_process_filter *pf = &cfg->process_filter;

	fputs("# procmon --print-config: the effective configuration, defaults filled in\n", f);
	fprintf(f, "format: %s\n", cfg->format == PM_FORMAT_LIMACHARLIE ? "limacharlie" : "bombini");
	fputs("output: ", f);
	quoted(f, cfg->output_none ? "none" : cfg->output ? cfg->output : "stdout");
	fprintf(f, "\nima_hash: %s\nring_buffer_kb: %u\n", tf(cfg->hash), cfg->ring_buffer_kb);
	fprintf(f, "output_max_mb: %u\noutput_backups: %u\noutput_compress: %s\n",
		cfg->output_max_mb, cfg->output_backups, tf(cfg->output_compress));
	fprintf(f, "caps_format: %s\n", cfg->caps_hex ? "hex" : "names");
	fputs("output_shaping:\n  allow: ", f);
	strlist(f, &cfg->shaping_allow);
	fputs("\n  deny: ", f);
	strlist(f, &cfg->shaping_deny);
	fputc('\n', f);
	if (cfg->metrics_listen) {
		fputs("metrics:\n  listen: ", f);
		quoted(f, cfg->metrics_listen);
		fputc('\n', f);
	} else {
		fputs("metrics: {}\n", f);
	}
	nats(f, &cfg->nats);
	detections(f, &cfg->detections);

	hook(f, "setuid", &cfg->setuid, "uid_filter", "euid");
	hook(f, "setgid", &cfg->setgid, "gid_filter", "egid");
	hook(f, "capset", &cfg->capset, "uid_filter", "euid");
	hook(f, "prctl", &cfg->prctl, NULL, NULL);
	hook(f, "create_user_ns", &cfg->create_user_ns, "uid_filter", "euid");
	hook(f, "ptrace_access_check", &cfg->ptrace_access_check, NULL, NULL);
	fputs("process_filter:\n  uid: ", f);
	idlist(f, &pf->uid);
	fputs("\n  euid: ", f);
	idlist(f, &pf->euid);
	fputs("\n  auid: ", f);
	idlist(f, &pf->auid);
	fputs("\n  binary:\n    name: ", f);
	strlist(f, &pf->name);
	fputs("\n    path: ", f);
	strlist(f, &pf->path);
	fputs("\n    prefix: ", f);
	strlist(f, &pf->prefix);
	fprintf(f, "\n  deny_list: %s\n", tf(pf->deny_list));

	hook(f, "existing_process", &cfg->existing_process, NULL, NULL);
	hook(f, "code_identity", &cfg->code_identity, NULL, NULL);
	hook(f, "ongoing_identity", &cfg->ongoing_identity, NULL, NULL);
	hook(f, "module_load", &cfg->module_load, NULL, NULL);
	hook(f, "named_pipe", &cfg->named_pipe, NULL, NULL);
	hook(f, "process_environment", &cfg->process_environment, NULL, NULL);
	fputs("  redact: ", f);
	strlist(f, &cfg->redact);
	fputc('\n', f);
	hook(f, "remote_thread", &cfg->remote_thread, NULL, NULL);
	hook(f, "thread_injection", &cfg->thread_injection, NULL, NULL);
	hook(f, "sensitive_process_access", &cfg->sensitive_process_access, NULL, NULL);
	fputs("  processes: ", f);
	strlist(f, &cfg->sensitive_processes);
	fputc('\n', f);
	hook(f, "namespaces", &cfg->namespaces, NULL, NULL);
	return fflush(f) || ferror(f) ? -EIO : 0;
}
