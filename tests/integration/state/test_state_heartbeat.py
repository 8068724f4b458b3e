"""Small heartbeats (issue 16): an idle monitor merge-patches the keys that changed into the
heartbeat ConfigMap once per `HEARTBEAT_PERIOD` and never rewrites the state document; news the
operator shows (a send, an error) is written at once; a holder's lease renewed there counts;
without the heartbeat ConfigMap (an older operator) the heartbeat goes into the state as before."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import NotifiedRecord, StateDocument
from syft_monitors.state.base import LEASE_TTL
from syft_monitors.state.configmap import ConfigMapStateManager
from syft_monitors.state.kube_keys import HEARTBEAT_PERIOD
from syft_monitors.state.model import SendIntent, to_timestamp
from tests.kubeapi import KubeApiServer

STATE = "alice-state"
BEAT = "alice-heartbeat"


def configmap(
    kube_api: KubeApiServer, name: str, content: dict[str, str] | None = None
) -> dict[str, Any]:
    return kube_api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
            "data": content or {},
        }
    )


@pytest.fixture
def maps(kube_api: KubeApiServer) -> None:
    configmap(kube_api, STATE)
    configmap(kube_api, BEAT)


def manager(kube_client: Any, **kwargs: Any) -> ConfigMapStateManager:
    return ConfigMapStateManager(
        STATE, "default", api_client=kube_client, heartbeat_name=BEAT, **kwargs
    )


def data(kube_api: KubeApiServer, name: str) -> dict[str, str]:
    obj = kube_api.get_object("v1", "configmaps", "default", name)
    assert obj is not None
    return obj.get("data") or {}


def status(kube_api: KubeApiServer, service: str = "monitor") -> dict[str, Any]:
    """The status keys `service` last wrote into its own heartbeat key."""
    parsed: dict[str, Any] = json.loads(data(kube_api, BEAT)[f"heartbeat.{service}.json"])
    return parsed


def test_idle_polls_patch_the_heartbeat_once_per_period_and_never_write_the_state(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    state = manager(kube_client)
    Ledger(state).mark_seen([f"file:{n}" for n in range(300)], "drive")
    before = kube_api.get_object("v1", "configmaps", "default", STATE)
    assert before is not None
    version = before["metadata"]["resourceVersion"]
    kube_api.clear_requests()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for minute in range(60):  # an idle hour at the default interval
        state.record_poll(True, now=start + dt.timedelta(minutes=minute), monitor="jobs")
    writes = [r for r in kube_api.requests if r.verb not in ("get", "list", "watch")]
    assert {(r.verb, r.name) for r in writes} == {("patch", BEAT)}
    period = int(HEARTBEAT_PERIOD // 60)
    assert len(writes) == 60 // period  # minutes 0, 10, ..., 50
    # After the first, only what moved: the monitor's own key (its poll time and counters).
    assert {tuple(sorted(r.body["data"])) for r in writes} == {("heartbeat.jobs.json",)}
    assert max(len(json.dumps(r.body)) for r in writes) < 1024
    after = kube_api.get_object("v1", "configmaps", "default", STATE)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == version
    beat = status(kube_api, "jobs")
    assert beat["lastPollTime"] == f"2026-01-01T00:{60 - period:02d}:00Z"
    assert beat["lastError"] == ""
    # A new process reads the heartbeat back (the CLI's status, the monitor after a restart).
    # (The poll time as last written: an idle process writes it once per period.)
    again = manager(kube_client)
    assert again.heartbeat().last_poll_at == f"2026-01-01T00:{60 - period:02d}:00+00:00"
    assert state.heartbeat().last_poll_at == "2026-01-01T00:59:00+00:00"
    assert again.heartbeat("jobs").last_success_at is not None


def test_sends_counted_in_the_state_show_in_the_heartbeat(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    state = manager(kube_client, max_staleness=0)
    when = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    state.record_poll(False, "token ya29.abcDEF-123 rejected", now=when)
    assert status(kube_api)["lastError"].startswith("token [redacted] rejected")
    # Nor in the service's counters, which anyone allowed to read the ConfigMap sees.
    assert "ya29" not in data(kube_api, BEAT)["heartbeat.monitor.json"]
    Ledger(state).resolve_intents({"new_job:a:do": NotifiedRecord(sent_at=when.isoformat())})
    state.record_poll(True, now=when + dt.timedelta(minutes=1))
    beat = status(kube_api)
    assert beat["notificationsSent"] == "1"
    assert beat["lastError"] == ""
    assert state.heartbeat().notifications_sent == 1
    assert "lastPollTime" not in data(kube_api, STATE)


def test_a_holder_renewing_through_its_heartbeat_keeps_its_intent(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    """The other pod claimed long ago (its document lease is stale) but still polls: its
    heartbeat renewal keeps the intent its own until that renewal runs out too."""
    other = "pod-b:1:cafe0001"
    key = "new_job:k:do"
    intent = SendIntent(notification_key=key, message_id="<m@x>", recorded_at=to_timestamp())
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=LEASE_TTL + 5)

    def write(doc: StateDocument) -> None:
        doc.intents[key] = intent.model_copy(update={"owner": other})
        doc.holders[other] = to_timestamp(long_ago)

    manager(kube_client).update(write)
    holder_key = "holder.pod-b_1_cafe0001"
    configmap(kube_api, BEAT, {holder_key: to_timestamp()})
    state = manager(kube_client, max_staleness=0)
    assert Ledger(state).held_by(key) == other
    assert Ledger(state).record_intent(intent) is None
    configmap(kube_api, BEAT, {holder_key: to_timestamp(long_ago)})
    assert Ledger(state).held_by(key) is None
    assert Ledger(state).record_intent(intent) is not None


def test_without_the_heartbeat_configmap_the_state_carries_it(
    kube_client: Any, kube_api: KubeApiServer
) -> None:
    configmap(kube_api, STATE)  # an operator older than the heartbeat ConfigMap
    state = manager(kube_client)
    state.record_poll(True, now=dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC))
    assert data(kube_api, STATE)["lastPollTime"] == "2025-03-04T05:06:07Z"


def test_news_is_written_at_the_poll_that_saw_it(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    """Between two periodic writes, a send and an error's start and end go out at once; an idle
    poll in between writes nothing."""
    state = manager(kube_client, max_staleness=0)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def poll(minute: int, error: str | None = None) -> list[dict[str, Any]]:
        mark = len(kube_api.requests)
        state.record_poll(error is None, error, now=start + dt.timedelta(minutes=minute))
        patches = [r.body["data"] for r in kube_api.requests[mark:] if r.verb == "patch"]
        assert all(set(d) == {"heartbeat.monitor.json"} for d in patches)
        return [json.loads(d["heartbeat.monitor.json"]) for d in patches]

    assert poll(0)  # the first poll of a process
    assert poll(1) == []
    assert [d["lastError"] for d in poll(2, "Drive answered 503")] == ["Drive answered 503"]
    assert poll(3, "Drive answered 503") == []  # the same error: nothing new
    assert [d["lastError"] for d in poll(4)] == [""]  # it ended
    Ledger(state).resolve_intents({"new_job:a:do": NotifiedRecord(sent_at=start.isoformat())})
    assert [d["notificationsSent"] for d in poll(5)] == ["1"]
    assert status(kube_api)["lastPollTime"] == "2026-01-01T00:05:00Z"


def test_a_holder_of_intents_renews_its_lease_in_the_heartbeat(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    state = manager(kube_client, max_staleness=0)
    intent = SendIntent(
        notification_key="new_job:k:do", message_id="<m@x>", recorded_at=to_timestamp()
    )
    assert Ledger(state).record_intent(intent) is not None  # this process holds it now
    start = dt.datetime.now(dt.UTC)
    renewals = []
    for minute in range(10):
        mark = len(kube_api.requests)
        state.record_poll(True, now=start + dt.timedelta(minutes=minute))
        patches = [r.body["data"] for r in kube_api.requests[mark:] if r.verb == "patch"]
        if any(k.startswith("holder.") for d in patches for k in d):
            renewals.append(minute)
    # Every LEASE_TTL / 3 (100 s): within the lease's 300 s even if a poll or two is late.
    assert renewals == [0, 2, 4, 6, 8]
