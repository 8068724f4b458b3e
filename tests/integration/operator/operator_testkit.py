"""Helpers of the operator tests: the operator subprocess, typed clients, manifests, polling."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client

from syft_operator import names
from tests.kubeapi import KubeApiServer
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitors.syft.openmined.org.yaml"
POOL_CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitorpools.syft.openmined.org.yaml"
NAMESPACE = "test"
BIN = Path(sys.executable).parent

TOKEN = {
    "token": "ya29.sandbox-access",
    "refresh_token": "1//sandbox-refresh",
    "client_id": "sandbox-client.apps.googleusercontent.com",
    "client_secret": "sandbox-client-secret",
}


def token_secret(name: str, key: str = "token.json", value: Any = None) -> dict[str, Any]:
    raw = json.dumps(TOKEN if value is None else value).encode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": "Opaque",
        "data": {key: base64.b64encode(raw).decode()},
    }


def monitor(name: str = "alice", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "doEmail": f"{name}@hospital.example.org",
        "driveTokenSecretRef": {"name": f"{name}-token", "key": "token.json"},
        "gmailTokenSecretRef": {"name": f"{name}-token", "key": "token.json"},
    }
    body.update(spec)
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": body,
    }


@dataclasses.dataclass
class Clients:
    """The official client's typed APIs, bound to the test server."""

    core: Any
    apps: Any
    batch: Any
    rbac: Any
    custom: Any


@dataclasses.dataclass
class OperatorCluster:
    api: KubeApiServer
    clients: Clients
    #: None for `schema_cluster` (the API server and the CRD, no operator).
    process: subprocess.Popen[bytes] | None
    log_path: Path

    # --- SyftMonitors ---------------------------------------------------------------------------

    def create_monitor(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.clients.custom.create_namespaced_custom_object(  # type: ignore[no-any-return]
            names.GROUP, names.VERSION, NAMESPACE, names.PLURAL, body
        )

    def get_monitor(self, name: str = "alice") -> dict[str, Any]:
        return self.clients.custom.get_namespaced_custom_object(  # type: ignore[no-any-return]
            names.GROUP, names.VERSION, NAMESPACE, names.PLURAL, name
        )

    def patch_spec(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self.clients.custom.patch_namespaced_custom_object(  # type: ignore[no-any-return]
            names.GROUP, names.VERSION, NAMESPACE, names.PLURAL, name, {"spec": spec}
        )

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        for condition in (self.get_monitor(name).get("status") or {}).get("conditions") or []:
            if condition["type"] == type_:
                return condition  # type: ignore[no-any-return]
        return None

    def wait_condition(
        self, name: str, type_: str, status: str, reason: str | None = None
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            found = self.condition(name, type_)
            if found and found["status"] == status and reason in (None, found["reason"]):
                return found
            return None

        return eventually(probe, what=f"{name} {type_}={status} {reason or ''}")

    # --- children -------------------------------------------------------------------------------

    def stored(self, group_version: str, resource: str, name: str) -> dict[str, Any] | None:
        return self.api.get_object(group_version, resource, NAMESPACE, name)

    def deployment(self, name: str = "alice") -> dict[str, Any] | None:
        return self.stored("apps/v1", "deployments", names.workload_name(name))

    def cronjob(self, name: str = "alice") -> dict[str, Any] | None:
        return self.stored("batch/v1", "cronjobs", names.workload_name(name))

    def mark_available(self, name: str = "alice") -> dict[str, Any]:
        """Play the Deployment controller and kubelet: the current template has a ready pod.

        Written through the status subresource with the official client, as the controller
        does; the operator learns it from its watch on Deployments."""
        deployment = eventually(lambda: self.deployment(name), what=f"{name}'s Deployment")
        status = available_status(deployment["metadata"]["generation"])
        return self.clients.apps.patch_namespaced_deployment_status(  # type: ignore[no-any-return]
            names.workload_name(name), NAMESPACE, {"status": status}
        )

    def ready(self, name: str = "alice") -> dict[str, Any]:
        """Wait for the operator's writes, mark the Deployment available, wait for Ready=True."""
        self.wait_condition(name, "SecretsResolved", "True")
        self.mark_available(name)
        return self.wait_condition(name, "Ready", "True")

    def events_for(self, name: str) -> list[Any]:
        found = self.clients.core.list_namespaced_event(
            NAMESPACE, field_selector=f"involvedObject.name={name}"
        )
        return list(found.items)

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")


def available_status(generation: int) -> dict[str, Any]:
    """What the Deployment controller writes once a pod of generation `generation` is ready."""
    return {
        "observedGeneration": generation,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        ],
    }


def ready_in_store(api: KubeApiServer, name: str = "alice", namespace: str = NAMESPACE) -> bool:
    """A polling probe: mark `name`'s Deployment available (straight in the store, as the
    controller would) whenever its current generation is not, and say whether Ready is True."""
    deployment = api.get_object("apps/v1", "deployments", namespace, names.workload_name(name))
    if deployment is not None:
        generation = deployment["metadata"]["generation"]
        if (deployment.get("status") or {}).get("observedGeneration") != generation:
            deployment["status"] = available_status(generation)
            api.put_object(deployment)
    obj = api.get_object(names.API_VERSION, names.PLURAL, namespace, name) or {}
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def clients_for(kube_client: Any) -> Clients:
    return Clients(
        core=client.CoreV1Api(kube_client),
        apps=client.AppsV1Api(kube_client),
        batch=client.BatchV1Api(kube_client),
        rbac=client.RbacAuthorizationV1Api(kube_client),
        custom=client.CustomObjectsApi(kube_client),
    )


def start_operator(
    kube_api: KubeApiServer,
    kubeconfig: Path,
    log_path: Path,
    *extra_args: str,
    env: dict[str, str] | None = None,
    scope: tuple[str, ...] = ("--namespace", NAMESPACE),
    liveness: str = "",
    command: tuple[str, ...] = (str(BIN / "syft-operator"),),
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "SYFT_OPERATOR_STATUS_INTERVAL": "1",
        "SYFT_OPERATOR_RETRY_DELAY": "0.3",
        "SYFT_OPERATOR_RETRY_MAX_DELAY": "1",
        "SYFT_OPERATOR_MONITOR_IMAGE": "syft-monitor:test",
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *command,
                "--standalone",
                *scope,
                "--liveness",
                liveness,
                "--log-format",
                "plain",
                *extra_args,
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        kube_api.wait_for_watch(names.PLURAL, group=names.GROUP, timeout=30)
    except TimeoutError as error:
        process.kill()
        process.wait(10)
        raise AssertionError(
            "operator never watched SyftMonitors:\n" + log_path.read_text()
        ) from error
    return process


def stop_operator(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def running_operator(
    kube_api: KubeApiServer,
    kubeconfig: Path,
    kube_client: Any,
    tmp_path: Path,
    *extra_args: str,
    env: dict[str, str] | None = None,
) -> Iterator[OperatorCluster]:
    """Namespace and CRD in place, the operator started with `extra_args`/`env`; on exit it is
    stopped and its log tail goes to stderr (captured: pytest shows it when the test failed)."""
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    kube_api.apply_crd(POOL_CRD_FILE)
    log_path = tmp_path / "operator.log"
    process = start_operator(kube_api, kubeconfig, log_path, *extra_args, env=env)
    cluster = OperatorCluster(kube_api, clients_for(kube_client), process, log_path)
    try:
        yield cluster
    finally:
        stop_operator(process)
        sys.stderr.write("--- operator log (tail) ---\n" + cluster.log()[-6000:])
