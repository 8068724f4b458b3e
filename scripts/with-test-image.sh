#!/usr/bin/env bash
# Runs a command (the test suite) with the project's image built and an engine to run it on.
#
#   bash scripts/with-test-image.sh .venv/bin/python -m pytest -n 2 tests     # what `make test` does
#
# 1. scripts/docker-engine.sh start: an engine (the running one, else Debian's docker.io started
#    for this run), or a reason to skip;
# 2. scripts/build-image.sh: the Dockerfile built as $SYFT_TEST_IMAGE (default syft-monitor:test)
#    on its own base, or on the debootstrap substitute where no registry can be reached;
# 3. the command, with for tests/container: SYFT_DOCKER (the client), SYFT_TEST_IMAGE when the
#    build succeeded, SYFT_CONTAINER_BUILD_LOG when it failed (those tests then fail and show its
#    tail), SYFT_CONTAINER_SKIP when there is no engine (they skip, saying why);
# 4. stops the dockerd that step 1 started, whatever the command did; exits with its status.
# Each step's time goes to stderr. SYFT_CONTAINER_TESTS=0 skips steps 1, 2 and 4.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${SYFT_TEST_IMAGE:-syft-monitor:test}"
LOGDIR="$ROOT/.cache/container"
mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/*.log
unset SYFT_TEST_IMAGE SYFT_CONTAINER_SKIP SYFT_CONTAINER_BUILD_LOG

# run_logged WHAT LOG COMMAND...: COMMAND's output goes to LOG; says how long it took.
run_logged() {
    local what="$1" log="$2" start=$SECONDS status=0
    shift 2
    "$@" >"$log" 2>&1 || status=$?
    echo "with-test-image: $what took $((SECONDS - start)) s (log: $log)" >&2
    return $status
}

DOCKER="" ENGINE_SKIP="" ENGINE_STARTED=""
start=$SECONDS
eval "$(bash "$ROOT/scripts/docker-engine.sh" start)"
echo "with-test-image: the engine took $((SECONDS - start)) s" >&2
trap 'bash "$ROOT/scripts/docker-engine.sh" stop "$ENGINE_STARTED"' EXIT

# The base on its own clock: minutes once per machine (debootstrap), then instant.
if [[ -n "$ENGINE_SKIP" ]]; then
    export SYFT_CONTAINER_SKIP="$ENGINE_SKIP"
elif run_logged "the base image" "$LOGDIR/base.log" \
    env DOCKER="$DOCKER" bash "$ROOT/scripts/base-image.sh" &&
    run_logged "the image build" "$LOGDIR/build.log" \
        env DOCKER="$DOCKER" bash "$ROOT/scripts/build-image.sh" "$IMAGE"; then
    export SYFT_DOCKER="$DOCKER" SYFT_TEST_IMAGE="$IMAGE"
else
    cat "$LOGDIR/base.log" >"$LOGDIR/failed.log"
    [[ -f "$LOGDIR/build.log" ]] && cat "$LOGDIR/build.log" >>"$LOGDIR/failed.log"
    echo "with-test-image: no image; the tail of $LOGDIR/failed.log:" >&2
    tail -n 30 "$LOGDIR/failed.log" >&2
    export SYFT_DOCKER="$DOCKER" SYFT_CONTAINER_BUILD_LOG="$LOGDIR/failed.log"
fi

"$@"
