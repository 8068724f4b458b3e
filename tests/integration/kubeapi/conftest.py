"""Shared pieces of the test API server's own tests: a small CRD and typed API handles."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client

from tests.kubeapi.samples import WIDGET_CRD


@pytest.fixture
def widget_crd() -> dict[str, Any]:
    return copy.deepcopy(WIDGET_CRD)


@pytest.fixture
def core(kube_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_client)


@pytest.fixture
def apps(kube_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(kube_client)


@pytest.fixture
def custom(kube_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube_client)


@pytest.fixture
def crds(kube_client: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(kube_client)
