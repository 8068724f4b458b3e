"""Watch streams: content type, initial state, resourceVersion, timeoutSeconds, selectors."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch

from tests.kubeapi import KubeApiServer


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def raw_watch(
    kube_api: KubeApiServer, query: str, count: int | None = None
) -> list[dict[str, Any]]:
    """The events of one watch request: `count` of them, or all until the server ends it."""
    url = f"{kube_api.url}/api/v1/namespaces/default/configmaps?watch=true&{query}"
    events: list[dict[str, Any]] = []
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/json"
        for line in response:
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]


def test_watch_is_json_and_starts_with_current_objects(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    core.create_namespaced_config_map("default", cm("a"))
    core.create_namespaced_config_map("default", cm("b"))

    events = raw_watch(kube_api, "timeoutSeconds=1")

    # Nothing else happens: the stream ends when timeoutSeconds runs out.
    assert summary(events) == [("ADDED", "a"), ("ADDED", "b")]
    assert kube_api.requests[-1].verb == "watch"


def test_watch_from_a_resource_version_replays_later_events_only(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    core.create_namespaced_config_map("default", cm("old"))
    listed = core.list_namespaced_config_map("default")
    core.create_namespaced_config_map("default", cm("new"))
    core.patch_namespaced_config_map("old", "default", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("new", "default")

    events = raw_watch(kube_api, f"resourceVersion={listed.metadata.resource_version}", 3)

    assert summary(events) == [("ADDED", "new"), ("MODIFIED", "old"), ("DELETED", "new")]
    # The client hung up after three events: the server notices and forgets the watcher.
    deadline = time.monotonic() + 10
    while kube_api.open_watches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kube_api.open_watches == 0
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert versions[0] > int(listed.metadata.resource_version)


def test_official_client_sees_live_events(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    seen: queue.Queue[tuple[str, str]] = queue.Queue()
    watcher = watch.Watch()

    def consume() -> None:
        for event in watcher.stream(core.list_namespaced_config_map, "default", timeout_seconds=20):
            seen.put((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                watcher.stop()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    kube_api.wait_for_watch("configmaps")
    core.create_namespaced_config_map("default", cm("live"))
    core.patch_namespaced_config_map("live", "default", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("live", "default")
    thread.join(20)

    assert [seen.get_nowait() for _ in range(seen.qsize())] == [
        ("ADDED", "live"),
        ("MODIFIED", "live"),
        ("DELETED", "live"),
    ]


def test_label_selector_turns_modifications_into_added_and_deleted(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    core.create_namespaced_config_map("default", cm("a", app="x"))
    core.create_namespaced_config_map("default", cm("b"))
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": None}}})
    core.patch_namespaced_config_map("b", "default", {"metadata": {"labels": {"app": "x"}}})

    core.create_namespaced_config_map("default", cm("c", app="x"))
    events = raw_watch(kube_api, f"labelSelector=app%3Dx&resourceVersion={start}", 3)

    assert summary(events) == [("DELETED", "a"), ("ADDED", "b"), ("ADDED", "c")]


def test_field_selector_on_a_watch(core: client.CoreV1Api, kube_api: KubeApiServer) -> None:
    core.create_namespaced_config_map("default", cm("a"))
    core.create_namespaced_config_map("default", cm("b"))
    assert summary(raw_watch(kube_api, "fieldSelector=metadata.name%3Db", 1)) == [("ADDED", "b")]

    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", cm("c"))
    core.patch_namespaced_config_map("b", "default", {"data": {"k": "v"}})
    events = raw_watch(kube_api, f"fieldSelector=metadata.name%3Db&resourceVersion={start}", 1)

    assert summary(events) == [("MODIFIED", "b")]


def test_initial_events_end_with_a_bookmark(
    core: client.CoreV1Api, kube_api: KubeApiServer
) -> None:
    core.create_namespaced_config_map("default", cm("a"))

    events = raw_watch(
        kube_api,
        "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
        2,
    )

    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


@pytest.mark.parametrize("gone", [False, True])
def test_drop_watches_ends_open_streams(
    core: client.CoreV1Api, kube_api: KubeApiServer, gone: bool
) -> None:
    events: list[dict[str, Any]] = []
    thread = threading.Thread(
        target=lambda: events.extend(raw_watch(kube_api, "timeoutSeconds=30")), daemon=True
    )
    thread.start()
    kube_api.wait_for_watch("configmaps")

    assert kube_api.drop_watches("configmaps", gone=gone) == 1
    thread.join(10)

    assert not thread.is_alive()
    if gone:
        assert events == [
            {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "too old resource version",
                    "reason": "Expired",
                    "code": 410,
                },
            }
        ]
    else:
        assert events == []
