#!/usr/bin/env bash
# Contract check: schemas/openapi.json passes two OpenAPI linters other
# people use, with 0 errors and 0 warnings:
#   - Spectral with its `spectral:oas` ruleset (spectral.yaml here), failing on
#     any warning (--fail-severity=warn);
#   - Redocly CLI with `recommended-strict` (redocly.yaml: every warning of the
#     recommended rules is an error).
# Each location a rule does not apply to is ruled off in those files with a
# reason. The tools are the npm packages pinned by deploy/node/ that
# deploy/setup.sh installs into deploy/.node. Nothing is fetched here.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
here="$root/tests/contract/lint"
bin="$root/deploy/.node/node_modules/.bin"
doc=${1:-$root/schemas/openapi.json}
for t in spectral redocly; do
    [ -x "$bin/$t" ] || {
        echo "no $bin/$t: run deploy/setup.sh" >&2
        exit 1
    }
done
# Redocly: no telemetry, no update notice (the machine is offline anyway).
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
status=0
# Redocly's banner about the Node.js version is noise here: dropped.
unbanner() { grep -v -e '║' -e '╔' -e '╚' -e '^$' || true; }
status=0
echo "spectral $("$bin/spectral" --version) (spectral:oas)"
"$bin/spectral" lint "$doc" --ruleset "$here/spectral.yaml" --fail-severity=warn || status=1
echo "redocly $("$bin/redocly" --version 2>&1 | unbanner) (recommended-strict)"
# The ignore file is found next to the configuration.
rc=0
out=$(cd "$here" && "$bin/redocly" lint "$doc" --config "$here/redocly.yaml" 2>&1) || rc=$?
unbanner <<<"$out"
[ "$rc" -eq 0 ] || status=1
exit $status
