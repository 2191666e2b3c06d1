#!/usr/bin/env bash
# Syscall-loop benchmarks (bench/loop.c), each with procmon off, with
# procmon watching only exec/clone/exit (no syscall tracepoint), with one
# syscall tracepoint (prctl: the floor any syscall hook imposes), and with
# the default configuration (every default hook on), interleaved:
#   getppid  a syscall procmon does not watch
#   open     open+close of a regular file: the openat exit hook runs
#            every time (named pipes, /proc/PID/mem)
#   dlopen   dlopen+dlclose of a shared object
# See docs/benchmarks.md.
#
#   bench/syscall_loops.sh           (from the repo root, after make)
#   ROUNDS=8 N=5000000 N_OPEN=1000000 N_DLOPEN=20000 bench/syscall_loops.sh
#   LOOPS="getppid" bench/syscall_loops.sh
#
# Each round runs every loop once per mode, the order of the modes
# rotating from round to round so that drift weighs on every mode alike.
# The summary gives, per loop and mode, the median of the per-round ratios
# to "off". Exit status 1 only when a measurement could not be taken.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-8}
N=${N:-5000000}
N_OPEN=${N_OPEN:-1000000}
N_DLOPEN=${N_DLOPEN:-20000}
LOOPS=${LOOPS:-getppid open dlopen}
PROCMON=${PROCMON:-build/procmon}
DIR=build/bench
LOOP=$DIR/loop
TARGET_RATIO=1.05
OPEN_FILE=/etc/hostname
DLOPEN_LIB=libz.so.1

die() { echo "syscall_loops.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (procmon loads BPF programs)"
[ -x "$PROCMON" ] || die "$PROCMON not found: run make first"
for v in ROUNDS N N_OPEN N_DLOPEN; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number, not '${!v}'"
done

mkdir -p "$DIR"
gcc -O2 -o "$LOOP" bench/loop.c -ldl
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
	local err=$DIR/loops-procmon.err
	: >"$err"
	"$PROCMON" --output "$DIR/loops-procmon.json" "$@" 2>"$err" &
	PM_PID=$!
	pm_wait_ready "$PM_PID" "$err" || die "procmon did not get ready"
	pm_wait_idle "$PM_PID"
}

stop_procmon() {
	kill -TERM "$PM_PID"
	wait "$PM_PID" || die "procmon exited with status $?"
	PM_PID=
	rm -f "$DIR/loops-procmon.json"
}

# The loop command for workload $1.
loop_args() {
	case $1 in
	getppid) echo getppid "$N" ;;
	open) echo open "$N_OPEN" "$OPEN_FILE" ;;
	dlopen) echo dlopen "$N_DLOPEN" "$DLOPEN_LIB" ;;
	*) die "unknown loop '$1' (getppid, open, dlopen)" ;;
	esac
}

# Time every loop in mode $1 (off, lifecycle, one_hook, default): sets
# T[mode,loop] (seconds). procmon starts once per mode and round.
run_mode() {
	local m=$1 l
	case $m in
	off) ;;
	default) start_procmon ;;
	*) start_procmon --config "$DIR/$m.yaml" ;;
	esac
	for l in $LOOPS; do
		# shellcheck disable=SC2046
		T[$m,$l]=$("$LOOP" $(loop_args "$l")) || die "loop $l failed"
	done
	[ "$m" = off ] || stop_procmon
}

MODES=(off lifecycle one_hook default)
declare -A T=() R=()
echo "syscall loops: $LOOPS; N=$N getppid, N_OPEN=$N_OPEN opens of $OPEN_FILE,"
echo "  N_DLOPEN=$N_DLOPEN dlopens of $DLOPEN_LIB; ROUNDS=$ROUNDS, kernel $(uname -r), $(nproc) CPUs"
for l in $LOOPS; do "$LOOP" $(loop_args "$l") >/dev/null || die "loop $l failed"; done # warm-up
printf '%-6s %-8s %9s %9s %9s %9s %8s %8s %8s\n' round loop off_s lifecyc_s onehook_s default_s \
	r_lifecyc r_onehook r_default
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#MODES[@]}; k++)); do
		run_mode "${MODES[$(((k + r) % ${#MODES[@]}))]}"
	done
	for l in $LOOPS; do
		ratio() { awk -v a="${T[$1,$l]}" -v b="${T[off,$l]}" 'BEGIN { printf "%.4f", a / b }'; }
		for m in lifecycle one_hook default; do
			R[$m,$l]+="$(ratio "$m") "
		done
		printf '%-6s %-8s %9.4f %9.4f %9.4f %9.4f %8.4f %8.4f %8.4f\n' "$r" "$l" "${T[off,$l]}" \
			"${T[lifecycle,$l]}" "${T[one_hook,$l]}" "${T[default,$l]}" \
			"$(ratio lifecycle)" "$(ratio one_hook)" "$(ratio default)"
	done
done
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }'; }
echo
echo "summary (median of $ROUNDS per-round ratios to off, min-max in brackets)"
printf '  %-8s %-22s %-22s %-22s %s\n' loop "exec/clone/exit only" "one syscall hook" "default config" "target (default)"
for l in $LOOPS; do
	cells=()
	for m in lifecycle one_hook default; do
		# shellcheck disable=SC2086
		cells+=("$(printf '%s\n' ${R[$m,$l]} | median | awk '{ printf "%.3f", $1 }') [$(range ${R[$m,$l]})]")
	done
	md=$(printf '%s\n' ${R[default,$l]} | median)
	verdict=$(awk -v v="$md" -v t="$TARGET_RATIO" 'BEGIN { print (v <= t ? "met" : "MISSED") }')
	printf '  %-8s %-22s %-22s %-22s <= %s: %s\n' "$l" "${cells[0]}" "${cells[1]}" "${cells[2]}" \
		"$TARGET_RATIO" "$verdict"
done
echo
echo "reproduce: ROUNDS=$ROUNDS N=$N N_OPEN=$N_OPEN N_DLOPEN=$N_DLOPEN bench/syscall_loops.sh"
