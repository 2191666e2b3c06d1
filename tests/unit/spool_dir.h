/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spool directories for the fleet output's unit tests: one temporary base
 * per group (spool_base_setup / spool_base_teardown, cmocka's group
 * fixtures), a fresh directory under it for each spool a test opens.
 */
#ifndef PROCMON_TEST_SPOOL_DIR_H
#define PROCMON_TEST_SPOOL_DIR_H

#include <stdio.h>
#include <stdlib.h>

static char spool_base[] = "/tmp/procmon-test-spool-XXXXXX";
static char spool_dir[128];
static int spool_dirs;

static int spool_base_setup(void **state)
{
	(void)state;
	return mkdtemp(spool_base) ? 0 : -1;
}

static int spool_base_teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool_base);
	return system(cmd);
}

/* A directory no spool has used yet (not created: the spool makes it). */
static const char *fresh_spool_dir(void)
{
	snprintf(spool_dir, sizeof(spool_dir), "%s/s%d", spool_base, spool_dirs++);
	return spool_dir;
}

#endif
