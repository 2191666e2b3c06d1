/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Files procmon opens as root, checked the way sshd's StrictModes checks a
 * user's key files (contract section 9). A file decides either where the
 * events go (output, spool) or what the sensor watches (configuration), so
 * nobody but root may have planted, replaced or be able to write it:
 *
 * - the file and every directory above it are owned by root (or by
 *   procmon's own effective uid) and writable by nobody else; a directory
 *   others can write is accepted only when it is sticky and root-owned
 *   (/tmp), since there nobody can rename or remove root's entries;
 * - the output is opened without following a link in its last component,
 *   must be a regular file with a single link (a hard link to /etc/shadow
 *   in /tmp is owned by root too), and is never left readable by others.
 *
 * On refusal the functions return -EPERM and write into `why` a sentence
 * naming the offending path and the fix.
 */
#ifndef PROCMON_SAFE_FILE_H
#define PROCMON_SAFE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Trust root alone, not procmon's own uid as well: --check-config run by
 * another user judges the file as procmon running as root would. */
extern bool pm_safe_judge_as_root;

/* Open (creating 0600 if absent) FILE for appending events, read-write:
 * an fd, or -errno. */
int pm_safe_open_append(const char *path, char *why, size_t whylen);

/*
 * Check a file procmon has opened to read (its configuration), given its
 * path and fstat: 0 or -EPERM. A non-regular file (a pipe) is checked by
 * owner and mode alone.
 */
int pm_safe_check_read(const char *path, const struct stat *st, char *why, size_t whylen);

/* Check directory DIR and every directory above it: 0, -EPERM or -errno. */
int pm_safe_check_dir_chain(const char *dir, char *why, size_t whylen);

#endif
