#!/usr/bin/env bash
# Two procmon builds side by side over the same exec storms: both attached
# at once, so they see the same events under the same load (a shared,
# busy machine makes one-after-the-other runs differ by 2x). Per round:
# each one's CPU time (schedstat of all its threads) from 1 s after both
# are ready until 1.5 s after the storm, per exec, and the ratio B/A; the
# start order alternates. See docs/performance.md.
#
#   PROCMON_A=/base/build/procmon bench/cpu_per_exec_pair.sh [N] [ROUNDS]
#   (B is PROCMON_B, default build/procmon; from the repo root, after make)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${1:-3000}
ROUNDS=${2:-8}
A=${PROCMON_A:?set PROCMON_A to the baseline build}
B=${PROCMON_B:-build/procmon}
DIR=build/bench
mkdir -p "$DIR"
[ -x "$DIR/exec_storm" ] || gcc -O2 -Wall -o "$DIR/exec_storm" bench/exec_storm.c
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { print t }'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
	rm -f "$DIR"/pair-A.jsonl "$DIR"/pair-B.jsonl
	order=(A B)
	((r % 2)) || order=(B A)
	declare -A pid
	for who in "${order[@]}"; do
		bin=$A
		[ "$who" = B ] && bin=$B
		"$bin" --output "$DIR/pair-$who.jsonl" 2>"$DIR/pair-$who.err" &
		pid[$who]=$!
	done
	pids=("${pid[A]}" "${pid[B]}")
	pm_wait_ready "${pid[A]}" "$DIR/pair-A.err"
	pm_wait_ready "${pid[B]}" "$DIR/pair-B.err"
	sleep 1
	a0=$(cpu "${pid[A]}")
	b0=$(cpu "${pid[B]}")
	"$DIR/exec_storm" "$N" >/dev/null
	sleep 1.5
	a1=$(cpu "${pid[A]}")
	b1=$(cpu "${pid[B]}")
	kill "${pids[@]}"
	wait "${pids[@]}" || true
	ratio=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) 'BEGIN { printf "%.3f", b / a }')
	ratios+=("$ratio")
	echo "round $r: A $(( (a1 - a0) / N / 1000 )) us/exec, B $(( (b1 - b0) / N / 1000 )) us/exec," \
		"B/A $ratio (lines A $(wc -l < "$DIR/pair-A.jsonl"), B $(wc -l < "$DIR/pair-B.jsonl"))"
done
trap - EXIT
rm -f "$DIR"/pair-A.jsonl "$DIR"/pair-B.jsonl
echo "median B/A over $ROUNDS rounds: $(printf '%s\n' "${ratios[@]}" | median)"
