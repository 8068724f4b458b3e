#!/usr/bin/env bash
# A Docker Engine for the container tests (make test) and scripts/kind-e2e.sh.
#
#   eval "$(bash scripts/docker-engine.sh start)"   # sets DOCKER=<client> or ENGINE_SKIP=<reason>,
#                                                   # and ENGINE_STARTED=<pid> if it started dockerd
#   bash scripts/docker-engine.sh stop "$ENGINE_STARTED"   # stops that dockerd; no PID: nothing
#
# `start`, in this order:
#  1. an engine that already answers `docker info` is used as it is (and never stopped by us);
#  2. else, as root, Debian's docker.io is installed (apt-get) and dockerd is started in the
#     background for this run: no bridge and no iptables rules (every container of ours runs with
#     --network host or none), its data root under $SYFT_CACHE (default /var/cache/syft-monitor)
#     so that images, the substitute base among them, survive between runs on the same machine;
#  3. else it prints ENGINE_SKIP with the plain reason and exits 0: the callers skip, not fail.
# SYFT_CONTAINER_TESTS=0 skips on purpose (no install, no daemon).
#
# DOCKER names a client that can build with BuildKit (the Dockerfile mounts build secrets): the
# `docker` on PATH when it has the buildx plugin, else the docker.io package's own client (20.10,
# BuildKit built in), which is what a machine with only a bare `docker` client ends up using.
set -euo pipefail

CACHE="${SYFT_CACHE:-/var/cache/syft-monitor}"
STATE="${SYFT_ENGINE_STATE:-/run/syft-monitor}"
PIDFILE="$STATE/dockerd.pid"
STARTED="$STATE/started-by-syft-monitor"
LOG="$STATE/dockerd.log"
SOCKET=/var/run/docker.sock

say() { echo "docker-engine: $*" >&2; }
emit() { printf '%s=%q\n' "$1" "$2"; }
skip() {
    say "skipped: $1"
    emit ENGINE_SKIP "$1"
    exit 0
}

# The client to use against a reachable engine; fails when none can build with BuildKit.
pick_client() {
    if docker buildx version >/dev/null 2>&1; then
        command -v docker
        return
    fi
    # docker.io's client: BuildKit built in (DOCKER_BUILDKIT=1), no plugin needed.
    local debian=/usr/bin/docker
    if [[ -x "$debian" ]] && DOCKER_BUILDKIT=1 "$debian" build --help 2>/dev/null | grep -q -- '--secret'; then
        echo "$debian"
        return
    fi
    return 1
}

engine_answers() { docker info >/dev/null 2>&1; }

install_docker_io() {
    command -v apt-get >/dev/null 2>&1 || return 1
    export DEBIAN_FRONTEND=noninteractive
    local log="$STATE/apt.log"
    : >"$log"
    # A fresh machine may have no package lists, or old ones whose files the mirror no longer
    # has: update when there is no candidate, and once more if the install fails.
    if ! apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -qq >>"$log" 2>&1 || return 1
    fi
    local try
    for try in 1 2; do
        apt-get install -y -qq --no-install-recommends docker.io >>"$log" 2>&1 </dev/null && return 0
        [[ $try == 1 ]] && apt-get update -qq >>"$log" 2>&1
    done
    tail -n 20 "$log" >&2
    return 1
}

start() {
    if [[ "${SYFT_CONTAINER_TESTS:-1}" == 0 ]]; then
        skip "SYFT_CONTAINER_TESTS=0"
    fi
    if ! engine_answers; then
        [[ "$(id -u)" == 0 ]] || skip "no Docker Engine answers and installing one needs root"
        mkdir -p "$STATE"
        if ! command -v dockerd >/dev/null 2>&1; then
            say "installing Debian's docker.io (log: $STATE/apt.log)"
            install_docker_io || skip "no Docker Engine answers and Debian's docker.io could not be installed"
        fi
        mkdir -p "$CACHE/docker" "$STATE"
        say "starting dockerd (data root $CACHE/docker, log $LOG)"
        # setsid: the daemon must not get the test run's terminal signals (Ctrl-C reaches pytest,
        # then `stop` ends the daemon cleanly).
        setsid dockerd --host "unix://$SOCKET" --bridge=none --iptables=false \
            --data-root "$CACHE/docker" --exec-root "$STATE/docker" --pidfile "$PIDFILE" \
            </dev/null >"$LOG" 2>&1 &
        local pid=$!
        echo "$pid" >"$STARTED"
        for _ in $(seq 120); do
            engine_answers && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if ! engine_answers; then
            tail -n 5 "$LOG" >&2 || true
            stop "$pid"
            skip "dockerd did not start (log: $LOG)"
        fi
        emit ENGINE_STARTED "$pid"
    fi
    local client
    client="$(pick_client)" || skip "no docker client with BuildKit (install the buildx plugin)"
    say "engine ready, client $client"
    emit DOCKER "$client"
}

stop() {
    local pid="${1:-}"
    # Only a dockerd that `start` started (its PID is in the marker), and only while it is one:
    # a caller that found an engine running passes no PID and stops nothing.
    [[ -n "$pid" && -f "$STARTED" && "$(cat "$STARTED")" == "$pid" ]] || return 0
    rm -f "$STARTED"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
        say "stopping dockerd $pid"
        kill -TERM "$pid"
        for _ in $(seq 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "dockerd $pid ignored SIGTERM for 30 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # dockerd leaves its network namespace mounted under its exec root.
    awk -v root="$STATE/docker/" 'index($2, root) == 1 {print $2}' /proc/mounts |
        xargs -r umount 2>/dev/null || true
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*)
    echo "usage: $0 start | stop [PID]" >&2
    exit 2
    ;;
esac
