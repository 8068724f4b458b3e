"""`syft-operator` in the image (its default command's program) against the test API server.

The test Kubernetes API server (tests/kubeapi) runs in this process on 127.0.0.1; the operator
container shares the host's network, reads a kubeconfig mounted read-only, and must turn a
SyftMonitor into its children, as in a cluster, with a read-only root and no capabilities.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from container_testkit import Docker
from kubernetes import client

from syft_operator import names
from tests.integration.operator.operator_testkit import ready_in_store
from tests.kubeapi import KubeApiServer
from tests.support import eventually, free_port

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitors.syft.openmined.org.yaml"
NAMESPACE = "test"
#: An authorized-user token as the operator validates it (the values are never used here).
TOKEN = {
    "token": "ya29.sandbox-access",
    "refresh_token": "1//sandbox-refresh",
    "client_id": "sandbox-client.apps.googleusercontent.com",
    "client_secret": "sandbox-client-secret",
}


def secret(name: str) -> dict[str, Any]:
    token = json.dumps(TOKEN).encode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"token.json": base64.b64encode(token).decode()},
    }


def syft_monitor(name: str) -> dict[str, Any]:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "doEmail": f"{name}@hospital.example.org",
            "driveTokenSecretRef": {"name": f"{name}-token", "key": "token.json"},
            "gmailTokenSecretRef": {"name": f"{name}-token", "key": "token.json"},
        },
    }


def test_operator_container_reconciles_a_syft_monitor_into_its_children(
    docker: Docker, kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> None:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    mounted = tmp_path / "mounted-kubeconfig"
    mounted.write_text(kubeconfig.read_text())
    mounted.chmod(0o644)  # uid 10001 reads it (it holds the test server's dummy token only)
    liveness_port = free_port()
    name = docker.run_detached(
        "syft-operator", "--standalone", "--namespace", NAMESPACE, "--log-format", "plain",
        "--liveness", f"http://127.0.0.1:{liveness_port}/healthz",
        options=[
            "--network", "host",
            "--volume", f"{mounted}:/etc/kube/config:ro",
            "--env", "KUBECONFIG=/etc/kube/config",
            "--env", "SYFT_OPERATOR_STATUS_INTERVAL=1",
            "--env", "SYFT_OPERATOR_RETRY_DELAY=0.3",
            "--env", "SYFT_OPERATOR_RETRY_MAX_DELAY=1",
            "--env", f"SYFT_OPERATOR_MONITOR_IMAGE={docker.image}",
        ],
    )  # fmt: skip
    try:
        kube_api.wait_for_watch(names.PLURAL, group=names.GROUP, timeout=60)
    except TimeoutError as error:
        log = docker.logs(name)
        raise AssertionError(f"the operator never watched SyftMonitors:\n{log}") from error

    client.CoreV1Api(kube_client).create_namespaced_secret(NAMESPACE, secret("alice-token"))
    created = client.CustomObjectsApi(kube_client).create_namespaced_custom_object(
        names.GROUP, names.VERSION, NAMESPACE, names.PLURAL, syft_monitor("alice")
    )

    # Ready needs an available pod: the test plays the Deployment controller (no kubelet here).
    try:
        eventually(
            lambda: ready_in_store(kube_api, "alice", NAMESPACE),
            what="alice Ready=True",
            timeout=60,
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- operator log ---\n{docker.logs(name)}") from error
    children = {
        "config": kube_api.get_object("v1", "configmaps", NAMESPACE, "alice-config"),
        "state": kube_api.get_object("v1", "configmaps", NAMESPACE, "alice-state"),
        "serviceaccount": kube_api.get_object("v1", "serviceaccounts", NAMESPACE, "alice-monitor"),
        "deployment": kube_api.get_object(
            "apps/v1", "deployments", NAMESPACE, names.workload_name("alice")
        ),
    }
    for kind, child in children.items():
        assert child is not None, kind
        owners = [ref["uid"] for ref in child["metadata"].get("ownerReferences", [])]
        assert owners == [created["metadata"]["uid"]], kind
    deployment = children["deployment"]
    assert deployment is not None
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == [docker.image]
    with urllib.request.urlopen(f"http://127.0.0.1:{liveness_port}/healthz", timeout=5) as probe:
        assert probe.status == 200

    docker("stop", "--time", "10", name, timeout=40)
    state = json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)
    assert state["ExitCode"] == 0, docker.logs(name)[-3000:]
