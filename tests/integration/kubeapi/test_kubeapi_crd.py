"""CRDs: registration and discovery, schema validation and defaults, the status subresource."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeApiServer
from tests.kubeapi.samples import widget

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"


def status_of(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


@pytest.fixture
def registered(crds: client.ApiextensionsV1Api, widget_crd: dict[str, Any]) -> dict[str, Any]:
    return crds.create_custom_resource_definition(widget_crd).to_dict()


def create(custom: client.CustomObjectsApi, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, body, **kwargs
    )
    return result


def test_crd_is_established_and_discoverable(
    kube_client: client.ApiClient, crds: client.ApiextensionsV1Api, widget_crd: dict[str, Any]
) -> None:
    apis = client.ApisApi(kube_client)
    assert GROUP not in {g.name for g in apis.get_api_versions().groups}

    created = crds.create_custom_resource_definition(widget_crd)

    conditions = {c.type: c.status for c in created.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert created.status.accepted_names.kind == "Widget"
    assert created.status.stored_versions == ["v1"]
    groups = {g.name: g for g in apis.get_api_versions().groups}
    assert groups[GROUP].preferred_version.version == "v1"
    resources = client.CustomObjectsApi(kube_client).get_api_resources(GROUP, VERSION)
    by_name = {r.name: r for r in resources.resources}
    assert set(by_name) == {"widgets", "widgets/status"}
    assert by_name["widgets"].kind == "Widget"
    assert by_name["widgets"].namespaced is True
    assert by_name["widgets"].short_names == ["wd"]
    assert "watch" in by_name["widgets"].verbs


def test_deleting_the_crd_removes_resource_and_objects(
    registered: dict[str, Any],
    crds: client.ApiextensionsV1Api,
    custom: client.CustomObjectsApi,
    kube_api: KubeApiServer,
) -> None:
    create(custom, widget("w1"))

    crds.delete_custom_resource_definition("widgets.example.com")

    assert (
        kube_api.get_object(
            "apiextensions.k8s.io/v1", "customresourcedefinitions", None, "widgets.example.com"
        )
        is None
    )
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert caught.value.status == 404


def test_crd_name_must_match_its_names(
    crds: client.ApiextensionsV1Api, widget_crd: dict[str, Any]
) -> None:
    widget_crd["metadata"]["name"] = "gadgets.example.com"
    with pytest.raises(ApiException) as caught:
        crds.create_custom_resource_definition(widget_crd)
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["field"] == "metadata.name"


def test_custom_resource_gets_defaults_and_metadata(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    obj, status, _ = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, "default", PLURAL, widget("w1")
    )

    assert status == 201
    assert obj["spec"]["color"] == "blue"
    assert obj["spec"]["limits"] == {"cpu": 2}
    assert obj["metadata"]["generation"] == 1
    assert obj["metadata"]["uid"]


def test_invalid_custom_resource_is_422_naming_fields(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    body = widget("w1", size=0, color="green", owner="nobody")
    del body["spec"]["owner"]
    with pytest.raises(ApiException) as caught:
        create(custom, body)

    assert caught.value.status == 422
    status = status_of(caught.value)
    assert status["reason"] == "Invalid"
    causes = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert causes == {
        "spec.owner": "FieldValueRequired",
        "spec.size": "FieldValueInvalid",
        "spec.color": "FieldValueNotSupported",
    }
    assert status["message"].startswith('Widget.example.com "w1" is invalid: [')
    assert (
        'spec.color: Unsupported value: "green": supported values: "blue", "red"'
        in status["message"]
    )


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ({"size": "three"}, "spec.size", "must be of type integer"),
        ({"size": 11}, "spec.size", "less than or equal to 10"),
        ({"owner": "no-at-sign"}, "spec.owner", "should match"),
        ({"tags": ["a", "a"]}, "spec.tags[1]", "Duplicate value"),
    ],
)
def test_schema_rules(
    registered: dict[str, Any],
    custom: client.CustomObjectsApi,
    spec: dict[str, Any],
    field: str,
    fragment: str,
) -> None:
    with pytest.raises(ApiException) as caught:
        create(custom, widget("w1", **spec))
    causes = status_of(caught.value)["details"]["causes"]
    assert [c["field"] for c in causes] == [field]
    assert fragment in causes[0]["message"]


def test_unknown_fields_are_pruned_or_rejected_when_strict(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    obj = create(custom, widget("w1", shape="round"))
    assert "shape" not in obj["spec"]

    with pytest.raises(ApiException) as caught:
        create(custom, widget("w2", shape="round"), field_validation="Strict")
    assert caught.value.status == 400
    assert 'unknown field "spec.shape"' in status_of(caught.value)["message"]


def test_updates_are_validated_too(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    create(custom, widget("w1"))
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": 50}}
        )
    assert caught.value.status == 422


def test_put_on_a_custom_resource_needs_a_resource_version(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    create(custom, widget("w1"))
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w1", widget("w1")
        )
    assert caught.value.status == 422


def test_status_subresource_semantics(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    created = create(custom, {**widget("w1"), "status": {"phase": "Faked"}})
    assert "status" not in created

    via_main = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": 4}, "status": {"phase": "Main"}}
    )
    assert "status" not in via_main
    assert via_main["spec"]["size"] == 4
    assert via_main["metadata"]["generation"] == 2

    via_status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": 9}, "status": {"phase": "Ready"}}
    )
    assert via_status["status"] == {"phase": "Ready"}
    assert via_status["spec"]["size"] == 4
    assert via_status["metadata"]["generation"] == 2

    fetched = custom.get_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "w1")
    assert fetched["status"] == {"phase": "Ready"}


def test_strategic_merge_on_a_custom_resource_is_415(
    registered: dict[str, Any], custom: client.CustomObjectsApi
) -> None:
    create(custom, widget("w1"))
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "w1",
            {"spec": {"size": 4}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415
    assert status_of(caught.value)["reason"] == "UnsupportedMediaType"


def test_cluster_scoped_custom_resources(
    crds: client.ApiextensionsV1Api, custom: client.CustomObjectsApi, widget_crd: dict[str, Any]
) -> None:
    widget_crd["spec"]["scope"] = "Cluster"
    crds.create_custom_resource_definition(widget_crd)

    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("w1"))

    listed = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["w1"]
    assert "namespace" not in listed["items"][0]["metadata"]


def test_cel_validation_rules_are_evaluated_like_the_apiserver(
    crds: client.ApiextensionsV1Api, custom: client.CustomObjectsApi, widget_crd: dict[str, Any]
) -> None:
    crd = json.loads(json.dumps(widget_crd))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["budget"] = {
        "type": "object",
        "properties": {
            "request": {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            "limit": {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
        },
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.request) || !has(self.limit)"
                " || quantity(string(self.request)).compareTo(quantity(string(self.limit))) <= 0",
                "message": "request must not exceed limit",
            }
        ],
    }
    spec["x-kubernetes-validations"] = [
        {
            "rule": "self.color != 'red' || has(self.tags)",
            "message": "red widgets need tags",
            "fieldPath": ".tags",
            "reason": "FieldValueRequired",
        }
    ]
    crds.create_custom_resource_definition(crd)

    with pytest.raises(ApiException) as caught:
        create(custom, widget("w1", color="red"))
    assert caught.value.status == 422
    status = status_of(caught.value)
    assert status["reason"] == "Invalid"
    assert "spec.tags: Required value: red widgets need tags" in status["message"]
    with pytest.raises(ApiException) as caught:
        create(custom, widget("w2", budget={"request": "1500m", "limit": 1}))
    assert (
        'spec.budget: Invalid value: "object": request must not exceed limit'
        in (status_of(caught.value)["message"])
    )
    create(custom, widget("w3", color="red", tags=["x"], budget={"request": "500m", "limit": 1}))
