#!/usr/bin/env bash
# Sigma rules over recorded events: procmon --replay through every shipped
# rule, beside its baselines in the same run (docs/detections.md).
#
#   bench/rules_replay.sh            (from the repo root, after make)
#   ROUNDS=5 N=200000 bench/rules_replay.sh
#
# Two corpora of native-format ProcessExec lines, made here from a fixed
# seed: "build", N lines like a compile and git session (~1 KB each, no
# rule fires: the common case), and "rules", N/10 lines whose command
# lines and paths are the rules' own values (many fire: the worst case).
# Each round runs, in alternating order, on each corpus:
#   all   every shipped rule, Hyperscan prefilter (what users get)
#   exact every shipped rule, prefilter off (PROCMON_SIGMA_PREFILTER=0)
#   one   a single rule: the cost of reading and parsing the lines alone
#   jsonc every shipped rule, lines read as json-c's DOM (the parser
#         before yajl's event parser: PROCMON_REPLAY_PARSER=json-c)
# and reads the rates --replay reports in CPU time (the machine may be
# shared: CPU seconds, not wall time): ProcessExec per CPU second overall,
# and in the rules alone. The summary gives the medians and the ratios.
#
# Knobs: ROUNDS (3), N (200000), PROCMON (build/procmon), RULES
# (rules/sigma), PYTHON (/usr/bin/python3), WORK (build/bench/rules).
# Exit 0 when every run was measured (a benchmark, not a test), 1 otherwise.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
N=${N:-200000}
PROCMON=${PROCMON:-build/procmon}
RULES=${RULES:-rules/sigma}
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-build/bench/rules}

mkdir -p "$WORK/one"
cp "$RULES/process_creation/proc_creation_lnx_crontab_removal.yml" "$WORK/one/"

"$PYTHON" - "$WORK" "$N" "$RULES" <<'PY'
import glob, json, random, sys
import yaml

work, n, rules = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def line(i, binary, argv0, args, cwd, parent):
    p = {"start_time": "2026-12-08T01:00:00.000Z", "cloned": False, "pid": 10000 + i,
         "tid": 10000 + i, "ppid": 9999, "uid": 1000, "euid": 1000, "gid": 1000, "egid": 1000,
         "auid": 1000, "cap_inheritable": "", "cap_permitted": "", "cap_effective": "",
         "secureexec": "", "filename": binary.rsplit("/", 1)[1], "binary_path": binary,
         "args": args, "argv0": argv0, "exec_id": "%032x" % i, "cwd": cwd}
    pp = dict(p, pid=9999, ppid=1, binary_path=parent[0], filename=parent[0].rsplit("/", 1)[1],
              argv0=parent[1], args=parent[2], exec_id="%032x" % 9999)
    return json.dumps({"type": "ProcessExec", "process": p, "parent": pp,
                       "timestamp": "2026-12-08T01:00:00.123Z", "host": "bench-1",
                       "event_id": "0190a1b2-0000-7000-8000-%012x" % i, "seq": i},
                      separators=(",", ":"))

random.seed(1)
bins = ["/usr/bin/git", "/usr/bin/gcc", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/bin/ld",
        "/usr/bin/make", "/usr/bin/sed", "/usr/bin/grep", "/usr/bin/cat", "/usr/bin/python3.11",
        "/usr/bin/dpkg-query", "/usr/bin/ls", "/usr/bin/ssh"]
words = ["-O2", "-g", "-Wall", "-c", "src/collect/reader.c", "-o", "build/obj/x.o", "status",
         "--porcelain", "-l", "/home/user/src/procmon", "-Iinclude", "-std=gnu17",
         "-D_FILE_OFFSET_BITS=64", "log", "--oneline", "-W", "origin/main"]
with open(f"{work}/build.jsonl", "w") as f:
    for i in range(n):
        b = random.choice(bins)
        args = " ".join(random.choice(words) for _ in range(random.randint(1, 12)))
        print(line(i, b, b.rsplit("/", 1)[1], args, "/home/user/src/procmon",
                   ("/usr/bin/make", "make", "-j2")), file=f)

vals = {"Image": [], "CommandLine": [], "ParentImage": []}
for path in sorted(glob.glob(f"{rules}/**/*.yml", recursive=True)):
    det = yaml.safe_load(open(path))["detection"]
    for k, sel in det.items():
        for m in (sel if isinstance(sel, list) else [sel]) if k != "condition" else []:
            for fk, v in (m.items() if isinstance(m, dict) else []):
                field = fk.split("|")[0]
                if field in vals and "|re" not in fk:
                    vals[field] += [x.replace("*", "") for x in (v if isinstance(v, list) else [v])
                                    if isinstance(x, str)]
with open(f"{work}/rules.jsonl", "w") as f:
    for i in range(n // 10):
        img = random.choice(vals["Image"]) if random.random() < 0.6 else "/usr/bin/true"
        img = img if img.startswith("/") else "/usr/bin/" + img.lstrip("/")
        args = " ".join(random.choice(vals["CommandLine"]) for _ in range(random.randint(0, 3)))
        par = random.choice(vals["ParentImage"]) if random.random() < 0.3 else "/usr/bin/bash"
        print(line(i, img, img.rsplit("/", 1)[1], args, "/tmp", (par, "sh", "")), file=f)
PY

out=$WORK/results.txt
: > "$out"
measure() { # corpus variant
	local env=() rules=$RULES res
	[ "$2" = exact ] && env=(PROCMON_SIGMA_PREFILTER=0)
	[ "$2" = one ] && rules=$WORK/one
	[ "$2" = jsonc ] && env=(PROCMON_REPLAY_PARSER=json-c)
	res=$(env "${env[@]}" "$PROCMON" --replay "$WORK/$1.jsonl" --rules "$rules" 2>&1 >/dev/null |
	      sed -n 's/.*detections; \([0-9]*\) ProcessExec per CPU second, \([0-9]*\) in the rules alone.*/\1 \2/p')
	[ -n "$res" ] || { echo "rules_replay: $1 $2: no rate reported" >&2; exit 1; }
	echo "$1 $2 $res" | tee -a "$out"
}
for r in $(seq 1 "$ROUNDS"); do
	for corpus in build rules; do
		if [ $((r % 2)) -eq 1 ]; then order="all jsonc exact one"; else order="one exact jsonc all"; fi
		for v in $order; do measure "$corpus" "$v"; done
	done
done

"$PYTHON" - "$out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for c, v, total, rules in rows:
    med.setdefault((c, v), []).append((int(total), int(rules)))
print("\nmedians, ProcessExec per CPU second (overall / in the rules alone):")
for (c, v), xs in sorted(med.items()):
    t = statistics.median(x[0] for x in xs)
    r = statistics.median(x[1] for x in xs)
    med[(c, v)] = (t, r)
    print(f"  {c:6} {v:6} {t:>10.0f} / {r:>10.0f}")
for c in ("build", "rules"):
    a, e, o, j = med[(c, "all")], med[(c, "exact")], med[(c, "one")], med[(c, "jsonc")]
    print(f"{c}: rules alone, prefilter vs exact {a[1] / e[1]:.2f}x; "
          f"overall all-rules / one-rule (parse baseline) {a[0] / o[0]:.2f}; "
          f"overall yajl / json-c {a[0] / j[0]:.2f}x")
PY
