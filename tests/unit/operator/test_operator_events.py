"""The Events the operator posts are valid core/v1 Events about the right SyftMonitor."""

from __future__ import annotations

import datetime as dt

import kubernetes_validate
import pytest

from syft_operator import names
from syft_operator.events import event_body
from syft_operator.reconcile import EventRequest

MONITOR = {
    "apiVersion": names.API_VERSION,
    "kind": names.KIND,
    "metadata": {"name": "alice", "namespace": "team-a", "uid": "u-1", "resourceVersion": "42"},
}


@pytest.mark.parametrize("version", ["1.27.0", "1.37.0"])
def test_event_is_a_valid_core_v1_event(version: str) -> None:
    event = EventRequest("Warning", "SecretMissing", "secret alice-token not found")
    body = event_body(MONITOR, event, now=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    kubernetes_validate.validate(body, version, strict=True)
    assert body["metadata"] == {"generateName": "alice.", "namespace": "team-a"}
    assert body["involvedObject"] == {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "name": "alice",
        "namespace": "team-a",
        "uid": "u-1",
        "resourceVersion": "42",
    }
    assert (body["type"], body["reason"]) == ("Warning", "SecretMissing")
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-03-01T12:00:00Z"
    assert body["source"] == {"component": names.MANAGER}


def test_long_messages_are_cut() -> None:
    body = event_body(MONITOR, EventRequest("Normal", "Reconciled", "x" * 5000))
    assert len(body["message"]) == 1000
