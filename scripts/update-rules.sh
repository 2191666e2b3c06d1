#!/usr/bin/env bash
# Refresh the vendored SigmaHQ rules (rules/sigma/) from a checkout of
# https://github.com/SigmaHQ/sigma: its rules/linux/process_creation/, its
# licence (DRL 1.1) and the commit they came from. Then check them: the
# counts procmon --check-rules prints are the ones docs/detections.md reports.
#   scripts/update-rules.sh /path/to/sigma [procmon binary]
set -euo pipefail

src=${1:?usage: $0 SIGMA_CHECKOUT [PROCMON]}
procmon=${2:-build/procmon}
here=$(cd "$(dirname "$0")/.." && pwd)
dest=$here/rules/sigma

[ -d "$src/rules/linux/process_creation" ] && [ -f "$src/LICENSE" ] || {
	echo "$src: not a SigmaHQ checkout (no rules/linux/process_creation or LICENSE)" >&2
	exit 2
}
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)
date=$(git -C "$src" log -1 --format=%cs 2>/dev/null || echo unknown)

tmp=$(mktemp -d "$here/rules/.sigma.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/process_creation"
cp "$src"/rules/linux/process_creation/*.yml "$tmp/process_creation/"
cp "$src/LICENSE" "$tmp/LICENSE.DRL"
cat > "$tmp/ATTRIBUTION.md" <<EOT
# Sigma rules from SigmaHQ

The rules in process_creation/ are SigmaHQ's rules/linux/process_creation/,
unchanged, from https://github.com/SigmaHQ/sigma at commit $commit
($date). They are licensed under the Detection Rule License (DRL) 1.1,
in LICENSE.DRL; each rule names its authors in its \`author\` field.
Refreshed with \`make update-rules SIGMA=/path/to/sigma\` (scripts/update-rules.sh).
EOT
chmod -R u=rwX,go=rX "$tmp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "rules/sigma: $(ls "$dest/process_creation" | wc -l) rules from SigmaHQ $commit"
if [ -x "$procmon" ]; then
	"$procmon" --check-rules "$dest" | tail -n 1 || true
fi
