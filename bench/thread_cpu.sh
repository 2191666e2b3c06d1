#!/usr/bin/env bash
# procmon's CPU and voluntary context switches per exec, thread by thread,
# over one exec storm: with the file output, or NATS only against a
# nats-server -js of its own on a free loopback port (its store in a
# temporary directory, stopped at the end). How the fleet output's cost was
# taken apart (docs/performance.md, "Fleet output").
#
#   bench/thread_cpu.sh file|nats [N]          (from the repo root, after make)
#   PROCMON=/other/build/procmon BATCH_MS=200 bench/thread_cpu.sh nats 2000
#
# One line per thread, "name/tid us_per_exec cs_per_exec" (libnats' threads
# carry the name of the thread that started them: pm-fleet, or procmon for
# its library-wide ones), then the total and, for nats, nats-server's CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODE=${1:?file or nats}
N=${2:-2000}
PROCMON=${PROCMON:-build/procmon}
DIR=build/bench
mkdir -p "$DIR"
[ -x "$DIR/exec_storm" ] || gcc -O2 -Wall -o "$DIR/exec_storm" bench/exec_storm.c
tmp=$(mktemp -d /tmp/procmon-bench-threads-XXXXXX)
pm= ns=
cleanup() {
	[ -n "$pm" ] && kill "$pm" 2>/dev/null && wait "$pm" 2>/dev/null || true
	[ -n "$ns" ] && kill "$ns" 2>/dev/null && wait "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

case $MODE in
file)
	sed "s|^output:.*|output: $tmp/out.jsonl|" config/procmon.yaml >"$tmp/c.yaml"
	;;
nats)
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	nats-server -js -a 127.0.0.1 -p "$port" -sd "$tmp/store" >"$tmp/ns.log" 2>&1 &
	ns=$!
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	sed 's/^output:.*/output: none/' config/procmon.yaml >"$tmp/c.yaml"
	printf 'nats:\n  enabled: true\n  servers: ["nats://127.0.0.1:%s"]\n  spool_dir: %s/spool\n  batch_ms: %s\n' \
		"$port" "$tmp" "${BATCH_MS:-50}" >>"$tmp/c.yaml"
	;;
*)
	echo "usage: $0 file|nats [N]" >&2
	exit 2
	;;
esac
chmod 600 "$tmp/c.yaml"
"$PROCMON" --config "$tmp/c.yaml" 2>"$tmp/pm.err" &
pm=$!
pm_wait_ready "$pm" "$tmp/pm.err"
pm_wait_idle "$pm"

# per thread: "name/tid ns_on_cpu voluntary_switches"
snap() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(cat "$t/comm")/${t##*/} $(cut -d' ' -f1 "$t/schedstat") \
$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")"
	done | sort
}
server_ns() { [ -n "$ns" ] && cat /proc/"$ns"/task/*/schedstat | awk '{ t += $1 } END { print t }' || echo 0; }

snap "$pm" >"$tmp/s0"
s0=$(server_ns)
"$DIR/exec_storm" "$N" >/dev/null
pm_wait_idle "$pm"
snap "$pm" >"$tmp/s1"
s1=$(server_ns)
join "$tmp/s0" "$tmp/s1" | awk -v n="$N" '
	{ us = ($4 - $2) / n / 1000; cs = ($5 - $3) / n; t += us; c += cs
	  if (us >= 0.05 || cs >= 0.05) printf "%-24s %8.1f us/exec %5.2f cs/exec\n", $1, us, cs }
	END { printf "%-24s %8.1f us/exec %5.2f cs/exec\n", "TOTAL", t, c }'
[ "$MODE" = nats ] && echo "nats-server              $(((s1 - s0) / N / 1000)) us/exec (not procmon's)"
kill -INT "$pm"
wait "$pm" || true
pm=
[ "$MODE" = nats ] && grep -o 'at exit: nats:.*' "$tmp/pm.err" || true
