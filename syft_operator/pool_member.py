"""The SyftMonitor side of pooling: a monitor with `spec.mode: Pooled` has no pod of its own.

It keeps its config, state and heartbeat ConfigMaps (rendered as in the other modes: the pool
process reads the config and writes the state and heartbeat), and loses its own Deployment or
CronJob, ServiceAccount, Role and RoleBinding when it switches to Pooled (they come back when it
switches away). Its conditions say which pool and shard serve it:

- `Assigned`: True `Assigned` (`pool p shard 2`) once that shard's assignment names it; False
  `PoolNotFound` / `PoolInvalid` / `AssignmentPending` / `Suspended` otherwise;
- `WorkloadAvailable` and `Ready`: the availability of that shard's Deployment.

Its status fields (`lastPollTime`, `notificationsSent`, `lastError`) are mirrored from its own
heartbeat ConfigMap as for any monitor: the pool process writes each owner's heartbeat.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol, cast

import kopf
from pydantic import ValidationError

from syft_operator import names, status
from syft_operator.apply import (
    ApplyReport,
    ChildMemory,
    apply_manifest,
    ensure_exists,
    remove_owned,
)
from syft_operator.crd import SyftMonitorSpec
from syft_operator.kube import CONFIG_MAP, DEPLOYMENT, SYFT_MONITOR_POOL, KubeApi, Obj
from syft_operator.pool import assigned_names
from syft_operator.pool_crd import SyftMonitorPoolSpec
from syft_operator.render import render_config_map, render_heartbeat_map, render_state_map
from syft_operator.rendezvous import shard_of

ASSIGNED = "Assigned"
#: The children a monitor has only while it runs its own pod.
OWN_WORKLOAD_KINDS = ("Deployment", "CronJob", "RoleBinding", "Role", "ServiceAccount")


class Conditions(Protocol):
    def set(self, type_: str, value: status.Status, reason: str, message: str) -> None: ...


@dataclasses.dataclass
class PooledOutcome:
    report: ApplyReport
    #: `Deployment/<pool>-shard-<i>`, or None while no shard serves it.
    workload: str | None


def reconcile_pooled(
    api: KubeApi,
    body: Mapping[str, Any],
    spec: SyftMonitorSpec,
    conditions: Conditions,
    memory: ChildMemory | None,
    *,
    create_first: bool,
) -> PooledOutcome:
    meta = body.get("metadata") or {}
    name, namespace, uid = str(meta["name"]), str(meta["namespace"]), str(meta["uid"])
    report = ApplyReport()
    owner = body if isinstance(body, kopf.Body) else kopf.Body(cast(kopf.RawBody, dict(body)))
    maps = [render_state_map(name), render_heartbeat_map(name), render_config_map(name, spec)]
    for manifest in maps:
        manifest["metadata"]["namespace"] = namespace
        kopf.adopt(manifest, owner=owner)
    state, heartbeat, config = maps
    for data_map in (state, heartbeat):
        report.outcomes[_key(data_map)] = ensure_exists(
            api, data_map, uid, name, memory, create_first=create_first
        )
    outcome, _live, drifted = apply_manifest(
        api, config, uid, name, memory, create_first=create_first
    )
    report.outcomes[_key(config)] = outcome
    if drifted:
        report.drift[_key(config)] = drifted
    own = names.workload_name(name)
    for kind in OWN_WORKLOAD_KINDS:
        if create_first:
            continue  # nothing to switch from yet
        report.outcomes[f"{kind}/{own}"] = remove_owned(api, kind, namespace, own, uid)
    return PooledOutcome(report, _assignment(api, name, namespace, spec, conditions))


def _assignment(
    api: KubeApi, name: str, namespace: str, spec: SyftMonitorSpec, conditions: Conditions
) -> str | None:
    pool = str(spec.pool)
    if spec.suspend:
        message = f"spec.suspend is true: pool {pool} does not serve it"
        for type_ in (ASSIGNED, status.WORKLOAD_AVAILABLE, status.READY):
            conditions.set(type_, "False", "Suspended", message)
        return None
    body = api.get(SYFT_MONITOR_POOL, namespace, pool)
    if body is None:
        _unserved(conditions, "PoolNotFound", f"SyftMonitorPool {pool} does not exist")
        return None
    try:
        pool_spec = SyftMonitorPoolSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        _unserved(conditions, "PoolInvalid", f"SyftMonitorPool {pool} has an invalid spec")
        return None
    shard = shard_of(name, pool_spec.replicas)
    shard_name = names.shard_name(pool, shard)
    where = f"pool {pool} shard {shard}"
    if name not in assigned_names(api.get(CONFIG_MAP, namespace, shard_name)):
        _unserved(conditions, "AssignmentPending", f"waiting for {where} to be assigned it")
        return None
    conditions.set(ASSIGNED, "True", "Assigned", where)
    deployment = api.get(DEPLOYMENT, namespace, shard_name)
    available, reason, message = status.workload_availability(deployment, suspended=False)
    message = f"{where}: {message}"
    conditions.set(status.WORKLOAD_AVAILABLE, available, reason, message)
    if available == "True":
        conditions.set(status.READY, "True", "Reconciled", message)
    else:
        conditions.set(status.READY, "False", reason, message)
    return f"Deployment/{shard_name}"


def without_pool_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in conditions if c.get("type") != ASSIGNED]


def _unserved(conditions: Conditions, reason: str, message: str) -> None:
    for type_ in (ASSIGNED, status.WORKLOAD_AVAILABLE, status.READY):
        conditions.set(type_, "False", reason, message)


def _key(manifest: Obj) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"
