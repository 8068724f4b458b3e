"""Conditions and the status fields mirrored from the monitor's state ConfigMap."""

from __future__ import annotations

import datetime as dt

import pytest

from syft_operator.status import (
    find_condition,
    mirror_fields,
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
