#!/usr/bin/env bash
# procmon's CPU per exec with every shipped Sigma rule on (B) against the
# same build with detections off (A), over one exec storm each, A and B
# alternating in the same run (the machine is shared: only ratios mean
# much). Each run: procmon started, its ready line, 1 s to settle, the
# schedstat CPU of all its threads around the storm (as cpu_per_exec.sh).
#
#   bench/detections_cost.sh [ROUNDS] [N]         (from the repo root, after make)
#   PROCMON_A=/base/build/procmon CONFIG_A=default CONFIG_B=default \
#       bench/detections_cost.sh 5 3000            (two builds, one configuration)
#
# CONFIG_*: a file, or "off" / "on" (the built-in configuration with
# detections off, or on with rules/sigma at min_level informational), or
# "default" (the built-in configuration as it is). With
# /proc/sys/kernel/bpf_stats_enabled set to 1 it also reports the
# kernel's exec program (pm_exec) time per exec, where the working
# directory's walk runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${1:-5}
N=${2:-3000}
PROCMON_A=${PROCMON_A:-build/procmon}
PROCMON_B=${PROCMON_B:-build/procmon}
CONFIG_A=${CONFIG_A:-off}
CONFIG_B=${CONFIG_B:-on}
DIR=$(mktemp -d /tmp/procmon-bench-det.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
[ -x build/bench/exec_storm ] || { mkdir -p build/bench && gcc -O2 -Wall -o build/bench/exec_storm bench/exec_storm.c; }

# The built-in configuration without its detections block, then ours.
config() {
	case $1 in
	default) echo "" ;;
	off | on)
		awk '/^detections:/ { skip = 1; next } skip && /^[^ #]/ { skip = 0 } !skip' \
			config/procmon.yaml >"$DIR/$1.yaml"
		if [ "$1" = on ]; then
			printf 'detections:\n  enabled: true\n  rules: [%s]\n  min_level: informational\n' \
				"$PWD/rules/sigma" >>"$DIR/$1.yaml"
		else
			printf 'detections:\n  enabled: false\n' >>"$DIR/$1.yaml"
		fi
		chmod 0600 "$DIR/$1.yaml"
		echo "--config $DIR/$1.yaml" ;;
	*) echo "--config $1" ;;
	esac
}

# pm_exec's run time and count among procmon $1's programs (bpf_stats_enabled):
# its BPF program fds name their ids in fdinfo.
exec_prog_ns() {
	local id
	for id in $(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u); do
		bpftool prog show id "$id" --json 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)
if p.get("name") == "pm_exec":
    print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
	done | head -1 | grep . || echo 0 0
}

# One run: "<us per exec> <pm_exec ns per exec> <execs seen> <rules' us per
# exec>" (the last from procmon's exit report: the time inside the rules,
# clocked around each evaluation; 0 when detections are off). procmon sees every exec on
# the host, not only the storm's: its CPU is divided by the ProcessExec
# lines it wrote over the window (the storm's and the rest), so other
# jobs' activity does not count as cost.
run() {
	local bin=$1 args=$2 pm c0 c1 k0 k1 n0 n1 execs rules
	# shellcheck disable=SC2086
	"$bin" $args --output "$DIR/out.jsonl" 2>"$DIR/err" &
	pm=$!
	pm_wait_ready $pm "$DIR/err" || exit 1
	sleep 1
	c0=$(cat /proc/$pm/task/*/schedstat | awk '{ t += $1 } END { printf "%d\n", t }')
	n0=$(wc -l <"$DIR/out.jsonl")
	read -r -a k0 <<<"$(exec_prog_ns $pm)"
	build/bench/exec_storm "$N" >/dev/null
	read -r -a k1 <<<"$(exec_prog_ns $pm)"
	sleep 1.5
	c1=$(cat /proc/$pm/task/*/schedstat | awk '{ t += $1 } END { printf "%d\n", t }')
	n1=$(wc -l <"$DIR/out.jsonl")
	kill $pm
	wait $pm || true
	execs=$(tail -n +"$((n0 + 1))" "$DIR/out.jsonl" | head -n "$((n1 - n0))" |
		grep -c '^{"type":"ProcessExec"' || true)
	rules=$(sed -n 's/.*execs evaluated, \([0-9.]*\) us each.*/\1/p' "$DIR/err" | tail -1)
	awk -v c=$((c1 - c0)) -v n="$execs" -v kt=$((k1[0] - k0[0])) -v kn=$((k1[1] - k0[1])) \
		-v r="${rules:-0}" \
		'BEGIN { printf "%.2f %.0f %d %.2f\n", c / (n ? n : 1) / 1000, kn ? kt / kn : 0, n, r }'
	rm -f "$DIR/out.jsonl"
}

args_a=$(config "$CONFIG_A")
args_b=$(config "$CONFIG_B")
: >"$DIR/a"
: >"$DIR/b"
for ((i = 1; i <= ROUNDS; i++)); do
	ra=$(run "$PROCMON_A" "$args_a")
	rb=$(run "$PROCMON_B" "$args_b")
	echo "round $i: A $ra  B $rb  (us procmon CPU/exec, ns pm_exec/exec, execs seen, us in the rules/exec)"
	echo "$ra" >>"$DIR/a"
	echo "$rb" >>"$DIR/b"
done
ma=$(cut -d' ' -f1 "$DIR/a" | median)
mb=$(cut -d' ' -f1 "$DIR/b" | median)
ka=$(cut -d' ' -f2 "$DIR/a" | median)
kb=$(cut -d' ' -f2 "$DIR/b" | median)
rb=$(cut -d' ' -f4 "$DIR/b" | median)
awk -v a="$ma" -v b="$mb" -v ka="$ka" -v kb="$kb" -v rb="$rb" -v n="$N" -v r="$ROUNDS" 'BEGIN {
	printf "median of %d rounds, storms of %d execs: A %.2f us, B %.2f us procmon CPU per exec: B - A %+.2f us, B / A %.3f\n",
		r, n, a, b, b - a, a ? b / a : 0
	if (rb)
		printf "B: time inside the rules per exec (procmon'"'"'s own clock, exit report): %.2f us\n", rb
	if (ka || kb)
		printf "pm_exec (kernel, in the exec'"'"'ing task) per exec: A %.0f ns, B %.0f ns: B - A %+.0f ns\n", ka, kb, kb - ka
}'
