#!/usr/bin/env bash
# Builds the repository's Dockerfile as the tests and scripts/kind-e2e.sh need it.
#
#   DOCKER=docker bash scripts/build-image.sh syft-monitor:test
#
# The base is what scripts/base-image.sh prints (the Dockerfile's own, else the debootstrap
# substitute). pip in the builder stage gets this machine's pip settings and CA bundle as build
# secrets: behind a TLS-inspecting proxy PyPI only verifies with the proxy's CA. Secrets are mounted
# for the one RUN that installs, so neither lands in any layer, and a plain `docker build .`
# without them works where PyPI is reached directly. Builds use the host network (no bridge here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-docker}"
IMAGE="${1:-syft-monitor:test}"

base="$(DOCKER="$DOCKER" bash "$ROOT/scripts/base-image.sh")"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"
secrets=()
if python3 "$ROOT/scripts/pip_build_settings.py" "$WORK/pip.conf" "$WORK/ca-bundle.crt"; then
    secrets+=(--secret "id=pip.conf,src=$WORK/pip.conf")
    [[ -s "$WORK/ca-bundle.crt" ]] && secrets+=(--secret "id=ca-bundle.crt,src=$WORK/ca-bundle.crt")
fi

echo "build-image: $IMAGE on $base" >&2
DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain \
    --build-arg "PYTHON_IMAGE=$base" "${secrets[@]}" --tag "$IMAGE" "$ROOT"
# Each source change leaves the previous build untagged (its venv layer is new): drop ours only.
"$DOCKER" image prune --force --filter dangling=true \
    --filter label=org.opencontainers.image.title=syft-monitor >/dev/null || true
