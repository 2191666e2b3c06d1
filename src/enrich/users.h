/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User names by uid, for LimaCharlie's USER_NAME. Read from /etc/passwd
 * (not through NSS: a sensor must not wait on a directory server for
 * every event) once at start.
 */
#ifndef PROCMON_USERS_H
#define PROCMON_USERS_H

#include <stdint.h>
#include <stdio.h>

struct pm_users;

/* The users of a passwd-format stream; NULL on allocation failure. */
struct pm_users *pm_users_parse(FILE *passwd);
/* The users of /etc/passwd (none when it cannot be read). */
struct pm_users *pm_users_load(void);
void pm_users_free(struct pm_users *u);

/* The name of uid, or NULL when it has none. */
const char *pm_user_name(const struct pm_users *u, uint32_t uid);

#endif
