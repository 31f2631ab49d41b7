#!/usr/bin/env bash
# tests/docs/swagger_ui.sh — the Swagger UI at /docs in headless Chromium.
#
# Starts its own gateway (development mode) and alignment worker from
# $COACHQ_BIN_DIR against the test stack ($COACHQ_IT_KAFKA_BOOTSTRAP,
# $COACHQ_IT_REDIS_PORT), with a prefix of its own for topics, groups and
# Redis keys as tests/integration/cq_it.c does, then runs swagger_ui.mjs
# (puppeteer-core from deploy/.node, Debian's /usr/bin/chromium) and stops
# both programs. deploy/local.sh test runs it while the test stack is up.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${COACHQ_BIN_DIR:?set COACHQ_BIN_DIR (the build directory with coachq-gateway)}"
: "${COACHQ_IT_KAFKA_BOOTSTRAP:?set COACHQ_IT_KAFKA_BOOTSTRAP (the test broker)}"
: "${COACHQ_IT_REDIS_PORT:?set COACHQ_IT_REDIS_PORT (the test Redis)}"
LOG_DIR=${COACHQ_IT_LOG_DIR:-${TMPDIR:-/tmp}}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

fail() {
    printf 'swagger_ui: %s\n' "$*" >&2
    exit 1
}
[[ -x $CHROMIUM ]] || fail "no Chromium at $CHROMIUM (deploy/setup.sh installs Debian's chromium)"
[[ -d $ROOT/deploy/.node/node_modules/puppeteer-core ]] ||
    fail "no puppeteer-core in deploy/.node (run deploy/setup.sh)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prefix=docs$$
base=http://127.0.0.1:$port/coaching/api/v1
opts=(-o "kafka.bootstrap.servers=$COACHQ_IT_KAFKA_BOOTSTRAP" -o "redis.port=$COACHQ_IT_REDIS_PORT"
    -o "redis.prefix=$prefix:" -o "topics.jobs_prefix=$prefix.jobs." -o "topics.results=$prefix.results"
    -o "topics.dlq=$prefix.dlq" -o topics.create=true -o topics.partitions=1
    -o "worker.group_prefix=$prefix-" -o "gateway.listen=127.0.0.1:$port" -o gateway.dev_auth=true
    -o log.level=info)

pids=()
stop_programs() {
    local pid i
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_programs EXIT

for program in coachq-alignment-worker coachq-gateway; do
    [[ -x $COACHQ_BIN_DIR/$program ]] || fail "no $COACHQ_BIN_DIR/$program"
    "$COACHQ_BIN_DIR/$program" "${opts[@]}" >"$LOG_DIR/$prefix-$program.log" 2>&1 </dev/null &
    pids+=($!)
    echo "started $program (pid $!), log $LOG_DIR/$prefix-$program.log"
done

ready=0
for ((i = 0; i < 150; i++)); do
    kill -0 "${pids[1]}" 2>/dev/null || fail "coachq-gateway exited (log $LOG_DIR/$prefix-coachq-gateway.log)"
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/health/ready") == 200 ]]; then
        ready=1
        break
    fi
    sleep 0.2
done
((ready)) || fail "$base/health/ready did not answer 200"

t0=$SECONDS
CHROMIUM=$CHROMIUM node "$HERE/swagger_ui.mjs" "$base"
echo "swagger_ui: browser checks took $((SECONDS - t0)) s"
