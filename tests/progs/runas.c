/*
 * runas: exec a program with given real/effective/saved ids, no groups.
 *
 *   runas UID GID PATH [ARG...]
 *
 * setgroups(0), setresgid(GID x3), setresuid(UID x3), then execv(PATH) with
 * argv {PATH, ARG...}. Capabilities are dropped by the uid change (no
 * keepcaps), so anything the exec'd process has comes from the exec itself:
 * a setuid/setgid bit (secureexec SETUID/SETGID) or file capabilities
 * (secureexec FILE_CAPS).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(100);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: runas UID GID PATH [ARG...]\n");
		return 2;
	}
	uid_t uid = (uid_t)strtoul(argv[1], NULL, 10);
	gid_t gid = (gid_t)strtoul(argv[2], NULL, 10);

	/* Groups and gids first: after setresuid we may no longer change them. */
	if (setgroups(0, NULL) < 0)
		die("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		die("setresgid");
	if (setresuid(uid, uid, uid) < 0)
		die("setresuid");

	execv(argv[3], &argv[3]);
	die("execv");
}
