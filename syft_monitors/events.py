"""Typed events: what the monitors detect and the notifiers turn into emails.

Every event has a stable `key` built from the data owner, the submitter, the job name and the
kind, so the same fact seen twice (from the Drive feed and from the local disk, or after a
restart) is recognised as one event. Two data scientists using the same job name never collide.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping


class EventKind(enum.StrEnum):
    NEW_JOB = "new_job"
    JOB_APPROVED = "job_approved"
    JOB_RUNNING = "job_running"
    JOB_EXECUTED = "job_executed"
    JOB_FAILED = "job_failed"
    JOB_REJECTED = "job_rejected"
    #: An approved job changed before it ran; the approval was taken back (owner only).
    APPROVAL_WITHDRAWN = "approval_withdrawn"
    NEW_PEER = "new_peer"
    PEER_GRANTED = "peer_granted"

    @property
    def is_job(self) -> bool:
        return self not in (EventKind.NEW_PEER, EventKind.PEER_GRANTED)


#: Job status (state.yaml `status`, or legacy marker) -> the event it announces.
STATUS_EVENTS: Mapping[str, EventKind] = {
    "approved": EventKind.JOB_APPROVED,
    "running": EventKind.JOB_RUNNING,
    "done": EventKind.JOB_EXECUTED,
    "failed": EventKind.JOB_FAILED,
    "rejected": EventKind.JOB_REJECTED,
}


@dataclasses.dataclass(frozen=True, slots=True)
class JobRef:
    """A job is identified by its datasite (the DO), its submitter (the DS) and its name."""

    datasite: str
    submitter: str
    name: str

    @property
    def key(self) -> str:
        # Hashed so that hostile names cannot smuggle separators or huge strings into state keys.
        raw = f"{self.datasite.lower()}\x00{self.submitter.lower()}\x00{self.name}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@dataclasses.dataclass(frozen=True, slots=True)
class JobDetails:
    """What we know about a job when the event is emitted (all optional: sources differ)."""

    files: Mapping[str, str] = dataclasses.field(default_factory=dict)  # relative path -> sha256
    code: Mapping[str, bytes] = dataclasses.field(default_factory=dict)  # relative path -> content
    #: The submission's `run.sh` and `config.yaml` bytes (new-job events, when known).
    run_sh: bytes | None = None
    config_yaml: bytes | None = None
    submitted_at: str | None = None
    status: str | None = None
    approved_by: str | None = None
    approval_method: str | None = None
    return_code: int | None = None
    stderr_tail: str | None = None
    reason: str | None = None
    config: Mapping[str, object] = dataclasses.field(default_factory=dict)
    #: The source did not read every code file (a size cap, an unreadable file): `code` is not
    #: the whole job, so no email can show it whole.
    code_truncated: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    do_email: str
    job: JobRef | None = None
    peer: str | None = None  # the DS email for peer events
    details: JobDetails = dataclasses.field(default_factory=JobDetails)
    source: str = "drive"  # "drive" | "local" | "manual" | "approve"
    #: Tells apart facts that can recur for one job (each withdrawn approval); part of the key.
    instance: str | None = None

    def __post_init__(self) -> None:
        if self.kind.is_job and self.job is None:
            raise ValueError(f"{self.kind} needs a job")
        if not self.kind.is_job and not self.peer:
            raise ValueError(f"{self.kind} needs a peer")

    @property
    def key(self) -> str:
        """Stable identity of the fact, independent of where it was seen."""
        if self.job is not None:
            suffix = f":{self.instance}" if self.instance else ""
            return f"{self.kind.value}:{self.job.key}{suffix}"
        assert self.peer is not None
        digest = hashlib.sha256(f"{self.do_email.lower()}\x00{self.peer.lower()}".encode())
        return f"{self.kind.value}:{digest.hexdigest()[:32]}"

    @property
    def counterpart(self) -> str:
        """The data scientist concerned by the event."""
        if self.job is not None:
            return self.job.submitter
        assert self.peer is not None
        return self.peer
