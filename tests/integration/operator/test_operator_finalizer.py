"""No finalizer, ever: a SyftMonitor deleted while the operator is down goes at once, and the
status refresh (an operator-wide loop, not a kopf timer) still runs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from operator_testkit import (
    BIN,
    CRD_FILE,
    NAMESPACE,
    eventually,
    monitor,
    ready_in_store,
    start_operator,
    stop_operator,
    token_secret,
)

from syft_operator import names
from tests.kubeapi import KubeApiServer


def stored(api: KubeApiServer) -> dict[str, Any]:
    obj = api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
    assert obj is not None
    return obj


def ready(api: KubeApiServer) -> bool:
    return ready_in_store(api, "alice")


@contextmanager
def operator_with_alice(
    api: KubeApiServer, kubeconfig: Path, log: Path, **options: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """The operator running, and alice's SyftMonitor Ready."""
    api.create_namespace(NAMESPACE)
    api.apply_crd(CRD_FILE)
    process = start_operator(api, kubeconfig, log, **options)
    try:
        api.put_object(token_secret("alice-token"))
        api.put_object(monitor("alice"))
        eventually(lambda: ready(api), what="Ready")
        yield process
    finally:
        stop_operator(process)


def test_status_is_refreshed_without_a_finalizer_and_delete_needs_no_operator(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    with operator_with_alice(
        kube_api,
        kubeconfig,
        tmp_path / "operator.log",
        # Also the plain `kopf run -m syft_operator.handlers` way of starting it.
        command=(str(BIN / "kopf"), "run", "-m", "syft_operator.handlers"),
    ):
        # The monitor pod reports through its state ConfigMap; no spec change follows, so only
        # the periodic refresh can bring it into the status.
        state = kube_api.get_object("v1", "configmaps", NAMESPACE, "alice-state")
        assert state is not None
        state["data"] = {"lastPollTime": "2026-03-01T12:00:05+00:00", "notificationsSent": "3"}
        kube_api.put_object(state)
        eventually(
            lambda: (stored(kube_api).get("status") or {}).get("notificationsSent") == 3,
            what="notificationsSent mirrored by the refresh",
        )
        assert not stored(kube_api)["metadata"].get("finalizers")
        annotations = stored(kube_api)["metadata"].get("annotations", {})
        assert all(not key.startswith("kopf.zalando.org/") for key in annotations)
    # The operator is down: the SyftMonitor and, by garbage collection, its children still go.
    assert kube_api.delete_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
    assert kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice") is None
    eventually(
        lambda: kube_api.get_object("apps/v1", "deployments", NAMESPACE, "alice-monitor") is None,
        what="the Deployment garbage-collected",
    )


def test_the_finalizer_an_older_version_left_is_removed(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    kube_api.put_object(token_secret("alice-token"))
    old = monitor("alice")
    old["metadata"]["finalizers"] = [names.FINALIZER]  # what the timer-based operator left
    kube_api.put_object(old)
    process = start_operator(kube_api, kubeconfig, tmp_path / "operator.log")
    try:
        eventually(lambda: not stored(kube_api)["metadata"].get("finalizers"), what="released")
        eventually(lambda: ready(kube_api), what="Ready")
    finally:
        stop_operator(process)


def test_status_refresh_can_be_turned_off(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    with operator_with_alice(
        kube_api,
        kubeconfig,
        tmp_path / "operator.log",
        env={"SYFT_OPERATOR_STATUS_INTERVAL": "0"},
    ) as process:
        kube_api.clear_requests()
        # Three would-be refresh periods (1 s where it is on, as in the other tests): a refresh
        # would read the state ConfigMap.
        time.sleep(3)
        assert process.poll() is None
        assert [r for r in kube_api.requests if r.resource == "configmaps"] == []
