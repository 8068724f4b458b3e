"""kopf, the operator framework, against the test API server: the real thing as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.kubeapi import KubeApiServer
from tests.kubeapi.samples import WIDGET_CRD, widget

OPERATOR = Path(__file__).with_name("kopf_widget_operator.py")


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def operator(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    kube_api.apply_crd(WIDGET_CRD)
    log = (tmp_path / "kopf.log").open("wb")
    kopf = Path(sys.executable).with_name("kopf")
    process = subprocess.Popen(
        [str(kopf), "run", "--standalone", "--namespace", "default", str(OPERATOR)],
        env=dict(os.environ, KUBECONFIG=str(kubeconfig)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        kube_api.wait_for_watch("widgets", timeout=30)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def test_kopf_lifecycle(
    operator: subprocess.Popen[bytes], kube_api: KubeApiServer, custom: client.CustomObjectsApi
) -> None:
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w1"))

    def handled() -> dict[str, Any] | None:
        obj = kube_api.get_object("example.com/v1", "widgets", "default", "w1")
        return obj if obj and (obj.get("status") or {}).get("created") else None

    obj = eventually(handled)
    assert obj["status"]["created"] == {"child": "w1-child"}
    assert obj["metadata"]["finalizers"] == ["example.com/widget-finalizer"]
    child = kube_api.get_object("v1", "configmaps", "default", "w1-child")
    assert child is not None
    assert child["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
    # kopf posts its Events from a queue of its own, after the handler's status patch.
    events = eventually(lambda: kube_api.list_objects("v1", "events", "default"))
    assert [e["reason"] for e in events] == ["ChildCreated"]

    custom.delete_namespaced_custom_object("example.com", "v1", "default", "widgets", "w1")

    eventually(lambda: kube_api.get_object("example.com/v1", "widgets", "default", "w1") is None)
    assert kube_api.get_object("v1", "configmaps", "default", "w1-child") is None
    assert operator.poll() is None
    # The finalizer went on and off with kopf's guarded JSON patch, and none of its writes failed.
    json_patches = [r for r in kube_api.requests if r.content_type == "application/json-patch+json"]
    assert len(json_patches) >= 2
    assert all(r.body[0]["op"] == "test" for r in json_patches)
    assert [r for r in kube_api.requests if r.status >= 400 and r.verb != "get"] == []
