"""Pure functions from a SyftMonitorPool and its assigned SyftMonitors to each shard's children.

Per shard `i` of pool `<pool>` (all named `<pool>-shard-<i>`):
- ConfigMap with `assignment.json`: the monitors the shard serves, where their config lives,
  which Secret keys hold their tokens, and those objects' resourceVersions (so the pool re-reads
  a part only when it changed; `syft_monitors.pool.assignment.Assignment`);
- ServiceAccount, Role, RoleBinding: `get` on exactly those Secrets and config ConfigMaps,
  `get/update/patch` on exactly their state and heartbeat ConfigMaps, `get` on the shard's own
  ConfigMap (`rbac.pool_shard_rules`);
- Deployment (one pod, Recreate) running `syft-bg pool` with the shard ConfigMap mounted.

The pod template carries no hash of the assignment on purpose: kubelet refreshes a mounted
ConfigMap in place and the pool process re-reads it, so monitors coming and going never restart
the pod (and the other owners it serves). Image, resources and pollWorkers do roll it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from syft_monitors.pool.assignment import (
    AssignedMonitor,
    Assignment,
    PartVersions,
    SecretKey,
    Tokens,
)
from syft_operator import names
from syft_operator.crd import SyftMonitorSpec
from syft_operator.pool_crd import SyftMonitorPoolSpec
from syft_operator.rbac import pool_shard_rules
from syft_operator.render import (
    RenderOptions,
    container_resources,
    hardened_container_security,
)

Manifest = dict[str, Any]
#: The key of the member's own ConfigMap the pool reads (the one a single pod would run).
CONFIG_KEY = "notify.yaml"
DEFAULT_POOL_RESOURCES: dict[str, dict[str, str]] = {
    # Measured by the pool benchmark: 1,000 idle owners stay within 1 GiB.
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1Gi"},
}
#: `syft-bg pool` serves /metrics (each owner's series labelled by its SyftMonitor) and /healthz.
METRICS_PORT = 9101


@dataclasses.dataclass(frozen=True)
class Member:
    """A SyftMonitor served by a pool: its name, parsed spec, and the resourceVersions of its
    config ConfigMap and token Secrets as the operator knows them (None: not looked up)."""

    name: str
    spec: SyftMonitorSpec
    versions: PartVersions | None = None


@dataclasses.dataclass(frozen=True)
class ShardChildren:
    config_map: Manifest
    service_account: Manifest
    role: Manifest
    role_binding: Manifest
    deployment: Manifest

    def all(self) -> list[Manifest]:
        """In the order they are applied: the pod's permissions before the pod."""
        return [
            self.config_map,
            self.service_account,
            self.role,
            self.role_binding,
            self.deployment,
        ]


def assignment(pool: str, shard: int, shards: int, members: Sequence[Member]) -> Assignment:
    return Assignment(
        pool=pool,
        shard=shard,
        shards=shards,
        monitors=[_assigned(member) for member in sorted(members, key=lambda m: m.name)],
    )


def _assigned(member: Member) -> AssignedMonitor:
    refs = member.spec.secret_refs()

    def key(purpose: str) -> SecretKey | None:
        ref = refs.get(purpose)
        return None if ref is None else SecretKey(secret=ref.name, key=ref.key)

    drive = refs["drive"]  # the spec model requires driveTokenSecretRef
    return AssignedMonitor(
        name=member.name,
        config_map=names.config_map_name(member.name),
        config_key=CONFIG_KEY,
        tokens=Tokens(
            drive=SecretKey(secret=drive.name, key=drive.key),
            gmail=key("gmail"),
            smtp_password=key("smtp"),
        ),
        versions=member.versions,
    )


def render_shard(
    pool: str,
    namespace: str,
    spec: SyftMonitorPoolSpec,
    shard: int,
    members: Sequence[Member],
    options: RenderOptions,
) -> ShardChildren:
    name = names.shard_name(pool, shard)
    document = assignment(pool, shard, spec.replicas, members)
    rules = pool_shard_rules(
        shard_map=name,
        config_maps=[names.config_map_name(m.name) for m in members],
        secrets=[ref.name for m in members for ref in m.spec.secret_refs().values()],
        data_maps=[
            map_name
            for m in members
            for map_name in (names.state_map_name(m.name), names.heartbeat_map_name(m.name))
        ],
    )
    children = ShardChildren(
        config_map={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata(pool, shard),
            "data": {names.POOL_ASSIGNMENT_KEY: document.to_json()},
        },
        service_account={
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _metadata(pool, shard),
            "automountServiceAccountToken": False,
        },
        role={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata(pool, shard),
            "rules": [rule.as_manifest() for rule in rules],
        },
        role_binding={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(pool, shard),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
        deployment=render_shard_deployment(pool, namespace, spec, shard, options),
    )
    for manifest in children.all():
        manifest["metadata"]["namespace"] = namespace
    return children


def render_shard_deployment(
    pool: str, namespace: str, spec: SyftMonitorPoolSpec, shard: int, options: RenderOptions
) -> Manifest:
    name = names.shard_name(pool, shard)
    container: Manifest = {
        "name": "pool",
        "image": spec.image or options.default_image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["syft-bg"],
        "args": [
            "pool",
            "--assignment",
            f"{names.POOL_ASSIGNMENT_DIR}/{names.POOL_ASSIGNMENT_KEY}",
            "--namespace",
            namespace,
            "--workers",
            str(spec.poll_workers),
            "--metrics-port",
            str(METRICS_PORT),
        ],
        "env": [
            {"name": "SYFT_LOG_FORMAT", "value": "json"},
            {"name": "HOME", "value": names.TMP_DIR},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "resources": container_resources(spec.resources, DEFAULT_POOL_RESOURCES),
        "securityContext": hardened_container_security(),
        "volumeMounts": [
            {"name": "assignment", "mountPath": names.POOL_ASSIGNMENT_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": names.TMP_DIR},
        ],
        "ports": [{"name": "pool-metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "pool-metrics"},
            "initialDelaySeconds": 10,
            "periodSeconds": 30,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(pool, shard),
        "spec": {
            "replicas": 1,
            # Two pods of one shard would poll the same owners at once.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": names.shard_selector_labels(pool, shard)},
            "template": {
                "metadata": {
                    "labels": names.shard_labels(pool, shard),
                    # Static: nothing here may change with the assignment.
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": name,
                    # The pool reads its owners' tokens, config and state through the API.
                    "automountServiceAccountToken": True,
                    "enableServiceLinks": False,
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": names.RUN_AS_USER,
                        "runAsGroup": names.RUN_AS_USER,
                        "fsGroup": names.RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "assignment", "configMap": {"name": name}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }


def _metadata(pool: str, shard: int) -> Manifest:
    return {"name": names.shard_name(pool, shard), "labels": names.shard_labels(pool, shard)}
