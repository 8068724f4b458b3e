"""One reconcile of one SyftMonitorPool: its members -> shards -> children -> status.

The members are the SyftMonitors of the pool's namespace with `spec.mode: Pooled` and
`spec.pool` naming it, not suspended, not being deleted, whose spec parses and passes the tenant
policy (a monitor refused by the policy must not have its tokens read by anyone). They are spread
over `spec.replicas` shards by rendezvous hashing (`rendezvous.py`), and each shard's children
(`pool_render.py`) are created or repaired like a SyftMonitor's (`apply.apply_manifest`), owned by
the pool. Shards beyond `spec.replicas` (a scale-down) are deleted.

Shards that lose monitors are written before shards that gain them: the old pod drops an owner
(as soon as kubelet refreshes its file) no later than the new one can pick it up. Whatever the
timing, an owner served twice for a moment is safe: each owner's exactly-once state is its own
state ConfigMap, replaced with optimistic concurrency.

`PoolState` is what the handlers remember between reconciles: the pools' newest bodies, which pool
each SyftMonitor belongs to (so a change of membership re-reconciles the old and the new pool),
and what each member was last told (so only members whose shard or availability changed are
reconciled again).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from syft_monitors.config import describe_validation_error
from syft_monitors.pool.assignment import PartVersions
from syft_operator import names, status
from syft_operator.apply import ChildMemory, apply_manifest, held_back, remove_owned
from syft_operator.config import OperatorConfig
from syft_operator.crd import SyftMonitorSpec
from syft_operator.errors import (
    ChildRejectedError,
    InvalidSpecError,
    KubeApiError,
    OperatorError,
    PolicyError,
)
from syft_operator.kube import CONFIG_MAP, SECRET, KubeApi
from syft_operator.policy import check_spec, image_allowed
from syft_operator.pool_crd import MAX_REPLICAS, SyftMonitorPoolSpec
from syft_operator.pool_render import Member, render_shard
from syft_operator.render import RenderOptions
from syft_operator.rendezvous import assign
from syft_operator.rollout import RolloutPacer

logger = logging.getLogger(__name__)

SHARD_KINDS = ("Deployment", "RoleBinding", "Role", "ServiceAccount", "ConfigMap")


@dataclasses.dataclass
class PoolResult:
    verdict: str
    #: Fields to merge into the pool's `.status`.
    status: dict[str, Any]
    message: str = ""
    #: Member name -> (shard, shard available) as written in this pass.
    assigned: dict[str, tuple[int, bool]] = dataclasses.field(default_factory=dict)
    #: Members now in a different shard than the live assignments said.
    moves: int = 0
    changed: bool = False


def parse_pool_spec(body: Mapping[str, Any]) -> SyftMonitorPoolSpec:
    try:
        return SyftMonitorPoolSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise InvalidSpecError(f"spec: {describe_validation_error(error)}") from error


def pool_of(body: Mapping[str, Any]) -> str | None:
    """The pool a raw SyftMonitor body asks for (nothing is trusted here)."""
    spec = body.get("spec") or {}
    pool = spec.get("pool") if isinstance(spec, dict) else None
    if isinstance(spec, dict) and spec.get("mode") == "Pooled" and isinstance(pool, str):
        return pool
    return None


def members_of(
    monitors: Iterable[Mapping[str, Any]], namespace: str, pool: str, config: OperatorConfig
) -> list[Member]:
    out: list[Member] = []
    for body in monitors:
        meta = body.get("metadata") or {}
        if meta.get("namespace") != namespace or meta.get("deletionTimestamp"):
            continue
        if pool_of(body) != pool:
            continue
        try:
            spec = SyftMonitorSpec.model_validate(body.get("spec") or {})
            check_spec(spec, config)
        except (ValidationError, PolicyError):
            continue  # its own reconcile says why; its tokens stay out of the pool
        if not spec.suspend:
            out.append(Member(str(meta.get("name")), spec))
    return sorted(out, key=lambda m: m.name)


def assigned_names(config_map: Mapping[str, Any] | None) -> list[str]:
    """The monitors a live shard ConfigMap assigns (empty when absent or unreadable)."""
    raw = ((config_map or {}).get("data") or {}).get(names.POOL_ASSIGNMENT_KEY)
    try:
        document = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return []
    monitors = document.get("monitors") if isinstance(document, dict) else None
    return [
        str(m["name"])
        for m in monitors or []
        if isinstance(m, dict) and isinstance(m.get("name"), str)
    ]


#: The assignment's name of each `SyftMonitorSpec.secret_refs()` purpose.
_TOKEN_PURPOSES = {"drive": "drive", "gmail": "gmail", "smtp": "smtp_password"}


def part_versions(api: KubeApi, namespace: str, member: Member) -> PartVersions:
    """The resourceVersions of the member's config ConfigMap and token Secrets, from the watch
    cache (no request once known): a rotated Secret or a rewritten config changes the shard's
    assignment, and the pool re-reads only that part instead of polling every part."""

    def version(obj: Mapping[str, Any] | None) -> str | None:
        found = (obj or {}).get("metadata", {}).get("resourceVersion")
        return str(found) if found is not None else None

    fields: dict[str, str | None] = {
        "config_map": version(api.get(CONFIG_MAP, namespace, names.config_map_name(member.name)))
    }
    for purpose, ref in member.spec.secret_refs().items():
        fields[_TOKEN_PURPOSES[purpose]] = version(api.get(SECRET, namespace, ref.name))
    return PartVersions.model_validate(fields)


def shard_slot(pool_uid: str, shard: int) -> str:
    """The rollout pacer's key of one shard's Deployment (`pool_uid_of_slot` reads it back)."""
    return f"{pool_uid}/shard-{shard}"


def pool_uid_of_slot(slot: str) -> str:
    """The uid a pacer key stands for: a SyftMonitor's own, or the pool of a shard slot."""
    return slot.split("/", 1)[0]


def owner_reference(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.POOL_KIND,
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def reconcile_pool(
    api: KubeApi,
    body: Mapping[str, Any],
    monitors: Iterable[Mapping[str, Any]],
    config: OperatorConfig,
    *,
    memory: ChildMemory | None = None,
    now: dt.datetime | None = None,
    pacer: RolloutPacer | None = None,
) -> PoolResult:
    """One pass over the pool. With `pacer`, a shard Deployment's pod template change that the
    pool's author did not ask for (its spec is already applied: an operator upgrade's new
    default image) waits for a rollout slot, as a single-owner monitor's does: each shard pod
    restarts every owner it serves."""
    meta = body.get("metadata") or {}
    generation = meta.get("generation") if isinstance(meta.get("generation"), int) else None
    conditions: list[dict[str, Any]] = list((body.get("status") or {}).get("conditions") or [])
    result = PoolResult(verdict="success", status={})
    when = now or dt.datetime.now(dt.UTC)

    def condition(value: status.Status, reason: str, message: str) -> None:
        nonlocal conditions
        conditions = status.set_condition(
            conditions, status.READY, value, reason, message, generation=generation, now=when
        )

    applied = (body.get("status") or {}).get("observedGeneration") == generation
    try:
        _reconcile_pool(
            api,
            body,
            monitors,
            config,
            memory,
            result,
            condition,
            pacer if applied and generation is not None else None,
        )
    except (InvalidSpecError, PolicyError, ChildRejectedError) as error:
        result.verdict, result.message = "error", str(error)
        condition("False", error.reason, str(error))
    except KubeApiError as error:
        result.verdict, result.message = "retry", str(error)
        condition("False", "ApiError", str(error))
    except OperatorError as error:
        result.verdict, result.message = "retry", str(error)
        condition("False", error.reason, str(error))
    result.status["observedGeneration"] = generation
    result.status["conditions"] = conditions
    return result


def _reconcile_pool(
    api: KubeApi,
    body: Mapping[str, Any],
    monitors: Iterable[Mapping[str, Any]],
    config: OperatorConfig,
    memory: ChildMemory | None,
    result: PoolResult,
    condition: Callable[[status.Status, str, str], None],
    pacer: RolloutPacer | None,
) -> None:
    meta = body.get("metadata") or {}
    pool, namespace, uid = str(meta["name"]), str(meta["namespace"]), str(meta["uid"])
    spec = parse_pool_spec(body)
    if spec.image is not None and not image_allowed(spec.image, config.allowed_images):
        raise PolicyError(
            f"spec.image of pool {pool} is not in the operator's image allow-list"
            " (Helm value tenancy.allowedImages)",
            reason="ImageNotAllowed",
        )
    members = [
        dataclasses.replace(member, versions=part_versions(api, namespace, member))
        for member in members_of(monitors, namespace, pool, config)
    ]
    by_name = {member.name: member for member in members}
    shards = assign(by_name, spec.replicas)
    # What the live shard ConfigMaps assign now. Every possible index is looked at (from the
    # watch cache: no request once known), not only those the status lists: a crash between a
    # scale-up and its status write must not leave a shard serving its monitors twice. The
    # ConfigMap is a shard's first child created and last deleted, so it marks one.
    before: dict[str, int] = {}
    present: set[int] = set()
    for shard in range(MAX_REPLICAS):
        live = api.get(CONFIG_MAP, namespace, names.shard_name(pool, shard))
        if live is None:
            continue
        present.add(shard)
        for name in assigned_names(live):
            before.setdefault(name, shard)
    losing = {shard for name, shard in before.items() if name not in shards.get(shard, [])}
    options = RenderOptions(
        default_image=config.monitor_image, image_pull_policy=config.image_pull_policy
    )
    owner = owner_reference(body)
    available: dict[int, bool] = {}
    # Shards that lose monitors first (see the module's docstring).
    for shard in sorted(shards, key=lambda s: (s not in losing, s)):
        children = render_shard(
            pool, namespace, spec, shard, [by_name[n] for n in shards[shard]], options
        )
        slot = shard_slot(uid, shard)
        for manifest in children.all():
            manifest["metadata"]["ownerReferences"] = [dict(owner)]
            deployment = manifest is children.deployment
            held = None
            if deployment and pacer is not None:
                held = held_back(api, manifest, uid, pacer, slot=slot)
            if held is not None:
                live = held  # keeps its running pod until a slot frees (the pacer queues us)
            else:
                outcome, live, _drift = apply_manifest(api, manifest, uid, pool, memory)
                result.changed = result.changed or outcome != "unchanged"
                if deployment and pacer is not None:
                    pacer.observe(slot, live)
            if deployment:
                value, _reason, _message = status.workload_availability(live, suspended=False)
                available[shard] = value == "True"
    for shard in sorted(s for s in present if s >= spec.replicas):
        if pacer is not None:
            pacer.forget(shard_slot(uid, shard))
        for kind in SHARD_KINDS:
            outcome = remove_owned(api, kind, namespace, names.shard_name(pool, shard), uid)
            result.changed = result.changed or outcome == "deleted"
    for shard, assigned in shards.items():
        for name in assigned:
            result.assigned[name] = (shard, available.get(shard, False))
            if name in before and before[name] != shard:
                result.moves += 1
    result.status["monitors"] = len(members)
    result.status["shards"] = [
        {"shard": shard, "monitors": len(shards[shard]), "available": available.get(shard, False)}
        for shard in range(spec.replicas)
    ]
    down = [str(shard) for shard in range(spec.replicas) if not available.get(shard)]
    if down:
        condition(
            "False",
            "ShardsUnavailable",
            f"shard {', '.join(down)} of {spec.replicas} has no available pod",
        )
    else:
        condition(
            "True",
            "Reconciled",
            f"{spec.replicas} shard(s) available, serving {len(members)} SyftMonitor(s)",
        )


@dataclasses.dataclass
class PoolState:
    """What the handlers remember about pools and their members (thread-safe)."""

    #: Pool uid -> its newest body from the watch stream.
    bodies: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: SyftMonitor uid -> (namespace, pool, generation) it last asked for.
    membership: dict[str, tuple[str, str, object]] = dataclasses.field(default_factory=dict)
    #: Pool uid -> member name -> (shard, available) last written.
    assigned: dict[str, dict[str, tuple[int, bool]]] = dataclasses.field(default_factory=dict)
    #: Pool uid -> its shard count last reconciled.
    shard_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def is_pool(self, uid: str) -> bool:
        with self.lock:
            return uid in self.bodies

    def uids(self) -> list[str]:
        with self.lock:
            return list(self.bodies)

    def body(self, uid: str) -> dict[str, Any] | None:
        with self.lock:
            return self.bodies.get(uid)

    def pool_of_member(self, monitor_uid: str) -> str | None:
        """The uid of the pool the SyftMonitor `monitor_uid` last asked for, if known."""
        with self.lock:
            found = self.membership.get(monitor_uid)
        return None if found is None else self.uid_of(found[0], found[1])

    def uid_of(self, namespace: str, pool: str) -> str | None:
        with self.lock:
            for uid, body in self.bodies.items():
                meta = body.get("metadata") or {}
                if meta.get("namespace") == namespace and meta.get("name") == pool:
                    return uid
        return None

    def observe_pool(self, body: dict[str, Any]) -> bool:
        """Store the newest body; True when its spec is new (a reconcile is due)."""
        uid = str((body.get("metadata") or {}).get("uid"))
        with self.lock:
            before = self.bodies.get(uid)
            self.bodies[uid] = body
        generation = (body.get("metadata") or {}).get("generation")
        return before is None or (before.get("metadata") or {}).get("generation") != generation

    def forget_pool(self, uid: str) -> list[str]:
        """The pool is gone: the names of the members it served."""
        with self.lock:
            self.bodies.pop(uid, None)
            self.shard_counts.pop(uid, None)
            return sorted(self.assigned.pop(uid, {}))

    def monitor_changed(self, body: Mapping[str, Any], *, deleted: bool) -> list[str]:
        """The pools to reconcile after this SyftMonitor event: the one it left and the one it
        joins, when its membership or spec changed (its status writes change neither)."""
        meta = body.get("metadata") or {}
        uid, namespace = str(meta.get("uid")), str(meta.get("namespace"))
        pool = None if deleted or meta.get("deletionTimestamp") else pool_of(body)
        now = None if pool is None else (namespace, pool, meta.get("generation"))
        with self.lock:
            before = self.membership.pop(uid, None)
            if now is not None:
                self.membership[uid] = now
        if before == now:
            return []
        wanted = {(key[0], key[1]) for key in (before, now) if key is not None}
        found = [self.uid_of(ns, name) for ns, name in sorted(wanted)]
        return [uid for uid in found if uid is not None]

    def record(self, uid: str, assigned: Mapping[str, tuple[int, bool]], shards: int) -> set[str]:
        """Store what this pass wrote; the members whose shard or availability changed, or who
        left the pool."""
        with self.lock:
            before = self.assigned.get(uid, {})
            self.assigned[uid] = dict(assigned)
            self.shard_counts[uid] = shards
        return {
            name for name in set(before) | set(assigned) if before.get(name) != assigned.get(name)
        }

    def restart_units(self) -> tuple[int, int]:
        """(pooled SyftMonitors, pool shards) as known now, for the rollout pacer's share: a
        pool not reconciled yet counts the replicas its spec asks for."""
        with self.lock:
            shards = 0
            for uid, body in self.bodies.items():
                wanted = (body.get("spec") or {}).get("replicas")
                recorded = self.shard_counts.get(uid, 0)
                shards += max(recorded, wanted if isinstance(wanted, int) else 0)
            return len(self.membership), shards

    def snapshot(self) -> list[tuple[int, int]]:
        """(shards, assigned monitors) of each known pool, for the metrics."""
        with self.lock:
            return [
                (self.shard_counts.get(uid, 0), len(self.assigned.get(uid, {})))
                for uid in self.bodies
            ]
