#!/bin/bash
# What the packaged configuration writes per hour (docs/configuration.md,
# "What it writes per hour"): procmon runs with it for IDLE_S seconds with
# nothing started here, then for BUSY_S seconds while a build loop runs
# (`make -B -j2` of procmon's own sources in a scratch copy), and each
# run's lines and bytes are printed with the rate per hour and per type.
#
#   packaging/measure-rate.sh [IDLE_S [BUSY_S]]     (root; default 120 180)
#
# The packaged configuration is used as generated, with rotation off (so
# one file holds the count) and the metrics on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-120} busy=${2:-180}
procmon=$PWD/build/procmon
work=$(mktemp -d /tmp/procmon-rate-XXXXXX); chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" && git archive HEAD | tar -x -C "$work/src"
make -C "$work/src" -j2 >/dev/null 2>&1   # the build loop's first round, before measuring
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

run() { # NAME SECONDS [COMMAND]
	local name=$1 secs=$2 cmd=${3:-}
	packaging/make-config.sh config/procmon.yaml /var/log/procmon /etc |
		sed -e "s|^output: .*|output: $work/$name.jsonl|; s|^output_max_mb: .*|output_max_mb: 0|" \
		    -e "s|127.0.0.1:9464|127.0.0.1:$port|" > "$work/$name.yaml"
	chmod 600 "$work/$name.yaml"
	"$procmon" --config "$work/$name.yaml" 2>"$work/$name.err" & local pm=$!
	until grep -q ready "$work/$name.err"; do kill -0 $pm; sleep 0.2; done
	local t0=$EPOCHREALTIME
	if [ -n "$cmd" ]; then timeout "$secs" bash -c "$cmd" >/dev/null 2>&1 || true; else sleep "$secs"; fi
	local t1=$EPOCHREALTIME
	kill -TERM $pm; wait $pm
	/usr/bin/python3 - "$work/$name.jsonl" "$name" "$t0" "$t1" <<'PY'
import collections, json, sys
path, name, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
secs = t1 - t0
lines, size = collections.Counter(), collections.Counter()
with open(path, "rb") as f:
    for raw in f:
        t = json.loads(raw)["type"]
        lines[t] += 1
        size[t] += len(raw)
total = sum(size.values())
print(f"{name}: {secs:.0f} s, {sum(lines.values())} lines, {total / 1e6:.1f} MB"
      f" -> {total / secs * 3600 / 1e9:.2f} GB/h, {sum(lines.values()) / secs * 3600 / 1e6:.2f} M lines/h")
for t, n in size.most_common():
    print(f"  {t:24} {lines[t]:9} lines {n / 1e6:9.1f} MB {100 * n / total:5.1f}%")
PY
}
run idle "$idle"
run busy "$busy" "cd $work/src && while :; do make -B -j2; done"
