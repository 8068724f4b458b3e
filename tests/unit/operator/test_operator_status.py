"""Conditions and the status fields mirrored from the monitor's state ConfigMap."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from syft_operator.status import (
    compact_heartbeat,
    find_condition,
    mirror_fields,
    mirror_heartbeat,
    set_condition,
    workload_availability,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def test_transition_time_moves_only_when_status_changes() -> None:
    first = set_condition(None, "Ready", "False", "SecretNotFound", "x", generation=1, now=T0)
    same = set_condition(first, "Ready", "False", "SecretKeyMissing", "y", generation=2, now=T1)
    flipped = set_condition(same, "Ready", "True", "Reconciled", "ok", generation=2, now=T1)
    assert first[0]["lastTransitionTime"] == "2026-03-01T12:00:00Z"
    assert same[0]["lastTransitionTime"] == "2026-03-01T12:00:00Z"
    assert same[0]["reason"] == "SecretKeyMissing"
    assert same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-03-01T12:05:00Z"


def test_conditions_keep_a_stable_order_and_one_entry_per_type() -> None:
    conditions = set_condition(None, "Ready", "True", "R", "", generation=1, now=T0)
    conditions = set_condition(conditions, "SecretsResolved", "True", "S", "", generation=1, now=T0)
    conditions = set_condition(conditions, "Ready", "False", "X", "", generation=1, now=T0)
    assert [c["type"] for c in conditions] == ["Ready", "SecretsResolved"]
    ready = find_condition(conditions, "Ready")
    assert ready is not None
    assert ready["reason"] == "X"


def test_long_messages_are_cut() -> None:
    (condition,) = set_condition(None, "Ready", "False", "R", "m" * 5000, generation=1, now=T0)
    assert len(condition["message"]) == 1000


def test_mirror_reads_the_heartbeat_keys() -> None:
    data = {
        "state.json": "{}",
        "lastPollTime": "2026-03-01T11:59:30.123456+00:00",
        "notificationsSent": "42",
        "lastError": "drive: HTTP 503",
    }
    assert mirror_fields(data) == {
        "lastPollTime": "2026-03-01T11:59:30Z",
        "notificationsSent": 42,
        "lastError": "drive: HTTP 503",
    }


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"lastPollTime": "yesterday", "notificationsSent": "-3", "lastError": "   "},
        {"lastPollTime": "2" * 200, "notificationsSent": "1e9", "lastError": ""},
    ],
)
def test_mirror_drops_missing_or_malformed_values(data: dict[str, str] | None) -> None:
    # Explicit None: a merge patch then removes stale fields from the status.
    assert mirror_fields(data) == {
        "lastPollTime": None,
        "notificationsSent": None,
        "lastError": None,
    }


def test_mirror_bounds_and_cleans_errors() -> None:
    mirrored = mirror_fields({"lastError": "bad\x1b[31m\nline" + "x" * 1000})["lastError"]
    assert mirrored is not None
    assert len(mirrored) == 500
    assert "\x1b" not in mirrored
    assert "\n" not in mirrored


def test_naive_poll_time_is_taken_as_utc() -> None:
    assert mirror_fields({"lastPollTime": "2026-03-01T10:00:00"})["lastPollTime"] == (
        "2026-03-01T10:00:00Z"
    )


def beat(poll: str, sent: str, error: str = "", **counters: object) -> str:
    fields = {"lastPollTime": poll, "notificationsSent": sent, "lastError": error}
    return json.dumps({**fields, "counters": counters})


def test_mirror_combines_the_services_of_one_pod() -> None:
    """The newest poll, the highest count of the shared sends, the error of either service."""
    data = {
        "heartbeat.notify.json": beat("2026-03-01T12:05:00Z", "9"),
        "heartbeat.approve.json": beat("2026-03-01T12:01:00Z", "8", "Gmail answered 503"),
        # Flat keys an older version left behind: ignored once a service key exists.
        "lastPollTime": "2026-03-01T13:00:00Z",
        "lastError": "stale",
    }
    assert mirror_heartbeat(data) == {
        "lastPollTime": "2026-03-01T12:05:00Z",
        "notificationsSent": 9,
        "lastError": "Gmail answered 503",
    }
    data["heartbeat.notify.json"] = beat("2026-03-01T12:06:00Z", "9", "Drive answered 503")
    error = (mirror_heartbeat(data) or {})["lastError"]
    assert error == "approve: Gmail answered 503; notify: Drive answered 503"


@pytest.mark.parametrize(
    "value",
    ["not json", "[1, 2]", json.dumps({"lastPollTime": 5}), beat("x" * 20000, "1")],
    ids=["text", "list", "wrong-type", "oversized"],
)
def test_mirror_ignores_malformed_service_keys(value: str) -> None:
    good = beat("2026-03-01T12:00:00Z", "3")
    mirrored = mirror_heartbeat({"heartbeat.notify.json": good, "heartbeat.approve.json": value})
    assert mirrored == {
        "lastPollTime": "2026-03-01T12:00:00Z",
        "notificationsSent": 3,
        "lastError": None,
    }


def test_without_service_keys_the_flat_keys_are_mirrored() -> None:
    assert (
        mirror_heartbeat({"lastPollTime": "2026-03-01T12:00:00Z", "heartbeat.json": "{}"}) is None
    )


def test_the_cache_keeps_only_what_the_status_needs() -> None:
    data = {
        "heartbeat.notify.json": beat("2026-03-01T12:00:00Z", "3", events_today=4),
        "heartbeat.json": "{}",
        "holder.pod_1_ab": "2026-03-01T12:00:00Z",
        "lastPollTime": "2026-03-01T11:00:00Z",
    }
    kept = compact_heartbeat(data)
    assert sorted(kept) == ["heartbeat.notify.json", "lastPollTime"]
    assert mirror_heartbeat(kept) == mirror_heartbeat(data)
    assert "events_today" not in kept["heartbeat.notify.json"]


def test_workload_availability() -> None:
    deployment = {"kind": "Deployment", "status": {}}
    assert workload_availability(None, suspended=False)[0] == "False"
    # Never Unknown: Ready must stay False (kubectl wait) until a pod is really available.
    assert workload_availability(deployment, suspended=False)[:2] == ("False", "WorkloadPending")
    available = {
        "kind": "Deployment",
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 2, "availableReplicas": 1, "updatedReplicas": 1},
    }
    assert workload_availability(available, suspended=False)[0] == "True"
    # An available pod of the previous template is not the current spec running.
    old_template = {**available, "status": {**available["status"], "updatedReplicas": 0}}
    assert workload_availability(old_template, suspended=False)[:2] == (
        "False",
        "WorkloadPending",
    )
    unseen = {**available, "metadata": {"generation": 3}}
    assert workload_availability(unseen, suspended=False)[:2] == ("False", "RolloutPending")
    stuck = {
        "kind": "Deployment",
        "status": {
            "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
            ]
        },
    }
    assert workload_availability(stuck, suspended=False)[:2] == ("False", "RolloutFailed")
    broken = {
        "kind": "Deployment",
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MinRep"}]},
    }
    assert workload_availability(broken, suspended=False)[:2] == ("False", "Unavailable")
    assert workload_availability(available, suspended=True)[:2] == ("False", "Suspended")
    cron = {"kind": "CronJob", "status": {"lastSuccessfulTime": "2026-03-01T11:00:00Z"}}
    status, reason, message = workload_availability(cron, suspended=False)
    assert (status, reason) == ("True", "Scheduled")
    assert "2026-03-01T11:00:00Z" in message
    never_ran = {"kind": "CronJob", "status": {}}
    assert workload_availability(never_ran, suspended=False)[:2] == ("True", "Scheduled")
    failed = {
        "kind": "CronJob",
        "status": {
            "lastScheduleTime": "2026-03-01T12:00:00Z",
            "lastSuccessfulTime": "2026-03-01T11:00:00Z",
        },
    }
    assert workload_availability(failed, suspended=False)[:2] == ("False", "LastRunFailed")
    running = {"kind": "CronJob", "status": {**failed["status"], "active": [{"name": "j"}]}}
    assert workload_availability(running, suspended=False)[:2] == ("True", "Scheduled")
    assert workload_availability(cron, suspended=True)[:2] == ("False", "Suspended")
