"""The real kubectl (v1.34, fetched from PyPI) against the test API server."""

from __future__ import annotations

import json

import yaml

from tests.kubeapi import KubeApiServer
from tests.kubeapi.samples import WIDGET_CRD, widget
from tests.kubeapi.tools import Kubectl

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  strategy: {type: RollingUpdate}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: main
          image: example/app:1.0
          env: [{name: MODE, value: one}]
        - name: sidecar
          image: example/proxy:1.0
"""


def test_crd_then_custom_resources(kubectl: Kubectl, kube_api: KubeApiServer) -> None:
    assert "created" in kubectl.apply(yaml.safe_dump(WIDGET_CRD)).stdout
    kubectl("wait", "--for=condition=established", "--timeout=10s", "crd/widgets.example.com")

    manifest = yaml.safe_dump(widget("w1", size=2))
    assert kubectl.apply(manifest).stdout.strip() == "widget.example.com/w1 created"
    assert kubectl.apply(manifest).stdout.strip() == "widget.example.com/w1 unchanged"
    changed = yaml.safe_dump(widget("w1", size=5))
    assert kubectl.apply(changed).stdout.strip() == "widget.example.com/w1 configured"

    size = kubectl("get", "wd", "w1", "-o", "jsonpath={.spec.size}").stdout
    assert size == "5"
    color = kubectl("get", "widgets.example.com", "w1", "-o", "jsonpath={.spec.color}").stdout
    assert color == "blue"

    kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"color":"red"}}')
    stored = kube_api.get_object("example.com/v1", "widgets", "default", "w1")
    assert stored is not None
    assert stored["spec"]["color"] == "red"
    # kubectl apply on a custom resource must send a merge patch, never a strategic one.
    assert {r.content_type for r in kube_api.requests if r.verb == "patch"} == {
        "application/merge-patch+json"
    }


def test_invalid_custom_resource_is_refused_naming_the_field(kubectl: Kubectl) -> None:
    kubectl.apply(yaml.safe_dump(WIDGET_CRD))
    result = kubectl(
        "apply",
        "--validate=false",
        "-f",
        "-",
        input=yaml.safe_dump(widget("bad", size=99)),
        check=False,
    )
    assert result.returncode != 0
    assert 'The Widget "bad" is invalid' in result.stderr
    assert "spec.size" in result.stderr


def test_get_with_label_selector_and_json(kubectl: Kubectl) -> None:
    for name, app in (("a", "front"), ("b", "back")):
        manifest = yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": app}},
            }
        )
        kubectl.apply(manifest)

    listed = json.loads(kubectl("get", "cm", "-l", "app=front", "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["a"]
    query = "app in (front,back)"
    names = kubectl("get", "cm", "-l", query, "-o", "jsonpath={.items[*].metadata.name}").stdout
    assert names == "a b"


def test_generated_manifest_through_apply(kubectl: Kubectl) -> None:
    manifest = kubectl("create", "namespace", "team", "--dry-run=client", "-o", "yaml").stdout
    kubectl.apply(manifest)
    assert kubectl("get", "ns", "team", "-o", "jsonpath={.status.phase}").stdout == "Active"


def test_deployment_apply_merges_strategically(kubectl: Kubectl, kube_api: KubeApiServer) -> None:
    kubectl.apply(DEPLOYMENT)
    updated = (
        DEPLOYMENT.replace("example/app:1.0", "example/app:2.0")
        .replace("{type: RollingUpdate}", "{type: Recreate}")
        .replace("value: one", "value: two")
    )
    assert kubectl.apply(updated).stdout.strip() == "deployment.apps/web configured"

    stored = kube_api.get_object("apps/v1", "deployments", "default", "web")
    assert stored is not None
    assert stored["spec"]["strategy"] == {"type": "Recreate"}
    containers = {c["name"]: c for c in stored["spec"]["template"]["spec"]["containers"]}
    assert containers["main"]["image"] == "example/app:2.0"
    assert containers["main"]["env"] == [{"name": "MODE", "value": "two"}]
    assert containers["sidecar"]["image"] == "example/proxy:1.0"
    assert stored["metadata"]["generation"] == 2

    kubectl("scale", "deployment/web", "--replicas=3")
    kubectl("label", "deployment/web", "tier=front")
    scaled = kube_api.get_object("apps/v1", "deployments", "default", "web")
    assert scaled is not None
    assert scaled["spec"]["replicas"] == 3
    assert scaled["metadata"]["labels"]["tier"] == "front"


def test_delete_waits_for_finalizers(kubectl: Kubectl, kube_api: KubeApiServer) -> None:
    kubectl.apply(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
            }
        )
    )
    quick = kubectl("delete", "cm", "held", "--timeout=1s", check=False)
    assert quick.returncode != 0
    assert kube_api.get_object("v1", "configmaps", "default", "held") is not None

    kubectl("patch", "cm", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert kube_api.get_object("v1", "configmaps", "default", "held") is None
    assert "NotFound" in kubectl("get", "cm", "held", check=False).stderr


def test_printer_columns_of_a_custom_resource(kubectl: Kubectl, kube_api: KubeApiServer) -> None:
    kubectl.apply(yaml.safe_dump(WIDGET_CRD))
    kubectl.apply(yaml.safe_dump(widget("w1", size=4)))
    obj = kube_api.get_object("example.com/v1", "widgets", "default", "w1")
    assert obj is not None
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    kube_api.put_object(obj)

    lines = kubectl("get", "wd").stdout.splitlines()

    assert lines[0].split() == ["NAME", "SIZE", "READY", "AGE"]
    assert lines[1].split()[:3] == ["w1", "4", "True"]
    wide = kubectl("get", "widgets", "-A").stdout.splitlines()
    assert wide[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert wide[1].split()[:2] == ["default", "w1"]
