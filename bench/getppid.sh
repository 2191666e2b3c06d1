#!/usr/bin/env bash
# Unmonitored-syscall benchmark: a getppid loop with procmon off, with
# procmon watching only exec/clone/exit (no syscall tracepoint), with one
# syscall tracepoint (prctl: the floor any syscall hook imposes), and with
# the default configuration (every privilege hook on), interleaved.
# See docs/benchmarks.md.
#
#   bench/getppid.sh                 (make bench runs it after the exec storm)
#   ROUNDS=8 N=10000000 bench/getppid.sh
#
# Each round runs the loop once per mode, the order rotating from round to
# round so that drift weighs on every mode alike. The summary gives, per
# mode, the median of the per-round ratios to "off". Exit status 1 only when
# a measurement could not be taken.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-8}
N=${N:-10000000}
PROCMON=${PROCMON:-build/procmon}
DIR=build/bench
LOOP=$DIR/getppid_loop
TARGET_RATIO=1.05

die() { echo "getppid.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (procmon loads BPF programs)"
[ -x "$PROCMON" ] || die "$PROCMON not found: run make first"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $N =~ ^[1-9][0-9]*$ ]] || die "ROUNDS and N must be positive numbers"

mkdir -p "$DIR"
gcc -O2 -o "$LOOP" bench/getppid_loop.c
# "lifecycle": the hooks every configuration has; no ProcessEvent hook.
# "one_hook": the same plus one syscall tracepoint (sys_exit_prctl).
printf 'ima_hash: true\n' >"$DIR/lifecycle.yaml"
printf 'ima_hash: true\nprctl: { enabled: true }\n' >"$DIR/one_hook.yaml"

PM_PID=
cleanup() {
	if [ -n "$PM_PID" ]; then
		kill -TERM "$PM_PID" 2>/dev/null || true
		wait "$PM_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start procmon with extra arguments "$@"; returns once it is ready.
start_procmon() {
	local err=$DIR/getppid-procmon.err
	: >"$err"
	"$PROCMON" --output "$DIR/getppid-procmon.json" "$@" 2>"$err" &
	PM_PID=$!
	pm_wait_ready "$PM_PID" "$err" || die "procmon did not get ready"
}

stop_procmon() {
	kill -TERM "$PM_PID"
	wait "$PM_PID" || die "procmon exited with status $?"
	PM_PID=
	rm -f "$DIR/getppid-procmon.json"
}

# Time one loop in mode $1 (off, lifecycle, one_hook, default); prints seconds.
run_mode() {
	case $1 in
	off) "$LOOP" "$N" ;;
	default) start_procmon; "$LOOP" "$N"; stop_procmon ;;
	*) start_procmon --config "$DIR/$1.yaml"; "$LOOP" "$N"; stop_procmon ;;
	esac
}


MODES=(off lifecycle one_hook default)
declare -A T=()
declare -a RL=() RO=() RD=()
echo "getppid loop: N=$N syscalls per run, ROUNDS=$ROUNDS, kernel $(uname -r), $(nproc) CPUs"
printf '%-6s %9s %9s %9s %9s %8s %8s %8s\n' round off_s lifecyc_s onehook_s default_s \
	r_lifecyc r_onehook r_default
"$LOOP" $((N / 10)) >/dev/null # warm-up
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#MODES[@]}; k++)); do
		m=${MODES[$(((k + r) % ${#MODES[@]}))]}
		T[$m]=$(run_mode "$m")
	done
	ratio() { awk -v a="${T[$1]}" -v b="${T[off]}" 'BEGIN { printf "%.4f", a / b }'; }
	rl=$(ratio lifecycle) ro=$(ratio one_hook) rd=$(ratio default)
	RL+=("$rl") RO+=("$ro") RD+=("$rd")
	printf '%-6s %9.4f %9.4f %9.4f %9.4f %8.4f %8.4f %8.4f\n' "$r" "${T[off]}" "${T[lifecycle]}" \
		"${T[one_hook]}" "${T[default]}" "$rl" "$ro" "$rd"
done
ML=$(printf '%s\n' "${RL[@]}" | median)
MO=$(printf '%s\n' "${RO[@]}" | median)
MD=$(printf '%s\n' "${RD[@]}" | median)
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }'; }
echo
echo "summary (median of $ROUNDS per-round ratios, min-max in brackets)"
printf '  %-52s %.3f [%s]\n' "procmon, exec/clone/exit only (no syscall hook)" "$ML" "$(range "${RL[@]}")"
printf '  %-52s %.3f [%s]\n' "procmon with one syscall hook (sys_exit_prctl)" "$MO" "$(range "${RO[@]}")"
printf '  %-52s %.3f [%s]  target <= %s: %s\n' "procmon, default configuration (privilege hooks on)" "$MD" "$(range "${RD[@]}")" \
	"$TARGET_RATIO" "$(awk -v v="$MD" -v t="$TARGET_RATIO" 'BEGIN { print (v <= t ? "met" : "MISSED") }')"
echo
echo "reproduce: ROUNDS=$ROUNDS N=$N bench/getppid.sh"
