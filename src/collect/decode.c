// SPDX-License-Identifier: GPL-2.0
/* Pure decoders of the kernel's record fields (decode.h). */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include "collect/decode.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/caps.h"
#include "procmon/events.h"

/* include/uapi/linux/personality.h */
#define PER_CLEAR_ON_SETID (0x0400000 | 0x0040000 | 0x0200000 | 0x0100000)

char *pm_join_args(const char *argv, size_t len, size_t *out_len)
{
	const char *first_nul = memchr(argv, '\0', len);
	size_t skip = first_nul ? (size_t)(first_nul - argv) + 1 : len;
	size_t n = len - skip;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	memcpy(out, argv + skip, n);
	/* the terminator of the last argument is not a separator */
	if (n && out[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[n] = '\0';
	*out_len = n;
	return out;
}

size_t pm_trim_empty_args(const char *argv, size_t len)
{
	/* keep the terminator of the last non-empty argument */
	while (len >= 2 && argv[len - 1] == '\0' && argv[len - 2] == '\0')
		len--;
	return len;
}

bool pm_exe_is_pseudo(const char *exe)
{
	static const char deleted[] = " (deleted)";
	size_t n = strlen(exe), d = sizeof(deleted) - 1;

	if (exe[0] != '/' || n <= d + 1 || strcmp(exe + n - d, deleted))
		return false;
	return !memchr(exe + 1, '/', n - d - 1);
}

char *pm_argv0(const char *argv, size_t len, size_t *out_len)
{
	size_t n = strnlen(argv, len);
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	memcpy(out, argv, n);
	out[n] = '\0';
	*out_len = n;
	return out;
}

char *pm_build_path(const char *comps, size_t len, uint32_t flags)
{
	static const char deleted[] = " (deleted)";
	/* worst case: a '/' per component plus the suffix */
	char *out = malloc(len + 2 + sizeof(deleted)), *w;
	const char *ends[PM_PATH_DEPTH + 1];
	size_t n = 0;

	if (!out)
		return NULL;
	/* split on NULs; the walk wrote at most PM_PATH_DEPTH components */
	for (size_t i = 0; i < len && n < PM_PATH_DEPTH; i++)
		if (comps[i] == '\0')
			ends[n++] = comps + i;
	/*
	 * ends[i] is the NUL after component i, leaf first, so component i
	 * starts right after ends[i - 1]. A cut walk lacks the components
	 * nearest the root: print it as a relative path so nobody takes it
	 * for an absolute one (the event also says binary_path_truncated).
	 */
	w = out;
	for (size_t k = n; k-- > 0;) {
		const char *start = k ? ends[k - 1] + 1 : comps;
		size_t clen = ends[k] - start;

		if (w != out || !(flags & PM_EXEC_PATH_CUT))
			*w++ = '/';
		memcpy(w, start, clen);
		w += clen;
	}
	if (w == out && !(flags & PM_EXEC_PATH_CUT))
		*w++ = '/';
	*w = '\0';
	if (flags & (PM_EXEC_PATH_DELETED | PM_EXEC_PATH_PSEUDO))
		memcpy(w, deleted, sizeof(deleted));
	return out;
}

char *pm_fifo_path(const char *dir, size_t dir_len, uint32_t flags, const char *name,
		   size_t name_len)
{
	size_t nlen = name_len ? strnlen(name, name_len) : 0;
	char *base, *out;

	if (nlen && name[0] == '/')
		return strndup(name, nlen);
	/* the directory, not the FIFO, was walked: never " (deleted)" here */
	base = pm_build_path(dir, dir_len, name_len ? flags & PM_EXEC_PATH_CUT : flags);
	if (!base || !nlen)
		return base;
	out = malloc(strlen(base) + 1 + nlen + 1);
	if (out)
		sprintf(out, "%s%s%.*s", base, strcmp(base, "/") ? "/" : "", (int)nlen, name);
	free(base);
	return out;
}

static bool name_redacted(const char *name, const struct pm_strlist *globs)
{
	for (size_t i = 0; i < globs->n; i++)
		if (!fnmatch(globs->v[i], name, FNM_CASEFOLD)) /* db_password is one too */
			return true;
	return false;
}

char *pm_redact_env(const char *env, size_t len, const struct pm_strlist *globs,
		    size_t *out_len)
{
	static const char redacted[] = "<redacted>";
	/* worst case: every string is "N=" and gains the marker */
	char *out = malloc(len + (len / 2 + 1) * sizeof(redacted) + 1), *w = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		const char *s = env + i, *nul = memchr(s, '\0', len - i);
		size_t n = nul ? (size_t)(nul - s) : len - i; /* the last may lack its NUL */
		const char *eq = memchr(s, '=', n);
		bool redact = false;
		size_t keep = n;

		if (eq) {
			char *name = strndup(s, eq - s);

			if (!name) {
				free(out);
				return NULL;
			}
			redact = name_redacted(name, globs);
			free(name);
		}
		if (redact) /* "NAME=" stays, the value goes */
			keep = eq + 1 - s;
		memcpy(w, s, keep);
		w += keep;
		if (redact) {
			memcpy(w, redacted, sizeof(redacted) - 1);
			w += sizeof(redacted) - 1;
		}
		*w++ = '\0';
		i += n + 1;
	}
	*out_len = w - out;
	return out;
}

unsigned pm_secureexec_flags(const struct pm_secureexec_facts *f)
{
	unsigned flags = 0;

	/*
	 * Bombini's rule, from the credentials the exec produced: per_clear
	 * says the kernel applied a privilege change (bprm_fill_uid() or file
	 * capabilities); a differing effective id says which. Root running a
	 * set-user-ID-root binary changes nothing and gets no flag.
	 */

	bool setid_file = (f->mode & S_ISUID) || (f->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);

	if (f->per_clear & PER_CLEAR_ON_SETID) {
		if (f->euid != f->uid)
			flags |= PM_SECUREEXEC_SETUID;
		if (f->egid != f->gid)
			flags |= PM_SECUREEXEC_SETGID;
		/*
		 * No id changed and no set-id bit explains per_clear: the only
		 * other source is capabilities gained from the file. Except for
		 * root, whose capabilities come from being root: one that had
		 * dropped some (capsh --caps=) regains them at any exec.
		 */
		if (!flags && !setid_file && f->uid != 0 && f->euid != 0)
			flags |= PM_SECUREEXEC_FILE_CAPS;
	}
	if (pm_exec_fileless(f->nlink, f->exec_flags))
		flags |= PM_SECUREEXEC_FILELESS_EXEC;
	return flags;
}

bool pm_exec_fileless(uint32_t nlink, uint32_t exec_flags)
{
	/* a memfd or other pseudo file never had a link; a file run from an
	 * fd had none left when it was run */
	return nlink == 0 && (exec_flags & (PM_EXEC_PATH_PSEUDO | PM_EXEC_VIA_FD));
}

