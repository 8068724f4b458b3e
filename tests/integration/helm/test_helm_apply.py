"""`helm template | kubectl apply` against the test Kubernetes API server, then the operator,
started with exactly the command line and environment of the chart's Deployment, reconciles a
SyftMonitor that the chart created from its values; every request it makes is allowed by the
RBAC rules the chart rendered.

The test server runs no controllers and no RBAC (see tests/kubeapi/server.py): the operator runs
as a local process, and the permission check is made against the server's request log.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import NAMESPACE, SCENARIOS, ChartRenderer, Manifest, by_kind, one

from syft_operator import names
from tests.integration.operator.operator_testkit import ready_in_store
from tests.kubeapi import KubeApiServer
from tests.kubeapi.tools import Kubectl
from tests.support import eventually, free_port

BIN = Path(sys.executable).parent
#: Kinds whose CRDs (the Prometheus Operator's) the test server does not have.
UNKNOWN_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
TOKEN = {
    "token": "ya29.chart-test",
    "refresh_token": "1//chart-test",
    "client_id": "chart-test.apps.googleusercontent.com",
    "client_secret": "chart-test-secret",
}


def to_yaml(manifests: list[Manifest]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False)


def install(
    chart: ChartRenderer, kubectl: Kubectl, *values: Path, sets: tuple[str, ...] = ()
) -> list[Manifest]:
    """What `helm install` does, the way the test server allows: CRD first, then the rest."""
    manifests = [m for m in chart.template(*values, sets=sets) if m["kind"] not in UNKNOWN_KINDS]
    crds = by_kind(manifests, "CustomResourceDefinition")
    if crds:
        kubectl.apply(to_yaml(crds))
        kubectl("wait", "--for=condition=established", "--timeout=20s", f"crd/{names.CRD_NAME}")
    kubectl.apply(to_yaml([m for m in manifests if m["kind"] != "CustomResourceDefinition"]))
    return manifests


@pytest.mark.parametrize("values", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_applies(
    chart: ChartRenderer, kube_api: KubeApiServer, kubectl: Kubectl, values: Path
) -> None:
    for namespace in (NAMESPACE, "team-a", "team-b", "monitoring"):
        kube_api.create_namespace(namespace)
    if "monitors" in values.name:
        # This scenario's release relies on a CRD installed by another release.
        kubectl.apply(_crd_only(chart))
        kubectl("wait", "--for=condition=established", "--timeout=20s", f"crd/{names.CRD_NAME}")
    manifests = install(chart, kubectl, values)
    for manifest in manifests:
        meta = manifest["metadata"]
        kind = manifest["kind"].lower()
        where = ["-n", meta["namespace"]] if "namespace" in meta else []
        kubectl("get", kind, meta["name"], *where, "-o", "name")


def _crd_only(chart: ChartRenderer) -> str:
    return to_yaml(by_kind(chart.template(), "CustomResourceDefinition"))


# --- the operator from the chart -------------------------------------------------------------


def rule_permits(
    rule: dict[str, Any], verb: str, group: str, resource: str, name: str | None
) -> bool:
    def allowed(values: list[str], value: str) -> bool:
        return "*" in values or value in values

    if not (
        allowed(rule["apiGroups"], group)
        and allowed(rule["resources"], resource)
        and allowed(rule["verbs"], verb)
    ):
        return False
    names_ = rule.get("resourceNames")
    return not names_ or (name is not None and name in names_)


def permitted_by_chart(
    manifests: list[Manifest],
    verb: str,
    group: str,
    resource: str,
    namespace: str | None,
    name: str | None,
) -> bool:
    rules = [rule for role in by_kind(manifests, "ClusterRole") for rule in role["rules"]]
    if namespace is not None:
        rules += [
            rule
            for role in by_kind(manifests, "Role")
            if role["metadata"]["namespace"] == namespace
            for rule in role["rules"]
        ]
    return any(rule_permits(rule, verb, group, resource, name) for rule in rules)


@pytest.fixture
def chart_operator(
    chart: ChartRenderer,
    kube_api: KubeApiServer,
    kubectl: Kubectl,
    kubeconfig: Path,
    tmp_path: Path,
) -> Iterator[tuple[list[Manifest], subprocess.Popen[bytes], dict[str, int]]]:
    kube_api.create_namespace(NAMESPACE)
    ports = {"health": free_port(), "metrics": free_port()}
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "operator": {
                    "healthPort": ports["health"],
                    "metricsPort": ports["metrics"],
                    # Seconds, not minutes: the whole lifecycle fits a test.
                    "statusInterval": 1,
                    "retryDelay": 1,
                    "retryMaxDelay": 2,
                },
                "monitors": [
                    {
                        "name": "alice",
                        "spec": {
                            "doEmail": "alice@hospital.example.org",
                            "services": ["notify", "approve"],
                            "driveTokenSecretRef": {
                                "name": "alice-google-token",
                                "key": "token.json",
                            },
                            "gmailTokenSecretRef": {
                                "name": "alice-google-token",
                                "key": "token.json",
                            },
                        },
                    }
                ],
            }
        )
    )
    kubectl.apply(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "alice-google-token", "namespace": NAMESPACE},
                "type": "Opaque",
                "data": {"token.json": base64.b64encode(json.dumps(TOKEN).encode()).decode()},
            }
        )
    )
    manifests = install(chart, kubectl, values)
    kube_api.clear_requests()
    container = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {
        **os.environ,
        **{item["name"]: item["value"] for item in container["env"]},
        "KUBECONFIG": str(kubeconfig),
    }
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / container["command"][0]), *container["args"]],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        kube_api.wait_for_watch(names.PLURAL, group=names.GROUP, timeout=30)
        yield manifests, process, ports
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        sys.stderr.write("--- operator log (tail) ---\n" + log_path.read_text()[-6000:])


def test_operator_from_the_chart_reconciles_a_syftmonitor_from_values(
    chart_operator: tuple[list[Manifest], subprocess.Popen[bytes], dict[str, int]],
    kube_api: KubeApiServer,
    kubectl: Kubectl,
) -> None:
    manifests, process, ports = chart_operator

    def ready() -> dict[str, Any] | None:
        # Ready needs an available pod: play the Deployment controller once it exists.
        if ready_in_store(kube_api, "alice", NAMESPACE):
            return kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
        return None

    monitor = eventually(ready, timeout=30, what="SyftMonitor alice Ready=True")
    deployment = kube_api.get_object("apps/v1", "deployments", NAMESPACE, "alice-monitor")
    assert deployment is not None
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == (names.KIND, monitor["metadata"]["uid"])
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["notify", "approve"]
    # The operator was told the chart's monitor image.
    assert {c["image"] for c in containers} == {"syft-monitor:0.1.0"}

    # The chart's liveness probe target and metrics port answer.
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['health']}/healthz", timeout=5) as r:
        assert r.status == 200

    def scrape() -> str:
        url = f"http://127.0.0.1:{ports['metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()  # type: ignore[no-any-return]

    # The gauge follows the watch stream, which may trail the stored status a little.
    ready_gauge = 'syft_operator_monitors{condition="Ready",status="True"} 1.0'
    assert eventually(lambda: ready_gauge in scrape(), what=ready_gauge)
    assert 'syft_operator_reconciles_total{outcome="success"}' in scrape()

    # Every request the operator made is allowed by the RBAC the chart installed (the log holds
    # only the operator's requests since the install).
    assert process.poll() is None
    denied = sorted(
        {
            (
                r.verb,
                r.group or "",
                r.resource + (f"/{r.subresource}" if r.subresource else ""),
                r.namespace,
            )
            for r in kube_api.requests
            if r.is_resource
            and r.resource is not None
            and not permitted_by_chart(
                manifests,
                r.verb,
                r.group or "",
                r.resource + (f"/{r.subresource}" if r.subresource else ""),
                r.namespace,
                r.name,
            )
        }
    )
    assert not denied, f"requests the chart's RBAC would deny: {denied}"
    assert any(r.verb == "create" and r.resource == "deployments" for r in kube_api.requests)

    # Checked last: kubectl's own requests are not the operator's.
    printed = kubectl("get", "sm", "-n", NAMESPACE, "alice", "-o", "jsonpath={.status.workload}")
    assert printed.stdout == "Deployment/alice-monitor"
