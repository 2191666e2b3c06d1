// SPDX-License-Identifier: GPL-2.0
/*
 * Fleet output: the `nats:` block (defaults, checks of its values).
 */
#include "output/fleet_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int pm_nats_config_set_server(struct pm_nats_config *c, const char *url)
{
	char **v = calloc(1, sizeof(*v));

	if (!v || !(v[0] = strdup(url))) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_servers; i++)
		free(c->servers[i]);
	free(c->servers);
	c->servers = v;
	c->n_servers = 1;
	return 0;
}

int pm_nats_config_defaults(struct pm_nats_config *c)
{
	memset(c, 0, sizeof(*c));
	c->create_stream = true;
	c->spool_max_mb = PM_NATS_DEFAULT_SPOOL_MAX_MB;
	c->batch_ms = PM_NATS_DEFAULT_BATCH_MS;
	c->partitions = 1;
	c->batch_events = PM_NATS_DEFAULT_BATCH_EVENTS;
	c->batch_bytes = PM_NATS_DEFAULT_BATCH_BYTES;
	c->message = PM_NATS_MESSAGE_BATCH;
	c->compression = PM_NATS_COMPRESSION_ZSTD;
	if (pm_nats_config_set_server(c, PM_NATS_DEFAULT_SERVER) ||
	    set_str(&c->stream, PM_NATS_DEFAULT_STREAM) ||
	    set_str(&c->subject_prefix, PM_NATS_DEFAULT_PREFIX) ||
	    set_str(&c->spool_dir, PM_NATS_DEFAULT_SPOOL_DIR))
		return -ENOMEM;
	return 0;
}

void pm_nats_config_free(struct pm_nats_config *c)
{
	char **strs[] = { &c->stream,   &c->subject_prefix, &c->spool_dir, &c->token,
			  &c->user,     &c->password,       &c->creds,     &c->tls_ca,
			  &c->tls_cert, &c->tls_key };

	for (size_t i = 0; i < c->n_servers; i++)
		free(c->servers[i]);
	free(c->servers);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	memset(c, 0, sizeof(*c));
}

const char *pm_nats_check_url(const char *url)
{
	static const char *const schemes[] = { "nats://", "tls://" };
	const char *rest = NULL, *p;

	for (size_t i = 0; i < 2; i++)
		if (!strncmp(url, schemes[i], strlen(schemes[i])))
			rest = url + strlen(schemes[i]);
	if (!rest)
		return "not a NATS URL (nats://HOST[:PORT] or tls://HOST[:PORT])";
	if ((p = strrchr(rest, '@')))
		rest = p + 1; /* user:password@ */
	if (!*rest || *rest == ':' || *rest == '/')
		return "no host in the URL";
	for (p = rest; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return "the URL holds a space or a control character";
	p = strrchr(rest, ':');
	if (p && !strchr(p, ']')) {
		char *end;
		long port = strtol(p + 1, &end, 10);

		if (end == p + 1 || (*end && *end != '/') || port < 1 || port > 65535)
			return "bad port in the URL";
	}
	return NULL;
}

const char *pm_nats_check_stream(const char *name)
{
	if (!*name)
		return "a stream name must not be empty";
	if (strlen(name) > 255)
		return "a stream name is at most 255 bytes";
	for (const char *p = name; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p))
			return "a stream name cannot hold '.', '*', '>', '/', '\\' or whitespace";
	return NULL;
}

const char *pm_nats_check_prefix(const char *prefix)
{
	bool empty_token = true;

	if (!*prefix)
		return "the subject prefix must not be empty";
	for (const char *p = prefix; *p; p++) {
		if (*p <= ' ' || *p == 0x7f || *p == '*' || *p == '>')
			return "a subject prefix cannot hold '*', '>' or whitespace";
		if (*p == '.') {
			if (empty_token)
				return "a subject prefix cannot have an empty token ('..', or '.' at "
				       "either end)";
			empty_token = true;
		} else {
			empty_token = false;
		}
	}
	if (empty_token)
		return "a subject prefix cannot end with '.'";
	return NULL;
}

const char *pm_nats_check(const struct pm_nats_config *c)
{
	int auth = pm_nats_is_set(c->token) + (pm_nats_is_set(c->user) || pm_nats_is_set(c->password)) + pm_nats_is_set(c->creds);

	if (!c->n_servers)
		return "nats.servers: at least one server URL is needed";
	if (auth > 1)
		return "nats: at most one of token, user + password, creds";
	if (pm_nats_is_set(c->user) != pm_nats_is_set(c->password))
		return "nats: user and password go together";
	if (pm_nats_is_set(c->tls_cert) != pm_nats_is_set(c->tls_key))
		return "nats.tls: cert and key go together";
	if (c->spool_max_mb < 1)
		return "nats.spool_max_mb: at least 1";
	if (c->partitions < 1 || c->partitions > PM_NATS_MAX_PARTITIONS)
		return "nats.partitions: from 1 to 1024";
	return NULL;
}
