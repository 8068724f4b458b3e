"""Conditions in the standard Kubernetes shape, and the status fields mirrored from the monitor.

A condition keeps its `lastTransitionTime` while its status stays the same (only reason and
message move), as `metav1.Condition` requires; `observedGeneration` says which spec it describes.
The mirrored fields come from the monitor's `<name>-heartbeat` ConfigMap, where each service of
the pod (notify, approve) keeps its own key (`heartbeat.<service>.json`) so that neither
overwrites the other: the status shows the newest poll of any service, the highest send count
(each service reports the total of the state they share, as of its last write) and the current
error of every failing service. Older monitors wrote the three keys themselves, there or next to
their state document; those are read while no service key exists. The names are the monitor's
(`syft_monitors.state.kube_keys`). They are untrusted input, so each is parsed, bounded and
dropped when malformed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from syft_monitors.state.kube_keys import (
    LAST_ERROR_KEY,
    LAST_POLL_KEY,
    MAX_ERROR_LENGTH,
    NOTIFICATIONS_SENT_KEY,
    STATUS_KEYS,
    heartbeat_service,
    service_heartbeat_key,
)

READY = "Ready"
SECRETS_RESOLVED = "SecretsResolved"
WORKLOAD_AVAILABLE = "WorkloadAvailable"
CONDITION_TYPES = (READY, SECRETS_RESOLVED, WORKLOAD_AVAILABLE)
STATUSES = ("True", "False", "Unknown")
#: Ready=False reasons that are a normal step, not a problem: no Warning Event for them.
QUIET_REASONS = frozenset({"Suspended", "WorkloadPending", "RolloutPending", "AssignmentPending"})

Status = Literal["True", "False", "Unknown"]
ConditionDict = dict[str, Any]

MAX_MESSAGE_LENGTH = 1000
#: A service's heartbeat value is a few hundred bytes; anything far larger is not the monitor's.
MAX_SERVICE_BEAT_BYTES = 16 * 1024


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_condition(
    conditions: Sequence[Mapping[str, Any]] | None, type_: str
) -> Mapping[str, Any] | None:
    for condition in conditions or ():
        if condition.get("type") == type_:
            return condition
    return None


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    type_: str,
    status: Status,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: dt.datetime,
) -> list[ConditionDict]:
    """A new list with `type_` set; its transition time moves only when its status changes."""
    previous = find_condition(conditions, type_)
    transition = rfc3339(now)
    if previous is not None and previous.get("status") == status:
        transition = str(previous.get("lastTransitionTime") or transition)
    updated: ConditionDict = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:MAX_MESSAGE_LENGTH],
        "lastTransitionTime": transition,
    }
    if generation is not None:
        updated["observedGeneration"] = generation
    out = [dict(c) for c in conditions or () if c.get("type") != type_]
    out.append(updated)
    order = {name: index for index, name in enumerate(CONDITION_TYPES)}
    out.sort(key=lambda c: order.get(str(c.get("type")), len(order)))
    return out


def changed(
    conditions: Sequence[Mapping[str, Any]] | None, type_: str, status: Status, reason: str
) -> bool:
    """True when setting this status and reason would be news (worth an Event)."""
    previous = find_condition(conditions, type_)
    return previous is None or (previous.get("status"), previous.get("reason")) != (
        status,
        reason,
    )


def workload_availability(
    workload: Mapping[str, Any] | None, *, suspended: bool
) -> tuple[Status, str, str]:
    """WorkloadAvailable as far as the workload's own status shows it: True only for a
    Deployment with an available pod of its current template, or a CronJob whose last run did
    not fail; False (never Unknown) until then, so `kubectl wait --for=condition=Ready` waits."""
    if workload is None:
        return "False", "WorkloadMissing", "the monitor workload does not exist"
    kind = workload.get("kind")
    status = workload.get("status") or {}
    if suspended:
        what = "scaled to zero" if kind == "Deployment" else "suspended"
        return "False", "Suspended", f"spec.suspend is true: the {kind} is {what}"
    if kind == "CronJob":
        return _cronjob_availability(status)
    generation = (workload.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if isinstance(generation, int) and (not isinstance(observed, int) or observed < generation):
        return "False", "RolloutPending", "the Deployment controller has not seen the current spec"
    available = status.get("availableReplicas")
    updated = status.get("updatedReplicas")
    if isinstance(available, int) and available >= 1 and isinstance(updated, int) and updated >= 1:
        return "True", "MinimumReplicasAvailable", "the monitor pod is available"
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Available" and condition.get("status") == "False":
            reason = str(condition.get("reason") or "Unavailable")
            return "False", "Unavailable", f"Deployment not available ({reason[:100]})"
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            reason = str(condition.get("reason") or "NotProgressing")
            return "False", "RolloutFailed", f"Deployment rollout failed ({reason[:100]})"
    return "False", "WorkloadPending", "no pod of the current template is available yet"


def _cronjob_availability(status: Mapping[str, Any]) -> tuple[Status, str, str]:
    scheduled = status.get("lastScheduleTime")
    succeeded = status.get("lastSuccessfulTime")
    # RFC 3339 in UTC compares as text.
    if (
        isinstance(scheduled, str)
        and not status.get("active")
        and (not isinstance(succeeded, str) or succeeded < scheduled)
    ):
        return "False", "LastRunFailed", f"the run scheduled at {scheduled} did not succeed"
    detail = f"; last successful run {succeeded}" if isinstance(succeeded, str) else ""
    return "True", "Scheduled", f"the CronJob is scheduled{detail}"


def mirror_fields(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """lastPollTime, notificationsSent and lastError from the state ConfigMap's data.

    Every key is present in the result: None removes a field from the status (merge patch), so a
    cleared error disappears instead of lingering.
    """
    data = data or {}
    return {
        LAST_POLL_KEY: _timestamp(data.get(LAST_POLL_KEY)),
        NOTIFICATIONS_SENT_KEY: _count(data.get(NOTIFICATIONS_SENT_KEY)),
        LAST_ERROR_KEY: _error(data.get(LAST_ERROR_KEY)),
    }


def _timestamp(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return rfc3339(parsed)


def _count(value: object) -> int | None:
    if not isinstance(value, str) or not value.strip().isdigit() or len(value) > 18:
        return None
    return int(value.strip())


def _error(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_ERROR_LENGTH:
        cleaned = cleaned[: MAX_ERROR_LENGTH - 1] + "\u2026"
    return cleaned


def service_statuses(data: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """Service name -> the status keys of its heartbeat value (strings, unparsed), for every
    service key of the heartbeat ConfigMap's data; values that are not such JSON are left out."""
    found: dict[str, dict[str, str]] = {}
    for key, value in (data or {}).items():
        service = heartbeat_service(str(key))
        if service is None or not isinstance(value, str) or len(value) > MAX_SERVICE_BEAT_BYTES:
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found[service] = {k: v for k in STATUS_KEYS if isinstance(v := parsed.get(k), str)}
    return found


def compact_heartbeat(data: Mapping[str, Any] | None) -> dict[str, str]:
    """What the operator's cache keeps of a heartbeat ConfigMap's data: the flat status keys of
    older monitors and, per service key, its status keys only (not the service's counters)."""
    data = data or {}
    kept = {k: data[k] for k in STATUS_KEYS if isinstance(data.get(k), str)}
    for service, fields in service_statuses(data).items():
        kept[service_heartbeat_key(service)] = json.dumps(
            fields, sort_keys=True, separators=(",", ":")
        )
    return kept


def mirror_heartbeat(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The mirrored fields from the services' keys of the heartbeat ConfigMap (see the module
    docstring), or None when it has none (a monitor older than them, or none has polled yet)."""
    services = service_statuses(data)
    if not services:
        return None
    each = {name: mirror_fields(fields) for name, fields in sorted(services.items())}
    polls = [f[LAST_POLL_KEY] for f in each.values() if f[LAST_POLL_KEY] is not None]
    counts = [
        f[NOTIFICATIONS_SENT_KEY] for f in each.values() if f[NOTIFICATIONS_SENT_KEY] is not None
    ]
    errors = [(name, f[LAST_ERROR_KEY]) for name, f in each.items() if f[LAST_ERROR_KEY]]
    error: str | None = None
    if len(errors) == 1:
        error = errors[0][1]
    elif errors:  # several services failing: each one's error, named
        error = _error("; ".join(f"{name}: {text}" for name, text in errors))
    return {
        LAST_POLL_KEY: max(polls) if polls else None,  # RFC 3339 in UTC compares as text
        NOTIFICATIONS_SENT_KEY: max(counts) if counts else None,
        LAST_ERROR_KEY: error,
    }
