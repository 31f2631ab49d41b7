#!/usr/bin/env bash
# Chaos measurement of issue 7 item 5: a consumer group that survives a crash
# loop. Two alignment workers (builtin engine) behind one gateway; JOBS jobs
# are submitted through the gateway (Prefer: respond-async, many tenants so
# every partition gets some) in two phases:
#
#   steady     both workers run undisturbed;
#   crashloop  worker B is SIGKILLed and restarted every KILL_EVERY seconds
#              for as long as the phase lasts; worker A is never touched.
#
# CHAOS_MODE=backlog (default) submits the JOBS first, with no worker
# running, then starts the workers and measures from their start: what the
# workers alone sustain. CHAOS_MODE=live submits while the workers run and
# measures from the first submission (then the gateway may be the limit).
#
# Each phase has its own topics, consumer group and Redis keys. It reports,
# per phase, jobs/s to the last job's first result record, the longest time
# no new result appeared, and duplicate result records (records on the
# result topic beyond one per job, counted by their coachq-job-id header).
# Not part of the test suite; run by hand:
#
#   tests/chaos/crashloop.sh [JOBS] [PHASE_TIMEOUT_S]
#
# Environment:
#   CHAOS_BIN          build directory with coachq-gateway and
#                      coachq-alignment-worker (build/release)
#   CHAOS_KILL_EVERY   seconds between kills (2)
#   CHAOS_PHASES       phases to run ("steady crashloop")
#   CHAOS_MODE         backlog or live (backlog)
#   CHAOS_WORKER_OPTS  extra worker options, e.g. "-o worker.max_in_flight=32"
#   CHAOS_KAFKA_PORT, CHAOS_CONTROLLER_PORT, CHAOS_REDIS_PORT
#                      ports of the stack (46092, 46093, 46379)
#   CHAOS_REUSE_STACK  1: use the stack already running on those ports
#                      instead of starting (and stopping) a throw-away one
#   CHAOS_KEEP         1: keep the work directory (logs) at the end
# Loopback only. Everything it starts it stops, at the end or on Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JOBS=${1:-20000}
PHASE_TIMEOUT=${2:-240}
BIN=${CHAOS_BIN:-$ROOT/build/release}
KILL_EVERY=${CHAOS_KILL_EVERY:-2}
PHASES=${CHAOS_PHASES:-steady crashloop}
MODE=${CHAOS_MODE:-backlog}
KP=${CHAOS_KAFKA_PORT:-46092}
CP=${CHAOS_CONTROLLER_PORT:-46093}
RP=${CHAOS_REDIS_PORT:-46379}
WORK=$(mktemp -d /tmp/coachq-chaos.XXXXXX)
RUN=chaos$$
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ ${CHAOS_REUSE_STACK:-0} != 1 ]]; then
        COACHQ_STACK_DIR=$WORK/stack COACHQ_STACK_KAFKA_PORT=$KP COACHQ_STACK_CONTROLLER_PORT=$CP \
            COACHQ_STACK_REDIS_PORT=$RP "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1 || true
    fi
    if [[ ${CHAOS_KEEP:-0} == 1 ]]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x $BIN/coachq-gateway && -x $BIN/coachq-alignment-worker ]] ||
    { echo "no coachq-gateway / coachq-alignment-worker in $BIN" >&2; exit 2; }
if [[ ${CHAOS_REUSE_STACK:-0} != 1 ]]; then
    COACHQ_STACK_DIR=$WORK/stack COACHQ_STACK_KAFKA_PORT=$KP COACHQ_STACK_CONTROLLER_PORT=$CP \
        COACHQ_STACK_REDIS_PORT=$RP COACHQ_STACK_REDIS_PERSIST=0 "$ROOT/deploy/stack.sh" start >/dev/null
fi
# Workers built before worker.instance_id existed refuse the key: they run
# with dynamic membership, which is what "before" measures.
HAS_INSTANCE_ID=0
grep -q worker.instance_id "$BIN/coachq-alignment-worker" && HAS_INSTANCE_ID=1
echo "binaries: $BIN (static membership: $HAS_INSTANCE_ID), $JOBS jobs per phase," \
    "kill every $KILL_EVERY s, phase timeout $PHASE_TIMEOUT s"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# common_opts PHASE: the options every program of a phase gets.
common_opts() {
    local p=$RUN$1
    echo "-o kafka.bootstrap.servers=127.0.0.1:$KP -o redis.port=$RP -o redis.prefix=$p: \
-o topics.jobs_prefix=$p.jobs. -o topics.results=$p.results -o topics.dlq=$p.dlq \
-o topics.create=true -o topics.partitions=6 -o worker.group_prefix=$p- -o log.level=info"
}

# start_worker PHASE NAME: starts a worker in the background, appending to its log.
start_worker() {
    local id=()
    ((HAS_INSTANCE_ID)) && id=(-o "worker.instance_id=chaos-$2")
    # shellcheck disable=SC2046
    "$BIN/coachq-alignment-worker" $(common_opts "$1") "${id[@]}" ${CHAOS_WORKER_OPTS:-} >>"$WORK/$1-worker-$2.log" 2>&1 &
    WORKER_PID=$!
}

# crash_loop PHASE: owns worker B: SIGKILL and restart every KILL_EVERY s.
crash_loop() {
    local kills=0
    start_worker "$1" b
    trap 'kill -9 $WORKER_PID 2>/dev/null || true; wait $WORKER_PID 2>/dev/null || true
          echo $kills >"$WORK/$1-kills"; exit 0' TERM
    while :; do
        sleep "$KILL_EVERY" & wait $!
        kill -9 "$WORKER_PID" 2>/dev/null || true
        wait "$WORKER_PID" 2>/dev/null || true
        kills=$((kills + 1))
        start_worker "$1" b
    done
}

# wait_assigned LOG: until the worker's log shows a partition assignment (60 s).
wait_assigned() {
    for _ in $(seq 600); do
        grep -q "assigned [1-9]" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no assignment in $1" >&2
    return 1
}

now_ms() { date +%s%3N; }

run_phase() {
    local phase=$1 port
    port=$(free_port)
    # shellcheck disable=SC2046
    "$BIN/coachq-gateway" $(common_opts "$phase") -o "gateway.listen=127.0.0.1:$port" \
        -o gateway.dev_auth=true >"$WORK/$phase-gateway.log" 2>&1 &
    local gw=$!
    PIDS+=("$gw")
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/coaching/api/v1/health/ready" >/dev/null && break
        sleep 0.2
    done
    local load=(python3 "$ROOT/tests/chaos/chaos_load.py" --base "http://127.0.0.1:$port/coaching/api/v1"
        --bootstrap "127.0.0.1:$KP" --results-topic "$RUN$phase.results" --jobs "$JOBS"
        --timeout "$PHASE_TIMEOUT" --run "$RUN$phase" --ids-file "$WORK/$phase.ids")
    if [[ $MODE == backlog ]]; then
        echo "$phase: backlog $("${load[@]}" --submit-only)"
    fi
    local since wa wb="" loop=""
    since=$(now_ms)
    start_worker "$phase" a
    wa=$WORKER_PID
    PIDS+=("$wa")
    if [[ $phase == crashloop ]]; then
        crash_loop "$phase" &
        loop=$!
        PIDS+=("$loop")
    else
        start_worker "$phase" b
        wb=$WORKER_PID
        PIDS+=("$wb")
    fi
    if [[ $MODE == live ]]; then
        wait_assigned "$WORK/$phase-worker-a.log"
        wait_assigned "$WORK/$phase-worker-b.log"
        sleep $((3 * KILL_EVERY)) # a crash loop runs a few rounds first
    fi
    local result
    if [[ $MODE == backlog ]]; then
        result=$("${load[@]}" --wait-only --since "$since")
    else
        result=$("${load[@]}")
    fi
    # Before anything stops: a stopping worker revokes what it has.
    local revokes
    revokes=$(grep -cE "revok(ing|ed) [1-9]" "$WORK/$phase-worker-a.log" || true)
    local kills=0
    if [[ -n $loop ]]; then
        kill "$loop"
        wait "$loop" 2>/dev/null || true
        kills=$(cat "$WORK/$phase-kills" 2>/dev/null || echo "?")
    else
        kill "$wb"
        wait "$wb" 2>/dev/null || true
    fi
    kill "$wa" "$gw"
    wait "$wa" "$gw" 2>/dev/null || true
    PIDS=()
    echo "$phase: $result kills=$kills"
    echo "$phase: worker A (never killed) had partitions revoked $revokes times" \
        "(the first when B joins)"
}

for phase in $PHASES; do run_phase "$phase"; done
