#!/usr/bin/env bash
# procmon's CPU time per exec over one exec storm, without the suite:
# schedstat (ns on CPU) of all procmon's threads from 1 s after its ready
# line until 1.5 s after the storm. See docs/performance.md.
#
#   bench/cpu_per_exec.sh [N]                 (from the repo root, after make)
#   PROCMON=/other/build/procmon bench/cpu_per_exec.sh 3000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${1:-3000}
PROCMON=${PROCMON:-build/procmon}
DIR=build/bench
mkdir -p "$DIR"
[ -x "$DIR/exec_storm" ] || gcc -O2 -Wall -o "$DIR/exec_storm" bench/exec_storm.c
rm -f "$DIR/cpe.jsonl"
"$PROCMON" --output "$DIR/cpe.jsonl" 2>"$DIR/cpe.err" &
pm=$!
trap 'kill $pm 2>/dev/null || true' EXIT
pm_wait_ready $pm "$DIR/cpe.err" || exit 1
sleep 1 # its start-up hashing done (pm_wait_idle's 10 ms ticks can call it idle between bursts)
cpu() { cat /proc/$pm/task/*/schedstat | awk '{ t += $1 } END { print t }'; }
c0=$(cpu)
"$DIR/exec_storm" "$N" >/dev/null
sleep 1.5
c1=$(cpu)
kill $pm
wait $pm || true
trap - EXIT
echo "$(( (c1 - c0) / N / 1000 )) us of procmon CPU per exec ($N execs, $(wc -l < "$DIR/cpe.jsonl") lines, $(stat -c %s "$DIR/cpe.jsonl") bytes)"
rm -f "$DIR/cpe.jsonl"
