"""Who gets which email for each event: the notification catalogue.

| event         | data owner (DO)                                 | data scientist (DS)            |
|---------------|-------------------------------------------------|--------------------------------|
| NEW_JOB       | ``Job: {job}`` (starts the job thread, code)    | ``Job Submitted: {job}``       |
| JOB_APPROVED  | ``Re: Job: {job}`` (approved by / method)       | ``Job Approved: {job}``        |
| JOB_RUNNING   | nothing                                         | nothing                        |
| JOB_EXECUTED  | ``Re: Job: {job}``                              | ``Job Completed: {job}``       |
| JOB_FAILED    | ``Re: Job: {job}`` (return code, stderr tail)   | ``Job Failed: {job}`` (code)   |
| JOB_REJECTED  | ``Re: Job: {job}`` (reason)                     | ``Job Not Approved: {job}``    |
| APPROVAL_WITHDRAWN | ``Re: Job: {job}`` (what changed)          | nothing                        |
| NEW_PEER      | ``New Peer Request from {ds}``                  | ``Peer Request Sent to {do}``  |
| PEER_GRANTED  | by a rule: ``Peer Accepted Automatically: {ds}``| ``Peer Request Accepted: {do}``|

The data scientist's failure email has the exit code; the stderr tail only with
`share_stderr_with_ds` (it may show the owner's data). Toggles: `notify_ds_on_failed`,
`notify_on_peer_accepted_by_rule` (the owner's email when the approve service accepted a peer).

DO emails about one job form one thread: they share `thread_key` (the job key) and, once the
first one was sent, reply to it (`In-Reply-To`/`References` = its Message-ID, subject
``Re: Job: {job}``). Without a known thread (the new-job email was never sent, e.g. the toggle was
off or the job predates the monitor) a failure stands alone as ``Job Failed: {job}``; an
approval, completion or rejection instead opens the job's thread with the subject ``Job: {job}``,
so that the emails after it (``Re: Job: {job}``) match its subject and Gmail threads them.

In subjects the job name is cut at 150 characters, so ``Job: {job}`` and ``Re: Job: {job}``
stay within the 200-character subject cap and remain identical apart from the ``Re:``.

The DO email comes first in every list: the caller sends in order, and the DS hears about a job
only after the DO did. Planning is pure: no clock (except the heartbeat's explicit `now`), no I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, assert_never

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from syft_monitors.errors import InvalidEmailError
from syft_monitors.events import Event, EventKind
from syft_monitors.notify.email import EmailFormat, OutgoingEmail, reference_token
from syft_monitors.notify.flood import FloodConfig
from syft_monitors.notify.preview import (
    MAX_FILE_BYTES,
    MAX_STDERR_BYTES,
    MAX_TOTAL_CODE_BYTES,
    build_code_preview,
    list_file_names,
    tail_text,
)
from syft_monitors.notify.render import Renderer, default_renderer
from syft_monitors.notify.review import REVIEW_HEADER, build_review
from syft_monitors.notify.sanitize import clean_block, clean_line, sanitize_header
from syft_monitors.protocol.emails import is_valid_email, safe_repr

logger = logging.getLogger(__name__)

Role = Literal["do", "ds"]
EVENT_HEADER = "X-Syft-Monitor-Event"
MAX_SUBJECT_NAME_CHARS = 150
HEARTBEAT_SUBJECT = "heartbeat: syft-bg still running, token is active"


class NotifyConfig(BaseModel):
    """Which notifications are sent and how (the seed's configuration keys and defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    notify_on_new_job: bool = True
    #: The old seed module also spelled it ``notify_on_job_approved``.
    notify_on_approved: bool = Field(
        default=True, validation_alias=AliasChoices("notify_on_approved", "notify_on_job_approved")
    )
    notify_on_executed: bool = True
    notify_on_failed: bool = True
    notify_on_rejected: bool = True
    notify_on_new_peer: bool = True
    notify_on_peer_granted: bool = True
    #: The data scientist is told their job failed (status and exit code).
    notify_ds_on_failed: bool = True
    #: ... and also sees the tail of the job's stderr, which may hold the owner's data or paths.
    share_stderr_with_ds: bool = False
    #: The data owner is told when the approve service accepted a peer by a rule.
    notify_on_peer_accepted_by_rule: bool = True
    email_format: EmailFormat = "html"
    #: The new-job email tells the owner they may approve or deny by replying to it (set from
    #: `approve.email_replies`: the approve service reads the replies).
    email_replies: bool = False
    heartbeat_enabled: bool = False
    #: Seconds between heartbeat emails; one day, so silence for more than a day means trouble.
    heartbeat_interval: int = Field(default=86400, ge=60)
    #: Budgets, priorities and digests (`syft_monitors.notify.flood`).
    flood: FloodConfig = FloodConfig()

    def enabled(self, kind: EventKind) -> bool:
        """Whether events of `kind` produce any email."""
        toggles: Mapping[EventKind, bool] = {
            EventKind.NEW_JOB: self.notify_on_new_job,
            EventKind.JOB_APPROVED: self.notify_on_approved,
            EventKind.JOB_RUNNING: False,
            EventKind.JOB_EXECUTED: self.notify_on_executed,
            EventKind.JOB_FAILED: self.notify_on_failed,
            EventKind.JOB_REJECTED: self.notify_on_rejected,
            # A security notice: the owner must learn that an approval no longer stands.
            EventKind.APPROVAL_WITHDRAWN: True,
            EventKind.NEW_PEER: self.notify_on_new_peer,
            EventKind.PEER_GRANTED: self.notify_on_peer_granted
            or self.notify_on_peer_accepted_by_rule,
        }
        return toggles[kind]


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadInfo:
    """The first DO email of a job's thread, as recorded after it was sent."""

    message_id: str
    #: Gmail's threadId, when the sender has one.
    thread_id: str | None = None


def notification_key(event: Event, role: Role) -> str:
    return f"{event.key}:{role}"


# Friendly explanations for the rejection reasons the approve rules produce.
_REJECTION_TEXTS: tuple[tuple[str, str], ...] = (
    (
        "unknown peer",
        "The data owner has not accepted you as a peer yet, so your job could not be considered.",
    ),
    (
        "unapproved file",
        "The job contains a file the data owner has not approved to run.",
    ),
    (
        "hash mismatch",
        "The job's code differs from the version the data owner approved before.",
    ),
    (
        "no python files",
        "The job contains no Python file to run.",
    ),
)


def rejection_text(reason: str | None) -> str:
    """What the DS reads about why the job was not approved."""
    if not reason or not reason.strip():
        return "The data owner did not give a reason."
    cleaned = clean_block(reason).strip()
    lowered = cleaned.lower()
    for needle, text in _REJECTION_TEXTS:
        if needle in lowered:
            return f"{text} (Reason given: {cleaned})"
    return f"Your job was not approved: {cleaned}"


@dataclasses.dataclass(frozen=True, slots=True)
class _Planner:
    event: Event
    config: NotifyConfig
    thread: ThreadInfo | None
    renderer: Renderer

    @property
    def job_name(self) -> str:
        assert self.event.job is not None
        return self.event.job.name

    @property
    def subject_name(self) -> str:
        return sanitize_header(self.job_name, limit=MAX_SUBJECT_NAME_CHARS)

    def base_context(self, key: str) -> dict[str, object]:
        return {
            "account": clean_line(self.event.do_email),
            "reference": reference_token(key),
            "do_email": clean_line(self.event.do_email),
            "ds_email": clean_line(self.event.counterpart),
        }

    def email(
        self,
        role: Role,
        *,
        subject: str,
        template: str,
        title: str,
        context: Mapping[str, object] | None = None,
        reply: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> OutgoingEmail | None:
        to = self.event.do_email if role == "do" else self.event.counterpart
        if not is_valid_email(to):
            # A hostile or broken address must not stop the other recipient's email.
            logger.warning(
                "not emailing %s of %s: invalid address %s", role, self.event.key, safe_repr(to)
            )
            return None
        key = notification_key(self.event, role)
        full_context = self.base_context(key)
        full_context["title"] = title
        full_context.update(context or {})
        body = self.renderer.render(template, full_context, html=self.config.email_format != "text")
        job = self.event.job
        thread_key = job.key if role == "do" and job is not None else None
        in_reply_to = self.thread.message_id if reply and self.thread is not None else None
        return OutgoingEmail.build(
            to=to,
            subject=subject,
            text=body.text,
            html=body.html,
            notification_key=key,
            thread_key=thread_key,
            in_reply_to=in_reply_to,
            references=(in_reply_to,) if in_reply_to else (),
            headers={EVENT_HEADER: self.event.kind.value, **(headers or {})},
        )

    def job_context(self) -> dict[str, object]:
        return {"job_name": clean_line(self.job_name)}

    def do_thread_reply(
        self, status: str, standalone: str, context: Mapping[str, object]
    ) -> OutgoingEmail | None:
        threaded = self.thread is not None
        if threaded:
            subject = f"Re: Job: {self.subject_name}"
        elif status == "failed":
            subject = f"{standalone}: {self.subject_name}"
        else:
            subject = f"Job: {self.subject_name}"
        return self.email(
            "do",
            subject=subject,
            template="job_status_do",
            title=f"{standalone}: {clean_line(self.job_name, limit=120)}",
            context={
                **self.job_context(),
                "status": status,
                "status_label": _STATUS_LABELS[status],
                "approved_by": None,
                "approval_method": None,
                "return_code": None,
                "stderr": None,
                "reason": None,
                "max_stderr_bytes": MAX_STDERR_BYTES,
                **context,
            },
            reply=threaded,
        )

    def ds_status(
        self,
        status: str,
        subject_prefix: str,
        reason_text: str = "",
        extra: Mapping[str, object] | None = None,
    ) -> OutgoingEmail | None:
        return self.email(
            "ds",
            subject=f"{subject_prefix}: {self.subject_name}",
            template="job_status_ds",
            title=f"{subject_prefix}: {clean_line(self.job_name, limit=120)}",
            context={
                **self.job_context(),
                "status": status,
                "status_label": _STATUS_LABELS[status],
                "reason_text": reason_text,
                "return_code": None,
                "stderr": None,
                "max_stderr_bytes": MAX_STDERR_BYTES,
                **(extra or {}),
            },
        )

    # --- one method per event kind -----------------------------------------------------------

    def new_job(self) -> list[OutgoingEmail | None]:
        details = self.event.details
        names, more = list_file_names([*details.files, *details.code])
        review = build_review(details)
        do = self.email(
            "do",
            subject=f"Job: {self.subject_name}",
            template="new_job_do",
            title=f"New job: {clean_line(self.job_name, limit=120)}",
            context={
                **self.job_context(),
                "submitted_at": details.submitted_at,
                "files": names,
                "files_more": more,
                # The review shows code/ whole or not at all; other layouts keep the preview.
                "preview": review.preview if review.replyable else build_code_preview(details.code),
                "review": review,
                "email_replies": self.config.email_replies,
                "max_file_bytes": MAX_FILE_BYTES,
                "max_total_bytes": MAX_TOTAL_CODE_BYTES,
            },
            headers={REVIEW_HEADER: review.digest} if review.digest else None,
        )
        ds = self.email(
            "ds",
            subject=f"Job Submitted: {self.subject_name}",
            template="new_job_ds",
            title=f"Job submitted: {clean_line(self.job_name, limit=120)}",
            context=self.job_context(),
        )
        return [do, ds]

    def job_approved(self) -> list[OutgoingEmail | None]:
        details = self.event.details
        do = self.do_thread_reply(
            "approved",
            "Job Approved",
            {
                "approved_by": clean_line(details.approved_by) if details.approved_by else None,
                "approval_method": (
                    clean_line(details.approval_method) if details.approval_method else None
                ),
            },
        )
        return [do, self.ds_status("approved", "Job Approved")]

    def job_executed(self) -> list[OutgoingEmail | None]:
        do = self.do_thread_reply(
            "completed", "Job Completed", {"return_code": self.event.details.return_code}
        )
        return [do, self.ds_status("completed", "Job Completed")]

    def job_failed(self) -> list[OutgoingEmail | None]:
        details = self.event.details
        stderr = tail_text(details.stderr_tail) if details.stderr_tail else None
        do = self.do_thread_reply(
            "failed", "Job Failed", {"return_code": details.return_code, "stderr": stderr}
        )
        if not self.config.notify_ds_on_failed:
            return [do]
        # The owner's stderr may show their data or paths: the submitter sees it only if allowed.
        reason = (
            f"It stopped with exit code {details.return_code}."
            if details.return_code is not None
            else "It did not complete."
        )
        ds = self.ds_status(
            "failed",
            "Job Failed",
            reason,
            {
                "return_code": details.return_code,
                "stderr": stderr if self.config.share_stderr_with_ds else None,
            },
        )
        return [do, ds]

    def job_rejected(self) -> list[OutgoingEmail | None]:
        reason = self.event.details.reason
        do = self.do_thread_reply(
            "rejected",
            "Job Rejected",
            {"reason": clean_block(reason).strip() if reason else None},
        )
        return [do, self.ds_status("rejected", "Job Not Approved", rejection_text(reason))]

    def approval_withdrawn(self) -> list[OutgoingEmail | None]:
        reason = self.event.details.reason
        threaded = self.thread is not None
        do = self.email(
            "do",
            subject=f"{'Re: ' if threaded else ''}Job: {self.subject_name}",
            template="approval_withdrawn_do",
            title=f"Approval withdrawn: {clean_line(self.job_name, limit=120)}",
            context={
                **self.job_context(),
                "reason": clean_block(reason).strip() if reason else None,
            },
            reply=threaded,
        )
        return [do]

    def new_peer(self) -> list[OutgoingEmail | None]:
        do = self.email(
            "do",
            subject=f"New Peer Request from {self.event.counterpart}",
            template="new_peer_do",
            title="New peer request",
        )
        ds = self.email(
            "ds",
            subject=f"Peer Request Sent to {self.event.do_email}",
            template="new_peer_ds",
            title="Peer request sent",
        )
        return [do, ds]

    def peer_granted(self) -> list[OutgoingEmail | None]:
        planned: list[OutgoingEmail | None] = []
        if self.event.source == "approve" and self.config.notify_on_peer_accepted_by_rule:
            reason = self.event.details.reason
            planned.append(
                self.email(
                    "do",
                    subject=f"Peer Accepted Automatically: {self.event.counterpart}",
                    template="peer_accepted_do",
                    title="Peer accepted automatically",
                    context={"reason": clean_line(reason) if reason else None},
                )
            )
        if self.config.notify_on_peer_granted:
            planned.append(
                self.email(
                    "ds",
                    subject=f"Peer Request Accepted: {self.event.do_email}",
                    template="peer_granted_ds",
                    title="Peer request accepted",
                )
            )
        return planned


_STATUS_LABELS: Mapping[str, str] = {
    "approved": "Approved",
    "completed": "Completed",
    "failed": "Failed",
    "rejected": "Not approved",
}


def plan_notifications(
    event: Event,
    *,
    config: NotifyConfig,
    thread: ThreadInfo | None = None,
    renderer: Renderer | None = None,
) -> list[OutgoingEmail]:
    """The emails `event` causes, DO first; [] when its toggle is off or it needs none.

    `thread` is the job's first DO email (from state), used for the DO replies' threading.
    A recipient whose address is invalid is skipped (logged), the others still get theirs.
    """
    if not config.enabled(event.kind):
        return []
    planner = _Planner(event, config, thread, renderer or default_renderer())
    planned: list[OutgoingEmail | None]
    match event.kind:
        case EventKind.NEW_JOB:
            planned = planner.new_job()
        case EventKind.JOB_APPROVED:
            planned = planner.job_approved()
        case EventKind.JOB_RUNNING:
            # A transient state between approved and done/failed: tracked, never emailed.
            planned = []
        case EventKind.JOB_EXECUTED:
            planned = planner.job_executed()
        case EventKind.JOB_FAILED:
            planned = planner.job_failed()
        case EventKind.JOB_REJECTED:
            planned = planner.job_rejected()
        case EventKind.APPROVAL_WITHDRAWN:
            planned = planner.approval_withdrawn()
        case EventKind.NEW_PEER:
            planned = planner.new_peer()
        case EventKind.PEER_GRANTED:
            planned = planner.peer_granted()
        case _:
            assert_never(event.kind)
    return [email for email in planned if email is not None]


def plan_heartbeat(
    do_email: str,
    interval_seconds: int,
    now: datetime,
    *,
    config: NotifyConfig | None = None,
    renderer: Renderer | None = None,
) -> OutgoingEmail:
    """The periodic "still alive" email to the DO; `now` makes its key (one per tick)."""
    if not is_valid_email(do_email):
        raise InvalidEmailError(f"data owner address is not valid: {safe_repr(do_email)}")
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    owner = hashlib.sha256(do_email.lower().encode()).hexdigest()[:32]
    key = f"heartbeat:{owner}:{moment.strftime('%Y%m%dT%H%M%SZ')}:do"
    fmt = (config or NotifyConfig()).email_format
    body = (renderer or default_renderer()).render(
        "heartbeat",
        {
            "title": "syft-monitor heartbeat",
            "account": clean_line(do_email),
            "reference": reference_token(key),
            "do_email": clean_line(do_email),
            "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "interval_seconds": interval_seconds,
        },
        html=fmt != "text",
    )
    return OutgoingEmail.build(
        to=do_email,
        subject=HEARTBEAT_SUBJECT,
        text=body.text,
        html=body.html,
        notification_key=key,
        headers={EVENT_HEADER: "heartbeat"},
    )
