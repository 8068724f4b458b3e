"""What the operator keeps in the API for pooled SyftMonitors, put into the test API server:
each owner's config ConfigMap, token Secret, state and heartbeat ConfigMaps, and the shard's
assignment file (as kubelet writes it)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from syft_monitors.pool.assignment import (
    AssignedMonitor,
    Assignment,
    PartVersions,
    SecretKey,
    Tokens,
)
from syft_sandbox.pool_world import PoolWorld, owner_config
from syft_sandbox.server import SandboxServer
from tests.kubeapi import KubeApiServer

NS = "default"


def name_of(index: int) -> str:
    return f"owner-{index:04d}"


def put_owner(kube: KubeApiServer, world: PoolWorld, index: int, server: SandboxServer) -> None:
    """What the operator keeps for one SyftMonitor: config, Secret, state and heartbeat maps."""
    name = name_of(index)
    config = owner_config(
        world.owners[index],
        interval=1,
        google_api_root=server.url,
        state_backend="configmap",
        state_configmap={"name": f"{name}-state", "heartbeat": f"{name}-heartbeat"},
    )
    kube.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-config", "namespace": NS},
            "data": {"config.yaml": yaml.safe_dump(config)},
        }
    )
    put_tokens(kube, world, index)
    for suffix in ("state", "heartbeat"):
        kube.put_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{name}-{suffix}", "namespace": NS},
            }
        )


def put_tokens(kube: KubeApiServer, world: PoolWorld, index: int) -> None:
    folder = world.owner_folder(index)
    data = {
        key: base64.b64encode((folder / f"{key}_token.json").read_bytes()).decode()
        for key in ("drive", "gmail")
    }
    kube.put_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name_of(index)}-google", "namespace": NS},
            "data": data,
        }
    )


def entry(index: int, kube: KubeApiServer | None = None) -> AssignedMonitor:
    """Owner `index`'s entry; with `kube`, carrying its parts' versions as the operator does."""
    name = name_of(index)
    secret = f"{name}-google"
    versions = None
    if kube is not None:
        config = kube.get_object("v1", "configmaps", NS, f"{name}-config") or {}
        google = kube.get_object("v1", "secrets", NS, secret) or {}
        config_version = (config.get("metadata") or {}).get("resourceVersion")
        secret_version = (google.get("metadata") or {}).get("resourceVersion")
        versions = PartVersions(
            config_map=config_version, drive=secret_version, gmail=secret_version
        )
    return AssignedMonitor(
        name=name,
        config_map=f"{name}-config",
        tokens=Tokens(
            drive=SecretKey(secret=secret, key="drive"),
            gmail=SecretKey(secret=secret, key="gmail"),
        ),
        versions=versions,
    )


def write_assignment(path: Path, indexes: list[int], kube: KubeApiServer | None = None) -> None:
    """The shard's document as kubelet writes it; with `kube`, with versions (a new operator)."""
    monitors = [entry(i, kube) for i in indexes]
    document = Assignment(pool="campus", shard=0, shards=1, monitors=monitors)
    # As kubelet does: the new content appears at once (a symlink swap), never half written.
    temporary = path.with_suffix(".tmp")
    temporary.write_text(document.to_json())
    temporary.replace(path)
