"""Turn decoded SyftBox data into typed events (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from syft_monitors.events import STATUS_EVENTS, Event, EventKind, JobDetails, JobRef
from syft_monitors.notify.preview import MAX_STDERR_BYTES
from syft_monitors.protocol.emails import normalize_email
from syft_monitors.protocol.jobs import (
    INBOX,
    REVIEW,
    JobLayout,
    MessageJob,
    extract_jobs,
    locate_job_path,
)
from syft_monitors.protocol.messages import EventsMessage, FileChange, ProposedChangesMessage
from syft_monitors.protocol.peers import PeersFile, PeerState

#: A finished or failed job was necessarily approved first; if the approval and the run happened
#: between two polls, the data scientist still deserves the "approved" email, in order.
IMPLIED_BEFORE: Mapping[EventKind, tuple[EventKind, ...]] = {
    EventKind.JOB_RUNNING: (EventKind.JOB_APPROVED,),
    EventKind.JOB_EXECUTED: (EventKind.JOB_APPROVED,),
    EventKind.JOB_FAILED: (EventKind.JOB_APPROVED,),
}


def _job_files(changes: Iterable[FileChange], job: MessageJob, area: str) -> dict[str, bytes]:
    """Contents of `job`'s files in `area` (inbox or review; "" for legacy), by relative path."""
    if job.layout is JobLayout.LEGACY:
        area = ""
    files: dict[str, bytes] = {}
    for change in changes:
        if change.content is None or change.is_deleted:
            continue
        where = locate_job_path(change.path)
        if (
            where is not None
            and where.layout is job.layout
            and where.area == area
            and where.name == job.name
            and where.submitter in (None, job.submitter)
        ):
            files[where.relative] = change.content
    return files


def job_events_from_proposal(message: ProposedChangesMessage, do_email: str) -> list[Event]:
    """NEW_JOB for every job a data scientist's proposal carries to this data owner."""
    events: list[Event] = []
    for job in extract_jobs(message).jobs:
        if normalize_email(job.datasite) != normalize_email(do_email):
            continue
        contents = _job_files(message.changes, job, INBOX)
        details = JobDetails(
            files={path: sha for path, sha in job.files.items() if sha is not None},
            code={path: data for path, data in contents.items() if path.startswith("code/")},
            run_sh=contents.get("run.sh"),
            config_yaml=contents.get("config.yaml"),
            submitted_at=_text(job.config, "submitted_at"),
            status="pending",
            config=dict(job.config or {}),
        )
        ref = JobRef(job.datasite, job.submitter, job.name)
        events.append(Event(EventKind.NEW_JOB, do_email, job=ref, details=details))
    return events


def status_events_from_log(message: EventsMessage, do_email: str) -> list[Event]:
    """Status changes (approved, running, done, failed, rejected) the data owner's log records."""
    events: list[Event] = []
    for job in extract_jobs(message).jobs:
        if normalize_email(job.datasite) != normalize_email(do_email) or job.status is None:
            continue
        kind = STATUS_EVENTS.get(job.status)
        if kind is None:
            continue
        outputs = _job_files(message.events, job, REVIEW)
        events.extend(
            status_events(
                JobRef(job.datasite, job.submitter, job.name),
                kind,
                do_email,
                state=job.state or {},
                stderr=outputs.get("stderr.txt"),
                return_code_text=outputs.get("returncode.txt"),
                source="drive",
            )
        )
    return events


def status_events(
    ref: JobRef,
    kind: EventKind,
    do_email: str,
    *,
    state: Mapping[str, object],
    stderr: bytes | None = None,
    return_code_text: bytes | None = None,
    source: str,
) -> list[Event]:
    """The event for a status, preceded by the ones it implies."""
    details = JobDetails(
        status=_text(state, "status"),
        approved_by=_text(state, "approved_by"),
        approval_method=_text(state, "approval_method"),
        return_code=_return_code(state, return_code_text),
        stderr_tail=_tail(stderr) if stderr is not None else None,
        reason=_text(state, "review_reason"),
    )
    kinds = [*IMPLIED_BEFORE.get(kind, ()), kind]
    return [Event(k, do_email, job=ref, details=details, source=source) for k in kinds]


def peer_events_from_peers_file(
    peers: PeersFile, previous: Mapping[str, str], do_email: str
) -> list[Event]:
    """PEER_GRANTED for every peer whose state became `accepted` since the last read."""
    events = []
    for email in sorted(peers.accepted()):
        if previous.get(normalize_email(email)) != PeerState.ACCEPTED.value:
            events.append(Event(EventKind.PEER_GRANTED, do_email, peer=email, source="drive"))
    return events


def peer_states(peers: PeersFile) -> dict[str, str]:
    return {normalize_email(email): record.state.value for email, record in peers.peers.items()}


def _text(mapping: Mapping[str, object] | None, key: str) -> str | None:
    value = (mapping or {}).get(key)
    return None if value is None else str(value)


def _return_code(state: Mapping[str, object], text: bytes | None) -> int | None:
    value = state.get("return_code")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if text is not None:
        try:
            return int(text.decode("ascii", "replace").strip())
        except ValueError:
            return None
    return None


def _tail(data: bytes) -> str:
    # Bounded here so an event never carries more stderr than an email can show.
    return data[-MAX_STDERR_BYTES:].decode("utf-8", "replace")
