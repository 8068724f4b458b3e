"""A minimal kopf operator for the test API server's own test (run by `kopf run`)."""

from __future__ import annotations

import os
from typing import Any

import kopf
import kubernetes


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 30
    settings.persistence.finalizer = "example.com/widget-finalizer"
    kubernetes.config.load_kube_config(config_file=os.environ["KUBECONFIG"])


@kopf.on.create("example.com", "v1", "widgets")
def created(spec: Any, name: str, namespace: str, body: Any, **_: Any) -> dict[str, Any]:
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-child"},
        "data": {"size": str(spec["size"])},
    }
    kopf.adopt(child, owner=body)
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, child)
    kopf.info(body, reason="ChildCreated", message="made a child")
    return {"child": child["metadata"]["name"]}


@kopf.on.delete("example.com", "v1", "widgets")
def deleted(name: str, logger: Any, **_: Any) -> None:
    logger.info("widget %s is going", name)
