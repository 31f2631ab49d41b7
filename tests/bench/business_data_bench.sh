#!/usr/bin/env bash
# Benchmark: the business-data cache with 500 tenants of Zipf popularity at
# a steady rate, the TTL shortened (30 s over 4 minutes by default).
#   tests/bench/business_data_bench.sh [DURATION_S] [RATE] [TTL_S] [TENANTS] [REFRESH_AHEAD_PCT] [SWR_S]
# REFRESH_AHEAD_PCT sets the gateway's business_data.refresh_ahead (its
# default when not given or empty). SWR_S sets business_data.
# stale_while_revalidate, shortened with the TTL (default TTL_S / 2, as the
# defaults 150s of 5m); "-" leaves it out (a build without the key).
# BENCH_CONNECTIONS=new makes the client open a connection per request
# (business_data_bench.py; default: kept-alive connections).
# Needs a build with the gateway and the business-data worker (BENCH_BIN,
# default build/release) and a running Kafka + Redis (deploy/stack.sh) on
# BENCH_KAFKA_PORT (9092) and BENCH_REDIS_PORT (6379). Starts the fake
# upstream, one worker and one gateway (on a free port), and stops exactly
# those processes at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${1:-240}
RATE=${2:-100}
TTL=${3:-30}
TENANTS=${4:-500}
AHEAD=${5:-}
SWR=${6:-$((TTL / 2))}
BIN=${BENCH_BIN:-$ROOT/build/release}
KAFKA=${BENCH_KAFKA_PORT:-9092}
REDIS=${BENCH_REDIS_PORT:-6379}
WORK=$(mktemp -d /tmp/coachq-bdbench.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${BENCH_KEEP:-} ]] && echo "logs kept in $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

python3 "$ROOT/tests/fake/fake_upstream.py" --port 0 --port-file "$WORK/up.port" --log-level warning \
    >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $WORK/up.port ]] && break; sleep 0.1; done
UP=$(<"$WORK/up.port")
HTTP=$(free_port)
PREFIX="bdbench$$"
COMMON=(-o "kafka.bootstrap.servers=127.0.0.1:$KAFKA" -o "redis.port=$REDIS" -o log.level=warn
    -o "redis.prefix=$PREFIX:" -o "topics.jobs_prefix=$PREFIX.jobs." -o "topics.results=$PREFIX.results"
    -o "topics.dlq=$PREFIX.dlq" -o topics.create=true -o "business_data.cache_ttl=${TTL}s")
[[ $SWR != - ]] && COMMON+=(-o "business_data.stale_while_revalidate=${SWR}s")
env -u COACHQ_STACK_DIR "$BIN/coachq-business-data-worker" "${COMMON[@]}" \
    -o "upstream.account.url=http://127.0.0.1:$UP" -o "upstream.traction.url=http://127.0.0.1:$UP" \
    -o "worker.group_prefix=$PREFIX-" >"$WORK/worker.log" 2>&1 &
PIDS+=($!)
GW_OPTS=()
[[ -n $AHEAD ]] && GW_OPTS=(-o "business_data.refresh_ahead=$AHEAD")
env -u COACHQ_STACK_DIR "$BIN/coachq-gateway" "${COMMON[@]}" "${GW_OPTS[@]}" \
    -o "gateway.listen=127.0.0.1:$HTTP" -o gateway.dev_auth=true >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
BASE=http://127.0.0.1:$HTTP/coaching/api/v1
for _ in $(seq 150); do
    curl -sf "$BASE/health/ready" >/dev/null && break
    sleep 0.2
done
echo "refresh_ahead: ${AHEAD:-default} %; stale_while_revalidate: ${SWR/#-/default} s;" \
    "connections: ${BENCH_CONNECTIONS:-keepalive}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/tests/bench/business_data_bench.py" "$BASE" "$UP" "$TENANTS" "$RATE" "$DURATION" "$TTL"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s "$BASE/metrics" | grep -E '^coachq_gateway_business_data_(total|refreshes_total)' || true
