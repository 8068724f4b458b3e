"""Create/read/replace/delete through the official client: status codes, metadata, errors."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeApiServer


def status_of(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_create_answers_201_with_server_metadata(core: client.CoreV1Api) -> None:
    obj, status, _ = core.create_namespaced_config_map_with_http_info(
        "default", configmap("a", k="v")
    )

    assert status == 201
    assert obj.metadata.uid
    assert obj.metadata.resource_version.isdigit()
    assert obj.metadata.creation_timestamp is not None
    assert obj.metadata.namespace == "default"
    assert obj.data == {"k": "v"}


def test_resource_versions_increase_and_reads_are_stable(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", configmap("a"))
    second = core.create_namespaced_config_map("default", configmap("b"))
    reread = core.read_namespaced_config_map("a", "default")

    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert reread.metadata.resource_version == first.metadata.resource_version
    assert reread.metadata.uid == first.metadata.uid


def test_generation_moves_with_spec_only(apps: client.AppsV1Api) -> None:
    created = apps.create_namespaced_deployment("default", deployment("web"))
    assert created.metadata.generation == 1

    labelled = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"tier": "front"}}}
    )
    assert labelled.metadata.generation == 1
    assert int(labelled.metadata.resource_version) > int(created.metadata.resource_version)

    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_missing_object_is_a_notfound_status(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("nope", "default")

    assert caught.value.status == 404
    status = status_of(caught.value)
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["message"] == 'configmaps "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "configmaps"}


def test_second_create_is_alreadyexists(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("a"))

    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"


def test_replace_checks_the_resource_version(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("a", k="1"))
    created.data = {"k": "2"}
    replaced, status, _ = core.replace_namespaced_config_map_with_http_info("a", "default", created)
    assert status == 200
    assert replaced.data == {"k": "2"}
    assert replaced.metadata.uid == created.metadata.uid

    created.data = {"k": "3"}  # still carries the first resourceVersion
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", "default", created)
    assert caught.value.status == 409
    status = status_of(caught.value)
    assert status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]
    assert core.read_namespaced_config_map("a", "default").data == {"k": "2"}


def test_replace_of_a_missing_object_is_notfound(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", "default", configmap("a"))
    assert caught.value.status == 404


def test_noop_write_keeps_the_resource_version(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("a", k="1"))
    same = core.patch_namespaced_config_map("a", "default", {"data": {"k": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version


def test_generate_name_gives_distinct_names(core: client.CoreV1Api) -> None:
    event = {
        "metadata": {"generateName": "thing."},
        "involvedObject": {"kind": "ConfigMap", "name": "a", "namespace": "default"},
        "reason": "Tested",
        "message": "hello",
        "type": "Normal",
    }
    first = core.create_namespaced_event("default", event)
    second = core.create_namespaced_event("default", event)

    assert first.metadata.name.startswith("thing.")
    assert second.metadata.name.startswith("thing.")
    assert first.metadata.name != second.metadata.name


def test_name_is_required(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", {"data": {}})
    assert caught.value.status == 422
    assert "name or generateName is required" in status_of(caught.value)["message"]


def test_namespaces_path_lists_and_creates(core: client.CoreV1Api) -> None:
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system"} <= names

    created, status, _ = core.create_namespace_with_http_info({"metadata": {"name": "team-a"}})
    assert status == 201
    assert created.status.phase == "Active"
    assert core.read_namespace("team-a").metadata.labels == {
        "kubernetes.io/metadata.name": "team-a"
    }


def test_objects_need_an_existing_namespace(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("nowhere", configmap("a"))
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'namespaces "nowhere" not found'


def test_namespace_in_body_must_match_the_url(core: client.CoreV1Api) -> None:
    body = configmap("a")
    body["metadata"]["namespace"] = "kube-system"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", body)
    assert caught.value.status == 400


def test_invalid_names_and_labels_are_422(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("Not_Valid"))
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["field"] == "metadata.name"

    body = configmap("ok")
    body["metadata"]["labels"] = {"email": "do@example.org"}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", body)
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["field"] == "metadata.labels"


def raw_call(api: KubeApiServer, method: str, path: str, body: Any) -> tuple[int, Any]:
    """A request the typed client would refuse to send (it validates bodies itself)."""
    request = urllib.request.Request(
        api.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.load(e)


def test_configmap_rules(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    code, status = raw_call(
        kube_api,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "n"}, "data": {"k": 1}},
    )
    assert code == 400
    assert status["reason"] == "BadRequest"

    big = configmap("big", blob="x" * (1024 * 1024))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", big)
    assert caught.value.status == 422
    assert "must have at most 1048576 bytes" in status_of(caught.value)["message"]

    frozen = configmap("frozen", k="1")
    frozen["immutable"] = True
    core.create_namespaced_config_map("default", frozen)
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("frozen", "default", {"data": {"k": "2"}})
    assert caught.value.status == 422


def test_secret_string_data_is_folded_into_data(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"token.json": "{}"}}
    )
    assert created.data == {"token.json": base64.b64encode(b"{}").decode()}
    assert created.string_data is None
    assert created.type == "Opaque"

    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("default", {"metadata": {"name": "t"}, "data": {"k": "%%%"}})
    assert caught.value.status == 400


def deployment(name: str, *, image: str = "example/app:1.0") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def test_deployment_defaults_and_rules(apps: client.AppsV1Api) -> None:
    created = apps.create_namespaced_deployment("default", deployment("web"))
    assert created.spec.replicas == 1
    assert created.spec.strategy.type == "RollingUpdate"
    container = created.spec.template.spec.containers[0]
    assert container.image_pull_policy == "IfNotPresent"
    assert created.spec.template.spec.restart_policy == "Always"

    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(
            "web", "default", {"spec": {"strategy": {"type": "Recreate"}}}
        )
    assert caught.value.status == 422
    assert "rollingUpdate" in status_of(caught.value)["message"]

    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(
            "web", "default", {"spec": {"selector": {"matchLabels": {"app": "other"}}}}
        )
    assert caught.value.status == 422

    mismatched = deployment("bad")
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "else"}
    with pytest.raises(ApiException) as caught:
        apps.create_namespaced_deployment("default", mismatched)
    assert caught.value.status == 422
    assert "`selector` does not match template `labels`" in status_of(caught.value)["message"]


def test_cronjob_template_needs_a_job_restart_policy(kube_client: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube_client)
    body = {
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}
            },
        },
    }
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_cron_job("default", body)
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["field"] == (
        "spec.jobTemplate.spec.template.spec.restartPolicy"
    )

    body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    created = batch.create_namespaced_cron_job("default", body)
    assert created.spec.concurrency_policy == "Allow"
    assert created.metadata.generation == 1


def test_rolebinding_role_ref_is_immutable(kube_client: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(kube_client)
    body = {
        "metadata": {"name": "rb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}],
    }
    rbac.create_namespaced_role_binding("default", body)
    with pytest.raises(ApiException) as caught:
        rbac.patch_namespaced_role_binding("rb", "default", {"roleRef": {"name": "b"}})
    assert caught.value.status == 422
    assert "cannot change roleRef" in status_of(caught.value)["message"]


def test_label_and_field_selectors_filter_lists(core: client.CoreV1Api) -> None:
    for name, labels in (
        ("a", {"app": "x", "tier": "web"}),
        ("b", {"app": "x"}),
        ("c", {"app": "y"}),
    ):
        body = configmap(name)
        body["metadata"]["labels"] = labels
        core.create_namespaced_config_map("default", body)

    def names(**kwargs: str) -> list[str]:
        return [
            cm.metadata.name for cm in core.list_namespaced_config_map("default", **kwargs).items
        ]

    assert names(label_selector="app=x") == ["a", "b"]
    assert names(label_selector="app=x,tier") == ["a"]
    assert names(label_selector="app=x,!tier") == ["b"]
    assert names(label_selector="app in (x, y),tier notin (web)") == ["b", "c"]
    assert names(label_selector="app!=x") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b,metadata.namespace=default") == ["a", "c"]
    with pytest.raises(ApiException) as caught:
        names(label_selector="app in (x")
    assert caught.value.status == 400


def test_list_across_namespaces_and_list_metadata(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map("default", configmap("a"))
    core.create_namespaced_config_map("other", configmap("a"))

    listed = core.list_config_map_for_all_namespaces()

    assert [(cm.metadata.namespace, cm.metadata.name) for cm in listed.items] == [
        ("default", "a"),
        ("other", "a"),
    ]
    assert listed.kind == "ConfigMapList"
    assert listed.metadata.resource_version.isdigit()


def test_delete_then_get_is_notfound(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("a"))
    result = core.delete_namespaced_config_map("a", "default")
    assert result["kind"] == "Status"
    assert result["status"] == "Success"
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map("a", "default")
    assert caught.value.status == 404


def test_delete_preconditions(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map(
            "a", "default", body=client.V1DeleteOptions(preconditions={"resourceVersion": "1"})
        )
    assert caught.value.status == 409
    core.delete_namespaced_config_map(
        "a",
        "default",
        body=client.V1DeleteOptions(preconditions={"uid": created.metadata.uid}),
    )


def test_delete_collection_by_label(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        body = configmap(name)
        body["metadata"]["labels"] = {"app": app}
        core.create_namespaced_config_map("default", body)

    core.delete_collection_namespaced_config_map("default", label_selector="app=x")

    assert [
        o["metadata"]["name"] for o in kube_api.list_objects("v1", "configmaps", "default")
    ] == ["c"]
    assert kube_api.requests[-1].verb == "deletecollection"


def test_dry_run_stores_nothing(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    before = kube_api.resource_version
    obj = core.create_namespaced_config_map("default", configmap("a"), dry_run="All")
    assert obj.metadata.name == "a"
    assert kube_api.get_object("v1", "configmaps", "default", "a") is None
    assert kube_api.resource_version == before
