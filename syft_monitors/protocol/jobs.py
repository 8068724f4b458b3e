"""Jobs as they travel inside messages: submissions in proposals, status changes in events.

Paths below are `path_in_datasite` values (relative to the data owner's datasite):

- current layout: submission `app_data/job/inbox/{ds}/{job}/{config.yaml, run.sh, code/...}`,
  status `app_data/job/review/{ds}/{job}/state.yaml` (plus logs and outputs);
- legacy layout: `app_data/job/{job}/...`, with empty marker files `approved` and `done` as status
  and no data scientist in the path (the submitter is the message sender, or `submitted_by` in
  `config.yaml` for events, which have no sender).

A job is identified by (submitter, name): two data scientists may use the same name. A submission
is recognised by a `config.yaml` at the root of its job folder. One bad job never hides the others:
`extract_jobs` returns the valid jobs plus a list of `(job folder, error)` for rejected ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from syft_monitors.errors import InvalidJobError, ProtocolError, UnsafePathError
from syft_monitors.protocol.emails import normalize_email, safe_repr, validate_email
from syft_monitors.protocol.limits import DEFAULT_LIMITS, Limits
from syft_monitors.protocol.messages import EventsMessage, FileChange, ProposedChangesMessage
from syft_monitors.protocol.paths import check_segment
from syft_monitors.protocol.safe_yaml import load_yaml_mapping

logger = logging.getLogger(__name__)

JOB_ROOT = "app_data/job"
INBOX = "inbox"
REVIEW = "review"
CONFIG_FILE = "config.yaml"
STATE_FILE = "state.yaml"
APPROVED_MARKER = "approved"
DONE_MARKER = "done"


class JobLayout(StrEnum):
    CURRENT = "current"
    LEGACY = "legacy"


class JobStatus(StrEnum):
    """Values of `status` in `state.yaml`; `received` is also "no state.yaml yet"."""

    RECEIVED = "received"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def validate_job_name(name: str) -> str:
    """Return `name` if it can be a job folder name, else raise `InvalidJobError`.

    Unicode, spaces and markup characters are accepted and kept literally (renderers escape them);
    `/`, `\\`, `.`/`..`, control characters (CR, LF, NUL...), bidi marks and names longer than
    255 UTF-8 bytes are not.
    """
    try:
        return check_segment(name, what="job name")
    except UnsafePathError as error:
        raise InvalidJobError(str(error)) from error


def status_from_state(state: dict[str, Any], *, what: str = STATE_FILE) -> JobStatus:
    """The `status` of a parsed `state.yaml`; `InvalidJobError` when missing or unknown."""
    value = state.get("status")
    if not isinstance(value, str):
        raise InvalidJobError(f"{what} has no status")
    try:
        return JobStatus(value)
    except ValueError as error:
        raise InvalidJobError(f"{what} has an unknown status {safe_repr(value)}") from error


def legacy_submitter(config: dict[str, Any]) -> str:
    """`submitted_by` of a legacy `config.yaml` (the current layout keeps it in the path)."""
    declared = config.get("submitted_by")
    if not isinstance(declared, str):
        raise InvalidJobError("legacy config.yaml has no submitted_by")
    return validate_email(declared, what="submitted_by")


@dataclass(frozen=True)
class JobLocation:
    """Where a `path_in_datasite` sits in the job tree."""

    layout: JobLayout
    #: "inbox" or "review" for the current layout, "" for legacy job folders.
    area: str
    #: The data scientist folder (unvalidated) for the current layout, None for legacy.
    submitter: str | None
    name: str
    #: The path under the job folder, e.g. "config.yaml" or "code/main.py".
    relative: str

    @property
    def job_dir(self) -> str:
        if self.layout is JobLayout.CURRENT:
            return f"{JOB_ROOT}/{self.area}/{self.submitter}/{self.name}"
        return f"{JOB_ROOT}/{self.name}"


def locate_job_path(path: str) -> JobLocation | None:
    """Classify a (validated) `path_in_datasite`; None when it is not inside a job folder."""
    parts = path.split("/")
    if parts[:2] != ["app_data", "job"] or len(parts) < 4:
        return None
    if parts[2] in (INBOX, REVIEW):
        if len(parts) < 6:
            return None
        return JobLocation(
            layout=JobLayout.CURRENT,
            area=parts[2],
            submitter=parts[3],
            name=parts[4],
            relative="/".join(parts[5:]),
        )
    return JobLocation(
        layout=JobLayout.LEGACY,
        area="",
        submitter=None,
        name=parts[2],
        relative="/".join(parts[3:]),
    )


@dataclass(frozen=True)
class MessageJob:
    """A job seen in one message.

    `files` maps paths under the submission folder (`inbox/{ds}/{job}/` or the legacy job folder,
    markers excluded) to the SHA-256 of the new content, or None for deletions. `config` is the
    parsed `config.yaml` when the message carries it. `status`/`state` are set only when the
    message carries a status change (`state.yaml`, or a legacy `approved`/`done` marker).
    Legacy-layout events carry no sender, so there the submitter is `submitted_by` of the
    `config.yaml` in the same message; a legacy marker without one is rejected.
    """

    name: str
    submitter: str
    datasite: str
    layout: JobLayout
    files: dict[str, str | None] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    status: str | None = None
    state: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Stable identity: (normalised submitter, name)."""
        return (normalize_email(self.submitter), self.name)


@dataclass(frozen=True)
class JobExtraction:
    jobs: list[MessageJob]
    #: (job folder `path_in_datasite`, why it was rejected)
    rejected: list[tuple[str, ProtocolError]]


def extract_jobs(
    message: ProposedChangesMessage | EventsMessage, *, limits: Limits = DEFAULT_LIMITS
) -> JobExtraction:
    """All jobs in `message`, plus the job folders that were rejected and why."""
    groups: dict[tuple[JobLayout, str | None, str], list[tuple[JobLocation, FileChange]]] = {}
    for change in message.changes:
        location = locate_job_path(change.path)
        if location is None:
            continue
        if isinstance(message, ProposedChangesMessage) and location.area == REVIEW:
            # Only the data owner writes review/; a proposal touching it is not a submission.
            continue
        key = (location.layout, location.submitter, location.name)
        groups.setdefault(key, []).append((location, change))

    jobs: list[MessageJob] = []
    rejected: list[tuple[str, ProtocolError]] = []
    for entries in groups.values():
        job_dir = entries[0][0].job_dir
        try:
            if isinstance(message, ProposedChangesMessage):
                job = _submission(entries, sender=message.sender_email, limits=limits)
            else:
                job = _event_job(entries, limits=limits)
        except ProtocolError as error:
            logger.warning("rejected job folder %s: %s", safe_repr(job_dir), error)
            rejected.append((job_dir, error))
            continue
        if job is not None:
            jobs.append(job)
    return JobExtraction(jobs=jobs, rejected=rejected)


def jobs_in_message(
    message: ProposedChangesMessage | EventsMessage, *, limits: Limits = DEFAULT_LIMITS
) -> list[MessageJob]:
    """The valid jobs of `extract_jobs` (rejections are logged)."""
    return extract_jobs(message, limits=limits).jobs


def _find(
    entries: Iterable[tuple[JobLocation, FileChange]], area: str, relative: str
) -> FileChange | None:
    for location, change in entries:
        if location.area == area and location.relative == relative and not change.is_deleted:
            return change
    return None


def _datasite(entries: list[tuple[JobLocation, FileChange]]) -> str:
    datasites = {normalize_email(change.datasite_email) for _, change in entries}
    if len(datasites) > 1:
        raise InvalidJobError("job files target more than one datasite")
    return entries[0][1].datasite_email


def _config(change: FileChange, *, limits: Limits) -> dict[str, Any]:
    if change.content is None:  # pragma: no cover - callers pass non-deleted changes
        raise InvalidJobError(f"{CONFIG_FILE} has no content")
    return load_yaml_mapping(change.content, what=CONFIG_FILE, limits=limits)


def _submission_files(
    entries: list[tuple[JobLocation, FileChange]], area: str, layout: JobLayout
) -> dict[str, str | None]:
    files: dict[str, str | None] = {}
    for location, change in entries:
        if location.area != area:
            continue
        if layout is JobLayout.LEGACY and location.relative in (APPROVED_MARKER, DONE_MARKER):
            continue
        files[location.relative] = change.new_hash
    return files


def _submission(
    entries: list[tuple[JobLocation, FileChange]], *, sender: str, limits: Limits
) -> MessageJob | None:
    first = entries[0][0]
    area = INBOX if first.layout is JobLayout.CURRENT else ""
    config_change = _find(entries, area, CONFIG_FILE)
    if config_change is None:
        return None
    name = validate_job_name(first.name)
    if first.layout is JobLayout.CURRENT:
        assert first.submitter is not None
        submitter = validate_email(first.submitter, what="job submitter folder")
        if normalize_email(submitter) != normalize_email(sender):
            raise InvalidJobError(
                f"job folder of {safe_repr(submitter)} was sent by {safe_repr(sender)}"
            )
    else:
        submitter = sender
    return MessageJob(
        name=name,
        submitter=submitter,
        datasite=_datasite(entries),
        layout=first.layout,
        files=_submission_files(entries, area, first.layout),
        config=_config(config_change, limits=limits),
    )


def _event_job(
    entries: list[tuple[JobLocation, FileChange]], *, limits: Limits
) -> MessageJob | None:
    first = entries[0][0]
    layout = first.layout
    area = INBOX if layout is JobLayout.CURRENT else ""
    config_change = _find(entries, area, CONFIG_FILE)
    status: JobStatus | None = None
    state: dict[str, Any] | None = None
    if layout is JobLayout.CURRENT:
        state_change = _find(entries, REVIEW, STATE_FILE)
        if state_change is not None and state_change.content is not None:
            state = load_yaml_mapping(state_change.content, what=STATE_FILE, limits=limits)
            status = status_from_state(state)
    elif _find(entries, "", DONE_MARKER) is not None:
        status = JobStatus.DONE
    elif _find(entries, "", APPROVED_MARKER) is not None:
        status = JobStatus.APPROVED
    if config_change is None and status is None:
        return None  # logs or outputs only: neither a submission nor a status change
    name = validate_job_name(first.name)
    config = None if config_change is None else _config(config_change, limits=limits)
    if layout is JobLayout.CURRENT:
        assert first.submitter is not None
        submitter = validate_email(first.submitter, what="job submitter folder")
    elif config is None:
        raise InvalidJobError("legacy status marker without a config.yaml naming the submitter")
    else:
        submitter = legacy_submitter(config)
    return MessageJob(
        name=name,
        submitter=submitter,
        datasite=_datasite(entries),
        layout=layout,
        files=_submission_files(entries, area, layout),
        config=config,
        status=None if status is None else str(status),
        state=state,
    )
