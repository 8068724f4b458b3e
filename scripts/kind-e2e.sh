#!/usr/bin/env bash
# End-to-end on a real Kubernetes cluster (kind): what the test API server cannot prove.
#
#   make kind-e2e                      # or: bash scripts/kind-e2e.sh
#   KEEP_CLUSTER=1 make kind-e2e       # keep the cluster afterwards for poking around
#
# 1. creates a kind cluster from kind-config.yaml (reuses it if it exists);
# 2. builds the image (Dockerfile, scripts/build-image.sh: its own base, else the debootstrap
#    substitute of scripts/base-image.sh) and loads it into the cluster;
# 3. installs the CRD and the operator with the Helm chart (charts/syft-monitor), as users do;
#    E2E_INSTALL=manifests applies deploy/crds and `python -m syft_operator.manifests` instead;
# 4. runs the Drive/Gmail sandbox as an in-cluster service (deploy/e2e/sandbox.yaml);
# 5. applies a SyftMonitor whose Secret holds the sandbox's token for the data owner, and waits
#    for Ready and a rolled-out monitor Deployment (real pods, real RBAC, real probes);
# 6. simulates a data scientist submitting a job (tests/e2e/kind_driver.py, through a
#    port-forward) and asserts that the monitor pod sent the data owner's "Job: ..." email;
# 7. waits for the operator to mirror notificationsSent into the SyftMonitor's status;
# 8. (chart install) `helm uninstall` removes the operator and keeps the CRD and the
#    SyftMonitors (crds.keep: helm.sh/resource-policy: keep).
#
# The Docker Engine comes from scripts/docker-engine.sh, as for the container tests (`make test`):
# the running one, else Debian's docker.io started for this run and stopped afterwards.
# Without kind, or without an engine, it prints "skipped: <reason>" and exits 0.
# Needs the project venv (make venv) for the driver. Environment: KIND_CLUSTER, E2E_IMAGE,
# KEEP_CLUSTER=1, E2E_INSTALL (chart | manifests), KUBECTL and HELM (else the ones on PATH, else
# scripts/fetch-k8s-tools.sh's).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-syft-monitor-e2e}"
IMAGE="${E2E_IMAGE:-syft-monitor:e2e}"
NS=syft-e2e
DO=do@sandbox.example.org
DS=ds@sandbox.example.org
MONITOR="do"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
LOCAL_PORT="${E2E_SANDBOX_PORT:-18765}"
INSTALL="${E2E_INSTALL:-chart}"
RELEASE=syft-monitor
# The operator must be allowed to point monitors at the sandbox (the chart's tenancy values).
SANDBOX_ROOT="http://sandbox.$NS.svc.cluster.local:8765/"
OPERATOR_NS=syft-operator
case "$INSTALL" in
chart) OPERATOR_DEPLOY="$RELEASE" ;; # the chart's fullname for this release name
manifests) OPERATOR_DEPLOY=syft-operator ;;
*)
    echo "kind-e2e: E2E_INSTALL must be chart or manifests, not $INSTALL" >&2
    exit 2
    ;;
esac

skip() {
    echo "skipped: $*"
    exit 0
}
step() { echo "==> $*"; }
fail() {
    echo "kind-e2e: $*" >&2
    exit 1
}

# kind first: nothing here can provide it, while an engine may be installed for the run.
command -v kind >/dev/null 2>&1 || skip "kind is not installed"
[[ -x "$PY" ]] || fail "no project venv at $PY (run: make venv)"
DOCKER="" ENGINE_SKIP="" ENGINE_STARTED=""
eval "$(bash "$ROOT/scripts/docker-engine.sh" start)"
[[ -z "$ENGINE_SKIP" ]] || skip "$ENGINE_SKIP"

KUBECTL="${KUBECTL:-$(command -v kubectl || true)}"
HELM="${HELM:-$(command -v helm || true)}"
if [[ -z "$KUBECTL" || -z "$HELM" ]]; then
    TOOLS="$(bash "$ROOT/scripts/fetch-k8s-tools.sh" | tail -n 1)"
    KUBECTL="${KUBECTL:-$TOOLS/kubectl}"
    HELM="${HELM:-$TOOLS/helm}"
fi

WORK="$(mktemp -d)"
PF_PID=""
CREATED_CLUSTER=0
export KUBECONFIG="$WORK/kubeconfig"
k() { "$KUBECTL" "$@"; }

diagnostics() {
    echo "---- diagnostics ----" >&2
    k get sm,deploy,cronjob,pods -A -o wide >&2 || true
    k -n "$NS" describe sm >&2 || true
    k -n "$NS" get events --sort-by=.lastTimestamp >&2 || true
    k -n "$OPERATOR_NS" logs "deploy/$OPERATOR_DEPLOY" --tail=100 >&2 || true
    k -n "$NS" logs "deploy/$MONITOR-monitor" --all-containers --tail=100 >&2 || true
}

cleanup() {
    local status=$?
    if [[ -n "$PF_PID" ]]; then
        kill "$PF_PID" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -s "$KUBECONFIG" ]]; then
        diagnostics
    fi
    if [[ "${KEEP_CLUSTER:-0}" != 1 && $CREATED_CLUSTER == 1 ]]; then
        kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    bash "$ROOT/scripts/docker-engine.sh" stop "$ENGINE_STARTED"
    exit $status
}
trap cleanup EXIT

step "cluster $CLUSTER"
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    kind create cluster --name "$CLUSTER" --config "$ROOT/kind-config.yaml" --wait 180s
    CREATED_CLUSTER=1
fi
kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"

step "image $IMAGE"
DOCKER="$DOCKER" bash "$ROOT/scripts/build-image.sh" "$IMAGE"
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "CRD and operator ($INSTALL)"
if [[ "$INSTALL" == chart ]]; then
    # The image is loaded into the nodes, never pulled: repository and tag split at the last ':'.
    "$HELM" upgrade --install "$RELEASE" "$ROOT/charts/syft-monitor" \
        --namespace "$OPERATOR_NS" --create-namespace --kubeconfig "$KUBECONFIG" \
        --set "operator.image.repository=${IMAGE%:*}" --set "operator.image.tag=${IMAGE##*:}" \
        --set operator.image.pullPolicy=Never --set operator.scope=cluster \
        --set "tenancy.allowedApiRoots={$SANDBOX_ROOT}" --wait --timeout 180s
else
    k apply -f "$ROOT/deploy/crds/"
    (cd "$ROOT" && "$PY" -m syft_operator.manifests --image "$IMAGE" --pull-policy Never) | k apply -f -
    # The tenant boundary refuses googleApiRoot unless the admin allowed it: allow the sandbox.
    k -n "$OPERATOR_NS" set env "deploy/$OPERATOR_DEPLOY" "SYFT_OPERATOR_ALLOWED_API_ROOTS=$SANDBOX_ROOT"
fi
k wait --for=condition=Established crd/syftmonitors.syft.openmined.org --timeout=60s
k -n "$OPERATOR_NS" rollout status "deploy/$OPERATOR_DEPLOY" --timeout=180s

step "sandbox"
sed "s|image: syft-monitor:e2e|image: $IMAGE|" "$ROOT/deploy/e2e/sandbox.yaml" | k apply -f -
k -n "$NS" rollout status deploy/sandbox --timeout=180s
POD="$(k -n "$NS" get pod -l app.kubernetes.io/name=syft-sandbox -o jsonpath='{.items[0].metadata.name}')"
for _ in $(seq 60); do
    k -n "$NS" exec "$POD" -- test -s "/tmp/tokens/$DS.json" && break
    sleep 1
done
k -n "$NS" exec "$POD" -- cat "/tmp/tokens/$DO.json" >"$WORK/do.json"
k -n "$NS" exec "$POD" -- cat "/tmp/tokens/$DS.json" >"$WORK/ds.json"

step "SyftMonitor with the sandbox token"
k -n "$NS" create secret generic do-token --from-file=token.json="$WORK/do.json" \
    --dry-run=client -o yaml | k apply -f -
k apply -f - <<EOF
apiVersion: syft.openmined.org/v1alpha1
kind: SyftMonitor
metadata:
  name: $MONITOR
  namespace: $NS
spec:
  doEmail: $DO
  driveTokenSecretRef: {name: do-token, key: token.json}
  gmailTokenSecretRef: {name: do-token, key: token.json}
  googleApiRoot: http://sandbox.$NS.svc.cluster.local:8765/
  image: $IMAGE
  intervals: {notify: 5}
EOF
k -n "$NS" wait --for=condition=Ready "sm/$MONITOR" --timeout=120s
k -n "$NS" rollout status "deploy/$MONITOR-monitor" --timeout=180s
k -n "$NS" get sm

step "a simulated job produces an email"
k -n "$NS" port-forward svc/sandbox "$LOCAL_PORT:8765" >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
for _ in $(seq 30); do
    (exec 3<>"/dev/tcp/127.0.0.1/$LOCAL_PORT") 2>/dev/null && break
    sleep 1
done
(cd "$ROOT" && "$PY" -m tests.e2e.kind_driver --api-root "http://127.0.0.1:$LOCAL_PORT/" \
    --do "$DO" --do-token "$WORK/do.json" --ds "$DS" --ds-token "$WORK/ds.json" --timeout 180)

step "status mirrored from the monitor's state ConfigMap"
sent=0
for _ in $(seq 150); do
    sent="$(k -n "$NS" get sm "$MONITOR" -o jsonpath='{.status.notificationsSent}')"
    [[ "${sent:-0}" -ge 1 ]] && break
    sleep 1
done
[[ "${sent:-0}" -ge 1 ]] || fail "status.notificationsSent never reached 1"
k -n "$NS" get sm -o wide

if [[ "$INSTALL" == chart ]]; then
    step "helm uninstall keeps the CRD and the SyftMonitors"
    "$HELM" uninstall "$RELEASE" --namespace "$OPERATOR_NS" --kubeconfig "$KUBECONFIG" --wait
    k get crd syftmonitors.syft.openmined.org >/dev/null || fail "helm uninstall deleted the CRD"
    k -n "$NS" get sm "$MONITOR" >/dev/null || fail "helm uninstall deleted the SyftMonitor"
fi
echo "kind-e2e: passed"
