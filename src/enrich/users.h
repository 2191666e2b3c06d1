/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User names by uid, for LimaCharlie's USER_NAME, through NSS
 * (getpwuid_r: local files, LDAP or SSSD users alike), each answer cached
 * (10 minutes; "no such user" 1 minute; at most 4096 uids), so a
 * directory server is asked at most once per uid and period, never per
 * event. A lookup that fails is not cached; the last good answer stays.
 * The lookup runs on the main loop: a directory that hangs delays events
 * by its NSS timeout, once per uid and period (sssd answers from its own
 * cache).
 */
#ifndef PROCMON_USERS_H
#define PROCMON_USERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct pm_users;

/* The users of a passwd-format stream, as a fixed table (tests); NULL on
 * allocation failure. */
struct pm_users *pm_users_parse(FILE *passwd);
/* The host's users, through NSS; NULL on allocation failure. */
struct pm_users *pm_users_load(void);
void pm_users_free(struct pm_users *u);

/* The name of uid, or NULL when it has none. */
const char *pm_user_name(const struct pm_users *u, uint32_t uid);

#endif
