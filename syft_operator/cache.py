"""What the watches showed, so that an idle reconcile reads nothing from the API server.

The operator watches its children (by the managed-by label) and the Secrets of its namespaces.
Every watch event stores a slimmed copy here; `CachedKubeApi.get` answers from it, and every
write the operator makes stores what the server returned. A reconcile of a SyftMonitor whose
children are all known therefore makes no request at all, and writes only where the comparison
with the cached object finds a difference (see `apply.py`).

What is kept is small on purpose: `managedFields` are dropped everywhere, the monitor's state
ConfigMap keeps only the keys the operator mirrors (not its state document, up to 512 KiB), its
heartbeat ConfigMap only each service's status keys (not its counters, nor holder leases), and
a Secret is kept only while some SyftMonitor names it (its values are needed for the pod
template's hash; they never leave the process), or for `RECENT_SECRET_TTL` seconds after its
last watch event: a Secret applied together with the SyftMonitor naming it usually arrives
first, and this spares each new SyftMonitor a GET of it.

A cache can be wrong: a relisted watch does not report objects deleted while it was down. So a
miss falls back to a GET (and remembers an absent object as such), a write that meets a 409
reads again with `fresh=True`, and the resync reads everything live once per
`SYFT_OPERATOR_VERIFY_INTERVAL`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from syft_monitors.state.kube_keys import STATUS_KEYS
from syft_operator import names
from syft_operator.kube import MERGE_PATCH, KubeApi, Obj, Resource
from syft_operator.status import compact_heartbeat

Key = tuple[str, str, str]
#: How long a Secret no SyftMonitor names stays known after its last watch event (seconds).
RECENT_SECRET_TTL = 60.0


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace")), str(meta.get("name")))


def slim(obj: Mapping[str, Any]) -> Obj:
    """A shallow copy without what the operator never reads."""
    out = {k: v for k, v in obj.items() if k != "metadata"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    out["metadata"] = meta
    labels = meta.get("labels") or {}
    component = labels.get(names.LABEL_COMPONENT) if obj.get("kind") == "ConfigMap" else None
    if component == "state":
        data = obj.get("data") or {}
        out["data"] = {k: data[k] for k in STATUS_KEYS if k in data}
        out.pop("binaryData", None)
    elif component == "heartbeat":
        out["data"] = compact_heartbeat(obj.get("data"))
        out.pop("binaryData", None)
    return out


def _packed(obj: Mapping[str, Any]) -> str:
    # Compact JSON: a third of the memory of the dicts, and every lookup gets its own copy.
    return json.dumps(slim(obj), separators=(",", ":"))


class ObjectCache:
    """Thread-safe `(kind, namespace, name)` -> last known object, or None when known absent."""

    def __init__(
        self,
        keep_secret: Callable[[str, str], bool] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._objects: dict[Key, str | None] = {}
        #: Bumped by every watch event of a key: a GET that started before must not overwrite.
        self._versions: dict[Key, int] = {}
        self._lock = threading.Lock()
        self._keep_secret = keep_secret or (lambda _ns, _name: True)
        #: Secrets no SyftMonitor names (yet): key -> (monotonic expiry, packed), oldest first.
        self._recent: dict[Key, tuple[float, str]] = {}
        self._clock = clock

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for value in self._objects.values() if value is not None)

    def observe(self, obj: Mapping[str, Any], *, deleted: bool = False) -> None:
        """A watch event (or a write's response): the newest state of the object."""
        key = key_of(obj)
        if key[0] == "Secret" and not deleted and not self._keep_secret(key[1], key[2]):
            now = self._clock()
            packed = _packed(obj)
            with self._lock:
                self._versions[key] = self._versions.get(key, 0) + 1
                self._objects.pop(key, None)
                self._recent.pop(key, None)  # re-inserted last: the dict stays in expiry order
                self._recent[key] = (now + RECENT_SECRET_TTL, packed)
                self._expire(now)
            return
        value = None if deleted else _packed(obj)
        with self._lock:
            self._versions[key] = self._versions.get(key, 0) + 1
            self._objects[key] = value
            self._recent.pop(key, None)

    def lookup(self, key: Key) -> tuple[bool, Obj | None]:
        """(known, object): known False means ask the API server."""
        with self._lock:
            if key not in self._objects:
                recent = self._recent.pop(key, None)
                if recent is None or recent[0] <= self._clock():
                    return False, None
                # Named now (that is why it is asked for): kept from here on.
                self._objects[key] = recent[1]
            value = self._objects[key]
        return True, json.loads(value) if value is not None else None

    def _expire(self, now: float) -> None:
        """Under the lock: forget the recent Secrets whose time is up (the oldest come first)."""
        while self._recent:
            key, (expiry, _) = next(iter(self._recent.items()))
            if expiry > now:
                return
            del self._recent[key]

    def version(self, key: Key) -> int:
        with self._lock:
            return self._versions.get(key, 0)

    def store_read(self, key: Key, obj: Obj | None, version: int) -> None:
        """A GET's answer, unless a watch event for the key came in since the GET started."""
        value = _packed(obj) if obj is not None else None
        with self._lock:
            if self._versions.get(key, 0) != version:
                return
            self._objects[key] = value

    def assume_absent(self, key: Key) -> None:
        """Absent unless a watch event or a read said otherwise (never overwrites)."""
        with self._lock:
            self._objects.setdefault(key, None)

    def drop(self, key: Key) -> None:
        with self._lock:
            self._objects.pop(key, None)
            self._recent.pop(key, None)


class CachedKubeApi(KubeApi):
    """A `KubeApi` whose reads come from the watch cache; writes go through and are remembered.

    `fresh=True` (the periodic verification) reads everything live and refreshes the cache."""

    def __init__(self, api: KubeApi, cache: ObjectCache, *, fresh: bool = False) -> None:
        # Shares the official client of `api`; nothing of its own to close.
        super().__init__(api.api_client)
        self.inner = api
        self.cache = cache
        self.fresh = fresh

    def close(self) -> None:
        return None

    def get(
        self, resource: Resource, namespace: str, name: str, *, fresh: bool = False
    ) -> Obj | None:
        key = (resource.kind, namespace, name)
        if not (fresh or self.fresh):
            known, value = self.cache.lookup(key)
            if known:
                return value
        version = self.cache.version(key)
        live = self.inner.get(resource, namespace, name)
        self.cache.store_read(key, live, version)
        return live

    def create(self, resource: Resource, namespace: str, body: Obj) -> Obj:
        return self._kept(self.inner.create(resource, namespace, body))

    def replace(self, resource: Resource, namespace: str, name: str, body: Obj) -> Obj:
        return self._kept(self.inner.replace(resource, namespace, name, body))

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        body: Obj | list[Obj],
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> Obj:
        result = self.inner.patch(
            resource, namespace, name, body, subresource=subresource, content_type=content_type
        )
        if subresource is None:
            self._kept(result)
        return result

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        gone = self.inner.delete(resource, namespace, name)
        self.cache.drop((resource.kind, namespace, name))
        return gone

    def list_objects(self, resource: Resource, namespace: str) -> list[Obj]:
        return self.inner.list_objects(resource, namespace)

    def assume_absent(self, resource: Resource, namespace: str, name: str) -> None:
        self.cache.assume_absent((resource.kind, namespace, name))

    def _kept(self, obj: Obj) -> Obj:
        if obj.get("kind") and (obj.get("metadata") or {}).get("name"):
            self.cache.observe(obj)
        return obj
