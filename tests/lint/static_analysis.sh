#!/usr/bin/env bash
# static_analysis.sh BUILD_DIR [cppcheck|clang-tidy]: the static-analysis
# gate of the test command. Runs over the product's own sources (lib/,
# gateway/, workers/, cli/, tools/) as the build in BUILD_DIR compiles them
# (compile_commands.json). Zero findings passes; any finding fails and is
# printed. What is checked, and each check left out with its reason:
# .clang-tidy at the top of the repository; for cppcheck the classes below.
#
#   cppcheck: --enable=warning,performance,portability (the style class is
#     taste, not defects; the few style checks cppcheck runs anyway, such as
#     an index used before its bound is checked, count as findings too);
#     jansson's iteration macros come from tests/lint/jansson.cfg;
#     a line it misreads carries "// cppcheck-suppress <id>" with a reason.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:?usage: static_analysis.sh BUILD_DIR [cppcheck|clang-tidy]}
WHICH=${2:-all}
DB=$BUILD/compile_commands.json
[[ -f $DB ]] || { echo "no $DB (configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2; exit 2; }
# The product's sources only: not the tests, not generated files (embedded data).
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$DB" "$ROOT" "$TMP/compile_commands.json" <<'PY'
import json, os, re, sys
db, root, out = sys.argv[1:]
ours = re.compile(re.escape(root) + r"/(lib|gateway|workers|cli|tools)/")
entries = [e for e in json.load(open(db)) if ours.match(os.path.join(e["directory"], e["file"]))]
json.dump(entries, open(out, "w"))
PY
rc=0

if [[ $WHICH == all || $WHICH == cppcheck ]]; then
    out=$(cppcheck --project="$TMP/compile_commands.json" \
        --enable=warning,performance,portability --inline-suppr --library="$ROOT/tests/lint/jansson.cfg" \
        --suppress=missingIncludeSystem --error-exitcode=1 -j2 -q \
        --template='{file}:{line}: {severity}: {id}: {message}' 2>&1)
    status=$?
    n=$(grep -c ': \(error\|warning\|style\|performance\|portability\): ' <<<"$out" || true)
    echo "cppcheck: $n findings"
    if ((status != 0 || n > 0)); then
        printf '%s\n' "$out"
        rc=1
    fi
fi

if [[ $WHICH == all || $WHICH == clang-tidy ]]; then
    files=$(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1])): print(e["file"])' "$TMP/compile_commands.json" | sort -u)
    out=$(printf '%s\n' $files | xargs -P 2 -n 1 clang-tidy -p "$BUILD" --quiet 2>/dev/null)
    findings=$(grep -E '^/.*: (warning|error): ' <<<"$out" | sort -u)
    n=$(grep -c . <<<"$findings" || true)
    echo "clang-tidy: $n findings in $(wc -w <<<"$files") files"
    if ((n > 0)); then
        printf '%s\n' "$out"
        rc=1
    fi
fi
exit $rc
