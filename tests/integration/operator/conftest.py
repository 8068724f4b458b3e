"""The real operator (`syft-operator` console script) as a subprocess against the test API server.

`operator_cluster` gives a namespace `test` with the CRD installed and the operator watching it,
with a short status interval and short retry delays so the whole lifecycle takes seconds. Tests
drive it with the official `kubernetes` client (`clients`) and the real kubectl (`kubectl`).
`schema_cluster` is the same without the operator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from operator_testkit import (
    CRD_FILE,
    NAMESPACE,
    POOL_CRD_FILE,
    OperatorCluster,
    clients_for,
    running_operator,
)

from tests.kubeapi import KubeApiServer


@pytest.fixture
def operator_cluster(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> Iterator[OperatorCluster]:
    with running_operator(kube_api, kubeconfig, kube_client, tmp_path) as cluster:
        yield cluster


@pytest.fixture
def schema_cluster(kube_api: KubeApiServer, kube_client: Any, tmp_path: Path) -> OperatorCluster:
    """The API server with the CRD installed and no operator: what the schema alone decides."""
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    kube_api.apply_crd(POOL_CRD_FILE)
    return OperatorCluster(kube_api, clients_for(kube_client), None, tmp_path / "no-operator.log")
