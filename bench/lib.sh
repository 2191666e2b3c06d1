# Shell functions the benchmark scripts share. Sourced, not run.

# Wait until procmon (pid $1) has written its ready line to $2 (its
# stderr); 0 once ready, 1 (with its stderr shown) if it died or took over
# 30 s. Waits with $PM_NAP (a command taking seconds; default sleep).
pm_wait_ready() {
	local pid=$1 err=$2 i
	for ((i = 0; i < 600; i++)); do
		# "procmon: ready" as a word, not e.g. "procmon: already ..."
		grep -Eq '^procmon: ready([^[:alnum:]_]|$)' "$err" && return 0
		kill -0 "$pid" 2>/dev/null || break
		${PM_NAP:-sleep} 0.05
	done
	cat "$err" >&2
	return 1
}

# The median of the numbers on stdin, one per line.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Wait until process $1 has used no CPU for 0.25 s (at most 10 s): after its
# ready line procmon may still be hashing what its start-up scan found, and
# a timed loop must not share the CPUs with that.
pm_wait_idle() {
	local pid=$1 line prev= i f
	for ((i = 0; i < 40; i++)); do
		{ read -r line <"/proc/$pid/stat"; } 2>/dev/null || return 0
		read -r -a f <<<"${line##*) }"
		[ "$prev" = "$((f[11] + f[12]))" ] && return 0
		prev=$((f[11] + f[12]))
		${PM_NAP:-sleep} 0.25
	done
}
