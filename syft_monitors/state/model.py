"""The state document: everything the monitors must remember between polls and restarts.

Records are immutable (frozen pydantic models) and only the containers that hold them are
mutable. That makes a working copy of a large document cheap (shallow copies of the dicts plus a
deep copy of the free-form `data`), which is what lets every mutation run on a copy and be
thrown away when it fails, even with tens of thousands of entries.

The document also reads the upstream (seed) state file, `{"notified_jobs": {entity: [event,
...]}, <any other key>: ...}`, which has no `schema_version`: its notifications become entries
of `notified` under the seed's key `f"{entity}:{event}"` and every other key moves into `data`,
where the seed's `get_data` finds it again.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticSerializationError

#: The version this code writes. Files with a larger number are refused, never downgraded.
#: 2: send intents name their holder (`owner`) and the document holds leases (`holders`);
#: version 1 files are read and rewritten as 2, which an older release refuses by its number
#: instead of taking the unknown fields for corruption.
#: 3: the approve service's peer retries are typed records (`approve_retries`) instead of
#: `data["approve"]["peer_retries"]`; older documents are migrated when read.
#: 4: the approve service's email-reply feed (history id, handled replies) is a typed record
#: (`email_replies`) instead of `data["email_replies"]`; older documents are migrated when read.
SCHEMA_VERSION = 4

#: Stored error strings are cut to this length: they are for humans and must not bloat state.
MAX_ERROR_LENGTH = 500


def _check_timestamp(value: str) -> str:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise ValueError("not an ISO 8601 timestamp") from e
    return value


#: An ISO 8601 timestamp as written by `isoformat()`. Naive values are read as UTC.
Timestamp = Annotated[str, AfterValidator(_check_timestamp)]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_timestamp(when: dt.datetime | None = None) -> str:
    """`when` (default: now) as an ISO 8601 string in UTC."""
    when = utc_now() if when is None else when
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat()


def parse_timestamp(value: str) -> dt.datetime:
    """The inverse of `to_timestamp`; naive values are taken as UTC."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def clip_error(error: str | None) -> str | None:
    if error is None or len(error) <= MAX_ERROR_LENGTH:
        return error
    return error[: MAX_ERROR_LENGTH - 1] + "…"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotifiedRecord(_Record):
    """An email that was handed to the mail service."""

    sent_at: Timestamp
    #: The RFC 5322 Message-ID we generated; None for entries recorded by the seed API.
    message_id: str | None = None
    #: The provider's own id (Gmail message id), when it returns one.
    provider_id: str | None = None
    thread_id: str | None = None
    #: Not sent on its own: folded into this digest email (its notification key) by flood control.
    digest: str | None = None


class SendIntent(_Record):
    """Written before a send and removed when its result is recorded.

    An intent that survives a crash means "this email may or may not have left": the sender
    retries with the same `message_id`, so a duplicate is recognisable as one by mail clients.
    """

    notification_key: str
    message_id: str
    recorded_at: Timestamp
    attempts: int = Field(default=1, ge=0)
    last_error: str | None = None
    #: When the last attempt failed (its fate unknown until Sent mail has settled).
    failed_at: Timestamp | None = None
    #: The process sending it right now (`state.holders.holder_id()`); None once an attempt
    #: has ended. Nobody else may claim the intent while that holder is alive.
    owner: str | None = None


class ThreadRecord(_Record):
    """The first email about a job to the data owner: later emails reply to it."""

    message_id: str
    thread_id: str | None = None


class SeenRecord(_Record):
    """A fact already observed (an event key, a processed Drive file)."""

    at: Timestamp
    kind: str


class FolderRecord(_Record):
    """A Drive folder's name and owners, cached so classification needs no request."""

    name: str
    owners: list[str] = Field(default_factory=list)


class WorkRecord(_Record):
    """A Drive change that matters and is not fully handled yet (retried with backoff)."""

    kind: str
    #: The file's metadata as the Drive API returned it (id, name, parents, owners, ...).
    file: dict[str, Any]
    peer: str | None = None
    attempts: int = Field(default=0, ge=0)
    #: Unix time before which the item is not retried.
    next_at: float = 0.0
    last_error: str | None = None
    #: Seen while taking the first baseline: record facts, send nothing.
    silent: bool = False


class PeerRetryRecord(_Record):
    """A peer request the approve service failed to accept; retried after `next_at`."""

    email: str
    #: The request's channel folder name (what the retry is made from).
    folder: str
    attempts: int = Field(default=1, ge=0)
    #: Unix time before which it is not retried.
    next_at: float = 0.0
    error: str = ""


class HandledReply(_Record):
    """A message in a job thread the approve service has dealt with (never read again)."""

    #: What came of it ("approved", "refused", "unknown", ...): for humans and tests.
    outcome: str
    at: Timestamp


class EmailRepliesRecord(_Record):
    """Where the approve service reads Gmail's history feed from, and the replies it handled."""

    #: The Gmail history id to resume from; None until the first baseline.
    history_id: str | None = None
    #: Gmail message id -> what was done with it. Bounded: `with_handled` keeps the newest
    #: `limit` and compaction drops old entries (see `state.compaction`).
    handled: dict[str, HandledReply] = Field(default_factory=dict)

    def with_handled(self, new: Mapping[str, str], at: str, *, limit: int) -> EmailRepliesRecord:
        """This record plus the `new` replies (id -> outcome), oldest dropped beyond `limit`."""
        handled = dict(self.handled)
        for key, outcome in new.items():
            handled.setdefault(key, HandledReply(outcome=outcome, at=at))
        excess = len(handled) - limit
        if excess > 0:
            # Oldest first by time, then by insertion: dict order breaks ties deterministically.
            order = sorted(enumerate(handled), key=lambda item: (handled[item[1]].at, item[0]))
            for _, key in order[:excess]:
                del handled[key]
        return self.model_copy(update={"handled": handled})


class Heartbeat(_Record):
    """Liveness counters, mirrored into the Kubernetes resource status by the operator."""

    last_poll_at: Timestamp | None = None
    last_success_at: Timestamp | None = None
    #: The most recent error. It is kept after a later success: compare `last_error_at` with
    #: `last_success_at` to know whether it is still current.
    last_error: str | None = None
    last_error_at: Timestamp | None = None
    notifications_sent: int = Field(default=0, ge=0)
    events_today: int = Field(default=0, ge=0)
    #: The UTC date (YYYY-MM-DD) `events_today` counts for.
    events_day: str | None = None


class DigestItem(_Record):
    """One folded email, listed in its digest."""

    key: str
    #: The stranger or peer the folded email was about.
    counterpart: str
    subject: str
    #: False for the copy addressed to the counterpart (it is counted, not listed).
    to_owner: bool = True


class DigestRecord(_Record):
    """A digest email collecting what flood control folded in one window; sent when it closes."""

    group: str
    do_email: str
    #: Unix time the window closes; nothing is added after it, so the email never changes.
    window_end: float
    items: list[DigestItem] = Field(default_factory=list)
    #: Folded beyond the items kept (state stays bounded, e.g. in a 1 MiB ConfigMap): emails to
    #: the owner (each a distinct address for peer requests) and copies to the requesters.
    more_to_owner: int = Field(default=0, ge=0)
    more_copies: int = Field(default=0, ge=0)


class FloodState(_Record):
    """Flood control's budget and windows (see `syft_monitors.notify.flood`)."""

    #: UTC date (YYYY-MM-DD) the daily counters are for.
    day: str | None = None
    sent_high: int = Field(default=0, ge=0)
    sent_low: int = Field(default=0, ge=0)
    #: Unix time before which low-priority mail waits (set by a Gmail quota error).
    paused_low_until: float = 0.0
    #: Start (Unix time) of the hourly window `counts` is for.
    window_start: float = 0.0
    #: Group ("sender:<address>", "burst:new_peer") -> emails to the owner this window.
    counts: dict[str, int] = Field(default_factory=dict)
    #: Wall times of the sends in the last rate-limit window: the limiter resumes from them.
    recent_sends: list[float] = Field(default_factory=list)
    #: Digest key -> a digest still to send.
    digests: dict[str, DigestRecord] = Field(default_factory=dict)


class StateDocument(BaseModel):
    """All persistent state of one monitor instance. Mutate only through `StateManager.update`."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    #: The Drive changes page token to resume from.
    cursor: str | None = None
    #: When the cursor was first taken (everything before it counts as pre-existing).
    cursor_baselined_at: Timestamp | None = None
    #: Notification key (e.g. "new_job:<job key>:do") -> what was sent.
    notified: dict[str, NotifiedRecord] = Field(default_factory=dict)
    #: Notification key -> a send that started and has no recorded result yet.
    intents: dict[str, SendIntent] = Field(default_factory=dict)
    #: Job key -> the root of the data owner's email thread about that job.
    threads: dict[str, ThreadRecord] = Field(default_factory=dict)
    #: Fact key (e.g. "file:<drive id>", an event key) -> when it was first observed.
    seen: dict[str, SeenRecord] = Field(default_factory=dict)
    #: Peer email -> last known peer state.
    peers: dict[str, str] = Field(default_factory=dict)
    #: All monitors on this state together (what the operator mirrors into the CR status).
    heartbeat: Heartbeat = Field(default_factory=Heartbeat)
    #: Monitor name -> that monitor's own liveness (notify and approve may share one state).
    heartbeats: dict[str, Heartbeat] = Field(default_factory=dict)
    #: Monitor name -> Drive changes cursor (monitors sharing one file keep separate cursors).
    cursors: dict[str, str] = Field(default_factory=dict)
    #: Source name -> when its first (silent) baseline was taken.
    baselined: dict[str, Timestamp] = Field(default_factory=dict)
    #: Drive folder id -> name and owners.
    folders: dict[str, FolderRecord] = Field(default_factory=dict)
    #: Drive file id -> pending work.
    work: dict[str, WorkRecord] = Field(default_factory=dict)
    #: Peer key (normalized address) -> a peer acceptance the approve service retries.
    approve_retries: dict[str, PeerRetryRecord] = Field(default_factory=dict)
    #: The approve service's email-reply feed (`approve.email_replies`).
    email_replies: EmailRepliesRecord = Field(default_factory=EmailRepliesRecord)
    #: Free-form JSON values (the seed API's get_data / set_data).
    data: dict[str, Any] = Field(default_factory=dict)
    #: Flood control: daily budget, windows, pending digests.
    flood: FloodState = Field(default_factory=FloodState)
    #: Holder id -> when it last renewed its lease, for stores without OS locks (ConfigMap).
    holders: dict[str, Timestamp] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _typed_approve_retries(cls, raw: Any) -> Any:
        """Version 2 kept the approve service's retries in `data["approve"]["peer_retries"]`."""
        if not isinstance(raw, dict):
            return raw
        data = raw.get("data")
        section = data.get(LEGACY_APPROVE_KEY) if isinstance(data, dict) else None
        if not isinstance(section, dict) or "peer_retries" not in section:
            return raw
        assert isinstance(data, dict)
        retries = dict(raw.get("approve_retries") or {})
        legacy = section.get("peer_retries")
        for key, entry in (legacy if isinstance(legacy, dict) else {}).items():
            record = _legacy_retry(entry)
            if record is not None:
                retries.setdefault(str(key), record)
        rest = {k: v for k, v in section.items() if k != "peer_retries"}
        new_data = {k: v for k, v in data.items() if k != LEGACY_APPROVE_KEY}
        if rest:
            new_data[LEGACY_APPROVE_KEY] = rest
        return {**raw, "data": new_data, "approve_retries": retries}

    @model_validator(mode="before")
    @classmethod
    def _typed_email_replies(cls, raw: Any) -> Any:
        """Version 3 kept the email-reply feed in `data["email_replies"]`."""
        if not isinstance(raw, dict):
            return raw
        data = raw.get("data")
        if not isinstance(data, dict) or LEGACY_REPLIES_KEY not in data:
            return raw
        new_data = {k: v for k, v in data.items() if k != LEGACY_REPLIES_KEY}
        if raw.get("email_replies"):
            return {**raw, "data": new_data}  # already typed: the typed record wins
        return {**raw, "data": new_data, "email_replies": _legacy_replies(data[LEGACY_REPLIES_KEY])}

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if not 1 <= value <= SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {value}")
        return value

    @property
    def is_empty(self) -> bool:
        """True before the first baseline: nothing seen, sent or resumable yet."""
        return (
            self.cursor is None
            and not self.cursors
            and not self.seen
            and not self.notified
            and not self.intents
        )

    def working_copy(self) -> StateDocument:
        """A copy that can be mutated freely without touching this document."""
        return StateDocument.model_construct(
            schema_version=SCHEMA_VERSION,  # what is written is always in this version's format
            cursor=self.cursor,
            cursor_baselined_at=self.cursor_baselined_at,
            notified=dict(self.notified),
            intents=dict(self.intents),
            threads=dict(self.threads),
            seen=dict(self.seen),
            peers=dict(self.peers),
            heartbeat=self.heartbeat,
            heartbeats=dict(self.heartbeats),
            cursors=dict(self.cursors),
            baselined=dict(self.baselined),
            folders=dict(self.folders),
            work=dict(self.work),
            approve_retries=dict(self.approve_retries),
            email_replies=self.email_replies,
            data=copy.deepcopy(self.data),
            flood=self.flood,
            holders=dict(self.holders),
        )

    def to_json_bytes(self) -> bytes:
        """Compact JSON; raises TypeError when a mutation stored a value of the wrong type."""
        try:
            text = self.model_dump_json(warnings="error")
        except PydanticSerializationError as e:
            # The message names the value, which may be anything: keep it in the cause only.
            raise TypeError("state document holds a value of the wrong type") from e
        return text.encode("utf-8")

    @classmethod
    def from_legacy(
        cls, raw: Mapping[str, Any], *, now: dt.datetime | None = None
    ) -> StateDocument:
        """Convert a seed/upstream state file (no `schema_version`)."""
        stamp = to_timestamp(now)
        notified: dict[str, NotifiedRecord] = {}
        legacy = raw.get("notified_jobs", {})
        if not isinstance(legacy, dict):
            raise ValueError("notified_jobs is not an object")
        for entity, events in legacy.items():
            if not isinstance(events, list) or not all(isinstance(ev, str) for ev in events):
                raise ValueError("notified_jobs values must be lists of strings")
            for event in events:
                notified[f"{entity}:{event}"] = NotifiedRecord(sent_at=stamp)
        data = {k: v for k, v in raw.items() if k != "notified_jobs"}
        try:
            return cls(notified=notified, data=data)
        except ValidationError as e:
            raise ValueError(f"legacy state cannot be converted ({e.error_count()} errors)") from e


#: Where version 2 documents kept the approve service's section of `data`.
LEGACY_APPROVE_KEY = "approve"


def _legacy_retry(entry: object) -> PeerRetryRecord | None:
    """A version-2 retry entry as a record; None when it cannot be retried anyway."""
    if not isinstance(entry, dict):
        return None
    email, folder = entry.get("email"), entry.get("folder")
    if not isinstance(email, str) or not isinstance(folder, str):
        return None
    try:
        return PeerRetryRecord(
            email=email,
            folder=folder,
            attempts=max(0, int(entry.get("attempts", 0))),
            next_at=float(entry.get("next_at", 0)),
            error=str(entry.get("error") or "")[:MAX_ERROR_LENGTH],
        )
    except (TypeError, ValueError):
        return None


#: Where version 3 documents kept the approve service's email-reply feed in `data`.
LEGACY_REPLIES_KEY = "email_replies"


def _legacy_replies(section: object) -> EmailRepliesRecord:
    """A version-3 `data["email_replies"]` section as a record; what cannot be read is dropped
    (a lost history id only means a re-baseline, which reads the pending jobs' threads)."""
    if not isinstance(section, dict):
        return EmailRepliesRecord()
    history_id = section.get("history_id")
    handled: dict[str, HandledReply] = {}
    entries = section.get("handled")
    for key, entry in (entries if isinstance(entries, dict) else {}).items():
        if not isinstance(entry, dict):
            continue
        try:
            handled[str(key)] = HandledReply(
                outcome=str(entry.get("outcome") or ""), at=str(entry.get("at"))
            )
        except ValidationError:
            continue
    return EmailRepliesRecord(
        history_id=history_id if isinstance(history_id, str) else None, handled=handled
    )
