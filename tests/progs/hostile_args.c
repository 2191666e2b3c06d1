/*
 * hostile_args: exec /bin/true with arguments that stress the JSON writer
 * and the argv copy limit (32 KiB).
 *
 *   hostile_args mixed        newline, quote, backslash, control bytes,
 *                             invalid UTF-8, valid multi-byte UTF-8, an
 *                             empty argument
 *   hostile_args big          one 65536-byte argument
 *   hostile_args many-short   5000 short arguments (whole argv < 32 KiB)
 *   hostile_args many-long    5000 arguments of 9 bytes (whole argv 50 KB)
 *
 * Before the exec it prints every argv element, argv[0] included, as
 * "arg HEX" lines, so the test knows the exact bytes without keeping a
 * second copy of them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANY 5000
#define BIG (64 * 1024)

static const char *const mixed[] = {
	"new\nline",
	"dq\"uote",
	"back\\slash",
	"ctl\x01\x1b\x7f",
	"tab\tcr\r",
	"bad\xff\xfe",
	"overlong\xc0\xaf",
	"trunc\xe2\x82",       /* a 3-byte sequence cut after 2 bytes */
	"surrogate\xed\xa0\x80", /* UTF-8 of U+D800, invalid */
	"toobig\xf4\x90\x80\x80", /* above U+10FFFF */
	"ok-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", /* e-acute, euro, emoji */
	"",
	"end",
};

static void die(const char *what)
{
	perror(what);
	exit(100);
}

static char *xstrdup_printf(const char *fmt, int n)
{
	char *s;
	if (asprintf(&s, fmt, n) < 0)
		die("asprintf");
	return s;
}

/* The 64 KiB argument: a repeating 62-character alphabet, so a prefix check is meaningful. */
static char *big_arg(void)
{
	static const char alpha[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char *s = malloc(BIG + 1);
	if (!s)
		die("malloc");
	for (size_t i = 0; i < BIG; i++)
		s[i] = alpha[i % (sizeof(alpha) - 1)];
	s[BIG] = '\0';
	return s;
}

static char **build_argv(const char *mode)
{
	char **av = calloc(MANY + 2, sizeof(*av));
	int n = 0;

	if (!av)
		die("calloc");
	av[n++] = "true";
	if (!strcmp(mode, "mixed")) {
		for (size_t i = 0; i < sizeof(mixed) / sizeof(mixed[0]); i++)
			av[n++] = (char *)mixed[i];
	} else if (!strcmp(mode, "big")) {
		av[n++] = big_arg();
	} else if (!strcmp(mode, "many-short")) {
		for (int i = 1; i <= MANY; i++)
			av[n++] = xstrdup_printf("%d", i);
	} else if (!strcmp(mode, "many-long")) {
		for (int i = 1; i <= MANY; i++)
			av[n++] = xstrdup_printf("arg-%05d", i);
	} else {
		return NULL;
	}
	av[n] = NULL;
	return av;
}

static void print_hex_args(char **av)
{
	for (; *av; av++) {
		fputs("arg ", stdout);
		for (const unsigned char *p = (const unsigned char *)*av; *p; p++)
			printf("%02x", *p);
		putchar('\n');
	}
	if (fflush(stdout) != 0)
		die("fflush");
}

int main(int argc, char **argv)
{
	char **av = argc == 2 ? build_argv(argv[1]) : NULL;
	if (!av) {
		fprintf(stderr, "usage: hostile_args mixed|big|many-short|many-long\n");
		return 2;
	}
	print_hex_args(av);
	execv("/bin/true", av);
	die("execv /bin/true");
}
