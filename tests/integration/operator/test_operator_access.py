"""What users and Prometheus see: kubectl, the shipped RBAC rules, the operator's /metrics."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from operator_testkit import (
    CRD_FILE,
    NAMESPACE,
    ROOT,
    OperatorCluster,
    eventually,
    monitor,
    ready_in_store,
    start_operator,
    stop_operator,
    token_secret,
)

from syft_operator import names
from syft_operator.rbac import FRAMEWORK_CLUSTER_RULES, OPERATOR_RULES, permitted
from tests.kubeapi import KubeApiServer
from tests.kubeapi.tools import Kubectl
from tests.support import free_port


def ready(api: KubeApiServer, name: str) -> bool:
    return ready_in_store(api, name)


def test_kubectl_apply_get_wait(operator_cluster: OperatorCluster, kubectl: Kubectl) -> None:
    example = yaml.safe_load((ROOT / "deploy/examples/syftmonitor.yaml").read_text())
    example["metadata"]["namespace"] = NAMESPACE
    secret = token_secret("alice-google-token")
    out = kubectl.apply(yaml.safe_dump_all([secret, example])).stdout
    assert "syftmonitor.syft.openmined.org/alice created" in out
    # Not Ready while no pod runs: `kubectl wait` times out ...
    operator_cluster.wait_condition("alice", "SecretsResolved", "True")
    early = kubectl(
        "-n", NAMESPACE, "wait", "--for=condition=Ready", "sm/alice", "--timeout=2s", check=False
    )
    assert early.returncode != 0
    # ... until the Deployment reports an available pod.
    operator_cluster.mark_available("alice")
    kubectl("-n", NAMESPACE, "wait", "--for=condition=Ready", "sm/alice", "--timeout=30s")
    email = kubectl("-n", NAMESPACE, "get", "sm", "alice", "-o", "jsonpath={.spec.doEmail}")
    assert email.stdout == "alice@hospital.example.org"
    listed = json.loads(kubectl("-n", NAMESPACE, "get", "syft", "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["alice"]
    # Re-applying the same file is a no-op for the API and for the operator.
    again = kubectl.apply(yaml.safe_dump_all([secret, example])).stdout
    assert "syftmonitor.syft.openmined.org/alice unchanged" in again
    kubectl(
        "-n", NAMESPACE, "patch", "sm", "alice", "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    eventually(
        lambda: (operator_cluster.deployment() or {}).get("spec", {}).get("replicas") == 0,
        what="replicas 0 after kubectl patch",
    )
    invalid = dict(example, spec={**example["spec"], "doEmail": "alice at hospital"})
    refused = kubectl(
        "apply", "--validate=false", "-f", "-", input=yaml.safe_dump(invalid), check=False
    )
    assert refused.returncode != 0
    assert "spec.doEmail" in refused.stderr
    kubectl("-n", NAMESPACE, "delete", "sm", "alice", "--timeout=30s")
    eventually(lambda: operator_cluster.deployment() is None, what="the Deployment to go")


def test_every_operator_request_is_permitted_by_the_shipped_rules(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    # Objects are written directly into the store, so every logged request is the operator's.
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    process = start_operator(kube_api, kubeconfig, tmp_path / "operator.log")
    try:
        kube_api.put_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                # An orphan of this operator's (its labels, no owner): re-adopted by a patch.
                "metadata": {
                    "name": "alice-state",
                    "namespace": NAMESPACE,
                    "labels": {
                        names.LABEL_MANAGED_BY: names.MANAGER,
                        names.LABEL_INSTANCE: "alice",
                    },
                },
                "data": {"lastPollTime": "2026-03-01T12:00:00Z"},
            }
        )
        kube_api.put_object(monitor("alice"))  # no Secret yet: Events, retries
        kube_api.put_object(monitor("bob", services=["notify", "approve"]))
        eventually(lambda: kube_api.list_objects("v1", "events", NAMESPACE), what="a warning Event")
        kube_api.put_object(token_secret("alice-token"))
        kube_api.put_object(token_secret("bob-token"))
        eventually(lambda: ready(kube_api, "alice") and ready(kube_api, "bob"), what="Ready")
        kube_api.put_object(monitor("alice", mode="CronJob", suspend=True, emailFormat="text"))
        eventually(
            lambda: kube_api.get_object("batch/v1", "cronjobs", NAMESPACE, "alice-monitor"),
            what="the CronJob",
        )
        eventually(
            lambda: (
                kube_api.get_object("apps/v1", "deployments", NAMESPACE, "alice-monitor") is None
            ),
            what="the Deployment to go",
        )
        kube_api.delete_object(names.API_VERSION, names.PLURAL, NAMESPACE, "bob")
        eventually(
            lambda: kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "bob") is None,
            what="bob to be deleted (finalizer released)",
        )
    finally:
        stop_operator(process)

    requests = [r for r in kube_api.requests if r.is_resource]
    seen = {(r.verb, r.group or "", _resource(r)) for r in requests}
    # The scenario must have exercised the interesting verbs, or this test proves nothing.
    assert {
        ("create", "apps", "deployments"),
        ("update", "", "configmaps"),
        ("delete", "apps", "deployments"),
        ("create", "", "events"),
        ("patch", names.GROUP, "syftmonitors/status"),
        ("patch", "", "configmaps"),
        ("get", "", "secrets"),
    } <= seen
    rules = FRAMEWORK_CLUSTER_RULES + OPERATOR_RULES  # this operator serves one namespace
    denied = [
        (r.verb, r.group, _resource(r), r.namespace, r.name)
        for r in requests
        if not permitted(rules, r.verb, r.group or "", _resource(r), r.name)
    ]
    assert denied == []
    cluster_scoped = [r for r in requests if r.namespace is None]
    assert cluster_scoped, "kopf lists CRDs and namespaces cluster-wide"
    for r in cluster_scoped:
        assert permitted(FRAMEWORK_CLUSTER_RULES, r.verb, r.group or "", _resource(r), r.name)


def _resource(request: Any) -> str:
    if request.subresource:
        return f"{request.resource}/{request.subresource}"
    return str(request.resource)


def test_operator_metrics_and_liveness_cluster_wide(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    port, health = free_port(), free_port()
    # Also the shipped Deployment's mode: all namespaces, with kopf's liveness endpoint.
    process = start_operator(
        kube_api,
        kubeconfig,
        tmp_path / "operator.log",
        env={"SYFT_OPERATOR_METRICS_PORT": str(port), "SYFT_OPERATOR_METRICS_HOST": "127.0.0.1"},
        scope=("--all-namespaces",),
        liveness=f"http://127.0.0.1:{health}/healthz",
    )
    try:
        kube_api.put_object(token_secret("alice-token"))
        kube_api.put_object(monitor("alice"))
        kube_api.put_object(monitor("bob"))  # its Secret never comes
        eventually(lambda: ready(kube_api, "alice"), what="alice Ready")

        def scrape() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                text = reply.read().decode()
            wanted = (
                'syft_operator_monitors{condition="Ready",status="True"} 1.0',
                'syft_operator_monitors{condition="Ready",status="False"} 1.0',
            )
            return text if all(line in text for line in wanted) else None

        text = eventually(scrape, what="monitors by condition in /metrics")
        samples = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith("syft_operator_reconciles_total")
        }
        assert samples['syft_operator_reconciles_total{outcome="success"}'] >= 1
        assert samples['syft_operator_reconciles_total{outcome="retry"}'] >= 1
        assert "syft_operator_reconcile_duration_seconds_bucket" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=5) as reply:
            assert reply.status == 200
    finally:
        stop_operator(process)
