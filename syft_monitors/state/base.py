"""The `StateManager` interface: two primitives and the operations built on them.

A backend provides `load()` (a private copy of the stored document) and `update(fn)` (an atomic
read-modify-write: `fn` mutates a working copy, which is stored only if `fn` returns without
raising). Every operation below is one `update` or one read, so a backend that gets those two
right gets the whole API right. The exactly-once records (work items, seen facts, intents and
the notified record) are changed by `syft_monitors.runtime.ledger`, over the same two primitives
(e.g. `resolve_intent` moves an intent into `notified` in a single write); this class keeps the
storage, the cursor, the peers, the heartbeat and the seed API.

`fn` may run more than once: backends with optimistic concurrency (`OptimisticStateManager`, for
a ConfigMap's resourceVersion) re-run it on a fresh copy after losing a conflict. It must
therefore only mutate the document it is given, and must not keep a reference to it.

One poll reads the store once: inside `reading_once()` (the poll loop opens it around each
check) every read shares the document read first, and this thread's own writes replace it. A
write is always a fresh read-modify-write, so what must be decided on the stored state (claiming
a send) is still decided on it; `refresh()` makes the next read go to the store again.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import datetime as dt
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

from syft_monitors.errors import StateConflictError, StateError
from syft_monitors.state.compaction import CompactionPolicy, CompactionReport, compact_document
from syft_monitors.state.holders import gone_from_this_host, holder_id
from syft_monitors.state.model import (
    Heartbeat,
    NotifiedRecord,
    StateDocument,
    clip_error,
    parse_timestamp,
    to_timestamp,
    utc_now,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Stores without OS leases (ConfigMap): a holder that has not renewed for this long is gone.
#: Every state write of the holder renews it; requests are bounded far below this.
LEASE_TTL = 300.0


class Unchanged(Exception):  # noqa: N818 - control flow, not an error
    """Raised by an update function to finish without writing; `update` returns `result`.

    Saves a write (and its fsync or API call) when the function finds nothing to change.
    """

    def __init__(self, result: object = None) -> None:
        super().__init__()
        self.result = result


def legacy_key(entity_id: str, event_type: str) -> str:
    """The `notified` key under which the seed API's (entity, event) pairs are stored."""
    return f"{entity_id}:{event_type}"


def _check_json_value(value: object, depth: int = 0) -> None:
    # `data` must read back exactly as written: only JSON-native values are accepted.
    if depth > 64:
        raise ValueError("value is nested too deeply to store")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinities cannot be stored as JSON")
        return
    if isinstance(value, list):
        for item in value:
            _check_json_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("object keys must be strings to be stored as JSON")
            _check_json_value(item, depth + 1)
        return
    raise TypeError(f"{type(value).__name__} values cannot be stored as JSON")


class _ReadScope(threading.local):
    """One thread's `reading_once` scope: how deep it is nested, and the document it read."""

    depth = 0
    doc: StateDocument | None = None


class StateManager(abc.ABC):
    """Where the monitors remember what they saw and sent. See the module docstring."""

    def __init__(self, *, policy: CompactionPolicy | None = None) -> None:
        self.policy = policy if policy is not None else CompactionPolicy()
        self._scope = _ReadScope()

    # --- primitives (backends implement `_view` and `_update`) ------------------------------

    @abc.abstractmethod
    def _view(self) -> StateDocument:
        """The stored document (an empty one when nothing is stored yet), for reading only."""

    @abc.abstractmethod
    def _update(self, fn: Callable[[StateDocument], T]) -> T:
        """The backend's atomic read-modify-write (see `update`)."""

    def load(self) -> StateDocument:
        """A private copy of the stored document (an empty one when nothing is stored yet)."""
        return self.view().working_copy()

    def view(self) -> StateDocument:
        """The stored document for reading only: shared, never to be mutated (use `update`).

        Inside `reading_once()`, the document read first in the scope."""
        scope = self._scope
        if scope.depth == 0:
            return self._view()
        if scope.doc is None:
            scope.doc = self._view()
        return scope.doc

    def update(self, fn: Callable[[StateDocument], T]) -> T:
        """Apply `fn` to a working copy and store it atomically; return what `fn` returned.

        Nothing is stored when `fn` raises (the exception propagates) or raises `Unchanged`.
        """
        scope = self._scope
        if scope.depth == 0:
            return self._update(fn)
        written: list[StateDocument] = []

        def run(doc: StateDocument) -> T:
            written.clear()
            result = fn(doc)
            written.append(doc)
            return result

        try:
            result = self._update(run)
        finally:
            # What this thread stored is what it reads next; after anything else, the store.
            scope.doc = written[0] if written else None
        return result

    @contextlib.contextmanager
    def reading_once(self) -> Iterator[None]:
        """Reads in this thread share one read of the store until the scope ends (nestable).

        Meant for one poll: it reads the state document once, however many questions it asks.
        """
        scope = self._scope
        scope.depth += 1
        try:
            yield
        finally:
            scope.depth -= 1
            if scope.depth == 0:
                scope.doc = None

    def refresh(self) -> None:
        """Inside `reading_once()`: the next read goes to the store again."""
        self._scope.doc = None

    # --- seed API: (entity, event) notifications and free-form data --------------------------

    def was_notified(self, entity_id: str, event_type: str) -> bool:
        return legacy_key(entity_id, event_type) in self.view().notified

    def mark_notified(
        self, entity_id: str, event_type: str, *, now: dt.datetime | None = None
    ) -> None:
        key = legacy_key(entity_id, event_type)
        if key in self.view().notified:
            return
        record = NotifiedRecord(sent_at=to_timestamp(now))

        def mutate(doc: StateDocument) -> None:
            if key in doc.notified:
                raise Unchanged
            doc.notified[key] = record

        self.update(mutate)

    def get_data(self, key: str, default: Any = None) -> Any:
        data = self.view().data
        if key not in data:
            return default
        # A copy: mutating the result must not change what is stored (or cached).
        return copy.deepcopy(data[key])

    def set_data(self, key: str, value: Any) -> None:
        """Store a JSON value (None, bool, int, finite float, str, list, dict with str keys)."""
        _check_json_value(value)
        stored = copy.deepcopy(value)

        def mutate(doc: StateDocument) -> None:
            if key in doc.data and doc.data[key] == stored:
                raise Unchanged
            doc.data[key] = stored

        self.update(mutate)

    def delete_data(self, key: str) -> bool:
        """Remove `key`; True if it was there."""

        def mutate(doc: StateDocument) -> bool:
            if key not in doc.data:
                raise Unchanged(False)
            del doc.data[key]
            return True

        return self.update(mutate)

    # --- Drive changes cursor ---------------------------------------------------------------

    def get_cursor(self) -> str | None:
        return self.view().cursor

    def set_cursor(
        self, token: str | None, *, baseline: bool = False, now: dt.datetime | None = None
    ) -> None:
        """Store the next page token; `baseline=True` also records when the feed was started."""
        stamp = to_timestamp(now) if baseline else None

        def mutate(doc: StateDocument) -> None:
            if doc.cursor == token and stamp is None:
                raise Unchanged
            doc.cursor = token
            if stamp is not None:
                doc.cursor_baselined_at = stamp

        self.update(mutate)

    # --- leases: who may be sending right now ---------------------------------------------
    # A document-held lease by default (renewed by each claim and each recorded poll); the JSON
    # backend overrides the hooks with a flock that dies with its process. The ledger
    # (`syft_monitors.runtime.ledger`) takes and checks them around its claims.

    def hold_lease(self) -> None:
        """Make sure this process's lease is held before it claims anything."""
        self._hold_lease()

    def holder_alive(self, holder: str, doc: StateDocument) -> bool:
        """True while `holder` (a holder id) may still be sending."""
        return self._holder_alive(holder, doc)

    def renew_lease(self, doc: StateDocument) -> None:
        """Inside an update: renew this holder's lease."""
        self._renew_lease(doc)

    def _hold_lease(self) -> None:  # noqa: B027 - optional hook: document leases need nothing
        """Make sure this process's lease is held before it claims anything."""

    def _holder_alive(self, holder: str, doc: StateDocument) -> bool:
        if holder == holder_id():
            return True
        if gone_from_this_host(holder):  # a crashed process or restarted container: no wait
            return False
        renewed = doc.holders.get(holder)
        if renewed is None:
            return False
        return utc_now().timestamp() - parse_timestamp(renewed).timestamp() < LEASE_TTL

    def _renew_lease(self, doc: StateDocument) -> None:
        """Inside an update: renew this holder's document lease and forget expired ones."""
        now = utc_now()
        doc.holders = {
            holder: stamp
            for holder, stamp in doc.holders.items()
            if now.timestamp() - parse_timestamp(stamp).timestamp() < LEASE_TTL
        }
        doc.holders[holder_id()] = to_timestamp(now)

    # --- peers ------------------------------------------------------------------------------

    def peer_states(self) -> dict[str, str]:
        return dict(self.view().peers)

    def set_peer_states(self, peers: Mapping[str, str]) -> None:
        """Replace the last known peer states."""
        new = dict(peers)

        def mutate(doc: StateDocument) -> None:
            if doc.peers == new:
                raise Unchanged
            doc.peers = new

        self.update(mutate)

    # --- liveness ---------------------------------------------------------------------------

    def heartbeat(self, monitor: str | None = None) -> Heartbeat:
        """The liveness of `monitor`, or of all monitors on this state together."""
        doc = self.view()
        if monitor is None:
            return doc.heartbeat
        return doc.heartbeats.get(monitor, Heartbeat())

    def record_poll(
        self,
        success: bool,
        error: str | None = None,
        now: dt.datetime | None = None,
        *,
        events: int = 0,
        monitor: str | None = None,
    ) -> Heartbeat:
        """Note the end of one poll; `events` is how many events it produced. With `monitor`,
        that monitor's own heartbeat is updated too."""
        advance = poll_advance(success, error, now, events=events)

        def mutate(doc: StateDocument) -> Heartbeat:
            if holder_id() in doc.holders:
                self._renew_lease(doc)
            doc.heartbeat = advance(doc.heartbeat)
            if monitor is not None:
                doc.heartbeats[monitor] = advance(doc.heartbeats.get(monitor, Heartbeat()))
            return doc.heartbeat

        return self.update(mutate)

    # --- size -------------------------------------------------------------------------------

    def size_bytes(self) -> int:
        """Size of the stored document."""
        return len(self.view().to_json_bytes())

    def compact(
        self, *, now: dt.datetime | None = None, policy: CompactionPolicy | None = None
    ) -> CompactionReport:
        """Drop expired `seen`/`notified` entries (see `compaction`); writes only on change."""
        rules = policy if policy is not None else self.policy
        # Decided on a copy of what was read first: most runs find nothing and need no write.
        report = compact_document(self.load(), rules, now=now)
        if not report.changed:
            return report

        def mutate(doc: StateDocument) -> CompactionReport:
            report = compact_document(doc, rules, now=now)
            if not report.changed:
                raise Unchanged(report)
            return report

        return self.update(mutate)


class OptimisticStateManager(StateManager):
    """Base for stores with conditional writes (compare-and-swap on a version string).

    `update` reads the document and its version, runs `fn` on a copy and writes it back only if
    the version has not moved; on `StateConflictError` it starts over with a fresh read, up to
    `max_attempts` times, with a short random pause so competing writers spread out.
    """

    max_attempts: int = 10
    #: Upper bound of the pause before retry n, in seconds, times n.
    retry_pause: float = 0.005

    @abc.abstractmethod
    def _read(self) -> tuple[StateDocument, str | None]:
        """The stored document (may be a shared object: it is never mutated) and its version,
        None when nothing is stored yet."""

    @abc.abstractmethod
    def _write(self, doc: StateDocument, version: str | None) -> None:
        """Store `doc` if the stored version is still `version`, else raise StateConflictError.
        `version` None means "only if nothing is stored yet"."""

    def _view(self) -> StateDocument:
        return self._read()[0]

    def _update(self, fn: Callable[[StateDocument], T]) -> T:
        for attempt in range(1, self.max_attempts + 1):
            current, version = self._read()
            work = current.working_copy()
            try:
                result = fn(work)
            except Unchanged as unchanged:
                return cast(T, unchanged.result)
            try:
                self._write(work, version)
            except StateConflictError:
                logger.debug("state write conflict (attempt %d), retrying", attempt)
                # Jitter only needs to decorrelate writers, not to be unpredictable.
                time.sleep(random.uniform(0, self.retry_pause * attempt))  # noqa: S311
                continue
            return result
        raise StateError(f"state update lost {self.max_attempts} write conflicts in a row")


def poll_advance(
    success: bool, error: str | None, now: dt.datetime | None, *, events: int
) -> Callable[[Heartbeat], Heartbeat]:
    """How one finished poll moves a heartbeat (shared by every backend's `record_poll`)."""
    when = utc_now() if now is None else now
    stamp = to_timestamp(when)
    day = dt.datetime.fromisoformat(stamp).date().isoformat()
    if events < 0:
        raise ValueError("events must be >= 0")

    def advance(beat: Heartbeat) -> Heartbeat:
        changes: dict[str, Any] = {"last_poll_at": stamp}
        if success:
            changes["last_success_at"] = stamp
        else:
            changes["last_error"] = clip_error(error or "unknown error")
            changes["last_error_at"] = stamp
        if beat.events_day == day:
            changes["events_today"] = beat.events_today + events
        else:
            changes["events_day"] = day
            changes["events_today"] = events
        return beat.model_copy(update=changes)

    return advance
