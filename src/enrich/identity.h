/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CodeIdentity: which (file path, SHA-256) pairs have been seen executing.
 * A bounded set: when full it starts over, so a pair may be reported again
 * (never missed for good), and memory stays flat however many binaries a
 * host runs.
 */
#ifndef PROCMON_IDENTITY_H
#define PROCMON_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define PM_IDENTITY_MAX 65536

struct pm_identities;

struct pm_identities *pm_identities_new(size_t max);
void pm_identities_free(struct pm_identities *s);

/* True the first time (path, hash) is seen (and remembers it), false
 * after. Also true when it cannot be remembered (out of memory): reported
 * again rather than lost. */
bool pm_identity_first(struct pm_identities *s, const char *path, const char *hash);

#endif
