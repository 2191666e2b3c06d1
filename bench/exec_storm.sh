#!/usr/bin/env bash
# Exec-storm benchmark: procmon off vs on, interleaved. See docs/benchmarks.md.
#
#   bench/exec_storm.sh              (from the repo root, after make)
#   ROUNDS=5 N=3000 PAR_ROUNDS=2 bench/exec_storm.sh
#
# Scenario 1, ROUNDS rounds, each one storm (N x fork+execve(/bin/true)+waitpid)
# with procmon off and one with procmon on; the order alternates per round
# (off,on / on,off) so slow drift of the machine hits both sides alike.
# Scenario 2, PAR_ROUNDS rounds of two storms in parallel, off and on.
#
# procmon is started fresh for every "on" storm, with the default
# configuration and --output build/bench/*.json, and is waited for through
# its "procmon: ready" line; each run thus has its own output file, CPU
# account and loss counters, and its start-up (BPF load, /proc scan) stays
# out of both the timed storm and the CPU figure. After the storm the script
# waits until procmon's CPU time stops moving (it has drained the backlog,
# at least SETTLE seconds), reads utime+stime from /proc/PID/stat, then sends
# SIGTERM, waits for it and parses its "at exit: events lost" line.
#
# Knobs (environment): ROUNDS (5), N (3000 execs per storm), PAR_ROUNDS (2),
# PROCMON (build/procmon), SETTLE (1.2 s, least wait after a storm),
# BPF_STATS (1: turn kernel.bpf_stats_enabled on for the run, restored at
# the end, to report kernel time per BPF program run), KEEP (0: 1 keeps
# the event files in build/bench/), PYTHON (/usr/bin/python3).
#
# Exit status: 0 when every measurement was taken (whether or not the targets
# were met: this is a benchmark, not a test), 1 when something could not be
# measured (procmon crashed, never got ready, or a storm failed).
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
N=${N:-3000}
PAR_ROUNDS=${PAR_ROUNDS:-2}
PROCMON=${PROCMON:-build/procmon}
SETTLE=${SETTLE:-1.2}
BPF_STATS=${BPF_STATS:-1}
KEEP=${KEEP:-0}
PYTHON=${PYTHON:-/usr/bin/python3}

DIR=build/bench
STORM=$DIR/exec_storm
TARGET_RATIO=1.05

die() { echo "exec_storm.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (procmon loads BPF programs)"
[ -x "$PROCMON" ] || die "$PROCMON not found: run make first"
for v in ROUNDS N PAR_ROUNDS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
[ "$ROUNDS" -ge 1 ] && [ "$N" -ge 1 ] || die "ROUNDS and N must be at least 1"

mkdir -p "$DIR"
rm -f "$DIR"/*.json "$DIR"/*.err
gcc -O2 -o "$STORM" bench/exec_storm.c

# A sleep that forks nothing: every fork the script makes while procmon is
# on is two or three more events in the output it measures.
exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || true; }

PM_PID=
OLD_BPF_STATS=
cleanup() {
	if [ -n "$PM_PID" ]; then
		kill -TERM "$PM_PID" 2>/dev/null || true
		wait "$PM_PID" 2>/dev/null || true
	fi
	if [ -n "$OLD_BPF_STATS" ]; then
		echo "$OLD_BPF_STATS" >/proc/sys/kernel/bpf_stats_enabled || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Kernel-side cost: per-program run time, counted by the kernel only while
# kernel.bpf_stats_enabled=1 (two clock reads per program run, tens of ns).
if [ "$BPF_STATS" = 1 ] && [ -w /proc/sys/kernel/bpf_stats_enabled ]; then
	OLD_BPF_STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
fi

# TICKS = utime+stime of process $1 in clock ticks, all threads included.
# Sets a variable rather than printing: a $(...) would fork, and every fork
# while procmon runs is a ProcessClone + ProcessExit in what we measure.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
	local line f
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	# comm (field 2) may hold spaces: split what follows its ")", where
	# f[0] is field 3, so utime (14) and stime (15) are f[11] and f[12]
	read -r -a f <<<"${line##*) }"
	TICKS=$((f[11] + f[12]))
}

# "hook=run_time_ns/run_cnt ..." for procmon's BPF programs, from the
# fdinfo of its program fds (run time, count) and link fds (tracepoint name).
bpf_prog_stats() {
	local f key val id tp ns cnt
	local -A name=() stat=()
	for f in /proc/"$1"/fdinfo/*; do
		id='' tp='' ns='' cnt=''
		while read -r key val; do
			case $key in
			prog_id:) id=$val ;;
			tp_name:) tp=$val ;;
			run_time_ns:) ns=$val ;;
			run_cnt:) cnt=$val ;;
			esac
		done 2>/dev/null <"$f" || true
		[ -n "$id" ] || continue
		[ -z "$tp" ] || name[$id]=${tp#sched_process_}
		[ -z "$cnt" ] || stat[$id]=$ns/$cnt
	done
	for id in "${!name[@]}"; do
		[ -z "${stat[$id]:-}" ] || printf '%s=%s ' "${name[$id]}" "${stat[$id]}"
	done
	echo
}

# Start procmon writing to $1.json / $1.err; returns once it is ready.
start_procmon() {
	local base=$1
	rm -f "$base.json"
	: >"$base.err" # truncate here, not in the child: no stale "ready" line
	"$PROCMON" --output "$base.json" 2>"$base.err" {NAPFD}<&- &
	PM_PID=$!
	PM_NAP=nap pm_wait_ready "$PM_PID" "$base.err" || die "procmon did not get ready (see $base.err)"
}

# Wait for procmon to drain, record CPU and BPF stats, SIGTERM it, wait.
# Sets CPU_S, DRAIN_S, PM_STATUS, BPF_LINE.
stop_procmon() {
	local cpu0=$1 prev still=0 polls=0
	cpu_ticks "$PM_PID"
	prev=$TICKS
	DRAIN_S=0
	# CPU still for 4 polls (1 s), at least SETTLE s, at most 30 s
	while ((polls < 120)); do
		nap 0.25
		polls=$((polls + 1))
		cpu_ticks "$PM_PID" || break
		if [ "$TICKS" = "$prev" ]; then
			still=$((still + 1))
		else
			still=0 DRAIN_S=$polls
		fi
		prev=$TICKS
		((still >= 4 && polls >= MIN_POLLS)) && break
	done
	DRAIN_S=$(awk -v p="$DRAIN_S" 'BEGIN { printf "%.2f", p * 0.25 }')
	CPU_S=$(awk -v a="$cpu0" -v b="$prev" -v t="$CLK_TCK" 'BEGIN { printf "%.3f", (b - a) / t }')
	BPF_LINE=$(bpf_prog_stats "$PM_PID")
	kill -TERM "$PM_PID" 2>/dev/null || true
	PM_STATUS=0
	wait "$PM_PID" || PM_STATUS=$?
	PM_PID=
}

# Sum of the counters on procmon's "at exit: events lost:" line, or "n/a".
lost_at_exit() {
	local line
	line=$(grep -m1 'at exit: events lost:' "$1") || { echo n/a; return; }
	line=${line#*events lost:}
	grep -o '[0-9]\+' <<<"${line%%;*}" | awk '{ s += $1 } END { print s + 0 }'
}

# Parse an output file; print "lines bad exec:clone:exit[,exec:clone:exit]"
# for the storms whose pids follow (their /bin/true children, with the args
# "bench exec-storm", whose parent is exec_storm).
analyze() {
	"$PYTHON" - "$@" <<'EOF'
import json, sys

path, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
want = {p: [0, 0, 0] for p in pids}  # exec, clone, exit per storm pid
lines = bad = 0
try:
    f = open(path, "rb")
except FileNotFoundError:  # procmon died before writing anything
    f = []
for raw in f:
    lines += 1
    try:
        e = json.loads(raw)
        t, p, par = e["type"], e["process"], e["parent"] or {}
    except (ValueError, TypeError, KeyError):
        bad += 1
        continue
    if t == "ProcessExec":
        c = want.get(par.get("pid"))
        if (c and p.get("filename") == "true" and p.get("args") == "bench exec-storm"
                and par.get("filename") == "exec_storm"):
            c[0] += 1
    elif t == "ProcessClone":
        c = want.get(p.get("ppid"))
        if c and p.get("cloned") is True:
            c[1] += 1
    elif t == "ProcessExit":
        c = want.get(p.get("ppid"))
        if c and p.get("filename") == "true":
            c[2] += 1
print(lines, bad, ",".join("%d:%d:%d" % tuple(want[p]) for p in pids))
EOF
}

# The largest time among the storms' outputs (parallel storms: the slowest).
slowest() { cat "$@" | sort -g | tail -1; }
MIN_POLLS=$(awk -v s="$SETTLE" 'BEGIN { print int(s / 0.25 + 0.999) }')


FAILED=0
fail() { echo "  !! $*" >&2; FAILED=1; }

# One "on" run: procmon fresh, NSTORMS storms in parallel. Sets ON_S (the
# slowest storm's time), and the per-run figures below.
run_on() {
	local base=$1 nstorms=$2 cpu0 i lost
	local -a spids=()
	start_procmon "$base"
	cpu_ticks "$PM_PID"
	cpu0=$TICKS
	for ((i = 0; i < nstorms; i++)); do
		"$STORM" "$N" >"$base.storm$i" {NAPFD}<&- &
		spids+=($!)
	done
	for i in "${!spids[@]}"; do
		wait "${spids[$i]}" || fail "$base: storm $i failed"
	done
	stop_procmon "$cpu0"
	ON_S=$(slowest "$base".storm*)
	rm -f "$base".storm*
	[ "$PM_STATUS" = 0 ] || fail "$base: procmon exited with status $PM_STATUS"
	lost=$(lost_at_exit "$base.err")
	[ "$lost" != n/a ] || fail "$base: no 'at exit: events lost' line from procmon"
	read -r EVENTS BAD COUNTS < <(analyze "$base.json" "${spids[@]}")
	LOST=$lost
	ONGOING=$(grep -c 'ongoing: events lost' "$base.err" || true)
	USPE=$(awk -v c="$CPU_S" -v e="$EVENTS" 'BEGIN { printf "%.1f", e ? c * 1e6 / e : 0 }')
	COMPLETE=yes
	for c in ${COUNTS//,/ }; do
		[ "$c" = "$N:$N:$N" ] || COMPLETE=no
	done
	[ "$KEEP" = 1 ] || rm -f "$base.json"
}

# One "off" run: NSTORMS storms in parallel, no procmon. Sets OFF_S.
run_off() {
	local nstorms=$1 i
	local -a spids=()
	for ((i = 0; i < nstorms; i++)); do
		"$STORM" "$N" >"$DIR/off.storm$i" {NAPFD}<&- &
		spids+=($!)
	done
	for i in "${!spids[@]}"; do
		wait "${spids[$i]}" || fail "off: storm $i failed"
	done
	OFF_S=$(slowest "$DIR"/off.storm*)
	rm -f "$DIR"/off.storm*
}

# Kernel ns per program run, summed over rounds: "exec 14.8 clone 15.6 exit 13.5" (us).
bpf_summary() {
	awk '{
		for (i = 1; i <= NF; i++) {
			split($i, kv, "="); split(kv[2], nc, "/")
			ns[kv[1]] += nc[1]; cnt[kv[1]] += nc[2]
		}
	} END {
		n = split("exec fork exit", order, " ")
		for (i = 1; i <= n; i++) {
			h = order[i]
			if (cnt[h]) printf "%s %.1f us  ", (h == "fork" ? "clone" : h), ns[h] / cnt[h] / 1000
		}
	}'
}

KVER=$(uname -r)
PMVER=$("$PROCMON" --version 2>&1 | head -1 || true)
echo "exec storm: N=$N execs of /bin/true per storm, ROUNDS=$ROUNDS, PAR_ROUNDS=$PAR_ROUNDS"
echo "procmon: $PROCMON ($PMVER), kernel $KVER, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo

"$STORM" $((N / 10 + 1)) >/dev/null # warm-up: page cache, dentries

declare -a R_OFF=() R_ON=() R_RATIO=() R_USPE=() R_LOST=() R_BPF=()
TOTAL_LOST=0
ALL_COMPLETE=yes
hdr='%-6s %7s %7s %6s %7s %4s %6s %6s %7s %5s  %s\n'
row='%-6s %7.3f %7.3f %6.3f %7d %4s %6.3f %6.1f %7s %5s  %s\n'

echo "scenario 1: one storm, procmon off vs on"
printf "$hdr" round off_s on_s ratio events bad cpu_s us/ev drain_s lost "storm exec:clone:exit (of $N)"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then
		run_off 1
		run_on "$DIR/on-$r" 1
	else
		run_on "$DIR/on-$r" 1
		run_off 1
	fi
	ratio=$(awk -v a="$ON_S" -v b="$OFF_S" 'BEGIN { printf "%.4f", a / b }')
	R_OFF+=("$OFF_S") R_ON+=("$ON_S") R_RATIO+=("$ratio") R_USPE+=("$USPE")
	R_LOST+=("$LOST") R_BPF+=("$BPF_LINE")
	if [ "$LOST" = n/a ]; then TOTAL_LOST=n/a; elif [ "$TOTAL_LOST" != n/a ]; then TOTAL_LOST=$((TOTAL_LOST + LOST)); fi
	[ "$COMPLETE" = yes ] || ALL_COMPLETE=no
	((ONGOING == 0)) || echo "  (procmon reported ongoing losses $ONGOING times)"
	printf "$row" "$r" "$OFF_S" "$ON_S" "$ratio" "$EVENTS" "$BAD" "$CPU_S" "$USPE" "$DRAIN_S" "$LOST" "${COUNTS//,/, }"
done
MED_OFF=$(printf '%s\n' "${R_OFF[@]}" | median)
MED_ON=$(printf '%s\n' "${R_ON[@]}" | median)
MED_RATIO=$(printf "%.3f" "$(printf "%s\n" "${R_RATIO[@]}" | median)")
MED_USPE=$(printf "%.1f" "$(printf "%s\n" "${R_USPE[@]}" | median)")
printf '%-6s %7.3f %7.3f %6.3f %7s %4s %6s %6.1f\n' median "$MED_OFF" "$MED_ON" "$MED_RATIO" "" "" "" "$MED_USPE"
BPF_ONE=$(printf '%s\n' "${R_BPF[@]}" | bpf_summary)
echo

P_RATIO=n/a P_LOST=0 P_COMPLETE=yes P_USPE=n/a
if ((PAR_ROUNDS > 0)); then
	declare -a P_OFF=() P_ON=() P_R=() P_U=()
	echo "scenario 2: two storms in parallel, procmon off vs on"
	printf "$hdr" round off_s on_s ratio events bad cpu_s us/ev drain_s lost "storm 1, storm 2 exec:clone:exit (of $N)"
	for ((r = 1; r <= PAR_ROUNDS; r++)); do
		if ((r % 2)); then
			run_off 2
			run_on "$DIR/par-$r" 2
		else
			run_on "$DIR/par-$r" 2
			run_off 2
		fi
		ratio=$(awk -v a="$ON_S" -v b="$OFF_S" 'BEGIN { printf "%.4f", a / b }')
		P_OFF+=("$OFF_S") P_ON+=("$ON_S") P_R+=("$ratio") P_U+=("$USPE")
		if [ "$LOST" = n/a ]; then P_LOST=n/a; elif [ "$P_LOST" != n/a ]; then P_LOST=$((P_LOST + LOST)); fi
		[ "$COMPLETE" = yes ] || P_COMPLETE=no
		((ONGOING == 0)) || echo "  (procmon reported ongoing losses $ONGOING times)"
		printf "$row" "$r" "$OFF_S" "$ON_S" "$ratio" "$EVENTS" "$BAD" "$CPU_S" "$USPE" "$DRAIN_S" "$LOST" "${COUNTS//,/, }"
	done
	P_RATIO=$(printf "%.3f" "$(printf "%s\n" "${P_R[@]}" | median)")
	P_USPE=$(printf "%.1f" "$(printf "%s\n" "${P_U[@]}" | median)")
	printf '%-6s %7.3f %7.3f %6.3f %7s %4s %6s %6.1f\n' median \
		"$(printf '%s\n' "${P_OFF[@]}" | median)" "$(printf '%s\n' "${P_ON[@]}" | median)" \
		"$P_RATIO" "" "" "" "$P_USPE"
	echo
fi

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "met" : "MISSED") }'; }
lost_verdict() { [ "$1" = 0 ] && echo met || echo MISSED; }

echo "summary ($ROUNDS + $PAR_ROUNDS rounds, N=$N)"
printf '  %-44s %-14s %-8s %s\n' measure value target verdict
printf '  %-44s %-14s %-8s %s\n' "wall-time ratio on/off, one storm (median)" "$MED_RATIO" "<= $TARGET_RATIO" "$(verdict "$MED_RATIO" "$TARGET_RATIO")"
printf '  %-44s %-14s\n' "procmon CPU per event, one storm (median)" "$MED_USPE us"
printf '  %-44s %-14s %-8s %s\n' "events lost, one storm (all rounds)" "$TOTAL_LOST" 0 "$(lost_verdict "$TOTAL_LOST")"
printf '  %-44s %-14s %-8s %s\n' "storm exec/clone/exit events all present" "$ALL_COMPLETE" yes "$([ "$ALL_COMPLETE" = yes ] && echo met || echo MISSED)"
if ((PAR_ROUNDS > 0)); then
	printf '  %-44s %-14s\n' "wall-time ratio on/off, two storms (median)" "$P_RATIO"
	printf '  %-44s %-14s\n' "procmon CPU per event, two storms (median)" "$P_USPE us"
	printf '  %-44s %-14s %-8s %s\n' "events lost, two storms (all rounds)" "$P_LOST" 0 "$(lost_verdict "$P_LOST")"
	printf '  %-44s %-14s %-8s %s\n' "both storms' events all present" "$P_COMPLETE" yes "$([ "$P_COMPLETE" = yes ] && echo met || echo MISSED)"
fi
[ -z "$BPF_ONE" ] || printf '  %-44s %s\n' "kernel BPF time per program run, one storm" "$BPF_ONE"
echo
echo "reproduce: ROUNDS=$ROUNDS N=$N PAR_ROUNDS=$PAR_ROUNDS bench/exec_storm.sh"
[ "$PROCMON" = build/procmon ] || echo "           (with PROCMON=$PROCMON bench/exec_storm.sh instead of make)"
((FAILED == 0)) || echo "some measurements failed: see the '!!' messages on stderr"
exit "$FAILED"
