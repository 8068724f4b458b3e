"""ConfigMapStateManager against the test Kubernetes API server, through the official client."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from syft_monitors.config import MonitorConfig
from syft_monitors.errors import (
    ConfigError,
    CredentialsError,
    ServiceError,
    StateError,
)
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.runtime.wiring import state_from_config
from syft_monitors.state import NotifiedRecord, SeenRecord, StateDocument
from syft_monitors.state.configmap import ConfigMapStateManager, redact
from tests.kubeapi import KubeApiServer

NAME = "alice-state"
OWNER = {
    "apiVersion": "syft.openmined.org/v1alpha1",
    "kind": "SyftMonitor",
    "name": "alice",
    "uid": "0b7e1f0e-4c38-4a4c-8f0b-8c1c3f9a6a11",
    "controller": True,
}


@pytest.fixture
def state_configmap(kube_api: KubeApiServer) -> dict[str, Any]:
    """The empty ConfigMap the operator creates for a monitor."""
    return kube_api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": NAME,
                "namespace": "default",
                "labels": {"app.kubernetes.io/name": "syft-monitor"},
                "ownerReferences": [OWNER],
            },
        }
    )


def manager(kube_client: Any, **kwargs: Any) -> ConfigMapStateManager:
    return ConfigMapStateManager(NAME, "default", api_client=kube_client, **kwargs)


def stored(kube_api: KubeApiServer) -> dict[str, Any]:
    obj = kube_api.get_object("v1", "configmaps", "default", NAME)
    assert obj is not None
    return obj


def test_round_trip_keeps_the_operators_metadata(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    first = manager(kube_client)
    assert first.load().is_empty

    first.set_data("answer", {"n": 42})
    Ledger(first).mark_seen(["file:1", "file:2"], "drive")
    first.set_cursor("page-7", baseline=True)

    second = manager(kube_client)
    assert second.get_data("answer") == {"n": 42}
    assert Ledger(second).is_seen("file:2")
    assert second.get_cursor() == "page-7"
    obj = stored(kube_api)
    assert StateDocument.model_validate_json(obj["data"]["state.json"]) == second.load()
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/name": "syft-monitor"}
    assert obj["metadata"]["ownerReferences"][0]["uid"] == OWNER["uid"]
    assert obj["metadata"]["uid"] == state_configmap["metadata"]["uid"]


def test_size_is_the_stored_payload_without_extra_requests(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    state = manager(kube_client, max_staleness=60)  # no timing in the request count
    assert state.size_bytes() == 0
    Ledger(state).mark_seen([f"file:{n}" for n in range(50)], "drive")
    kube_api.clear_requests()
    size = state.size_bytes()
    assert size == len(stored(kube_api)["data"]["state.json"].encode())
    assert size == len(state.load().to_json_bytes())
    assert kube_api.requests == []  # answered from the copy the write left


def test_writes_are_replaces_with_the_read_resource_version(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    kube_api.clear_requests()
    manager(kube_client).set_data("k", 1)

    updates = [r for r in kube_api.requests if r.verb == "update"]
    assert len(updates) == 1
    assert (
        updates[0].body["metadata"]["resourceVersion"]
        == state_configmap["metadata"]["resourceVersion"]
    )


def test_a_stale_writer_retries_on_409(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    slow = manager(kube_client, max_staleness=60.0)
    fast = manager(kube_client)
    slow.load()  # caches the empty document at the first resourceVersion
    fast.set_data("fast", True)

    slow.set_data("slow", True)

    assert [r.status for r in kube_api.requests if r.verb == "update"] == [200, 409, 200]
    final = manager(kube_client).load()
    assert final.data == {"fast": True, "slow": True}


def test_two_managers_racing_lose_no_update(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    writers = [manager(kube_client, max_staleness=0.0) for _ in range(2)]
    for writer in writers:
        writer.retry_pause = 0.001
        writer.max_attempts = 50
    barrier = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def work(index: int, writer: ConfigMapStateManager) -> None:
        barrier.wait()
        try:
            for i in range(15):
                writer.update(lambda doc, k=f"w{index}-{i}", v=i: doc.data.__setitem__(k, v))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n, w)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert len(manager(kube_client).load().data) == 30


def test_conflicts_without_end_become_a_state_error(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    writer = manager(kube_client)
    writer.retry_pause = 0.0
    kube_api.fail_next(409, verb="update", resource="configmaps", count=writer.max_attempts)

    with pytest.raises(StateError, match="lost 10 write conflicts"):
        writer.set_data("k", 1)


def test_missing_configmap_is_a_clear_error(kube_client: Any, kube_api: KubeApiServer) -> None:
    with pytest.raises(StateError, match="does not exist; the syft operator creates it") as caught:
        manager(kube_client).load()
    assert caught.value.__cause__ is not None

    creator = manager(kube_client, create_missing=True)
    creator.set_data("k", "v")
    assert json.loads(stored(kube_api)["data"]["state.json"])["data"] == {"k": "v"}


def test_heartbeat_keys(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    state = manager(kube_client)
    when = dt.datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=dt.UTC)
    state.record_poll(False, "token ya29.abcDEF-123 rejected; " + "x" * 600, now=when)

    data = stored(kube_api)["data"]
    assert data["lastPollTime"] == "2025-03-04T05:06:07Z"
    assert data["notificationsSent"] == "0"
    assert data["lastError"].startswith("token [redacted] rejected")
    assert "ya29" not in data["lastError"]
    assert len(data["lastError"]) <= 500

    Ledger(state).resolve_intents(
        {
            "new_job:a:do": NotifiedRecord(sent_at=when.isoformat()),
            "new_job:b:do": NotifiedRecord(sent_at=when.isoformat()),
        }
    )
    state.record_poll(True, now=when + dt.timedelta(minutes=1))
    data = stored(kube_api)["data"]
    assert data["notificationsSent"] == "2"
    assert data["lastError"] == ""
    assert data["lastPollTime"] == "2025-03-04T05:07:07Z"


def test_redaction_patterns() -> None:
    assert redact('{"refresh_token": "1//abc", "x": 1}') == '{"refresh_token": [redacted], "x": 1}'
    assert redact("Authorization: Bearer eyJhbGciOi.x.y") == "Authorization: [redacted]"
    assert redact("plain failure") == "plain failure"


def _old_seen(count: int) -> dict[str, SeenRecord]:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    return {
        f"file:{i:06d}-{'p' * 40}": SeenRecord(
            at=(start + dt.timedelta(minutes=i)).isoformat(), kind="drive"
        )
        for i in range(count)
    }


def test_large_state_is_compacted_before_writing(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    state = manager(kube_client)
    seen = _old_seen(7000)

    def fill(doc: StateDocument) -> None:
        doc.seen.update(seen)

    assert len(json.dumps({k: v.model_dump() for k, v in seen.items()})) > 512 * 1024
    state.update(fill)

    raw = stored(kube_api)["data"]["state.json"]
    assert len(raw.encode()) <= 512 * 1024
    kept = StateDocument.model_validate_json(raw).seen
    assert 0 < len(kept) < len(seen)
    # The oldest entries went first.
    assert min(kept) > min(seen)
    assert max(kept) == max(seen)


def test_state_that_cannot_shrink_is_refused(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    state = manager(kube_client, compact_above=10_000, refuse_above=20_000)
    state.set_data("small", 1)
    before = stored(kube_api)

    with pytest.raises(StateError, match="over the 20000-byte limit"):
        state.set_data("blob", "x" * 30_000)

    assert stored(kube_api)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_api_errors_are_translated(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    state = manager(kube_client, max_staleness=0.0)
    kube_api.fail_next(403, verb="get", resource="configmaps")
    with pytest.raises(CredentialsError) as denied:
        state.load()
    assert denied.value.hint is not None
    assert "get/update/patch" in denied.value.hint

    kube_api.fail_next(503, verb="update", resource="configmaps")
    with pytest.raises(ServiceError) as unavailable:
        state.set_data("k", 1)
    assert unavailable.value.retryable
    assert unavailable.value.__cause__ is not None


def test_corrupt_document_is_refused(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    state_configmap["data"] = {"state.json": '{"schema_version": 1, "seen": 5}'}
    kube_api.put_object(state_configmap)
    with pytest.raises(StateError, match="not a valid state document"):
        manager(kube_client).load()

    state_configmap["data"] = {"state.json": '{"schema_version": 99}'}
    kube_api.put_object(state_configmap)
    with pytest.raises(StateError, match="newer version"):
        manager(kube_client).load()


def test_wiring_builds_it_from_config(
    kubeconfig: Path, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    config = MonitorConfig(
        do_email="do@example.org",
        state_backend="configmap",
        state_configmap={"name": NAME},
    )
    state = state_from_config(config)

    assert isinstance(state, ConfigMapStateManager)
    assert state.namespace == "default"  # from the kubeconfig context, outside a pod
    state.set_data("wired", True)
    assert json.loads(stored(kube_api)["data"]["state.json"])["data"] == {"wired": True}


def test_wiring_without_the_kubernetes_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    monkeypatch.delitem(sys.modules, "syft_monitors.state.configmap")
    config = MonitorConfig(
        do_email="do@example.org",
        state_backend="configmap",
        state_configmap={"name": NAME, "namespace": "default"},
    )
    with pytest.raises(ConfigError, match=r"install syft-monitor\[operator\]"):
        state_from_config(config)


def test_an_intent_held_by_a_live_pod_is_not_claimed(
    kube_client: Any, kube_api: KubeApiServer, state_configmap: dict[str, Any]
) -> None:
    """Another pod (a rolling update's second replica) holds an intent and renews its lease in
    the document: this one leaves the email alone until the lease has run out."""
    from syft_monitors.state.base import LEASE_TTL  # noqa: PLC0415
    from syft_monitors.state.holders import holder_id  # noqa: PLC0415
    from syft_monitors.state.model import SendIntent, to_timestamp  # noqa: PLC0415

    other = "pod-b:1:cafe0001"
    key = "new_job:k:do"
    intent = SendIntent(notification_key=key, message_id="<m@x>", recorded_at=to_timestamp())
    state = manager(kube_client, max_staleness=0)  # sees the other pod's writes at once

    def held(renewed: dt.datetime) -> None:
        def write(doc: StateDocument) -> None:
            doc.intents[key] = intent.model_copy(update={"owner": other})
            doc.holders[other] = to_timestamp(renewed)

        manager(kube_client).update(write)

    held(dt.datetime.now(dt.UTC))
    assert Ledger(state).held_by(key) == other
    assert Ledger(state).record_intent(intent) is None
    held(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=LEASE_TTL + 5))
    assert Ledger(state).held_by(key) is None
    claimed = Ledger(state).record_intent(intent)
    assert claimed is not None
    assert claimed.owner == holder_id()
    stored_doc = StateDocument.model_validate_json(stored(kube_api)["data"]["state.json"])
    assert set(stored_doc.holders) == {holder_id()}  # renewed ours, forgot the expired one
