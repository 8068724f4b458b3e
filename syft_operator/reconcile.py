"""One reconcile of one SyftMonitor: spec -> children -> status, without kopf's control flow.

The kopf handlers (`handlers.py`) stay thin: they call `reconcile()`, copy the status it returns
into kopf's patch, post the Event it asks for, and turn its verdict into kopf's retry semantics.
Everything here works on plain dicts and a `KubeApi`, so it is the same code whether a spec
change, an operator restart or the periodic refresh triggered it.

Level-based: the desired state is recomputed from the whole spec every time, and writing is
skipped where the cluster already matches (see `apply.py`), so running it twice is harmless.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from syft_monitors.config import describe_validation_error
from syft_monitors.state.kube_keys import LAST_POLL_KEY
from syft_operator import names, status
from syft_operator.apply import ApplyReport, ChildMemory, reconcile_children
from syft_operator.config import OperatorConfig
from syft_operator.crd import SyftMonitorSpec
from syft_operator.errors import (
    ChildRejectedError,
    InvalidSpecError,
    KubeApiError,
    OperatorError,
    PolicyError,
    SecretsError,
)
from syft_operator.kube import CONFIG_MAP, KubeApi
from syft_operator.policy import check_spec
from syft_operator.pool_member import reconcile_pooled, without_pool_conditions
from syft_operator.render import RenderOptions, render
from syft_operator.rollout import RolloutPacer
from syft_operator.secret_refs import resolve_secrets

logger = logging.getLogger(__name__)

Verdict = Literal["success", "retry", "error"]


@dataclasses.dataclass(frozen=True)
class EventRequest:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    #: False for news that may repeat word for word (a drift repaired again).
    once: bool = True


@dataclasses.dataclass
class ReconcileResult:
    verdict: Verdict
    #: Fields to merge into `.status` (None values delete a field).
    status: dict[str, Any]
    message: str = ""
    events: list[EventRequest] = dataclasses.field(default_factory=list)
    report: ApplyReport | None = None


def parse_spec(body: Mapping[str, Any]) -> SyftMonitorSpec:
    try:
        return SyftMonitorSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise InvalidSpecError(f"spec: {describe_validation_error(error)}") from error


class _Conditions:
    """The conditions being built, plus an Event for each news-worthy change of Ready."""

    def __init__(self, body: Mapping[str, Any], now: dt.datetime) -> None:
        generation = (body.get("metadata") or {}).get("generation")
        self.generation = generation if isinstance(generation, int) else None
        self.items: list[dict[str, Any]] = list((body.get("status") or {}).get("conditions") or [])
        self.events: list[EventRequest] = []
        self.now = now

    def set(self, type_: str, value: status.Status, reason: str, message: str) -> None:
        if type_ == status.READY and status.changed(self.items, type_, value, reason):
            # Suspending is the user's own doing, and a pod starting is normal: no Warning.
            if value == "True":
                self.events.append(EventRequest("Normal", reason, message))
            elif reason not in status.QUIET_REASONS:
                self.events.append(EventRequest("Warning", reason, message))
        self.items = status.set_condition(
            self.items, type_, value, reason, message, generation=self.generation, now=self.now
        )


def reconcile(
    api: KubeApi,
    body: Mapping[str, Any],
    config: OperatorConfig,
    *,
    now: dt.datetime | None = None,
    memory: ChildMemory | None = None,
    pacer: RolloutPacer | None = None,
    reconciled_before: bool = False,
) -> ReconcileResult:
    """Bring the children of `body` in line with its spec and say what the status should be."""
    conditions = _Conditions(body, now or dt.datetime.now(dt.UTC))
    result = ReconcileResult(verdict="success", status={})
    try:
        _reconcile(api, body, config, conditions, result, memory, pacer, reconciled_before)
    except (InvalidSpecError, PolicyError, ChildRejectedError) as error:
        # Permanent until the spec (or the operator's allow-lists) change: no retry loop.
        result.verdict, result.message = "error", str(error)
        conditions.set(status.READY, "False", error.reason, str(error))
    except KubeApiError as error:
        result.verdict, result.message = "retry", str(error)
        conditions.set(status.READY, "False", "ApiError", str(error))
    except OperatorError as error:
        # Missing Secrets, name conflicts: fixable by the user, so retried with backoff.
        result.verdict, result.message = "retry", str(error)
        conditions.set(status.READY, "False", error.reason, str(error))
    result.status["observedGeneration"] = conditions.generation
    result.status["conditions"] = conditions.items
    result.events = result.events + conditions.events
    return result


def _reconcile(
    api: KubeApi,
    body: Mapping[str, Any],
    config: OperatorConfig,
    conditions: _Conditions,
    result: ReconcileResult,
    memory: ChildMemory | None,
    pacer: RolloutPacer | None = None,
    reconciled_before: bool = False,
) -> None:
    meta = body.get("metadata") or {}
    name, namespace = str(meta["name"]), str(meta["namespace"])
    spec = parse_spec(body)
    # Before anything is read or written: a refused spec creates and changes nothing.
    check_spec(spec, config)
    options = RenderOptions(
        default_image=config.monitor_image, image_pull_policy=config.image_pull_policy
    )
    try:
        secrets_hash = resolve_secrets(api, namespace, spec)
    except SecretsError as error:
        conditions.set(status.SECRETS_RESOLVED, "False", error.reason, str(error))
        raise
    conditions.set(
        status.SECRETS_RESOLVED, "True", "SecretsFound", "every referenced Secret key is usable"
    )
    current = body.get("status") or {}
    # No conditions yet: a new SyftMonitor, unless this process has just reconciled it and the
    # body is older than that pass's status write (then its children are known: no blind POST).
    first = not current.get("conditions") and not reconciled_before
    if spec.mode == "Pooled":
        pooled = reconcile_pooled(api, body, spec, conditions, memory, create_first=first)
        if pacer is not None:
            pacer.forget(str(meta["uid"]))  # no pod of its own to roll: its slot is free
        result.report = pooled.report
        result.status["workload"] = pooled.workload
        return
    # Served by a pool no more: its `Assigned` condition would only mislead.
    conditions.items = without_pool_conditions(conditions.items)
    children = render(name, namespace, spec, options, secrets_hash=secrets_hash)
    # Only what the author did not ask for waits its turn: the spec is already applied.
    applied = current.get("observedGeneration") == meta.get("generation")
    report = reconcile_children(
        api,
        children,
        body,
        memory,
        create_first=first,
        pacer=pacer if applied and not first else None,
    )
    result.report = report
    for child, fields in report.drift.items():
        message = f"{child}: {', '.join(fields)} changed outside the operator; restored"
        result.events.append(EventRequest("Warning", "DriftRepaired", message, once=False))
    workload = f"{children.workload['kind']}/{children.workload['metadata']['name']}"
    result.status["workload"] = workload
    set_readiness(conditions, report.workload, suspended=spec.suspend)


def set_readiness(
    conditions: _Conditions, workload: Mapping[str, Any] | None, *, suspended: bool
) -> None:
    """WorkloadAvailable and Ready from the workload as the server last showed it."""
    available, reason, message = status.workload_availability(workload, suspended=suspended)
    conditions.set(status.WORKLOAD_AVAILABLE, available, reason, message)
    if suspended:
        conditions.set(status.READY, "False", "Suspended", "spec.suspend is true")
    elif available != "True":
        conditions.set(status.READY, "False", reason, message)
    else:
        conditions.set(status.READY, "True", "Reconciled", message)


def mirror_monitor_status(api: KubeApi, body: Mapping[str, Any]) -> dict[str, Any]:
    """lastPollTime, notificationsSent, lastError from the services' keys of the monitor's
    heartbeat ConfigMap; from its flat keys, or its state ConfigMap, while it runs a version
    that writes them there."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta["namespace"]), str(meta["name"])
    beat = api.get(CONFIG_MAP, namespace, names.heartbeat_map_name(name))
    data = (beat or {}).get("data") or {}
    services = status.mirror_heartbeat(data)
    if services is not None:
        return services
    if not data.get(LAST_POLL_KEY):
        state = api.get(CONFIG_MAP, namespace, names.state_map_name(name))
        data = (state or {}).get("data") or {}
    return status.mirror_fields(data)
