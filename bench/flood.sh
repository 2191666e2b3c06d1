#!/usr/bin/env bash
# Issue 23's flood: a prctl(PR_SET_NAME) + dlopen/dlclose loop for 6 s
# beside two /bin/true exec loops, and 10 execs of another process
# meanwhile. Prints how many of those execs procmon wrote, its output
# size and its loss report. docs/design.md ("Evasion") has the numbers.
#
#   bench/flood.sh                          (from the repo root, after make progs)
#   PROCMON=/other/build/procmon CONFIG=my.yaml bench/flood.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROCMON=${PROCMON:-build/procmon}
DIR=build/bench
mkdir -p "$DIR"
OUT=$DIR/flood.jsonl
ERR=$DIR/flood.err
rm -f "$OUT"
"$PROCMON" ${CONFIG:+--config "$CONFIG"} --output "$OUT" 2>"$ERR" &
pm=$!
trap 'kill $pm $l1 $l2 2>/dev/null || true' EXIT
until grep -q ready "$ERR"; do kill -0 $pm; sleep 0.1; done
(while :; do /bin/true; done) & l1=$!
(while :; do /bin/true; done) & l2=$!
tag=flood-mark-$$
build/progs/flood 6 libz.so.1 >"$DIR/flood.counts" &
fp=$!
sleep 0.3
for i in $(seq 10); do /bin/true "$tag-$i"; sleep 0.5; done
wait $fp
kill $l1 $l2
wait $l1 $l2 2>/dev/null || true
kill $pm
wait $pm || true
trap - EXIT
echo "marker execs written: $(grep '"type":"ProcessExec"' "$OUT" | grep -c "\"args\":\"$tag-") of 10"
echo "flood: $(tr '\n' ' ' < "$DIR/flood.counts"); output $(stat -c %s "$OUT") bytes"
grep "at exit" "$ERR" | sed 's/^procmon: //'
rm -f "$OUT"
