"""Finalizers: product-named while the status timer runs, none without it (no stuck deletes)."""

from __future__ import annotations

from pathlib import Path

from operator_testkit import (
    BIN,
    CRD_FILE,
    NAMESPACE,
    eventually,
    monitor,
    start_operator,
    stop_operator,
    token_secret,
)

from syft_operator import names
from tests.kubeapi import KubeApiServer


def ready(api: KubeApiServer) -> bool:
    obj = api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice") or {}
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_without_the_timer_there_is_no_finalizer_and_delete_needs_no_operator(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    # Also the plain `kopf run -m syft_operator.handlers` way of starting it.
    process = start_operator(
        kube_api,
        kubeconfig,
        tmp_path / "operator.log",
        env={"SYFT_OPERATOR_STATUS_INTERVAL": "0"},
        command=(str(BIN / "kopf"), "run", "-m", "syft_operator.handlers"),
    )
    try:
        kube_api.put_object(token_secret("alice-token"))
        kube_api.put_object(monitor("alice"))
        eventually(lambda: ready(kube_api), what="Ready")
        stored = kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
        assert stored is not None
        assert not stored["metadata"].get("finalizers")
    finally:
        stop_operator(process)
    # The operator is down: the SyftMonitor and, by garbage collection, its children still go.
    assert kube_api.delete_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
    assert kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice") is None
    eventually(
        lambda: kube_api.get_object("apps/v1", "deployments", NAMESPACE, "alice-monitor") is None,
        what="the Deployment garbage-collected",
    )


def test_with_the_timer_the_finalizer_is_the_products(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    process = start_operator(kube_api, kubeconfig, tmp_path / "operator.log")
    try:
        kube_api.put_object(token_secret("alice-token"))
        kube_api.put_object(monitor("alice"))
        eventually(lambda: ready(kube_api), what="Ready")
        stored = kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
        assert stored is not None
        assert stored["metadata"]["finalizers"] == [names.FINALIZER]
        annotations = stored["metadata"].get("annotations", {})
        assert all(not key.startswith("kopf.zalando.org/") for key in annotations)
    finally:
        stop_operator(process)
