"""The exactly-once ledger: what was seen, what is pending, what was sent.

Three records of the state document together make delivery exactly once, and this module is the
only one that changes them:

- work items (`doc.work`): Drive files that matter and are not fully handled yet; stored with the
  cursor that read them (one write), deleted when all their emails are recorded;
- facts already observed (`doc.seen`): processed files and delivered events, so a re-read change
  or a restart never handles them twice;
- intents and the notified record (`doc.intents`, `doc.notified`, `doc.threads`): an intent is
  stored before each send and replaced by the notified record after it, in one write, so a crash
  at any moment leaves either the intent (the send is looked up or retried) or the record.

The `Ledger` is a view over a `StateManager`: it holds no state of its own, so any number of them
may share one store. Every operation is one `update` or one read of the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from syft_monitors.state.base import StateManager, Unchanged
from syft_monitors.state.holders import holder_id
from syft_monitors.state.model import (
    NotifiedRecord,
    SeenRecord,
    SendIntent,
    StateDocument,
    ThreadRecord,
    WorkRecord,
    clip_error,
    to_timestamp,
)


class Ledger:
    """Work items, observed facts, send intents and the notified record of one state store."""

    def __init__(self, state: StateManager) -> None:
        self.state = state

    # --- facts already observed -------------------------------------------------------------

    def is_seen(self, key: str) -> bool:
        return key in self.state.view().seen

    def unseen(self, keys: Iterable[str]) -> list[str]:
        """The keys not seen yet, in order, without duplicates."""
        seen = self.state.view().seen
        return list(dict.fromkeys(k for k in keys if k not in seen))

    def mark_seen(self, keys: Iterable[str], kind: str, *, now: dt.datetime | None = None) -> int:
        """Record facts as observed; returns how many were new. Existing entries keep their
        first-seen time (so re-observing a fact costs no write)."""
        fresh = self.unseen(keys)
        if not fresh:
            return 0
        record = SeenRecord(at=to_timestamp(now), kind=kind)

        def mutate(doc: StateDocument) -> int:
            added = 0
            for key in fresh:
                if key not in doc.seen:
                    doc.seen[key] = record
                    added += 1
            if not added:
                raise Unchanged(0)
            return added

        return self.state.update(mutate)

    # --- work items -------------------------------------------------------------------------

    def work_items(self) -> dict[str, WorkRecord]:
        """Drive file id -> pending work (a read-only view)."""
        return self.state.view().work

    @staticmethod
    def store_work(doc: StateDocument, work: Mapping[str, WorkRecord]) -> None:
        """Inside an update (the one that advances the cursor): keep `work` as pending items.

        A file that changed again before it was processed keeps its retry count and takes the
        newest content.
        """
        for file_id, record in work.items():
            existing = doc.work.get(file_id)
            doc.work[file_id] = (
                record
                if existing is None
                else record.model_copy(update={"attempts": existing.attempts})
            )

    def finish_work(
        self, file_id: str, seen_key: str | None, kind: str, *, events: Iterable[str] = ()
    ) -> None:
        """Delete a handled work item; `seen_key` records the file as processed, `events` the
        events it delivered (one write)."""
        now = to_timestamp()
        delivered = list(events)

        def write(doc: StateDocument) -> None:
            doc.work.pop(file_id, None)
            if seen_key is not None:
                doc.seen.setdefault(seen_key, SeenRecord(at=now, kind=kind))
            _record_events(doc, delivered, now)

        self.state.update(write)

    def retry_work(
        self,
        file_id: str,
        *,
        attempts: int,
        next_at: float,
        error: str,
        events: Iterable[str] = (),
    ) -> None:
        """Keep a work item for a later poll (no-op when it is gone meanwhile); the events it
        delivered before failing are recorded as seen in the same write."""
        now = to_timestamp()
        delivered = list(events)

        def write(doc: StateDocument) -> None:
            _record_events(doc, delivered, now)
            current = doc.work.get(file_id)
            if current is not None:
                doc.work[file_id] = current.model_copy(
                    update={"attempts": attempts, "next_at": next_at, "last_error": error[:500]}
                )

        self.state.update(write)

    # --- the notified record ----------------------------------------------------------------

    def is_notified(self, key: str) -> bool:
        return key in self.state.view().notified

    def notified_record(self, key: str) -> NotifiedRecord | None:
        return self.state.view().notified.get(key)

    # --- intents: before the send; the record after -----------------------------------------

    def intent(self, key: str) -> SendIntent | None:
        """The unresolved send recorded under `key`, if any."""
        return self.state.view().intents.get(key)

    def record_intent(self, intent: SendIntent) -> SendIntent | None:
        """Claim a send before making it. Returns the intent to use, or None: already sent.

        A retry of a pending intent keeps its `message_id` and `recorded_at` (so a duplicate
        that did leave is recognisable) and counts one more attempt.
        """
        return self.record_intents([intent]).get(intent.notification_key)

    def record_intents(self, intents: Iterable[SendIntent]) -> dict[str, SendIntent]:
        """`record_intent` for many sends in one write; keys already sent are left out, and so
        are keys whose intent another live process holds (see `held_by`)."""
        wanted = {intent.notification_key: intent for intent in intents}
        if not wanted:
            return {}
        me = holder_id()
        state = self.state
        state.hold_lease()

        def mutate(doc: StateDocument) -> dict[str, SendIntent]:
            claimed: dict[str, SendIntent] = {}
            for key, intent in wanted.items():
                if key in doc.notified:
                    continue
                previous = doc.intents.get(key)
                if previous is None:
                    doc.intents[key] = claimed[key] = intent.model_copy(update={"owner": me})
                elif previous.owner not in (None, me) and state.holder_alive(previous.owner, doc):
                    continue  # in flight in another process: never claimed twice
                else:
                    retry = previous.model_copy(
                        update={"attempts": previous.attempts + 1, "owner": me}
                    )
                    doc.intents[key] = claimed[key] = retry
            if not claimed:
                raise Unchanged(claimed)
            state.renew_lease(doc)
            return claimed

        return state.update(mutate)

    def held_by(self, key: str) -> str | None:
        """The other live process sending `key` right now, if any (its holder id)."""
        doc = self.state.view()
        intent = doc.intents.get(key)
        if intent is None or intent.owner in (None, holder_id()):
            return None
        return intent.owner if self.state.holder_alive(intent.owner, doc) else None

    def fail_intent(self, key: str, error: str, *, now: dt.datetime | None = None) -> bool:
        """Note why and when a send failed; the intent stays pending. False if there is no such
        intent."""
        message = clip_error(error)
        stamp = to_timestamp(now)

        def mutate(doc: StateDocument) -> bool:
            intent = doc.intents.get(key)
            if intent is None:
                raise Unchanged(False)
            doc.intents[key] = intent.model_copy(
                update={"last_error": message, "failed_at": stamp, "owner": None}
            )
            return True

        return self.state.update(mutate)

    def drop_intent(self, key: str) -> bool:
        """Give up on a send (permanent failure) without recording it as sent."""

        def mutate(doc: StateDocument) -> bool:
            if doc.intents.pop(key, None) is None:
                raise Unchanged(False)
            return True

        return self.state.update(mutate)

    def resolve_intent(
        self,
        key: str,
        record: NotifiedRecord,
        *,
        thread_job_key: str | None = None,
        with_change: Callable[[StateDocument], None] | None = None,
    ) -> None:
        """Record a send's result: the intent becomes a `notified` entry in one write.

        With `thread_job_key`, the email also becomes that job's thread root unless the job
        already has one. Resolving a key that has no intent still records it (idempotent).
        `with_change` makes another change in the same write (the flood counters of the send).
        """
        self.resolve_intents(
            {key: record}, thread_job_keys={key: thread_job_key}, with_change=with_change
        )

    def resolve_intents(
        self,
        records: Mapping[str, NotifiedRecord],
        *,
        thread_job_keys: Mapping[str, str | None] | None = None,
        with_change: Callable[[StateDocument], None] | None = None,
    ) -> None:
        """`resolve_intent` for many sends in one write."""
        threads = thread_job_keys or {}
        if not records:
            return

        def mutate(doc: StateDocument) -> None:
            sent = 0
            for key, record in records.items():
                doc.intents.pop(key, None)
                if key not in doc.notified:
                    sent += 1
                doc.notified[key] = record
                job_key = threads.get(key)
                if job_key is not None and record.message_id and job_key not in doc.threads:
                    doc.threads[job_key] = ThreadRecord(
                        message_id=record.message_id, thread_id=record.thread_id
                    )
            beat = doc.heartbeat
            doc.heartbeat = beat.model_copy(
                update={"notifications_sent": beat.notifications_sent + sent}
            )
            if with_change is not None:
                with_change(doc)

        self.state.update(mutate)

    def pending_intents(self) -> list[SendIntent]:
        """Sends whose outcome is unknown, oldest first."""
        return sorted(
            self.state.view().intents.values(), key=lambda i: (i.recorded_at, i.notification_key)
        )

    # --- email threads ----------------------------------------------------------------------

    def thread_for(self, job_key: str) -> ThreadRecord | None:
        return self.state.view().threads.get(job_key)

    def set_thread(self, job_key: str, message_id: str, thread_id: str | None = None) -> None:
        record = ThreadRecord(message_id=message_id, thread_id=thread_id)

        def mutate(doc: StateDocument) -> None:
            if doc.threads.get(job_key) == record:
                raise Unchanged
            doc.threads[job_key] = record

        self.state.update(mutate)


def _record_events(doc: StateDocument, keys: list[str], stamp: str) -> None:
    for key in keys:
        doc.seen.setdefault(key, SeenRecord(at=stamp, kind="event"))
