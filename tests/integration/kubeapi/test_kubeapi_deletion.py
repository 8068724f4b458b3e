"""Finalizers, garbage collection by ownerReferences, namespace deletion."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeApiServer


def owned_by(owner: Any, name: str, *, controller: bool = True) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": owner.metadata.name,
                    "uid": owner.metadata.uid,
                    "controller": controller,
                    "blockOwnerDeletion": True,
                }
            ],
        }
    }


def names(kube_api: KubeApiServer, resource: str = "configmaps") -> list[str]:
    return [o["metadata"]["name"] for o in kube_api.list_objects("v1", resource, "default")]


def test_finalizer_holds_the_object_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}
    )

    response = core.delete_namespaced_config_map("a", "default")

    assert response["metadata"]["deletionTimestamp"]
    held = core.read_namespaced_config_map("a", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"finalizers": ["example.com/hold", "new/one"]}}
        )
    assert caught.value.status == 422

    core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("a", "default")
    assert caught.value.status == 404


def test_background_deletion_collects_dependents(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    child = core.create_namespaced_config_map("default", owned_by(owner, "child"))
    core.create_namespaced_config_map("default", owned_by(child, "grandchild"))
    core.create_namespaced_config_map("default", {"metadata": {"name": "bystander"}})

    core.delete_namespaced_config_map("owner", "default")

    assert names(kube_api) == ["bystander"]


def test_dependent_created_after_its_owner_was_deleted_is_collected(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    core.delete_namespaced_config_map("owner", "default")
    # A controller still working from the owner's old body creates a child.
    core.create_namespaced_config_map("default", owned_by(owner, "late-child"))
    # Same name, new object: its uid is not the one the child names.
    core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map("default", owned_by(owner, "stale-child"))
    core.create_namespaced_config_map("default", {"metadata": {"name": "bystander"}})

    assert names(kube_api) == ["bystander", "owner"]


def test_dependent_with_another_live_owner_survives(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "first"}})
    second = core.create_namespaced_config_map("default", {"metadata": {"name": "second"}})
    body = owned_by(first, "shared", controller=False)
    body["metadata"]["ownerReferences"] += owned_by(second, "x", controller=False)["metadata"][
        "ownerReferences"
    ]
    core.create_namespaced_config_map("default", body)

    core.delete_namespaced_config_map("first", "default")

    shared = kube_api.get_object("v1", "configmaps", "default", "shared")
    assert shared is not None
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["second"]


def test_orphan_and_foreground_propagation(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map("default", owned_by(owner, "child"))
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    child = kube_api.get_object("v1", "configmaps", "default", "child")
    assert child is not None
    assert "ownerReferences" not in child["metadata"]

    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner2"}})
    core.create_namespaced_config_map("default", owned_by(owner, "child2"))
    core.delete_namespaced_config_map("owner2", "default", propagation_policy="Foreground")
    assert names(kube_api) == ["child"]


def test_dependent_with_a_finalizer_waits(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    body = owned_by(owner, "child")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("default", body)

    core.delete_namespaced_config_map("owner", "default")

    child = kube_api.get_object("v1", "configmaps", "default", "child")
    assert child is not None
    assert child["metadata"]["deletionTimestamp"]


def test_cross_kind_garbage_collection(
    kube_client: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    crds: client.ApiextensionsV1Api,
    widget_crd: dict[str, Any],
    kube_api: KubeApiServer,
) -> None:
    crds.create_custom_resource_definition(widget_crd)
    owner = custom.create_namespaced_custom_object(
        "example.com",
        "v1",
        "default",
        "widgets",
        {"metadata": {"name": "w"}, "spec": {"size": 1, "owner": "a@b.c"}},
    )
    ref = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "name": "w",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    core.create_namespaced_service_account(
        "default", {"metadata": {"name": "sa", "ownerReferences": [ref]}}
    )
    client.RbacAuthorizationV1Api(kube_client).create_namespaced_role(
        "default", {"metadata": {"name": "r", "ownerReferences": [ref]}, "rules": []}
    )

    custom.delete_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")

    assert kube_api.get_object("v1", "serviceaccounts", "default", "sa") is None
    assert kube_api.get_object("rbac.authorization.k8s.io/v1", "roles", "default", "r") is None


def test_deleting_a_namespace_deletes_its_content(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_config_map("team", {"metadata": {"name": "a"}})
    core.create_namespaced_config_map(
        "team", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )

    core.delete_namespace("team")

    assert kube_api.get_object("v1", "configmaps", "team", "a") is None
    namespace = core.read_namespace("team")
    assert namespace.status.phase == "Terminating"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("team", {"metadata": {"name": "late"}})
    assert caught.value.status == 403

    core.patch_namespaced_config_map("held", "team", {"metadata": {"finalizers": None}})
    assert kube_api.get_object("v1", "namespaces", None, "team") is None
