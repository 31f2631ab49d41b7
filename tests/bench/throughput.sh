#!/usr/bin/env bash
# Throughput benchmark (issue 11): one coachq-gateway and one
# coachq-alignment-worker (built-in engine, no LLM) of the release build,
# on a throw-away Kafka + Redis of their own, driven by wrk
# (tests/bench/throughput.lua: the README's alignment-check body, answers
# counted by status). Phases:
#   accept  Prefer: respond-async (202), wrk -t2 -c64; the CPU is counted
#           until the worker has run every accepted job too
#   sync    no Prefer (200 once the worker answered), wrk -t2 -c64
#   fixed   1,000 jobs/s offered (tests/bench/fixed_rate.py), accept then sync:
#           p99 measured from when each request was due
# For each phase: jobs/s, p50/p99/p99.9, and CPU seconds per 1,000 jobs of
# each process (gateway, worker, the Kafka broker's java, redis-server), from
# /proc/<pid>/stat utime+stime before and after. Any non-2xx answer or
# socket error is reported and marks the run "WITH ERRORS".
#
#   tests/bench/throughput.sh [--peer DIR] [--duration S] [--rate R]
#                             [--json FILE] [--no-build] [--self-check]
#
# --peer runs the reference FastAPI + Celery stack checked out in DIR (its
# app.py and tasks.py; skipped with a note if DIR has no app.py) on its own
# Redis, interleaved: coachq accept, peer accept, coachq sync, peer sync; then
# the ratios. Its Python packages go into deploy/.peer-venv (pinned below).
# --self-check only checks the wrk script and the parsing against a local
# stand-in server (a few seconds, no stack).
# Ports (environment): BENCH_KAFKA_PORT, BENCH_CONTROLLER_PORT,
# BENCH_REDIS_PORT, BENCH_HTTP_PORT (gateway; the peer uses +1, its Redis +2).
# Not part of the test suite (benchmarks are not timed tests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
BIN=${BENCH_BIN:-$ROOT/build/release}
KP=${BENCH_KAFKA_PORT:-39092} CP=${BENCH_CONTROLLER_PORT:-39093} RP=${BENCH_REDIS_PORT:-36379}
HP=${BENCH_HTTP_PORT:-38080}
PEER_HP=$((HP + 1)) PEER_RP=$((HP + 2))
DURATION=15 RATE=1000 FIXED_S=10 JSON_OUT=$ROOT/build/throughput.json BUILD=1 PEER="" SELF_CHECK=0
PEER_PINS=(fastapi==0.163.2 uvicorn==0.54.0 celery==5.7.0 redis==8.1.0 packaging==26.3)
PEER_VENV=$ROOT/deploy/.peer-venv
while (($#)); do
    case $1 in
    --peer)
        if [[ ${2:-} == "" || ${2:0:2} == -- ]]; then
            echo "throughput.sh: --peer needs the reference stack's directory" >&2
            exit 2
        fi
        PEER=$2 && shift
        ;;
    --duration) DURATION=$2 && shift ;;
    --rate) RATE=$2 && shift ;;
    --json) JSON_OUT=$2 && shift ;;
    --no-build) BUILD=0 ;;
    --self-check) SELF_CHECK=1 ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
        exit 2
        ;;
    esac
    shift
done
WORK=$(mktemp -d /tmp/coachq-throughput.XXXXXX)
PIDS=()
cleanup() {
    local p
    [[ -n ${PEER_REDIS:-} ]] && PIDS+=("$PEER_REDIS")
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [[ -n ${STACK_STARTED:-} ]] && COACHQ_STACK_DIR=$WORK/stack "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "throughput: $*" >&2; }
hz=$(getconf CLK_TCK)

# cpu_ticks PID...: utime+stime of the processes and their threads, summed.
cpu_ticks() {
    local t=0 p v
    for p in "$@"; do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        t=$((t + v))
    done
    echo "$t"
}
# tree PID: the process and all its descendants.
tree() {
    local p=$1 c
    echo "$p"
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
# bench_json FILE: the BENCH_JSON line of a generator's output.
bench_json() { sed -n 's/^BENCH_JSON //p' "$1" | tail -1; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d'"$2"')' "$1"; }

# run_wrk URL PREFER OUT: one wrk phase, output in OUT.
run_wrk() {
    BENCH_PREFER=$2 wrk -t2 -c64 -d"${DURATION}s" --timeout 30s --latency \
        -s "$BENCH/throughput.lua" "$1" >"$3" 2>&1 || {
        cat "$3" >&2
        return 1
    }
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
# record SYSTEM PHASE GENJSON "name=ticks ..." : one result line.
record() {
    python3 - "$1" "$2" "$3" "$4" "$hz" >>"$RESULTS" <<'PY'
import json, sys
system, phase, gen, cpu, hz = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], int(sys.argv[5])
jobs = sum(v for k, v in gen["statuses"].items() if k.startswith("2"))
per = {}
for item in cpu.split():
    name, ticks = item.split("=")
    per[name] = round(int(ticks) / hz * 1000 / jobs, 3) if jobs else None
gen.update(system=system, phase=phase, jobs=jobs,
           jobs_per_s=round(jobs / gen["duration_s"], 1) if gen["duration_s"] else 0,
           cpu_s_per_1000=per,
           cpu_s_per_1000_total=round(sum(v for v in per.values() if v), 3) if jobs else None)
print(json.dumps(gen, separators=(",", ":")))
PY
}

self_check() {
    # A stand-in server answers 202, 202, 500, ...: the wrk script must count
    # the 500s as non-2xx and the fixed-rate generator too.
    local port=$((HP + 3)) out=$WORK/self
    python3 - "$port" >"$WORK/standin.log" 2>&1 <<'PY' &
import http.server, sys, itertools
n = itertools.count()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        code = 500 if next(n) % 3 == 2 else 202
        self.send_response(code); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
    PIDS+=($!)
    sleep 0.5
    BENCH_PREFER=respond-async wrk -t2 -c4 -d1s -s "$BENCH/throughput.lua" \
        "http://127.0.0.1:$port/x" >"$out.wrk" 2>&1
    python3 "$BENCH/fixed_rate.py" "http://127.0.0.1:$port/x" 100 1 --conns 4 >"$out.fixed"
    python3 - "$(bench_json "$out.wrk")" "$(bench_json "$out.fixed")" <<'PY'
import json, sys
for name, text in zip(("wrk", "fixed_rate"), sys.argv[1:]):
    d = json.loads(text)
    s = d["statuses"]
    assert d["requests"] > 0 and s.get("202", 0) > 0 and s.get("500", 0) > 0, (name, d)
    assert d["non2xx"] == s["500"], (name, d)
    assert d["p50_ms"] > 0 and d["p99_ms"] >= d["p50_ms"], (name, d)
    print(f"self-check {name}: ok ({d['requests']} requests, statuses {s})")
PY
}
if ((SELF_CHECK)); then
    self_check
    exit 0
fi

if ((BUILD)); then
    say "building $BIN (RelWithDebInfo, as deploy/local.sh run)"
    cmake -S "$ROOT" -B "$BIN" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOACHQ_TESTS=OFF >/dev/null
    cmake --build "$BIN" --target coachq-gateway coachq-alignment-worker -j2 >/dev/null
fi
if [[ -n $PEER && ! -f $PEER/app.py ]]; then
    say "peer: no $PEER/app.py, the peer is skipped"
    PEER=""
fi
if [[ -n $PEER ]]; then
    if ! "$PEER_VENV/bin/python" -c 'import fastapi, uvicorn, celery, redis' 2>/dev/null; then
        say "peer: installing ${PEER_PINS[*]} into $PEER_VENV"
        python3 -m venv "$PEER_VENV"
        "$PEER_VENV/bin/pip" install -q "${PEER_PINS[@]}"
    fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say "stack on 127.0.0.1:$KP (controller $CP), redis $RP"
COACHQ_STACK_DIR=$WORK/stack COACHQ_STACK_KAFKA_PORT=$KP COACHQ_STACK_CONTROLLER_PORT=$CP \
    COACHQ_STACK_REDIS_PORT=$RP COACHQ_STACK_REDIS_PERSIST=0 "$ROOT/deploy/stack.sh" start >/dev/null
STACK_STARTED=1
KAFKA=$(<"$WORK/stack/kafka.pid") REDIS=$(<"$WORK/stack/redis.pid")
WMP=$((HP + 4))
COMMON=(-o "kafka.bootstrap.servers=127.0.0.1:$KP" -o redis.host=127.0.0.1 -o "redis.port=$RP")
env -u COACHQ_STACK_DIR "$BIN/coachq-alignment-worker" "${COMMON[@]}" \
    -o "worker.metrics_listen=127.0.0.1:$WMP" ${BENCH_WORKER_OPTS:-} >"$WORK/worker.log" 2>&1 &
WORKER=$!
PIDS+=("$WORKER")
# As deploy/local.sh run starts it; the rate limit is off (one tenant here).
GLIBC_TUNABLES=glibc.malloc.tcache_count=0 "$BIN/coachq-gateway" "${COMMON[@]}" \
    -o "gateway.listen=127.0.0.1:$HP" -o gateway.dev_auth=true -o ratelimit.rate=0 \
    ${BENCH_GATEWAY_OPTS:-} >"$WORK/gateway.log" 2>&1 &
GATEWAY=$!
PIDS+=("$GATEWAY")
URL=http://127.0.0.1:$HP/coaching/api/v1/coaching/alignment-check
for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$HP/coaching/api/v1/health/ready" >/dev/null && break
    sleep 0.2
done
curl -sf "http://127.0.0.1:$HP/coaching/api/v1/health/ready" >/dev/null || {
    tail -20 "$WORK/gateway.log" >&2
    exit 1
}
# Worker finished-job count (its /metrics); the accept phase waits for it.
worker_done() {
    curl -sf "http://127.0.0.1:$WMP/metrics" |
        awk '/^coachq_worker_job_duration_seconds_count/ {s += $NF} END {print s + 0}'
}
say "warm-up (sync requests until the worker answers)"
for _ in $(seq 60); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL" -H 'Content-Type: application/json' \
        -H 'X-Tenant-Id: bench' -H "Prefer: wait=5" -d "$(python3 -c "import sys; sys.path.insert(0,'$BENCH'); import fixed_rate; print(fixed_rate.lua_body('$BENCH/throughput.lua').decode())")") == 200 ]] && break
    sleep 1
done
DURATION_SAVE=$DURATION DURATION=3
run_wrk "$URL" "" "$WORK/warm.out"
DURATION=$DURATION_SAVE

# coachq_phase NAME PREFER [fixed]
coachq_phase() {
    local name=$1 prefer=$2 kind=${3:-wrk} out=$WORK/$1.out
    local before g0 w0 k0 r0 done0
    done0=$(worker_done)
    g0=$(cpu_ticks "$GATEWAY") w0=$(cpu_ticks "$WORKER") k0=$(cpu_ticks "$KAFKA") r0=$(cpu_ticks "$REDIS")
    if [[ $kind == fixed ]]; then
        python3 "$BENCH/fixed_rate.py" "$URL" "$RATE" "$FIXED_S" ${prefer:+--prefer "$prefer"} >"$out"
    else
        run_wrk "$URL" "$prefer" "$out"
    fi
    local gen
    gen=$(bench_json "$out")
    [[ -n $gen ]] || {
        cat "$out" >&2
        exit 1
    }
    # Count the worker's part of the accepted jobs: wait until it has run them.
    local want jobs
    jobs=$(jget "$gen" '["statuses"].get("202",0)+d["statuses"].get("200",0)')
    want=$((done0 + jobs))
    for _ in $(seq 600); do
        (($(worker_done) >= want)) && break
        sleep 0.1
    done
    (($(worker_done) >= want)) || say "$name: the worker has not run every job after 60 s"
    record coachq "$name" "$gen" "gateway=$(($(cpu_ticks "$GATEWAY") - g0)) worker=$(($(cpu_ticks "$WORKER") - w0)) kafka=$(($(cpu_ticks "$KAFKA") - k0)) redis=$(($(cpu_ticks "$REDIS") - r0))"
    say "$name: $(tail -1 "$RESULTS" | cut -c1-300)"
}

peer_start() {
    redis-server --port "$PEER_RP" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/peer-redis.log" 2>&1 &
    PEER_REDIS=$!
    sleep 0.5
    (cd "$PEER" && REDIS_URL=redis://127.0.0.1:$PEER_RP/5 exec "$PEER_VENV/bin/celery" -A tasks worker \
        -P prefork -c 2 --loglevel=warning >"$WORK/peer-celery.log" 2>&1) &
    PEER_CELERY=$!
    PIDS+=("$PEER_CELERY")
    (cd "$PEER" && REDIS_URL=redis://127.0.0.1:$PEER_RP/5 exec "$PEER_VENV/bin/uvicorn" app:app \
        --workers 2 --host 127.0.0.1 --port "$PEER_HP" --log-level warning --no-access-log \
        >"$WORK/peer-web.log" 2>&1) &
    PEER_WEB=$!
    PIDS+=("$PEER_WEB")
    PEER_URL=http://127.0.0.1:$PEER_HP/coaching/api/v1/coaching/alignment-check
    for _ in $(seq 100); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST "$PEER_URL" -H 'Content-Type: application/json' \
            -d '{"goalIntent":"x","businessFoundation":{"vision":"v","purpose":"p","coreValues":[]}}') == 200 ]] && return 0
        sleep 0.3
    done
    say "peer: did not answer; see $WORK/peer-*.log"
    tail -20 "$WORK"/peer-*.log >&2
    return 1
}
peer_phase() {
    local name=$1 prefer=$2 out=$WORK/peer-$1.out w0 c0 r0 webp celp
    webp=$(tree "$PEER_WEB") celp=$(tree "$PEER_CELERY")
    # shellcheck disable=SC2086
    w0=$(cpu_ticks $webp) c0=$(cpu_ticks $celp) r0=$(cpu_ticks "$PEER_REDIS")
    run_wrk "$PEER_URL" "$prefer" "$out"
    local gen
    gen=$(bench_json "$out")
    # The accepted tasks run after wrk ends: wait for the Celery queue to drain.
    for _ in $(seq 1200); do
        [[ $(redis-cli -p "$PEER_RP" -n 5 llen celery) == 0 ]] && break
        sleep 0.1
    done
    sleep 1
    # shellcheck disable=SC2086
    record peer "$name" "$gen" "web=$(($(cpu_ticks $webp) - w0)) celery=$(($(cpu_ticks $celp) - c0)) redis=$(($(cpu_ticks "$PEER_REDIS") - r0))"
    say "peer $name: $(tail -1 "$RESULTS" | cut -c1-300)"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -n $PEER ]]; then
    say "peer: starting (web :$PEER_HP, redis :$PEER_RP)"
    if peer_start; then
        BENCH_DURATION=$DURATION DURATION=3
        run_wrk "$PEER_URL" "" "$WORK/peer-warm.out"
        DURATION=$BENCH_DURATION
    else
        PEER=""
    fi
fi
coachq_phase accept respond-async
[[ -n $PEER ]] && peer_phase accept respond-async
coachq_phase sync ""
[[ -n $PEER ]] && peer_phase sync ""
coachq_phase fixed-accept respond-async fixed
coachq_phase fixed-sync "" fixed
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$JSON_OUT")"
python3 - "$RESULTS" "$JSON_OUT" "$LOAD0" "$LOAD1" "$DURATION" "$RATE" "$(git -C "$ROOT" rev-parse --short HEAD)" "$BIN" <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": sys.argv[7],
       "binaries": sys.argv[8],
       "load_before": sys.argv[3], "load_after": sys.argv[4], "wrk_duration_s": int(sys.argv[5]),
       "fixed_rate_per_s": float(sys.argv[6]), "cores": __import__("os").cpu_count(), "results": rows}
json.dump(doc, open(sys.argv[2], "w"), indent=1)
errors = [r for r in rows if r["non2xx"] or r["socket_errors"]]
print(f"## Throughput, commit {doc['commit']} (binaries {doc['binaries']}), {doc['time']}, "
      f"load average {doc['load_before']} -> {doc['load_after']}\n")
print("| system | phase | jobs/s | p50 ms | p99 ms | p99.9 ms | non-2xx | socket errors | CPU s / 1000 jobs |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    cpu = ", ".join(f"{k} {v}" for k, v in r["cpu_s_per_1000"].items())
    rate = (f"{r['jobs_per_s']} (offered {r['offered_per_s']:g}, generator CPU {r['generator_cpu_s']} s)"
            if "offered_per_s" in r else r["jobs_per_s"])
    print(f"| {r['system']} | {r['phase']} | {rate} | {r['p50_ms']} | {r['p99_ms']} | {r['p999_ms']} "
          f"| {r['non2xx']} | {r['socket_errors']} | {cpu}; total {r['cpu_s_per_1000_total']} |")
by = {(r["system"], r["phase"]): r for r in rows}
if ("peer", "accept") in by:
    print("\n| phase | coachq jobs/s | peer jobs/s | ratio | CPU ratio (peer/coachq) |\n|---|---|---|---|---|")
    for ph in ("accept", "sync"):
        c, p = by.get(("coachq", ph)), by.get(("peer", ph))
        if c and p and p["jobs_per_s"] and c["cpu_s_per_1000_total"]:
            print(f"| {ph} | {c['jobs_per_s']} | {p['jobs_per_s']} | {c['jobs_per_s'] / p['jobs_per_s']:.1f}x "
                  f"| {p['cpu_s_per_1000_total'] / c['cpu_s_per_1000_total']:.1f}x |")
print(f"\nJSON: {sys.argv[2]}")
if errors:
    print("\n**RUN WITH ERRORS**: " + "; ".join(
        f"{r['system']} {r['phase']}: statuses {r['statuses']}, socket errors {r['socket_errors']}" for r in errors))
    sys.exit(1)
PY
