#!/usr/bin/env bash
# Benchmark of the operations worker (issue 8): jobs produced straight to
# Kafka (tests/bench/bench_jobs), answered by one coachq-operations-worker
# with its built-in engines. The default request is scheduling-suggestions
# of 100 actions with 300 dependencies and 5 people (made by
# tests/bench/ops_schedule_request.py). Reports jobs/s end to end and the
# worker's CPU time per job. Not part of the test suite; run by hand:
#
#   tests/bench/ops_worker_bench.sh [COUNT] [OPERATION REQUEST.json]
#
# Needs a release build (deploy/local.sh run makes one) and starts its own
# throw-away Kafka + Redis on ports 39092/39093/36379.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${1:-5000}
BIN=${BENCH_BIN:-$ROOT/build/release}
WORK=$(mktemp -d /tmp/coachq-ops-bench.XXXXXX)
OPERATION=${2:-scheduling-suggestions}
REQUEST=${3:-$WORK/request.json}
export COACHQ_STACK_DIR=$WORK/stack COACHQ_STACK_KAFKA_PORT=39092 COACHQ_STACK_CONTROLLER_PORT=39093
export COACHQ_STACK_REDIS_PORT=36379 COACHQ_STACK_REDIS_PERSIST=0
cleanup() {
    [[ -n ${WORKER:-} ]] && kill "$WORKER" 2>/dev/null || true
    wait 2>/dev/null || true
    "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cmake --build "$BIN" --target coachq-operations-worker bench_jobs -j2 >/dev/null
[[ $# -ge 3 ]] || python3 "$ROOT/tests/bench/ops_schedule_request.py" >"$REQUEST"
"$ROOT/deploy/stack.sh" start >/dev/null
env -u COACHQ_STACK_DIR -u COACHQ_STACK_KAFKA_PORT -u COACHQ_STACK_CONTROLLER_PORT \
    -u COACHQ_STACK_REDIS_PORT -u COACHQ_STACK_REDIS_PERSIST \
    "$BIN/coachq-operations-worker" -o kafka.bootstrap.servers=127.0.0.1:39092 -o redis.port=36379 \
    -o log.level=warn ${BENCH_WORKER_OPTS:-} >"$WORK/worker.log" 2>&1 &
WORKER=$!
sleep 2
cpu0=$(awk '{print $14 + $15}' "/proc/$WORKER/stat")
env -u COACHQ_STACK_DIR "$BIN/bench_jobs" 127.0.0.1:39092 coachq.jobs.operations coachq.results \
    "$COUNT" "$OPERATION" "$REQUEST"
cpu1=$(awk '{print $14 + $15}' "/proc/$WORKER/stat")
hz=$(getconf CLK_TCK)
awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" -v n="$COUNT" \
    'BEGIN {printf "worker CPU: %.2f s for %d jobs, %.3f ms per job\n", (b - a) / hz, n, (b - a) / hz * 1000 / n}'
echo "worker peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$WORKER/status")"
echo "worker warnings/errors: $(grep -c -E ' (warn|error) ' "$WORK/worker.log" || true)"
