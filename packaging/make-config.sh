#!/bin/sh
# The configuration the packaged service runs with, from the built-in one:
#
#   packaging/make-config.sh config/procmon.yaml LOGDIR SYSCONFDIR > procmon.yaml
#
# The built-in default (config/procmon.yaml) is what the contract (§4)
# promises a bare `procmon`: every hook but ongoing_identity and
# process_environment. A service left running for months needs less noise
# and a bound on disk, so this one, and only this one, differs
# (docs/configuration.md, "The packaged configuration"):
#   - events go to LOGDIR/procmon.jsonl, rotated by procmon at 100 MiB,
#     5 gzipped files kept (at most ~600 MiB on disk with the live file);
#   - module_load is off (41-50% of the lines on a build host; CodeIdentity
#     still reports each new library once, with its hash);
#   - the metrics endpoint listens on 127.0.0.1:9464 (loopback only).
# Every change is checked: a built-in file that no longer has the line
# this edits fails the build instead of shipping the noisy default.
set -eu
src=$1 logdir=$2 sysconfdir=$3

out=$(
	echo "# procmon configuration: procmon.service runs procmon --config $sysconfdir/procmon/procmon.yaml."
	echo "# procmon.yaml(5) and /usr/share/doc/procmon/configuration.md describe every key."
	echo "# procmon refuses this file if anyone but root can write it (or a directory above it)."
	echo "#"
	echo "# This is the built-in configuration (config/procmon.yaml) made fit for a"
	echo "# service: a rotated file, ModuleLoad off, metrics on the loopback."
	sed -e '1,/^$/d' \
	    -e "s|^output: stdout\$|output: $logdir/procmon.jsonl\\
# Rotate before the file would pass 100 MiB; keep 5, gzipped.\\
output_max_mb: 100\\
output_backups: 5\\
output_compress: true\\
# Prometheus metrics and /healthz, on the loopback only (metrics.md).\\
metrics:\\
  listen: \"127.0.0.1:9464\"|" \
	    -e '/^module_load:$/,/^  enabled:/s|^  enabled: true$|  enabled: false  # packaged: off, the noisiest class (CodeIdentity still names each library once)|' \
	    "$src"
)
fail() { echo "packaging/make-config.sh: $src: $1" >&2; exit 1; }
printf '%s\n' "$out" | grep -qx "output: $logdir/procmon.jsonl" || fail "no 'output: stdout' line to point at $logdir"
printf '%s\n' "$out" | grep -q '^  enabled: false  # packaged' || fail "no 'module_load: enabled: true' block to turn off"
printf '%s\n' "$out"
