"""Two services of one monitor pod (notify and approve) share one heartbeat ConfigMap: each
one's merge patch must leave the other's liveness alone, and the operator's status must show
both (the newest poll, the sends of the shared state, an error of either service), read
through the API and through the operator's watch cache alike."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import NotifiedRecord
from syft_monitors.state.configmap import ConfigMapStateManager
from syft_operator import names
from syft_operator.cache import CachedKubeApi, ObjectCache
from syft_operator.kube import KubeApi
from syft_operator.reconcile import mirror_monitor_status
from syft_operator.render import render_heartbeat_map, render_state_map
from tests.kubeapi import KubeApiServer

MONITOR = "alice"
OWNER = {"metadata": {"name": MONITOR, "namespace": "default"}}
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def maps(kube_api: KubeApiServer) -> None:
    for manifest in (render_state_map(MONITOR), render_heartbeat_map(MONITOR)):
        kube_api.put_object(
            {**manifest, "metadata": {**manifest["metadata"], "namespace": "default"}}
        )


def service(kube_client: Any) -> ConfigMapStateManager:
    """One service's state manager, as `state_from_config` builds it in the monitor pod."""
    return ConfigMapStateManager(
        names.state_map_name(MONITOR),
        "default",
        api_client=kube_client,
        heartbeat_name=names.heartbeat_map_name(MONITOR),
        max_staleness=0,
    )


def beat_map(kube_api: KubeApiServer) -> dict[str, Any]:
    obj = kube_api.get_object("v1", "configmaps", "default", names.heartbeat_map_name(MONITOR))
    assert obj is not None
    return obj


def mirrored(kube_client: Any, kube_api: KubeApiServer) -> list[dict[str, Any]]:
    """The status fields as the operator mirrors them: read live, and from its watch cache fed
    with the heartbeat ConfigMap as a watch event would show it."""
    live = KubeApi(kube_client)
    cache = ObjectCache()
    cache.observe(beat_map(kube_api))
    cached = CachedKubeApi(live, cache)
    return [mirror_monitor_status(live, OWNER), mirror_monitor_status(cached, OWNER)]


def minute(n: int) -> dt.datetime:
    return START + dt.timedelta(minutes=n)


def test_each_service_keeps_its_own_heartbeat_when_both_write_alternately(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    notify, approve = service(kube_client), service(kube_client)
    notify.record_poll(True, now=minute(0), monitor="notify", events=2)
    approve.record_poll(True, now=minute(0), monitor="approve")
    notify.record_poll(True, now=minute(1), monitor="notify", events=1)
    approve.record_poll(False, "Gmail answered 503", now=minute(1), monitor="approve")
    sends = {f"new_job:{n}:do": NotifiedRecord(sent_at=START.isoformat()) for n in "ab"}
    Ledger(notify).resolve_intents(sends)
    notify.record_poll(True, now=minute(2), monitor="notify")

    # A new process (a restarted service, `syft-bg status`) reads each service's latest values.
    reader = service(kube_client)
    notify_beat = reader.heartbeat("notify")
    approve_beat = reader.heartbeat("approve")
    assert notify_beat.last_poll_at == minute(2).isoformat()
    assert notify_beat.events_today == 3
    assert approve_beat.last_poll_at == minute(1).isoformat()
    assert approve_beat.last_error == "Gmail answered 503"
    assert approve_beat.last_error_at == minute(1).isoformat()

    expected = {
        "lastPollTime": "2026-01-01T00:02:00Z",
        "notificationsSent": 2,
        # Notify's later success does not hide the approve service's current error.
        "lastError": "Gmail answered 503",
    }
    assert mirrored(kube_client, kube_api) == [expected, expected]


def test_an_error_of_either_service_shows_until_that_service_recovers(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    notify, approve = service(kube_client), service(kube_client)
    notify.record_poll(True, now=minute(0), monitor="notify")
    approve.record_poll(False, "approve: cannot read the ACL", now=minute(0), monitor="approve")
    notify.record_poll(False, "Drive answered 503", now=minute(1), monitor="notify")
    notify.record_poll(True, now=minute(2), monitor="notify")  # notify recovered, approve not
    statuses = mirrored(kube_client, kube_api)
    assert [s["lastError"] for s in statuses] == ["approve: cannot read the ACL"] * 2
    approve.record_poll(True, now=minute(3), monitor="approve")
    statuses = mirrored(kube_client, kube_api)
    assert [s["lastError"] for s in statuses] == [None, None]
    assert [s["lastPollTime"] for s in statuses] == ["2026-01-01T00:03:00Z"] * 2


def test_the_operator_cache_keeps_the_heartbeat_small(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    """The watch cache keeps what the status needs of each service, not their counters."""
    notify, approve = service(kube_client), service(kube_client)
    notify.record_poll(True, now=minute(0), monitor="notify", events=4)
    approve.record_poll(False, "x" * 400, now=minute(0), monitor="approve")
    cache = ObjectCache()
    cache.observe(beat_map(kube_api))
    _, kept = cache.lookup(("ConfigMap", "default", names.heartbeat_map_name(MONITOR)))
    assert kept is not None
    assert sorted(kept["data"]) == ["heartbeat.approve.json", "heartbeat.notify.json"]
    packed = json.dumps(kept["data"])
    assert "events_today" not in packed
    assert "last_success_at" not in packed
    assert len(packed) < 1024


def test_an_upgrade_reads_the_shared_keys_and_removes_them_once_no_service_needs_them(
    kube_client: Any, kube_api: KubeApiServer, maps: None
) -> None:
    """What an older version left: the flat status keys and every service's counters in one
    `heartbeat.json`. The operator shows the flat keys until a service key exists; each service
    takes its counters from the shared key; the last service to write removes it."""
    old = {
        "lastPollTime": "2025-12-31T23:59:00Z",
        "notificationsSent": "7",
        "lastError": "",
        "heartbeat.json": json.dumps(
            {
                "all": {"last_poll_at": "2025-12-31T23:59:00+00:00"},
                "monitors": {
                    "notify": {"events_today": 5, "events_day": "2026-01-01"},
                    "approve": {"last_success_at": "2025-12-31T23:58:00+00:00"},
                },
            }
        ),
    }
    manifest = render_heartbeat_map(MONITOR)
    kube_api.put_object(
        {**manifest, "metadata": {**manifest["metadata"], "namespace": "default"}, "data": old}
    )
    assert mirrored(kube_client, kube_api)[0] == {
        "lastPollTime": "2025-12-31T23:59:00Z",
        "notificationsSent": 7,
        "lastError": None,
    }
    notify, approve = service(kube_client), service(kube_client)
    approve.heartbeat("approve")  # loaded before notify's first write, as in a pod
    notify.record_poll(True, now=minute(1), monitor="notify", events=1)
    after_notify = beat_map(kube_api)["data"]
    assert sorted(after_notify) == ["heartbeat.json", "heartbeat.notify.json"]
    approve.record_poll(True, now=minute(2), monitor="approve")
    assert sorted(beat_map(kube_api)["data"]) == ["heartbeat.approve.json", "heartbeat.notify.json"]
    reader = service(kube_client)
    assert reader.heartbeat("notify").events_today == 6  # 5 before the upgrade, 1 after
    assert reader.heartbeat("approve").last_poll_at == minute(2).isoformat()
    assert [s["lastPollTime"] for s in mirrored(kube_client, kube_api)] == [
        "2026-01-01T00:02:00Z"
    ] * 2
