#!/usr/bin/env bash
# Benchmark of issue 3: one alignment worker against the fake LLM answering
# every call in LATENCY_MS (2 s), with an in-flight cap of CAP (2,000).
# Reports sustained jobs/s, the peak of calls in flight (seen by the fake),
# the worker's peak RSS and its loop stalls (the longest, and the histogram
# of loop iterations by their time outside waits). Not part of the test suite; run by hand:
#
#   tests/bench/llm_worker_bench.sh [COUNT] [CAP] [LATENCY_MS]
#
# Needs a release build (deploy/local.sh run makes one, or BENCH_BIN names
# one) and starts its own throw-away Kafka + Redis on ports 39092/39093/36379
# and serves metrics on 39464 (BENCH_KAFKA_PORT, BENCH_CONTROLLER_PORT,
# BENCH_REDIS_PORT and BENCH_METRICS_PORT move them, so that several
# benchmarks can share a machine).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${1:-20000}
CAP=${2:-2000}
LATENCY=${3:-2000}
BIN=${BENCH_BIN:-$ROOT/build/release}
WORK=$(mktemp -d /tmp/coachq-bench.XXXXXX)
KPORT=${BENCH_KAFKA_PORT:-39092} RPORT=${BENCH_REDIS_PORT:-36379} MPORT=${BENCH_METRICS_PORT:-39464}
export COACHQ_STACK_DIR=$WORK/stack COACHQ_STACK_KAFKA_PORT=$KPORT
export COACHQ_STACK_CONTROLLER_PORT=${BENCH_CONTROLLER_PORT:-39093}
export COACHQ_STACK_REDIS_PORT=$RPORT COACHQ_STACK_REDIS_PERSIST=0
cleanup() {
    [[ -n ${WORKER:-} ]] && kill "$WORKER" 2>/dev/null || true
    [[ -n ${FAKE:-} ]] && kill "$FAKE" 2>/dev/null || true
    wait 2>/dev/null || true
    "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# BENCH_BUILD=0: BENCH_BIN already holds the binaries (e.g. a copy of an
# older build, to compare with).
[[ ${BENCH_BUILD:-1} == 0 ]] || cmake --build "$BIN" --target coachq-alignment-worker bench_jobs -j2 >/dev/null
"$ROOT/deploy/stack.sh" start >/dev/null
python3 "$ROOT/tests/fake/fake_llm.py" --port 0 --port-file "$WORK/fake.port" \
    --latency-ms "$LATENCY" --log-level warning &
FAKE=$!
for _ in $(seq 50); do [[ -s $WORK/fake.port ]] && break; sleep 0.1; done
PORT=$(<"$WORK/fake.port")
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$BIN/coachq-alignment-worker" -o kafka.bootstrap.servers=127.0.0.1:$KPORT -o redis.port=$RPORT \
    -o llm.provider=openai -o "llm.base_url=http://127.0.0.1:$PORT/v1" -o llm.api_key=bench \
    -o llm.model=bench -o "worker.max_in_flight=$CAP" -o redis.pool_size=8 -o log.level=warn \
    -o worker.metrics_listen=127.0.0.1:$MPORT -o llm.token_budget=0 \
    ${BENCH_WORKER_OPTS:-} \
    >"$WORK/worker.log" 2>&1 &
WORKER=$!
sleep 2
"$BIN/bench_jobs" 127.0.0.1:$KPORT coachq.jobs.alignment coachq.results "$COUNT"
echo "fake LLM: $(curl -s "http://127.0.0.1:$PORT/_control/stats")"
echo "worker peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$WORKER/status")"
echo "worker CPU: $(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f s (user %.2f, system %.2f)", ($14 + $15) / hz, $14 / hz, $15 / hz}' "/proc/$WORKER/stat")"
echo "worker loop stalls:"
curl -s http://127.0.0.1:$MPORT/metrics | grep -E '^coachq_worker_loop_stall' | sed 's/^/  /'

echo "worker warnings/errors: $(grep -c -E ' (warn|error) ' "$WORK/worker.log" || true)"
