"""The server's own interface: lifecycle, kubeconfig, request log, direct access, faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeApiServer
from tests.kubeapi.samples import WIDGET_CRD


def test_lifecycle_and_kubeconfig(tmp_path: Path) -> None:
    server = KubeApiServer(namespaces=["team"]).start()
    try:
        path = server.write_kubeconfig(tmp_path / "kc", namespace="team")
        loaded = yaml.safe_load(path.read_text())
        assert loaded["clusters"][0]["cluster"]["server"] == server.url
        assert loaded["contexts"][0]["context"]["namespace"] == "team"
        api = config.new_client_from_config(config_file=str(path))
        with api:
            names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
        assert "team" in names
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "/version", timeout=2)


def test_discovery_has_what_kopf_and_kubectl_need(
    kube_client: client.ApiClient, kube_api: KubeApiServer
) -> None:
    with urllib.request.urlopen(kube_api.url + "/version", timeout=5) as response:
        assert json.load(response)["major"] == "1"
    core = {r.name for r in client.CoreV1Api(kube_client).get_api_resources().resources}
    assert {"namespaces", "configmaps", "secrets", "serviceaccounts", "events"} <= core
    groups = {
        g.name: g.preferred_version.group_version
        for g in client.ApisApi(kube_client).get_api_versions().groups
    }
    assert groups["apps"] == "apps/v1"
    assert groups["batch"] == "batch/v1"
    assert groups["rbac.authorization.k8s.io"] == "rbac.authorization.k8s.io/v1"
    assert groups["coordination.k8s.io"] == "coordination.k8s.io/v1"
    assert groups["apiextensions.k8s.io"] == "apiextensions.k8s.io/v1"
    apps = client.AppsV1Api(kube_client).get_api_resources().resources
    assert {"deployments", "deployments/status", "deployments/scale"} <= {r.name for r in apps}


def test_request_log_records_rbac_fields(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    kube_api.clear_requests()
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
    core.read_namespace_status("default")
    core.delete_namespaced_config_map("a", "default")

    log = [
        (r.verb, r.group, r.version, r.resource, r.namespace, r.name, r.subresource, r.status)
        for r in kube_api.requests
    ]
    assert log == [
        ("create", "", "v1", "configmaps", "default", None, None, 201),
        ("patch", "", "v1", "configmaps", "default", "a", None, 200),
        ("get", "", "v1", "namespaces", None, "default", "status", 200),
        ("delete", "", "v1", "configmaps", "default", "a", None, 200),
    ]
    assert kube_api.requests[1].body == {"data": {"k": "v"}}
    assert all(r.is_resource for r in kube_api.requests)


def test_wait_for_request_times_out(kube_api: KubeApiServer) -> None:
    with pytest.raises(TimeoutError):
        kube_api.wait_for_request(lambda r: r.verb == "watch", timeout=0.1)


def test_direct_object_access(kube_api: KubeApiServer, core: client.CoreV1Api) -> None:
    kube_api.create_namespace("team")
    stored = kube_api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "team"},
            "data": {"k": "v"},
        }
    )
    assert stored["metadata"]["uid"]
    assert core.read_namespaced_config_map("a", "team").data == {"k": "v"}

    stored["data"] = {"k": "w"}
    kube_api.put_object(stored)
    fetched = kube_api.get_object("v1", "configmaps", "team", "a")
    assert fetched is not None
    assert fetched["data"] == {"k": "w"}
    assert kube_api.get_object("v1", "configmaps", "team", "missing") is None

    assert kube_api.delete_object("v1", "configmaps", "team", "a") is True
    assert kube_api.delete_object("v1", "configmaps", "team", "a") is False
    with pytest.raises(KeyError):
        kube_api.get_object("example.com/v1", "widgets", "team", "a")


def test_put_object_writes_status_and_apply_crd_takes_yaml(kube_api: KubeApiServer) -> None:
    kube_api.apply_crd(yaml.safe_dump(WIDGET_CRD))
    kube_api.put_object(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {"size": 1, "owner": "a@b.c"},
            "status": {"phase": "Seeded"},
        }
    )
    stored = kube_api.get_object("example.com/v1", "widgets", "default", "w")
    assert stored is not None
    assert stored["status"] == {"phase": "Seeded"}


def test_fail_next_answers_with_an_error_instead(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    rule = kube_api.fail_next(503, verb="create", resource="configmaps", retry_after=2)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert caught.value.status == 503
    assert json.loads(caught.value.body)["reason"] == "ServiceUnavailable"
    assert caught.value.headers["Retry-After"] == "2"
    assert kube_api.get_object("v1", "configmaps", "default", "a") is None

    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert rule.hits == 1
    assert [
        r.status for r in kube_api.requests if r.verb == "create" and r.resource == "configmaps"
    ] == [503, 201]


def test_fail_next_matches_only_what_it_names(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    kube_api.fail_next(409, verb="update", name="a", count=2)
    core.read_namespaced_config_map("a", "default")
    body = core.read_namespaced_config_map("a", "default")
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.replace_namespaced_config_map("a", "default", body)
        assert caught.value.status == 409
    core.replace_namespaced_config_map("a", "default", body)
    kube_api.fail_next(500, resource="secrets")
    kube_api.clear_faults()
    core.list_namespaced_secret("default")
