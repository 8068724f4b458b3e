#!/usr/bin/env bash
# Build .venv-interop: the real upstream SyftBox client from PyPI, in a virtualenv of its own so
# it never becomes a dependency of our packages. tests/interop/ runs its scripts with this venv.
#
# Idempotent: a stamp file records what was installed; a rerun with the same pins is instant.
# Exit status: 0 ready; 75 PyPI unreachable (the interop tests skip on this one only);
# anything else is a real failure (the tests fail on it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${INTEROP_VENV:-$ROOT/.venv-interop}"
PYTHON="${INTEROP_PYTHON:-python3}"
# syft-client pins syft-job exactly; naming both keeps the pair explicit in one place.
REQUIREMENTS=("syft-client==0.1.117" "syft-job==0.1.39")
STAMP="$VENV/.interop-installed"
EX_UNREACHABLE=75

if ! PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"; then
    echo "setup-interop-venv: cannot run $PYTHON" >&2
    exit 1
fi
WANT="${REQUIREMENTS[*]} python-$PY_VERSION"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "setup-interop-venv: $VENV is ready ($WANT)"
    exit 0
fi

LOG="$(mktemp "${TMPDIR:-/tmp}/setup-interop-venv.XXXXXX")"
trap 'rm -f "$LOG"' EXIT

fail() {
    # A half-built venv must not look usable to the next run.
    rm -rf "$VENV"
    echo "setup-interop-venv: $1" >&2
    echo "----- last lines of the log -----" >&2
    tail -n 25 "$LOG" >&2 || true
    exit "${2:-1}"
}

echo "setup-interop-venv: building $VENV with ${REQUIREMENTS[*]} (once per machine)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >"$LOG" 2>&1 || fail "python -m venv failed"

if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    --retries 2 --timeout 60 "${REQUIREMENTS[@]}" >>"$LOG" 2>&1; then
    # Only a network failure may turn into a skip; a resolver or build error must stay red.
    if grep -Eq 'NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|No route to host|ConnectTimeoutError|ReadTimeoutError|Max retries exceeded|ProxyError|Connection refused' "$LOG"; then
        fail "PyPI is unreachable: cannot install ${REQUIREMENTS[*]}" "$EX_UNREACHABLE"
    fi
    fail "pip install ${REQUIREMENTS[*]} failed"
fi

"$VENV/bin/python" -m pip check --disable-pip-version-check >>"$LOG" 2>&1 \
    || fail "pip check reports broken requirements in $VENV"
"$VENV/bin/python" -c 'import syft_client.sync.syftbox_manager, syft_job.client' >>"$LOG" 2>&1 \
    || fail "the installed upstream packages do not import"

echo "$WANT" >"$STAMP"
echo "setup-interop-venv: $VENV is ready ($WANT)"
