"""The patch formats: JSON patch (kopf's `test` guard), merge patch, strategic merge patch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeApiServer
from tests.kubeapi.patching import apply_strategic_merge_patch

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def deployment(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
        },
    }


def test_json_patch_with_a_matching_resource_version_test(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    ops = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": created.metadata.resource_version,
        },
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/guard"]},
    ]
    patched = core.patch_namespaced_config_map("a", "default", ops, _content_type=JSON_PATCH)

    assert patched.metadata.finalizers == ["example.com/guard"]
    assert kube_api.requests[-1].content_type == JSON_PATCH


def test_json_patch_with_a_stale_test_is_422(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"moved": "on"}})
    ops = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": created.metadata.resource_version,
        },
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/guard"]},
    ]
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("a", "default", ops, _content_type=JSON_PATCH)

    assert caught.value.status == 422
    assert core.read_namespaced_config_map("a", "default").metadata.finalizers is None


def test_json_patch_operations(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default",
        {"metadata": {"name": "a", "labels": {"x/y": "1"}}, "data": {"k": "v", "gone": "1"}},
    )
    ops = [
        {"op": "replace", "path": "/data/k", "value": "w"},
        {"op": "remove", "path": "/data/gone"},
        {"op": "copy", "from": "/data/k", "path": "/data/copied"},
        {"op": "move", "from": "/metadata/labels/x~1y", "path": "/metadata/labels/moved"},
    ]
    patched = core.patch_namespaced_config_map("a", "default", ops, _content_type=JSON_PATCH)
    assert patched.data == {"k": "w", "copied": "w"}
    assert patched.metadata.labels == {"moved": "1"}

    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a", "default", [{"op": "remove", "path": "/data/absent"}], _content_type=JSON_PATCH
        )
    assert caught.value.status == 422


def test_merge_patch_sets_and_removes_keys(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"k": "v", "x": "1"}}
    )
    patched = core.patch_namespaced_config_map(
        "a", "default", {"data": {"x": None, "y": "2"}}, _content_type=MERGE_PATCH
    )
    assert patched.data == {"k": "v", "y": "2"}


def test_merge_patch_with_a_stale_resource_version_conflicts(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "1"}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a",
            "default",
            {
                "metadata": {"resourceVersion": created.metadata.resource_version},
                "data": {"k": "2"},
            },
            _content_type=MERGE_PATCH,
        )
    assert caught.value.status == 409


def test_strategic_merge_merges_containers_by_name(
    apps: client.AppsV1Api, kube_api: KubeApiServer
) -> None:
    apps.create_namespaced_deployment(
        "default",
        deployment(
            [
                {"name": "main", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "proxy:1"},
            ]
        ),
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "main", "image": "app:2", "env": [{"name": "B", "value": "2"}]}
                    ]
                }
            }
        }
    }
    patched = apps.patch_namespaced_deployment("web", "default", patch, _content_type=STRATEGIC)

    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"main", "sidecar"}
    assert containers["main"].image == "app:2"
    assert [e.name for e in containers["main"].env] == ["A", "B"]
    assert containers["sidecar"].image == "proxy:1"
    assert kube_api.requests[-1].content_type == STRATEGIC


def test_merge_patch_replaces_lists_where_strategic_merges(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(
        "default",
        deployment([{"name": "main", "image": "app:1"}, {"name": "sidecar", "image": "p:1"}]),
    )
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "app:2"}]}}}}
    patched = apps.patch_namespaced_deployment("web", "default", patch, _content_type=MERGE_PATCH)
    assert [c.name for c in patched.spec.template.spec.containers] == ["main"]


def test_strategic_merge_directives() -> None:
    current = {
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}],
            "volumes": [{"name": "v", "secret": {"secretName": "s"}}],
        },
        "metadata": {"finalizers": ["x"]},
    }
    patch = {
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "containers": [{"name": "a", "$patch": "delete"}, {"name": "c", "image": "2"}],
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}],
            "volumes": [{"name": "w", "emptyDir": {}}, {"$patch": "replace"}],
        },
        "metadata": {"finalizers": ["y", "x"]},
    }
    result = apply_strategic_merge_patch(current, patch)
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    assert [c["name"] for c in result["spec"]["containers"]] == ["c", "b"]
    assert result["spec"]["volumes"] == [{"name": "w", "emptyDir": {}}]
    assert result["metadata"]["finalizers"] == ["x", "y"]


def test_unknown_patch_type_is_415(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a", "default", {"data": {}}, _content_type="application/apply-patch+yaml"
        )
    assert caught.value.status == 415
    assert (
        "server-side apply is not emulated"
        in json.loads(caught.value.body)["details"]["causes"][0]["message"]
    )
