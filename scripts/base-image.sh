#!/usr/bin/env bash
# Prints the base image to build the Dockerfile on (its --build-arg PYTHON_IMAGE=), making one when
# no container registry can be reached.
#
#   base="$(DOCKER=docker bash scripts/base-image.sh)"
#
# 1. the Dockerfile's own base (ARG PYTHON_IMAGE, python:3.11-slim-bookworm) when the engine has
#    it or can pull it: that is the image users build, and the one to prefer;
# 2. else the substitute, syft-monitor-base:substitute-bookworm: Debian bookworm made here with
#    debootstrap from the Debian mirror apt already uses, with what the Dockerfile needs of the
#    official image (python and python -m venv from Debian's Python 3.11, CA certificates). It is
#    a test stand-in for the registry we cannot reach, never a base to ship.
#    Cached on this machine: the tagged image in the engine, and its tarball under $SYFT_CACHE
#    (default /var/cache/syft-monitor) for an engine whose data root was wiped.
# Exits 1 with the reason on stderr when neither is possible (not root, no debootstrap, no mirror).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-docker}"
CACHE="${SYFT_CACHE:-/var/cache/syft-monitor}"
SUITE=bookworm
# Bump when the recipe below changes: a cached substitute of another revision is rebuilt.
REVISION=2
SUBSTITUTE="syft-monitor-base:substitute-$SUITE"
TARBALL="$CACHE/base/substitute-$SUITE-r$REVISION.tar"
REAL="${PYTHON_IMAGE:-$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$ROOT/Dockerfile")}"

say() { echo "base-image: $*" >&2; }

if "$DOCKER" image inspect "$REAL" >/dev/null 2>&1; then
    echo "$REAL"
    exit 0
fi
if timeout 120 "$DOCKER" pull --quiet "$REAL" >/dev/null 2>&1; then
    say "pulled $REAL"
    echo "$REAL"
    exit 0
fi
say "$REAL is neither local nor pullable: using the debootstrap substitute $SUBSTITUTE"

revision_of() { "$DOCKER" image inspect --format '{{ index .Config.Labels "syft-monitor.substitute-revision" }}' "$1" 2>/dev/null; }
if [[ "$(revision_of "$SUBSTITUTE")" == "$REVISION" ]]; then
    echo "$SUBSTITUTE"
    exit 0
fi

import_tarball() {
    # What the official python images set that the Dockerfile relies on; labelled as a substitute.
    "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --change "LABEL syft-monitor.substitute-revision=$REVISION" \
        --change "LABEL org.opencontainers.image.description=\"Substitute for $REAL, made with debootstrap: tests only\"" \
        "$TARBALL" "$SUBSTITUTE" >/dev/null
}

if [[ -s "$TARBALL" ]]; then
    import_tarball
    say "imported the cached $TARBALL"
    echo "$SUBSTITUTE"
    exit 0
fi

[[ "$(id -u)" == 0 ]] || {
    say "cannot make the substitute: debootstrap needs root"
    exit 1
}
if ! command -v debootstrap >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # As for docker.io (scripts/docker-engine.sh): update when there is no candidate or the
    # install fails on old package lists.
    if ! apt-cache policy debootstrap 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -qq >&2
    fi
    apt-get install -y -qq --no-install-recommends debootstrap >&2 </dev/null ||
        { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends debootstrap >&2 </dev/null; } || {
        say "cannot make the substitute: debootstrap could not be installed"
        exit 1
    }
fi

# The Debian archive apt already uses (no host name of ours); debootstrap's default without one.
MIRROR="$(apt-get indextargets --format '$(SITE) $(RELEASE)' 'Identifier: Packages' 2>/dev/null |
    awk '$2 ~ /^(bookworm|trixie|forky|sid|stable|testing|unstable|oldstable)$/ {print $1; exit}' || true)"

mkdir -p "$CACHE/base"
WORK="$(mktemp -d "$CACHE/base/rootfs.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
say "debootstrap $SUITE from ${MIRROR:-the default mirror} (a few minutes, once per machine)"
# python-is-python3: the Dockerfile says `python`, as the official image names it.
# --cache-dir keeps the downloaded packages: a new revision of the recipe fetches only what changed.
mkdir -p "$CACHE/base/debs"
debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    --cache-dir="$CACHE/base/debs" "$SUITE" "$WORK/rootfs" ${MIRROR:+"$MIRROR"} >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 20 "$WORK/debootstrap.log" >&2
    say "debootstrap failed"
    exit 1
}
# As in the slim images: no package lists, downloaded packages, docs, man pages or translations.
rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/*.bin \
    "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/usr/share/doc/* \
    "$WORK"/rootfs/usr/share/man/* "$WORK"/rootfs/usr/share/info/* \
    "$WORK"/rootfs/usr/share/locale/*
tar --numeric-owner --xattrs -C "$WORK/rootfs" -cf "$TARBALL.part" .
rm -f "$CACHE"/base/substitute-"$SUITE"-r*.tar
mv "$TARBALL.part" "$TARBALL"
import_tarball
say "made $SUBSTITUTE ($(du -h "$TARBALL" | cut -f1) tarball at $TARBALL)"
echo "$SUBSTITUTE"
