#!/usr/bin/env bash
# Fetch Debian's `prometheus` package and unpack `prometheus` and `promtool` into
# .cache/prometheus/bin/, without installing anything system-wide.
#
# `apt-get download` needs no root, only the package lists. When they lack the package (a fresh
# machine whose lists were never fetched) and we are root, `apt-get update` runs once; as another
# user the script says what to run and fails. The .deb is unpacked with `dpkg-deb -x`; its
# maintainer scripts never run, so no `prometheus` user or service is created.
#
# Idempotent and cached: when both binaries are present and run, nothing touches the network.
# Safe to run concurrently (pytest-xdist workers): a flock serialises the download and the
# binaries are moved into place only once complete.
#
# Prints the bin folder on success. Exit status: 0 ready; 75 the Debian archive is unreachable
# (callers may skip); anything else is a real failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${PROMETHEUS_TOOLS_DIR:-$ROOT/.cache/prometheus}"
BIN="$DEST/bin"
PACKAGE="prometheus"
EX_UNREACHABLE=75

say() { echo "fetch-prometheus: $*" >&2; }

tools_work() {
    [[ -x "$1/prometheus" && -x "$1/promtool" ]] || return 1
    "$1/promtool" --version >/dev/null 2>&1 || return 1
    "$1/prometheus" --version >/dev/null 2>&1 || return 1
}

if tools_work "$BIN"; then
    echo "$BIN"
    exit 0
fi

for tool in apt-get dpkg-deb flock; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        say "needs $tool (a Debian or Ubuntu machine); install promtool and prometheus" \
            "another way and put them in $BIN"
        exit 1
    fi
done

mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
if tools_work "$BIN"; then
    echo "$BIN"
    exit 0
fi

WORK="$(mktemp -d "$DEST/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# apt drops privileges to `_apt` for downloads; that user must be able to write here.
chmod 0777 "$WORK"

download() {
    (cd "$WORK" && apt-get download -q "$PACKAGE") >"$WORK/apt.log" 2>&1
}

if ! download; then
    if grep -qE "Unable to locate package|has no installation candidate" "$WORK/apt.log"; then
        if [[ "$(id -u)" != 0 ]]; then
            tail -n 5 "$WORK/apt.log" >&2
            say "apt has no package list with '$PACKAGE'; run \`sudo apt-get update\` once, then retry"
            exit 1
        fi
        say "refreshing apt's package lists (apt-get update)"
        if ! apt-get update -q >"$WORK/update.log" 2>&1; then
            tail -n 5 "$WORK/update.log" >&2
            say "apt-get update failed (offline?); promtool and prometheus are unavailable"
            exit "$EX_UNREACHABLE"
        fi
        if ! download; then
            tail -n 5 "$WORK/apt.log" >&2
            say "apt-get download $PACKAGE failed after apt-get update"
            exit 1
        fi
    else
        tail -n 5 "$WORK/apt.log" >&2
        say "cannot download $PACKAGE from the Debian archive (offline?)"
        exit "$EX_UNREACHABLE"
    fi
fi

shopt -s nullglob
debs=("$WORK"/"${PACKAGE}"_*.deb)
if [[ ${#debs[@]} -ne 1 ]]; then
    say "expected one ${PACKAGE}_*.deb after apt-get download, found ${#debs[@]}"
    exit 1
fi
dpkg-deb -x "${debs[0]}" "$WORK/root"
mkdir -p "$WORK/bin"
for tool in prometheus promtool; do
    if [[ ! -x "$WORK/root/usr/bin/$tool" ]]; then
        say "the package has no /usr/bin/$tool"
        exit 1
    fi
    mv "$WORK/root/usr/bin/$tool" "$WORK/bin/$tool"
done
if ! tools_work "$WORK/bin"; then
    say "the unpacked prometheus/promtool do not run on this machine"
    exit 1
fi
rm -rf "$BIN"
mv "$WORK/bin" "$BIN"
say "$("$BIN/promtool" --version 2>&1 | head -n 1) installed in $BIN"
echo "$BIN"
