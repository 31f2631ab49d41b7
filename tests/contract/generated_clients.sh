#!/usr/bin/env bash
# Contract check: clients generated from schemas/openapi.json by tools nobody
# here wrote work on the first try.
#   1. TypeScript: openapi-typescript's types compile under `tsc --strict`
#      with a fixture job that carries a result and reads its fields with
#      their real types (clients/job_fixture.ts), and a line that misuses a
#      result field's type must fail to compile (clients/job_wrong_type.ts).
#   2. Python: openapi-python-client generates a package, with no warning;
#      clients/python_client_check.py drives alignment-check through it,
#      synchronously and asynchronously (polling the job to `succeeded`), and
#      reads the typed result field by field, against a gateway and an
#      alignment worker this script starts on the test stack, with the
#      options the integration tests use (tests/integration/cq_it.c).
# Needs deploy/setup.sh's deploy/.node and deploy/.clients-venv, and for the
# Python part COACHQ_BIN_DIR, COACHQ_IT_KAFKA_BOOTSTRAP and COACHQ_IT_REDIS_PORT
# (deploy/local.sh test exports them while the test stack is up).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/contract/clients"
node_bin="$root/deploy/.node/node_modules/.bin"
venv="$root/deploy/.clients-venv"
doc="$root/schemas/openapi.json"
for f in "$node_bin/openapi-typescript" "$node_bin/tsc" "$venv/bin/openapi-python-client"; do
    [ -x "$f" ] || {
        echo "no $f: run deploy/setup.sh" >&2
        exit 1
    }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/coachq-clients.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. TypeScript
echo "openapi-typescript $("$node_bin/openapi-typescript" --version 2>&1 | tail -n 1), tsc $("$node_bin/tsc" --version)"
mkdir -p "$work/ts"
"$node_bin/openapi-typescript" "$doc" -o "$work/ts/api.ts" >"$work/ts/gen.log" 2>&1 || {
    cat "$work/ts/gen.log"
    exit 1
}
cp "$here/job_fixture.ts" "$here/job_wrong_type.ts" "$work/ts/"
tsc_run() { # tsc_run <file>: strict type check only
    (cd "$work/ts" && "$node_bin/tsc" --strict --noEmit --target es2020 --module commonjs \
        --moduleResolution node --skipLibCheck false "$1")
}
tsc_run job_fixture.ts
echo "ok   tsc --strict compiles job_fixture.ts (typed job result)"
if out=$(tsc_run job_wrong_type.ts 2>&1); then
    echo "FAIL job_wrong_type.ts compiled: a result field's type is not checked" >&2
    exit 1
fi
grep -q "error TS2322" <<<"$out" || {
    echo "FAIL job_wrong_type.ts failed for another reason than its wrong type:" >&2
    echo "$out" >&2
    exit 1
}
echo "ok   tsc rejects job_wrong_type.ts: $(grep -m1 'error TS2322' <<<"$out" | sed 's/^[^:]*: //')"

# ---- 2. Python
export PATH="$venv/bin:$PATH" # the generator formats its output with ruff from the venv
mkdir -p "$work/py"
"$venv/bin/openapi-python-client" generate --path "$doc" --output-path "$work/py/coachq_client" \
    --meta none --config "$here/openapi-python-client.yaml" >"$work/py/gen.log" 2>&1 || {
    cat "$work/py/gen.log"
    exit 1
}
# One warning is expected: the generator does not know JSON Lines, the
# second media type of POST /jobs/batch's body (the JSON array one is
# generated). Any other warning, or an error, fails.
warnings=$(grep -c '^WARNING' "$work/py/gen.log" || true)
known=$(grep -c '^WARNING parsing POST /jobs/batch within jobs' "$work/py/gen.log" || true)
if ((warnings != known)) || ((known > 1)) || grep -q -e '^Error' -e 'Unable to' "$work/py/gen.log" ||
    { ((known == 1)) && ! grep -q '^Unsupported content type application/x-ndjson$' "$work/py/gen.log"; }; then
    echo "FAIL openapi-python-client warned about more than POST /jobs/batch's JSON Lines body:" >&2
    cat "$work/py/gen.log" >&2
    exit 1
fi
echo "ok   openapi-python-client $("$venv/bin/pip" show openapi-python-client 2>/dev/null |
    sed -n 's/^Version: //p') generated coachq_client ($warnings warning: POST /jobs/batch's JSON Lines body)"

: "${COACHQ_BIN_DIR:?not set: run under deploy/local.sh test (the gateway and worker binaries)}"
: "${COACHQ_IT_KAFKA_BOOTSTRAP:?not set: the test stack is not up}"
: "${COACHQ_IT_REDIS_PORT:?not set: the test stack is not up}"
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prefix="gc$$$(date +%s | tail -c 6)"
logs=${COACHQ_IT_LOG_DIR:-$work}
opts=(-o "kafka.bootstrap.servers=$COACHQ_IT_KAFKA_BOOTSTRAP" -o "redis.port=$COACHQ_IT_REDIS_PORT"
    -o "redis.prefix=$prefix:" -o "topics.jobs_prefix=$prefix.jobs." -o "topics.results=$prefix.results"
    -o "topics.dlq=$prefix.dlq" -o topics.create=true -o topics.partitions=3
    -o "worker.group_prefix=$prefix-" -o "gateway.listen=127.0.0.1:$port" -o gateway.dev_auth=true
    -o log.level=info)
"$COACHQ_BIN_DIR/coachq-alignment-worker" "${opts[@]}" >>"$logs/$prefix-coachq-alignment-worker.log" 2>&1 &
pids+=($!)
"$COACHQ_BIN_DIR/coachq-gateway" "${opts[@]}" >>"$logs/$prefix-coachq-gateway.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port/coaching/api/v1"
ready=0
for _ in $(seq 300); do
    if curl -fsS -o /dev/null "$base/health/ready" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "${pids[1]}" 2>/dev/null || break
    sleep 0.1
done
if ((!ready)); then
    echo "FAIL the gateway was not ready in 30 s; its log:" >&2
    tail -n 20 "$logs/$prefix-coachq-gateway.log" >&2
    exit 1
fi
echo "gateway on 127.0.0.1:$port and alignment worker started (prefix $prefix)"
"$venv/bin/python" "$here/python_client_check.py" "$base" "$work/py"
