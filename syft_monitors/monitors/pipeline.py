"""One poll of a monitor: read Drive changes, persist what matters, turn it into emails.

The order is what makes it crash-safe:
1. read the source (changes feed or listing);
2. in ONE state update, store the work items the batch contains and advance the cursor (a crash
   before it re-reads the same changes; after it, the work items are durable);
3. process work items (download at most what matters, decode, dispatch emails exactly once) and
   delete each item only when all its emails are recorded; failures stay with backoff;
4. scan the local SyftBox folder, when there is one, and feed the same de-duplicated stream.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from syft_monitors.drive.api import DriveApi
from syft_monitors.drive.files import DriveFile
from syft_monitors.errors import (
    CredentialsError,
    ProtocolError,
    QuotaError,
    RateLimitedError,
    SendDeferredError,
    SyftMonitorError,
)
from syft_monitors.events import Event, EventKind
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.extract import (
    job_events_from_proposal,
    peer_events_from_peers_file,
    peer_states,
    status_events_from_log,
)
from syft_monitors.monitors.local import LocalScanner
from syft_monitors.protocol.emails import normalize_email, safe_repr
from syft_monitors.protocol.limits import DEFAULT_LIMITS, Limits
from syft_monitors.protocol.messages import (
    EventsMessage,
    MessageKind,
    ProposedChangesMessage,
    decode_message,
)
from syft_monitors.protocol.peers import parse_peers_file
from syft_monitors.runtime.classify import Folder, WorkKind, classify
from syft_monitors.runtime.delivery import Dispatcher
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.runtime.poll_loop import error_kind
from syft_monitors.runtime.sources import Batch, ChangesFeedSource, ListingSource, folders_in
from syft_monitors.state.base import StateManager, Unchanged
from syft_monitors.state.model import (
    FolderRecord,
    SeenRecord,
    StateDocument,
    WorkRecord,
    to_timestamp,
)

logger = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_CAP = 900.0
DOWNLOAD_CACHE_BYTES = 32 * 1024 * 1024
#: Hostile items remembered as reported (about 100 bytes each); beyond it the least recently seen
#: may be reported once more. Large enough that a listing of thousands of forgeries never thrashes.
MAX_REMEMBERED_REFUSALS = 50_000


@dataclasses.dataclass(slots=True)
class PollReport:
    changes: int = 0
    work_added: int = 0
    work_done: int = 0
    work_pending: int = 0
    events: int = 0
    emails: int = 0
    baseline: bool = False


class Pipeline:
    """Detection and notification for one data owner and a set of interests."""

    def __init__(
        self,
        name: str,
        do_email: str,
        *,
        interests: frozenset[WorkKind],
        drive: DriveApi | None,
        state: StateManager,
        dispatcher: Dispatcher,
        metrics: MonitorMetrics,
        strategy: str = "changes",
        syftbox_root: Path | None = None,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.do_email = do_email
        self.interests = interests
        self.drive = drive
        self.state = state
        self.dispatcher = dispatcher
        self.ledger = dispatcher.ledger
        self.metrics = metrics
        self.limits = limits
        self.clock = clock
        self.source: ChangesFeedSource | ListingSource | None = None
        if drive is not None:
            self.source = (
                ListingSource(drive, interests, do_email)
                if strategy == "list"
                else ChangesFeedSource(drive, interests)
            )
        self.local = LocalScanner(syftbox_root, do_email) if syftbox_root else None
        self._downloads: OrderedDict[str, bytes] = OrderedDict()
        # Refusals already reported: a listing strategy sees the same hostile item every poll.
        self._refused: OrderedDict[int, None] = OrderedDict()

    # --- the poll -------------------------------------------------------------------------------

    def poll(self) -> PollReport:
        report = PollReport()
        if self.source is not None:
            cursor = self.state.view().cursors.get(self.name)
            batch = self.source.read(cursor)
            report.baseline = batch.baseline
            report.changes = len(batch.files) + len(batch.removed)
            report.work_added = self._ingest(batch)
            self._process_work(report)
            self._flush_digests(report)
        if self.local is not None and WorkKind.JOB_MESSAGE in self.interests:
            self._scan_local(report)
        return report

    # --- step 2: persist what matters -----------------------------------------------------------

    def _ingest(self, batch: Batch) -> int:
        doc = self.state.view()
        new_folders = folders_in(batch.files)
        fetched: dict[str, Folder | None] = {}

        def lookup(folder_id: str) -> Folder | None:
            if folder_id in new_folders:
                return new_folders[folder_id]
            cached = doc.folders.get(folder_id)
            if cached is not None:
                return Folder(cached.name, tuple(cached.owners))
            if folder_id not in fetched:  # one request per unknown parent, then cached in state
                fetched[folder_id] = self._fetch_folder(folder_id)
            return fetched[folder_id]

        work: dict[str, WorkRecord] = {}
        seen: dict[str, str] = {}
        for file in batch.files:
            found = classify(file, self.do_email, lookup, on_invalid=self._refuse)
            if found is None or found.kind not in self.interests:
                continue
            key = _file_key(found.kind, found.file.id)
            if key is not None and key in doc.seen:
                continue
            if batch.baseline and key is not None:
                seen[key] = found.kind.value
                if found.kind is WorkKind.PEER_CHANNEL and found.peer:
                    seen[Event(EventKind.NEW_PEER, self.do_email, peer=found.peer).key] = "event"
                continue
            work[found.file.id] = WorkRecord(
                kind=found.kind.value,
                file=found.file.to_json(),
                peer=found.peer,
                silent=batch.baseline,
            )
        folders = {**new_folders, **{k: v for k, v in fetched.items() if v is not None}}
        folder_records = {
            fid: FolderRecord(name=f.name, owners=list(f.owners)) for fid, f in folders.items()
        }
        now = to_timestamp()

        def nothing_to_store(doc: StateDocument) -> bool:
            cursor_moved = batch.cursor is not None and doc.cursors.get(self.name) != batch.cursor
            return not (folder_records or batch.removed or work or seen or cursor_moved)

        if nothing_to_store(doc):
            return 0  # an idle poll writes nothing

        def write(doc: StateDocument) -> None:
            if nothing_to_store(doc):
                raise Unchanged
            doc.folders.update(folder_records)
            for file_id in batch.removed:
                doc.folders.pop(file_id, None)
            Ledger.store_work(doc, work)
            for key, kind in seen.items():
                doc.seen.setdefault(key, SeenRecord(at=now, kind=kind))
            if batch.cursor is not None:
                doc.cursors[self.name] = batch.cursor

        self.state.update(write)
        return len(work)

    def _refuse(self, file: DriveFile, error: ProtocolError) -> None:
        """Log and count a hostile item once per version of it (a changed item is reported anew)."""
        key = hash((file.id, file.modified_time, str(error)))  # small and collision-free enough
        if key in self._refused:
            self._refused.move_to_end(key)
            return
        self._refused[key] = None
        if len(self._refused) > MAX_REMEMBERED_REFUSALS:
            self._refused.popitem(last=False)
        logger.warning("ignoring %s", error)
        self.metrics.errors.labels("protocol").inc()

    def _fetch_folder(self, folder_id: str) -> Folder | None:
        assert self.drive is not None
        try:
            file = self.drive.get(folder_id)
        except CredentialsError:
            raise
        except SyftMonitorError as error:
            logger.warning("cannot look up parent folder %s: %s", folder_id, error)
            return None
        return Folder(file.name, file.owners) if file.is_folder else None

    # --- step 3: work items ---------------------------------------------------------------------

    def _process_work(self, report: PollReport) -> None:
        now = self.clock()
        due = [
            (file_id, record)
            for file_id, record in self.ledger.work_items().items()
            if WorkKind(record.kind) in self.interests and record.next_at <= now
        ]
        # Jobs and accepted peers first: a flood of strangers' requests must not delay them.
        prioritise = self.dispatcher.config.flood.enabled
        due.sort(
            key=lambda item: (
                prioritise and item[1].kind == WorkKind.PEER_CHANNEL.value,
                _order_key(DriveFile.from_api(item[1].file)),
            )
        )
        for file_id, record in due:
            # The item's delivered events are recorded as seen with the item's own write (done,
            # or kept for a retry): a crash before it re-delivers them, finding their emails sent.
            delivered: list[str] = []
            try:
                events, after = self._events_for(file_id, record)
                for event in events:
                    report.events += self._deliver(
                        event, silent=record.silent, report=report, seen=delivered
                    )
                after()
            except ProtocolError as error:
                name = DriveFile.from_api(record.file).name
                logger.warning("skipping unreadable %s %r: %s", record.kind, name, error)
                self.metrics.errors.labels("protocol").inc()
                self._finish_work(file_id, record, delivered)
                report.work_done += 1
                continue
            except CredentialsError:
                self.ledger.mark_seen(delivered, "event")
                raise
            except SyftMonitorError as error:
                self._retry_later(file_id, record, error, delivered)
                if isinstance(error, QuotaError | RateLimitedError):
                    break  # asked to slow down, or our own window is full: no more sends now
                continue
            except BaseException:
                self.ledger.mark_seen(delivered, "event")
                raise
            self._finish_work(file_id, record, delivered)
            report.work_done += 1
        report.work_pending = sum(
            1 for r in self.ledger.work_items().values() if WorkKind(r.kind) in self.interests
        )
        self.metrics.pending_work.set(report.work_pending)

    def _flush_digests(self, report: PollReport) -> None:
        """Send the digests whose window closed; a failure leaves them for the next poll."""
        try:
            report.emails += self.dispatcher.flush_digests().emails
        except CredentialsError:
            raise
        except SyftMonitorError as error:
            level = logging.DEBUG if isinstance(error, SendDeferredError) else logging.WARNING
            logger.log(level, "digest not sent yet: %s", error)
            if not isinstance(error, SendDeferredError):
                self.metrics.errors.labels(error_kind(error)).inc()

    def _events_for(
        self, file_id: str, record: WorkRecord
    ) -> tuple[list[Event], Callable[[], None]]:
        kind = WorkKind(record.kind)
        if kind is WorkKind.PEER_CHANNEL:
            assert record.peer is not None
            known = self.state.view().peers.get(record.peer.lower())
            if known in ("accepted", "rejected"):
                return [], _nothing
            return [Event(EventKind.NEW_PEER, self.do_email, peer=record.peer)], _nothing
        data = self._download(file_id)
        if kind is WorkKind.PEERS_FILE:
            peers = parse_peers_file(data)
            previous = dict(self.state.view().peers)
            events = (
                [] if record.silent else peer_events_from_peers_file(peers, previous, self.do_email)
            )
            states = peer_states(peers)

            def store_peers() -> None:
                def write(doc: StateDocument) -> None:
                    doc.peers.clear()
                    doc.peers.update(states)

                self.state.update(write)

            return events, store_peers
        expected = (
            MessageKind.PROPOSED_CHANGES if kind is WorkKind.JOB_MESSAGE else MessageKind.EVENTS
        )
        message = decode_message(data, kind=expected, limits=self.limits)
        if isinstance(message, ProposedChangesMessage):
            sender = message.sender_email
            if record.peer is not None and normalize_email(sender) != normalize_email(record.peer):
                # A proposal speaks for whoever's channel carries it: a different claimed sender
                # would have us email that person, and show the owner a job they never sent.
                raise ProtocolError(
                    f"proposal in the channel of {record.peer} claims to be from "
                    f"{safe_repr(sender)}"
                )
            return job_events_from_proposal(message, self.do_email), _nothing
        assert isinstance(message, EventsMessage)
        return status_events_from_log(message, self.do_email), _nothing

    def _download(self, file_id: str) -> bytes:
        cached = self._downloads.get(file_id)
        if cached is not None:
            return cached
        assert self.drive is not None
        data = self.drive.download(file_id, max_bytes=self.limits.max_compressed_bytes)
        self._downloads[file_id] = data
        while sum(len(v) for v in self._downloads.values()) > DOWNLOAD_CACHE_BYTES:
            self._downloads.popitem(last=False)
        return data

    def _deliver(
        self, event: Event, *, silent: bool, report: PollReport, seen: list[str] | None = None
    ) -> int:
        """Dispatch one event unless already handled; returns 1 if it was new. The event is
        recorded as seen at once, or added to `seen` for the caller to record."""
        if self.ledger.is_seen(event.key) or (seen is not None and event.key in seen):
            return 0
        if not silent:
            outcome = self.dispatcher.dispatch(event)
            report.emails += outcome.emails
            self.metrics.events.labels(event.kind.value).inc()
        if seen is None:
            self.ledger.mark_seen([event.key], "event")
        else:
            seen.append(event.key)
        return 0 if silent else 1

    def _finish_work(self, file_id: str, record: WorkRecord, events: list[str]) -> None:
        key = _file_key(WorkKind(record.kind), file_id)
        self.ledger.finish_work(file_id, key, record.kind, events=events)
        self._downloads.pop(file_id, None)

    def _retry_later(
        self, file_id: str, record: WorkRecord, error: SyftMonitorError, events: list[str]
    ) -> None:
        if isinstance(error, SendDeferredError):
            # The plan working (a full sending window, a send settling), not a fault: no attempt
            # is counted, no backoff grows, no error is reported.
            attempts = record.attempts
            delay = error.retry_after
            level = logging.DEBUG if isinstance(error, RateLimitedError) else logging.INFO
        else:
            attempts = record.attempts + 1
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
            retry_after = getattr(error, "retry_after", None)
            if isinstance(retry_after, int | float):
                delay = max(delay, float(retry_after))
            level = logging.WARNING
            self.metrics.errors.labels(error_kind(error)).inc()
        next_at = self.clock() + delay
        logger.log(
            level, "will retry %s in %.0fs (attempt %d): %s", record.kind, delay, attempts, error
        )
        self.ledger.retry_work(
            file_id, attempts=attempts, next_at=next_at, error=str(error), events=events
        )

    # --- step 4: local disk ---------------------------------------------------------------------

    def _scan_local(self, report: PollReport) -> None:
        assert self.local is not None
        baseline = self.name + ":local" not in self.state.view().baselined
        for event in self.local.events():
            try:
                report.events += self._deliver(event, silent=baseline, report=report)
            except SendDeferredError as deferred:
                # Waiting on purpose (another process sends it, a send settling, the sending
                # limit): the rest keeps its order and comes at a later poll; not a failure.
                logger.info("local job events wait for a later poll: %s", deferred)
                break
        if baseline:
            now = to_timestamp()

            def write(doc: StateDocument) -> None:
                doc.baselined.setdefault(self.name + ":local", now)

            self.state.update(write)


def _nothing() -> None:
    return None


def _file_key(kind: WorkKind, file_id: str) -> str | None:
    """The `seen` key of a processed file; None for the peers file, which is re-read on change."""
    return None if kind is WorkKind.PEERS_FILE else f"file:{file_id}"


def _order_key(file: DriveFile) -> tuple[str, str]:
    # Message names embed their submission time; modifiedTime orders the rest.
    return (file.modified_time, file.name)
