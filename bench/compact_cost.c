// SPDX-License-Identifier: GPL-2.0
/*
 * compact_cost: what --format compact costs per event, from a file of real
 * native lines (a procmon run's --output), side by side in one run:
 *
 *   parse    json-c's parse alone (pm_event_view_parse)
 *   compact  parse and render the line (pm_compact_line), as procmon and
 *            procmon-tail -o compact do
 *
 * Rounds alternate the two so the machine's drift hits both. Build and run
 * from the repository's top directory, after make:
 *
 *   cc -O2 -std=gnu17 -Iinclude -Isrc -Ibuild bench/compact_cost.c \
 *      build/obj/render/compact.o build/obj/render/json.o -ljson-c -o build/compact_cost
 *   build/compact_cost events.jsonl [ROUNDS]
 *
 * The bombini format itself does none of this: its line goes to the
 * output as rendered (src/main.c, sink_line).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render/compact.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
	int rounds = argc > 2 ? atoi(argv[2]) : 6;
	char *line = NULL, **ls = NULL;
	size_t cap = 0, *lens = NULL, n = 0, bytes = 0;
	double t[2] = { 0, 0 };
	struct json_buf b;
	ssize_t got;

	if (!f) {
		fprintf(stderr, "usage: compact_cost EVENTS.jsonl [ROUNDS]\n");
		return 2;
	}
	while ((got = getline(&line, &cap, f)) > 0) {
		ls = realloc(ls, (n + 1) * sizeof(*ls));
		lens = realloc(lens, (n + 1) * sizeof(*lens));
		if (!ls || !lens)
			return 1;
		ls[n] = strndup(line, (size_t)got);
		lens[n++] = (size_t)got;
		bytes += (size_t)got;
	}
	if (!n)
		return 1;
	json_init(&b);
	for (int r = 0; r < 2 * rounds; r++) {
		int which = (r & 1) ^ ((r >> 1) & 1); /* parse, compact, compact, parse, ... */
		double t0 = now();

		for (size_t i = 0; i < n; i++) {
			if (which) {
				json_reset(&b);
				pm_compact_line(&b, ls[i], lens[i], NULL);
			} else {
				struct pm_event_view v;

				if (!pm_event_view_parse(&v, ls[i], lens[i]))
					pm_event_view_free(&v);
			}
		}
		t[which] += now() - t0;
	}
	printf("%zu events of %zu B on average, %d rounds each: parse %.1f us/event, "
	       "compact %.1f us/event (ratio %.2f)\n",
	       n, bytes / n, rounds, t[0] / (double)(n * rounds) * 1e6,
	       t[1] / (double)(n * rounds) * 1e6, t[1] / t[0]);
	return 0;
}
