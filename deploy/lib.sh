# shellcheck shell=bash
# deploy/lib.sh — shell helpers shared by deploy/stack.sh and deploy/local.sh
# (sourced, never run). The sourcing script defines say().

# terminate_pids <timeout s> <pid...>: SIGTERM, wait until all are gone,
# SIGKILL whatever is still running after the timeout.
terminate_pids() {
    local timeout=$1 pid left deadline
    shift
    (($# == 0)) && return 0
    kill -TERM "$@" 2>/dev/null || true
    deadline=$((SECONDS + timeout))
    while :; do
        left=()
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && left+=("$pid")
        done
        ((${#left[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            say "still running after $timeout s, killing: ${left[*]}"
            kill -KILL "${left[@]}" 2>/dev/null || true
            sleep 0.2
            return 0
        fi
        sleep 0.2
    done
}
