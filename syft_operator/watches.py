"""Plain list-and-watch streams that feed the watch cache: one per kind and namespace.

The operator's children (by its `managed-by` label) and the Secrets of its namespaces are only
ever read from the cache (`cache.py`) and looked at for drift; none of kopf's per-object
machinery is needed for them. kopf runs every watch event of a resource it watches through a
per-object worker, cause detection and handler invocation: at 1,000 SyftMonitors that was a
third of the operator's CPU while creating them and about 35 MiB of its peak memory (bench,
section 5). Here each stream is one thread with one long HTTP request of the official client:
list (the cache learns every object, and forgets those deleted while no watch ran), then watch
from the list's resourceVersion, resume from the last event's after a timeout, relist after
410 Gone, and wait with a doubling pause (1 s to 30 s) after an error.

Events go to `on_event(type, object)`: type None for the objects of a listing, else ADDED,
MODIFIED or DELETED; it runs in the stream's thread.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from syft_operator.errors import KubeApiError
from syft_operator.kube import KubeApi, Obj, Resource

logger = logging.getLogger(__name__)

EventSink = Callable[[str | None, Obj], None]
#: A namespace name (DNS label); anything else (kopf's globs, negations, lists) is left to kopf.
_PLAIN_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MIN_PAUSE = 1.0
MAX_PAUSE = 30.0


def plain_namespaces(patterns: Sequence[str]) -> bool:
    """True when every pattern names one namespace (no glob): the streams can watch each."""
    return bool(patterns) and all(_PLAIN_NAMESPACE.match(p) for p in patterns)


class ListWatch:
    """One kind in one namespace (None: cluster-wide), optionally filtered by labels."""

    def __init__(
        self,
        api: KubeApi,
        resource: Resource,
        namespace: str | None,
        on_event: EventSink,
        *,
        label_selector: str | None = None,
        server_timeout: int = 300,
    ) -> None:
        self.api = api
        self.resource = resource
        self.namespace = namespace
        self.on_event = on_event
        self.label_selector = label_selector
        self.server_timeout = server_timeout
        self.stopping = threading.Event()
        #: (namespace, name) of every object the stream has shown and not deleted.
        self.known: set[tuple[str, str]] = set()
        self.thread = threading.Thread(
            target=self.run,
            name=f"watch-{resource.plural}-{namespace or 'all'}",
            daemon=True,  # blocked in a read until the server's timeout; never holds up exit
        )

    @property
    def where(self) -> str:
        return f"{self.resource.plural} in {self.namespace or 'all namespaces'}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        version: str | None = None
        pause = MIN_PAUSE
        while not self.stopping.is_set():
            try:
                if version is None:
                    version = self.relist()
                began = time.monotonic()
                version = self.follow(version)
                if time.monotonic() - began < MIN_PAUSE:
                    # A stream the server ends at once, again and again: do not spin on it.
                    self.stopping.wait(pause)
                    pause = min(MAX_PAUSE, pause * 2)
                else:
                    pause = MIN_PAUSE
            except _Gone:
                version = None
            except KubeApiError as error:
                logger.warning("watch of %s: %s; again in %.0f s", self.where, error, pause)
                self.stopping.wait(pause)
                pause = min(MAX_PAUSE, pause * 2)
            except Exception:  # the stream must outlive any surprise: the cache depends on it
                logger.exception("watch of %s failed; again in %.0f s", self.where, pause)
                self.stopping.wait(pause)
                pause = min(MAX_PAUSE, pause * 2)

    def relist(self) -> str:
        """Every current object to the sink; those gone since the last stream as DELETED."""
        items, version = self.api.list_collection(
            self.resource, self.namespace, label_selector=self.label_selector
        )
        present: set[tuple[str, str]] = set()
        for item in items:
            obj = {"apiVersion": self.resource.api_version, "kind": self.resource.kind, **item}
            present.add(_key(obj))
            self.on_event(None, obj)
        for namespace, name in sorted(self.known - present):
            gone = {"kind": self.resource.kind, "apiVersion": self.resource.api_version}
            self.on_event("DELETED", {**gone, "metadata": {"namespace": namespace, "name": name}})
        self.known = present
        return version

    def follow(self, version: str) -> str:
        """Deliver the watch's events until the server ends it; the last resourceVersion."""
        for event in self._events(version):
            kind = event.get("type")
            obj = event.get("object")
            if not isinstance(obj, dict):
                continue
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Gone
                raise KubeApiError(f"watch of {self.where}: {str(obj.get('message'))[:200]}")
            meta = obj.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            if kind == "BOOKMARK" or kind not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            obj = {"apiVersion": self.resource.api_version, "kind": self.resource.kind, **obj}
            if kind == "DELETED":
                self.known.discard(_key(obj))
            else:
                self.known.add(_key(obj))
            self.on_event(str(kind), obj)
            if self.stopping.is_set():
                break
        return version

    def _events(self, version: str) -> Iterator[dict[str, Any]]:
        for line in self.api.watch_lines(
            self.resource,
            self.namespace,
            resource_version=version,
            label_selector=self.label_selector,
            timeout_seconds=self.server_timeout,
        ):
            try:
                event = json.loads(line)
            except ValueError as error:
                raise KubeApiError(f"watch of {self.where}: an event is not JSON") from error
            if isinstance(event, dict):
                yield event


class _Gone(Exception):  # noqa: N818 - control flow: the resourceVersion is too old, relist
    pass


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace")), str(meta.get("name")))
