"""Kubernetes Events on SyftMonitors, posted with the operator's own API client.

kopf's `kopf.event` only works inside kopf's per-object tasks; the resync loop runs outside them,
so both it and kopf's handlers post here, synchronously and in the same shape.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Mapping
from typing import Any

from syft_operator import names
from syft_operator.kube import EVENT, KubeApi
from syft_operator.reconcile import EventRequest
from syft_operator.status import MAX_MESSAGE_LENGTH, rfc3339

#: `reportingInstance` may hold at most 128 characters.
_INSTANCE = socket.gethostname()[:128]


def event_body(
    body: Mapping[str, Any], event: EventRequest, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A core/v1 Event about the SyftMonitor `body`."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    stamp = rfc3339(now or dt.datetime.now(dt.UTC))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": names.API_VERSION,
            "kind": names.KIND,
            "name": name,
            "namespace": namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:MAX_MESSAGE_LENGTH],
        "source": {"component": names.MANAGER},
        "reportingComponent": names.MANAGER,
        "reportingInstance": _INSTANCE,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def post_event(api: KubeApi, body: Mapping[str, Any], event: EventRequest) -> None:
    """Post `event`; raises `KubeApiError` (the caller logs it: an Event is never worth a retry)."""
    namespace = str((body.get("metadata") or {}).get("namespace"))
    api.create(EVENT, namespace, event_body(body, event))
