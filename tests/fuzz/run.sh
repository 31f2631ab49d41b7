#!/usr/bin/env bash
# tests/fuzz/run.sh short|long|build — the libFuzzer fuzzers of tests/fuzz.
#
#   build               configures (CC=clang, -DCOACHQ_FUZZ=ON) and builds
#                       build/fuzz, then writes the generated seeds and
#                       dictionaries to build/fuzz/fuzz-seeds.
#   short [RUNS]        build, then every fuzzer for RUNS executions
#                       (default 50000, or FUZZ_RUNS) over its seeds, starting
#                       from a fresh work corpus. One line per fuzzer:
#                         RESULT <fuzzer> <0 ok|1 failed> <detail>
#                       Exits non-zero when one crashed, leaked, hung or
#                       failed to build.
#   long [SECONDS|-runs=N] [FUZZER...]
#                       build, then each fuzzer (all, or those named) for
#                       SECONDS (default 3600) or N executions, one after the
#                       other, under nice -n 19 with one process, keeping
#                       its corpus in build/fuzz/fuzz-corpus/<fuzzer>
#                       across runs. Prints executions, executions per
#                       second, coverage and crashes per fuzzer.
# An input is a timeout past FUZZ_TIMEOUT seconds of wall-clock time (10 for
# short runs, 60 for long ones).
# Crash, leak and timeout inputs go to build/fuzz/fuzz-artifacts/; logs to
# build/fuzz/fuzz-logs/<fuzzer>.log (long runs: fuzz-logs/long/). A short
# and a long run may go on at the same time. Reproduce one with
#   build/fuzz/tests/fuzz/<fuzzer> <artifact>
# and keep it as a regression seed in tests/fuzz/corpus/<fuzzer>/ once fixed.
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$FUZZ_DIR/../.." && pwd)
BUILD=$ROOT_DIR/build/fuzz
BIN=$BUILD/tests/fuzz
SEEDS=$BUILD/fuzz-seeds
LOGS=$BUILD/fuzz-logs
ARTIFACTS=$BUILD/fuzz-artifacts
FUZZERS=(fuzz_schema fuzz_avro fuzz_llm_reply fuzz_jwt fuzz_bd_upstream fuzz_html fuzz_urlpolicy fuzz_config)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

say() { printf 'fuzz: %s\n' "$*" >&2; }

# The dictionary of a fuzzer: generated (contract names) or checked in.
dict_of() {
    case $1 in
    fuzz_schema | fuzz_llm_reply | fuzz_bd_upstream) echo "$SEEDS/$1.dict" ;;
    fuzz_avro) echo "" ;;
    fuzz_jwt) echo "$FUZZ_DIR/dict/jwt.dict" ;;
    fuzz_html) echo "$FUZZ_DIR/dict/html.dict" ;;
    fuzz_urlpolicy) echo "$FUZZ_DIR/dict/url.dict" ;;
    fuzz_config) echo "$FUZZ_DIR/dict/config.dict" ;;
    esac
}

build() {
    command -v clang >/dev/null || {
        say "clang is not installed (deploy/setup.sh installs it)"
        return 1
    }
    CC=clang cmake -S "$ROOT_DIR" -B "$BUILD" -G Ninja -DCOACHQ_FUZZ=ON -DCOACHQ_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || return 1
    cmake --build "$BUILD" -j2 --target fuzzers || return 1
    # Written aside (a folder of this run's own: two runs may build at once)
    # and swapped in, for a long run starting at the same time.
    mkdir -p "$LOGS/long" "$ARTIFACTS"
    local fresh
    fresh=$(mktemp -d "$SEEDS.new.XXXXXX")
    "$BIN/fuzz_seeds" "$fresh" >&2 && python3 "$FUZZ_DIR/seeds.py" "$fresh" >&2 || {
        rm -rf "$fresh"
        return 1
    }
    rm -rf "$SEEDS.old.$$"
    [[ -d $SEEDS ]] && mv "$SEEDS" "$SEEDS.old.$$"
    mv "$fresh" "$SEEDS"
    rm -rf "$SEEDS.old.$$"
}

# The corpus directories of a fuzzer after the writable first one.
seed_dirs() {
    local d
    for d in "$FUZZ_DIR/corpus/$1" "$SEEDS/$1"; do
        [[ -d $d ]] && printf '%s\n' "$d"
    done
    return 0
}

# run_one <fuzzer> <log> <work corpus dir> <libFuzzer args...>: 0 when it
# ended without a finding.
run_one() {
    local f=$1 log=$2 work=$3 dict seeds=()
    shift 3
    mkdir -p "$work"
    mapfile -t seeds < <(seed_dirs "$f")
    dict=$(dict_of "$f")
    "$BIN/$f" ${dict:+-dict="$dict"} -artifact_prefix="$ARTIFACTS/$f-" -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb=2048 -print_final_stats=1 "$@" "$work" "${seeds[@]}" >"$log" 2>&1
}

# Figures from a finished log: "<runs> <exec/s> <cov> <ft>".
figures() {
    local log=$1 runs eps cov ft
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    echo "${runs:-?} ${eps:-?} ${cov:-?} ${ft:-?}"
}

init_cov() {
    grep -m1 -oE 'INITED cov: [0-9]+' "$1" | grep -oE '[0-9]+$' || echo "?"
}

finding() {
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|deadly signal|Test unit written' "$1" || echo "exit status $2"
}

cmd_short() {
    local runs=${1:-${FUZZ_RUNS:-50000}} f rc t0 fail=0 work
    if ! build; then
        echo "RESULT build 1 the fuzz build failed"
        return 1
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/coachq-fuzz.XXXXXX")
    for f in "${FUZZERS[@]}"; do
        t0=$(date +%s.%N)
        rc=0
        run_one "$f" "$LOGS/$f.log" "$work/$f" -runs="$runs" || rc=$?
        local secs r eps cov ft
        secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        read -r r eps cov ft <<<"$(figures "$LOGS/$f.log")"
        if ((rc == 0)); then
            echo "RESULT $f 0 $r runs in ${secs}s, cov $(init_cov "$LOGS/$f.log") -> $cov, ft $ft"
        else
            fail=1
            echo "RESULT $f 1 $(finding "$LOGS/$f.log" "$rc") (log build/fuzz/fuzz-logs/$f.log)"
        fi
    done
    rm -rf "$work"
    return $fail
}

cmd_long() {
    local limit=(-max_total_time=3600) f rc fail=0 list=()
    if [[ ${1:-} =~ ^-runs=[0-9]+$ ]]; then
        limit=("$1")
        shift
    elif [[ ${1:-} =~ ^[0-9]+$ ]]; then
        limit=(-max_total_time="$1")
        shift
    fi
    list=("$@")
    ((${#list[@]})) || list=("${FUZZERS[@]}")
    build || return 1
    for f in "${list[@]}"; do
        [[ -x $BIN/$f ]] || {
            say "no fuzzer $f"
            return 2
        }
        say "$f: ${limit[*]} (log build/fuzz/fuzz-logs/long/$f.log)"
        rc=0
        # libFuzzer's timeout is wall-clock time: under nice 19 on a busy
        # machine a 0.2 s input was once reported as a 10 s timeout.
        FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-60} nice -n 19 "$0" _run "$f" "${limit[@]}" || rc=$?
        local r eps cov ft
        read -r r eps cov ft <<<"$(figures "$LOGS/long/$f.log")"
        if ((rc == 0)); then
            printf '%-18s %12s executions %8s exec/s  cov %s ft %s  0 crashes\n' "$f" "$r" "$eps" "$cov" "$ft"
        else
            fail=1
            printf '%-18s %12s executions %8s exec/s  cov %s ft %s  FINDING: %s\n' "$f" "$r" "$eps" "$cov" "$ft" \
                "$(finding "$LOGS/long/$f.log" "$rc")"
        fi
    done
    return $fail
}

case ${1:-} in
build) build ;;
short)
    shift
    cmd_short "$@"
    ;;
long)
    shift
    cmd_long "$@"
    ;;
_run) # internal: one long run, under nice from cmd_long
    f=$2
    shift 2
    run_one "$f" "$LOGS/long/$f.log" "$BUILD/fuzz-corpus/$f" "$@"
    ;;
*)
    echo "usage: $0 build | short [RUNS] | long [SECONDS|-runs=N] [FUZZER...]" >&2
    exit 2
    ;;
esac
