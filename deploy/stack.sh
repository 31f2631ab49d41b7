#!/usr/bin/env bash
# deploy/stack.sh start|stop|status|topics — the services coachq talks to, on
# loopback: one Apache Kafka broker in KRaft mode (broker and controller in one
# JVM, jars from deploy/setup.sh) and one Redis server.
#
#   start   formats the broker's storage on first use, starts both in the
#           background, waits until both answer (kcat -L, redis-cli ping) and
#           creates the topics of deploy/topics.conf that are missing. Does
#           nothing to a service that is already running.
#   stop    SIGTERM, up to 20 s for a clean shutdown, then SIGKILL. Idempotent.
#   status  prints the state of both; exit 0 only when both run.
#   topics  creates the missing topics and lists them.
#
# Environment:
#   COACHQ_STACK_DIR              data, logs and pid files (<repo>/.run/stack)
#   COACHQ_STACK_KAFKA_PORT             broker listener (9092)
#   COACHQ_STACK_CONTROLLER_PORT  KRaft controller listener (9093)
#   COACHQ_STACK_REDIS_PORT             Redis (6379)
#   COACHQ_STACK_KAFKA_HEAP             broker JVM heap (512m)
#   COACHQ_STACK_REDIS_PERSIST          1: Redis keeps an append-only file (fsync every
#                                 second) and snapshots in the stack dir (default);
#                                 0: no persistence (tests)
#   COACHQ_STACK_TIMEOUT          seconds start waits for the services (90)
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$DEPLOY_DIR")
STACK_DIR=${COACHQ_STACK_DIR:-$ROOT_DIR/.run/stack}
KAFKA_PORT=${COACHQ_STACK_KAFKA_PORT:-9092}
CONTROLLER_PORT=${COACHQ_STACK_CONTROLLER_PORT:-9093}
REDIS_PORT=${COACHQ_STACK_REDIS_PORT:-6379}
KAFKA_HEAP=${COACHQ_STACK_KAFKA_HEAP:-512m}
REDIS_PERSIST=${COACHQ_STACK_REDIS_PERSIST:-1}
START_TIMEOUT=${COACHQ_STACK_TIMEOUT:-90}
STOP_TIMEOUT=20

KAFKA_LIBS=$DEPLOY_DIR/kafka/libs
BOOTSTRAP=127.0.0.1:$KAFKA_PORT
KAFKA_DIR=$STACK_DIR/kafka
REDIS_DIR=$STACK_DIR/redis
KAFKA_PID=$STACK_DIR/kafka.pid
REDIS_PID=$STACK_DIR/redis.pid
KAFKA_LOG=$STACK_DIR/kafka.log
REDIS_LOG=$STACK_DIR/redis.log

say() { printf 'stack: %s\n' "$*"; }
# shellcheck source=deploy/lib.sh
. "$DEPLOY_DIR/lib.sh"
die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}

# Java options of the short-lived tools: they start fast and need little.
TOOL_JAVA=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    "-Dlog4j.configuration=file:$DEPLOY_DIR/kafka/tools-log4j.properties" -cp "$KAFKA_LIBS/*")

# running <pidfile> <cmdline word>: the pid file names a live process that is
# ours (its command line has the word), so a recycled pid is not mistaken for it.
running() {
    local pid cmd
    [[ -f $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmd == *"$2"* ]]
}

# alive <pidfile>: the process just started still runs (not a zombie); its
# command line may still be setsid's for a moment, so it is not checked.
alive() {
    local pid state
    pid=$(<"$1") || return 1
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' 2>/dev/null <"/proc/$pid/stat") || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tail() {
    printf -- '--- last lines of %s ---\n' "$1" >&2
    tail -n 40 "$1" >&2 2>/dev/null || true
    printf -- '---\n' >&2
}

kafka_answers() { kcat -L -b "$BOOTSTRAP" -m 2 >/dev/null 2>&1; }
redis_answers() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

write_kafka_config() {
    cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by deploy/stack.sh at each start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
log.retention.hours=168
log.segment.bytes=104857600
EOF
}

start_kafka() {
    if running "$KAFKA_PID" kafka.Kafka; then
        say "kafka: already running (pid $(<"$KAFKA_PID")) on $BOOTSTRAP"
        return
    fi
    mkdir -p "$KAFKA_DIR/data"
    write_kafka_config
    if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
        # A cluster id is 16 random bytes in unpadded base64url.
        local cluster_id
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        # An id starting with "-" would be read as an option by the tool (1 run in 64).
        cluster_id=${cluster_id/#-/A}
        "${TOOL_JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
            -c "$KAFKA_DIR/server.properties" >>"$KAFKA_LOG" 2>&1 || {
            log_tail "$KAFKA_LOG"
            die "kafka: formatting the storage in $KAFKA_DIR/data failed"
        }
        say "kafka: formatted storage (cluster $cluster_id)"
    fi
    # setsid: the broker outlives this script and a Ctrl-C in its terminal.
    setsid java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        "-Dlog4j.configuration=file:$DEPLOY_DIR/kafka/log4j.properties" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
        >>"$KAFKA_LOG" 2>&1 </dev/null &
    echo $! >"$KAFKA_PID"
    STARTED+=("$!")
    say "kafka: started (pid $!) on $BOOTSTRAP, controller 127.0.0.1:$CONTROLLER_PORT"
}

start_redis() {
    if running "$REDIS_PID" redis-server; then
        say "redis: already running (pid $(<"$REDIS_PID")) on 127.0.0.1:$REDIS_PORT"
        return
    fi
    mkdir -p "$REDIS_DIR"
    local persist=(--save '' --appendonly no)
    if [[ $REDIS_PERSIST == 1 ]]; then
        # Job state must survive a hard crash: the append-only file, fsynced
        # once a second, loses at most about a second of writes (snapshots
        # alone lose everything since the last one). See README "Sizing Redis".
        persist=(--appendonly yes --appendfsync everysec
            --save '3600 1 300 100 60 10000' --dbfilename dump.rdb)
    fi
    # noeviction: every coachq key has a TTL, queued and running jobs too, so
    # any evicting policy could drop a job that is still to run.
    setsid redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
        --daemonize no --dir "$REDIS_DIR" --logfile '' "${persist[@]}" \
        --maxmemory-policy noeviction \
        >>"$REDIS_LOG" 2>&1 </dev/null &
    echo $! >"$REDIS_PID"
    STARTED+=("$!")
    say "redis: started (pid $!) on 127.0.0.1:$REDIS_PORT"
}

# Before anything starts: the ports of what is not running yet must be free,
# and the broker jars there.
check_start() {
    if ! running "$KAFKA_PID" kafka.Kafka; then
        [[ -f $KAFKA_LIBS/.stamp ]] || die "no broker jars in $KAFKA_LIBS: run deploy/setup.sh first"
        local port
        for port in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
            port_open "$port" && die "port $port is already in use by another program" \
                "(set COACHQ_STACK_KAFKA_PORT / COACHQ_STACK_CONTROLLER_PORT)"
        done
    fi
    if ! running "$REDIS_PID" redis-server; then
        port_open "$REDIS_PORT" && die "port $REDIS_PORT is already in use by another program" \
            "(a system redis-server? set COACHQ_STACK_REDIS_PORT)"
    fi
    return 0
}

# A start that fails stops what it started, so nothing half-up stays behind.
STARTED=()
undo_start() {
    ((${#STARTED[@]} == 0)) && return
    say "start failed: stopping what it started (${STARTED[*]})"
    kill -TERM "${STARTED[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT)) pid left
    while :; do
        left=()
        for pid in "${STARTED[@]}"; do
            kill -0 "$pid" 2>/dev/null && left+=("$pid")
        done
        ((${#left[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            kill -KILL "${left[@]}" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$KAFKA_PID" "$REDIS_PID"
}

wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT)) kafka_ok=0 redis_ok=0 t0=$SECONDS
    while ((kafka_ok == 0 || redis_ok == 0)); do
        if ((redis_ok == 0)); then
            alive "$REDIS_PID" || {
                log_tail "$REDIS_LOG"
                die "redis: exited during start"
            }
            redis_answers && redis_ok=1
        fi
        if ((kafka_ok == 0)); then
            alive "$KAFKA_PID" || {
                log_tail "$KAFKA_LOG"
                die "kafka: exited during start"
            }
            kafka_answers && kafka_ok=1
        fi
        ((kafka_ok == 1 && redis_ok == 1)) && break
        if ((SECONDS >= deadline)); then
            ((kafka_ok == 1)) || log_tail "$KAFKA_LOG"
            ((redis_ok == 1)) || log_tail "$REDIS_LOG"
            die "not ready after $START_TIMEOUT s (kafka answers: $kafka_ok, redis answers: $redis_ok)"
        fi
        sleep 0.5
    done
    say "kafka and redis answer (after $((SECONDS - t0)) s)"
}

# The topics file without comments: "name partitions" lines.
wanted_topics() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$DEPLOY_DIR/topics.conf"; }

# Prints the names of the topics the broker has.
existing_topics() {
    kcat -L -b "$BOOTSTRAP" -m 5 2>/dev/null | sed -n 's/^ *topic "\([^"]*\)".*/\1/p' || true
}

create_topics() {
    kafka_answers || die "kafka does not answer on $BOOTSTRAP"
    local have name parts created=()
    have=$(existing_topics)
    while read -r name parts; do
        grep -qxF "$name" <<<"$have" && continue
        "${TOOL_JAVA[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
            --create --if-not-exists --topic "$name" --partitions "$parts" \
            --replication-factor 1 >/dev/null || die "kafka: could not create topic $name"
        created+=("$name")
    done < <(wanted_topics)
    if ((${#created[@]} == 0)); then
        say "topics: all $(wanted_topics | wc -l) present"
    else
        say "topics: created ${created[*]}"
    fi
    wait_leaders
}

# Waits until every wanted topic has all its partitions with a leader, so the
# first produce after start does not meet "leader not available".
wait_leaders() {
    local deadline=$((SECONDS + 30)) meta name parts ok
    while :; do
        meta=$(kcat -L -b "$BOOTSTRAP" -m 5 2>/dev/null) || meta=
        ok=1
        while read -r name parts; do
            if ! grep -qF "topic \"$name\" with $parts partitions:" <<<"$meta"; then
                ok=0
            fi
        done < <(wanted_topics)
        grep -qE 'leader -1|Broker:|Local:' <<<"$meta" && ok=0
        ((ok == 1)) && return
        ((SECONDS >= deadline)) && {
            printf '%s\n' "$meta" >&2
            die "topics: partitions without a leader after 30 s"
        }
        sleep 0.5
    done
}

list_topics() {
    kcat -L -b "$BOOTSTRAP" -m 5 2>/dev/null | sed -n 's/^ *topic "\([^"]*\)" with \([0-9]*\) partitions.*/  \1 (\2 partitions)/p' |
        grep -v ' __' | sort || true
}

# stop_all: SIGTERM to what runs, wait, SIGKILL what is left after STOP_TIMEOUT.
stop_all() {
    local pids=() names=() i
    if running "$KAFKA_PID" kafka.Kafka; then
        pids+=("$(<"$KAFKA_PID")")
        names+=(kafka)
    fi
    if running "$REDIS_PID" redis-server; then
        pids+=("$(<"$REDIS_PID")")
        names+=(redis)
    fi
    if ((${#pids[@]} == 0)); then
        rm -f "$KAFKA_PID" "$REDIS_PID"
        say "not running (${STACK_DIR})"
        return
    fi
    local t0=$SECONDS
    terminate_pids "$STOP_TIMEOUT" "${pids[@]}"
    rm -f "$KAFKA_PID" "$REDIS_PID"
    for i in "${!names[@]}"; do
        say "${names[$i]}: stopped (pid ${pids[$i]})"
    done
    say "stopped in $((SECONDS - t0)) s"
}

status() {
    local rc=0
    if running "$KAFKA_PID" kafka.Kafka; then
        if kafka_answers; then
            say "kafka: running (pid $(<"$KAFKA_PID")) on $BOOTSTRAP"
        else
            say "kafka: running (pid $(<"$KAFKA_PID")) but not answering on $BOOTSTRAP"
            rc=1
        fi
    else
        say "kafka: stopped"
        rc=3
    fi
    if running "$REDIS_PID" redis-server; then
        if redis_answers; then
            say "redis: running (pid $(<"$REDIS_PID")) on 127.0.0.1:$REDIS_PORT"
        else
            say "redis: running (pid $(<"$REDIS_PID")) but not answering on 127.0.0.1:$REDIS_PORT"
            rc=1
        fi
    else
        say "redis: stopped"
        rc=3
    fi
    say "dir: $STACK_DIR"
    return $rc
}

case ${1:-} in
start)
    mkdir -p "$STACK_DIR"
    check_start
    trap undo_start EXIT
    trap 'exit 130' INT TERM
    start_kafka
    start_redis
    wait_ready
    create_topics
    trap - EXIT INT TERM
    ;;
stop)
    stop_all
    ;;
status)
    status
    ;;
topics)
    create_topics
    list_topics
    ;;
*)
    echo "usage: $0 start|stop|status|topics" >&2
    exit 2
    ;;
esac
