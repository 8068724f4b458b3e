"""The operator's own list-and-watch streams (`syft_operator.watches`), which feed its cache
with the children and Secrets instead of kopf's per-object event handlers: against the test API
server, with the operator's client layer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from syft_operator.kube import CONFIG_MAP, KubeApi
from syft_operator.watches import ListWatch, plain_namespaces
from tests.kubeapi import KubeApiServer
from tests.support import eventually

SELECTOR = "app.kubernetes.io/managed-by=syft-operator"


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str | None, str]] = []
        #: What each object said it was (the stream adds kind and apiVersion to listed items).
        self.kinds: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def __call__(self, kind: str | None, obj: dict[str, Any]) -> None:
        with self.lock:
            self.events.append((kind, obj["metadata"]["name"]))
            self.kinds.add((obj["apiVersion"], obj["kind"]))

    def seen(self, event: tuple[str | None, str]) -> bool:
        with self.lock:
            return event in self.events


def configmap(name: str, labelled: bool = True, **data: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "syft-operator"} if labelled else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "data": data,
    }


@pytest.fixture
def stream(kube_client: Any, kube_api: KubeApiServer) -> Iterator[tuple[ListWatch, Sink]]:
    kube_api.put_object(configmap("before"))
    sink = Sink()
    watch = ListWatch(KubeApi(kube_client), CONFIG_MAP, "default", sink, label_selector=SELECTOR)
    watch.start()
    kube_api.wait_for_watch("configmaps")
    try:
        yield watch, sink
    finally:
        watch.stop()


def test_a_stream_lists_then_follows_the_labelled_objects(
    stream: tuple[ListWatch, Sink], kube_api: KubeApiServer
) -> None:
    _, sink = stream
    assert sink.seen((None, "before"))  # from the listing
    kube_api.put_object(configmap("other", labelled=False))
    kube_api.put_object(configmap("a"))
    eventually(lambda: sink.seen(("ADDED", "a")), what="a added")
    kube_api.put_object(configmap("a", key="changed"))
    eventually(lambda: sink.seen(("MODIFIED", "a")), what="a modified")
    kube_api.delete_object("v1", "configmaps", "default", "a")
    eventually(lambda: sink.seen(("DELETED", "a")), what="a deleted")
    assert not any(name == "other" for _, name in sink.events)
    assert sink.kinds == {("v1", "ConfigMap")}
    watches = [r for r in kube_api.requests if r.verb == "watch" and r.resource == "configmaps"]
    assert all(r.query.get("labelSelector") == SELECTOR for r in watches)


def test_after_410_gone_the_stream_lists_again(
    stream: tuple[ListWatch, Sink], kube_api: KubeApiServer
) -> None:
    lists = sum(1 for r in kube_api.requests if r.verb == "list")
    assert kube_api.drop_watches("configmaps", gone=True) == 1
    eventually(
        lambda: sum(1 for r in kube_api.requests if r.verb == "list") > lists, what="a relist"
    )
    kube_api.put_object(configmap("after"))
    eventually(lambda: stream[1].seen(("ADDED", "after")), what="events after the relist")


def test_a_relist_reports_what_vanished_while_no_stream_ran(
    stream: tuple[ListWatch, Sink],
) -> None:
    watch, sink = stream
    watch.known.add(("default", "ghost"))  # shown before, gone by the next listing
    watch.relist()
    assert sink.seen(("DELETED", "ghost"))
    assert ("default", "ghost") not in watch.known


def test_only_plain_namespace_names_get_own_streams() -> None:
    assert plain_namespaces(("team-a", "b"))
    assert not plain_namespaces(())
    assert not plain_namespaces(("team-*",))
    assert not plain_namespaces(("team-a", "!team-b"))
