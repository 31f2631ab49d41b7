#!/usr/bin/env bash
# Benchmark: a thousand concurrent waiting requests against one gateway
# (default 1024 threads) while health checks, submissions and polls go on.
#   tests/bench/gateway_waits.sh [WAITS] [WAIT_S]
# Needs a release build; starts its own Kafka + Redis on 39092/39093/36379.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WAITS=${1:-1000}
WAIT_S=${2:-25}
BIN=${BENCH_BIN:-$ROOT/build/release}
WORK=$(mktemp -d /tmp/coachq-bench.XXXXXX)
export COACHQ_STACK_DIR=$WORK/stack COACHQ_STACK_KAFKA_PORT=39092 COACHQ_STACK_CONTROLLER_PORT=39093
export COACHQ_STACK_REDIS_PORT=36379 COACHQ_STACK_REDIS_PERSIST=0
cleanup() {
    pkill -f "coachq-alignment-worker -o kafka.bootstrap.servers=127.0.0.1:39092" || true
    [[ -n ${GW:-} ]] && kill "$GW" 2>/dev/null || true
    wait 2>/dev/null || true
    "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cmake --build "$BIN" --target coachq-gateway coachq-alignment-worker -j2 >/dev/null
"$ROOT/deploy/stack.sh" start >/dev/null
COMMON="-o kafka.bootstrap.servers=127.0.0.1:39092 -o redis.port=36379 -o log.level=warn"
# shellcheck disable=SC2086
"$BIN/coachq-gateway" $COMMON -o gateway.listen=127.0.0.1:38080 -o gateway.dev_auth=true \
    >"$WORK/gateway.log" 2>&1 &
GW=$!
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:38080/coaching/api/v1/health/ready >/dev/null && break
    sleep 0.2
done
python3 "$ROOT/tests/bench/gateway_waits.py" http://127.0.0.1:38080/coaching/api/v1 "$WAITS" \
    "$WAIT_S" "$BIN/coachq-alignment-worker $COMMON >$WORK/worker.log 2>&1"
echo "gateway threads: $(awk '/Threads/ {print $2}' "/proc/$GW/status"), peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$GW/status")"
