"""Approve or deny a job by replying to its new-job email (`approve.email_replies`).

Replies are found through Gmail's history feed, read on the approve service's tick from a stored
history id (`StateDocument.email_replies`): an idle tick costs exactly one
`users.history.list`. Only messages added to a thread our notification started (the job threads
in state) are read. When Gmail no longer keeps the stored id (404, after about a week), the
service takes a new baseline and reads the threads of the jobs still pending, so a reply sent in
the gap is not lost. The first start does the same.

A reply counts only when all of this holds (every refusal is logged and counted, never acted on):

- it is in a thread our notification started (thread id in state);
- it was written from the owner's own account: Gmail's SENT label, which only the mailbox's own
  sends carry (a forged `From` header from outside never has it);
- it answers our email: our Message-ID is in its `In-Reply-To` or `References`;
- the job is still pending; one decision per job: later replies get "already approved/denied".

`approve` and `auto-approve` also need the job to be exactly what the email showed: the email
carries the digest of the files it showed (`notify.review`), read back from the owner's Sent
mail, and the job on disk must have that digest. The decision is written by the same writer as
every approval (`job_folders.approval`: `state.yaml` with `approval_method`, `approved_by`,
`approved_hashes`; a rejection with its reason), plus `decided_by_reply`: the reply's Gmail id.
The owner's thread then gets the usual "approved"/"rejected" email as the confirmation and the
data scientist the usual email, through the dispatcher (exactly once, shared with notify).

Crash safety: the history id advances only after every message of the page was handled, and a
handled message is recorded. A kill between writing the decision and recording the message makes
the next tick handle it again; it then finds its own decision (`decided_by_reply`) and only
finishes the notifications, which the dispatcher never sends twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from syft_monitors.approve.authoring import add_rule, rule_from_job
from syft_monitors.approve.config_file import edit_settings
from syft_monitors.approve.reply_commands import Command, CommandKind, parse_reply
from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule
from syft_monitors.errors import ConfigError, SyftMonitorError
from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.gmail.history import GmailReader, HistoryExpiredError, MailMessage
from syft_monitors.job_folders.approval import (
    DECIDED_BY_REPLY,
    is_eligible,
    submission_hashes,
    sync_lock,
    write_approval,
    write_rejection,
)
from syft_monitors.job_folders.listing import LocalJob, list_local_jobs
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.notify.email import KEY_HEADER, OutgoingEmail, is_message_id
from syft_monitors.notify.plan import ThreadInfo
from syft_monitors.notify.review import REVIEW_HEADER, review_digest
from syft_monitors.protocol.emails import normalize_email, safe_repr
from syft_monitors.protocol.jobs import JobLayout
from syft_monitors.runtime.delivery import Dispatcher
from syft_monitors.state.base import StateManager, Unchanged
from syft_monitors.state.model import StateDocument, ThreadRecord, to_timestamp

logger = logging.getLogger(__name__)

#: Handled reply ids kept (oldest dropped first): enough to outlive any history page.
MAX_HANDLED = 2000
THREAD_HEADERS = ["Message-ID", REVIEW_HEADER, KEY_HEADER]
ANSWER_LABEL = "email_reply"
_STATUS_WORDS = {
    "approved": "approved",
    "rejected": "denied",
    "running": "approved and is running",
    "done": "approved and has run",
    "failed": "approved and has run (it failed)",
}


class _SyncBusyError(SyftMonitorError):
    """The owner's sync holds its lock: the reply is handled on a later tick."""


@dataclasses.dataclass(slots=True)
class RepliesReport:
    baseline: bool = False
    expired: bool = False
    replies: int = 0
    decisions: int = 0
    refused: int = 0
    answers: int = 0


class EmailReplies:
    def __init__(
        self,
        do_email: str,
        reader: GmailReader,
        state: StateManager,
        *,
        syftbox_root: Path,
        dispatcher: Dispatcher,
        notify: Callable[[list[Event]], None],
        settings: Callable[[], ApproveSettings],
        config_path: Path | None,
        metrics: MonitorMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.do_email = do_email
        self.reader = reader
        self.state = state
        self.root = syftbox_root
        self.dispatcher = dispatcher
        self.notify = notify
        self.settings = settings
        self.config_path = config_path
        self.metrics = metrics
        self.clock = clock

    # --- the feed ---------------------------------------------------------------------------

    def step(self) -> RepliesReport:
        report = RepliesReport()
        doc = self.state.load()
        start = doc.email_replies.history_id
        threads = _job_threads(doc)
        if start is None:
            report.baseline = True
            self._rebaseline(threads, report)
            return report
        try:
            page = self.reader.history(start)
        except HistoryExpiredError:
            logger.warning(
                "Gmail no longer keeps the saved history id; reading the threads of pending jobs"
            )
            report.expired = True
            self._rebaseline(threads, report)
            return report
        handled = self.state.load().email_replies.handled
        try:
            for added in page.messages:
                job_key = threads.get(added.thread_id)
                if job_key is not None and added.id not in handled:
                    self._handle(added.id, job_key, report)
        except _SyncBusyError as later:
            logger.info("%s", later)
            return report  # the same page is read again next tick; handled replies are skipped
        if page.history_id != start:
            self._save(history_id=page.history_id)
        return report

    def _rebaseline(self, threads: Mapping[str, str], report: RepliesReport) -> None:
        """Take the current history id, then read the threads of every job still pending."""
        baseline = self.reader.current_history_id()
        pending = {_key(job): job for job in self._jobs() if is_eligible(job)}
        handled = self.state.load().email_replies.handled
        try:
            for thread_id, job_key in threads.items():
                if job_key not in pending:
                    continue
                for entry in self.reader.thread(thread_id, THREAD_HEADERS):
                    ours = KEY_HEADER.lower() in entry.headers and "SENT" in entry.label_ids
                    if not ours and entry.id not in handled:
                        self._handle(entry.id, job_key, report)
        except _SyncBusyError as later:
            logger.info("%s", later)
            return  # no baseline saved: the threads are read again next tick
        self._save(history_id=baseline)

    # --- one reply --------------------------------------------------------------------------

    def _handle(self, message_id: str, job_key: str, report: RepliesReport) -> None:
        mail = self.reader.message(message_id)
        if "DRAFT" in mail.label_ids:
            return  # an autosave; the sent message arrives on its own
        if mail.message.get(KEY_HEADER) is not None and "SENT" in mail.label_ids:
            self._done(message_id, "ours")  # our own notification in the thread
            return
        record = self.state.load().threads.get(job_key)
        if record is None:
            return
        report.replies += 1
        refusal = _refusal(mail, record, self.do_email)
        if refusal is not None:
            report.refused += 1
            self.metrics.email_replies.labels("refused").inc()
            logger.warning(
                "ignored a message in the thread of a job (%s): %s; From: %s",
                message_id,
                refusal,
                safe_repr(str(mail.message.get("From", "")), limit=120),
            )
            self._done(message_id, "refused")
            return
        command = parse_reply(mail.message)
        outcome = self._decide(mail, record, job_key, command, report)
        self.metrics.email_replies.labels(outcome).inc()
        logger.info("email reply %s (%s): %s", message_id, command.kind.value, outcome)
        self._done(message_id, outcome)

    def _decide(
        self,
        mail: MailMessage,
        record: ThreadRecord,
        job_key: str,
        command: Command,
        report: RepliesReport,
    ) -> str:
        if command.kind is CommandKind.EMPTY:
            return "empty"
        if command.kind is CommandKind.UNKNOWN:
            self._answer(mail, record, _help_text(command.line), report)
            return "unknown"
        job = next((j for j in self._jobs() if _key(j) == job_key), None)
        if job is None:
            self._answer(mail, record, "The job is no longer in your SyftBox folder.", report)
            return "not_found"
        if job.state.get(DECIDED_BY_REPLY) == mail.id:
            # Decided by this very reply before a restart: finish what followed the decision.
            self._announce(job, command, dict(job.state))
            report.decisions += 1
            return _decided_outcome(command)
        if not is_eligible(job):
            word = _STATUS_WORDS.get(job.status, job.status)
            self._answer(mail, record, f"Nothing changed: this job was already {word}.", report)
            return "already_decided"
        if job.layout is JobLayout.LEGACY:
            self._answer(mail, record, _LEGACY_TEXT, report)
            return "not_reviewable"
        with sync_lock(self.root) as held:
            if not held:
                raise _SyncBusyError("the owner's sync holds its lock; the reply waits a tick")
            return self._write(mail, record, job, command, report)

    def _write(
        self,
        mail: MailMessage,
        record: ThreadRecord,
        job: LocalJob,
        command: Command,
        report: RepliesReport,
    ) -> str:
        now = dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC)
        if command.kind is CommandKind.DENY:
            try:
                state = write_rejection(
                    self.root, job, self.do_email, now, command.reason, reply_id=mail.id
                )
            except (SyftMonitorError, OSError) as error:
                logger.error("could not write the rejection of %s: %s", safe_repr(job.name), error)
                self._answer(
                    mail, record, "The rejection could not be written; see the log.", report
                )
                return "failed"
            report.decisions += 1
            self._announce(job, command, state)
            return "denied"
        shown = self._shown_digest(record)
        if shown is None:
            self._answer(mail, record, _NOT_REVIEWABLE_TEXT, report)
            return "not_reviewable"
        try:
            hashes = submission_hashes(job.path)
        except SyftMonitorError as error:
            logger.info("job %s cannot be approved by reply: %s", safe_repr(job.name), error)
            hashes = {}
        if not hashes or review_digest(hashes) != shown:
            self._answer(mail, record, _CHANGED_TEXT, report)
            return "changed"
        method = "auto" if command.kind is CommandKind.AUTO_APPROVE else "manual"
        try:
            state = write_approval(
                self.root, job, self.do_email, now, hashes, method=method, reply_id=mail.id
            )
        except (SyftMonitorError, OSError) as error:
            logger.error("could not write the approval of %s: %s", safe_repr(job.name), error)
            self._answer(mail, record, "The approval could not be written; see the log.", report)
            return "failed"
        report.decisions += 1
        self._announce(job, command, state)
        return _decided_outcome(command)

    def _announce(self, job: LocalJob, command: Command, state: Mapping[str, Any]) -> None:
        """After the decision: the auto-approval rule, then the confirmation and DS emails."""
        ref = JobRef(job.datasite, job.submitter, job.name)
        if command.kind is CommandKind.DENY:
            event = Event(
                EventKind.JOB_REJECTED,
                self.do_email,
                job=ref,
                details=JobDetails(status="rejected", reason=command.reason),
                source="approve",
            )
        else:
            if command.kind is CommandKind.AUTO_APPROVE:
                self._add_rule(job)
            event = Event(
                EventKind.JOB_APPROVED,
                self.do_email,
                job=ref,
                details=JobDetails(
                    status="approved",
                    approved_by=str(state.get("approved_by") or self.do_email),
                    approval_method=str(state.get("approval_method") or "manual"),
                ),
                source="approve",
            )
        self.notify([event])

    def _add_rule(self, job: LocalJob) -> None:
        """An auto-approval rule pinning exactly this job, for its submitter (once)."""
        if self.config_path is None:
            logger.warning("auto-approve by reply: no config file to write the rule to")
            return
        try:
            rule = rule_from_job(self.settings(), job.path)
            if any(_same_rule(rule, existing) for existing in self.settings().auto_approvals):
                return

            def change(settings: ApproveSettings) -> ApproveSettings:
                if any(_same_rule(rule, existing) for existing in settings.auto_approvals):
                    return settings
                return add_rule(settings, rule)

            edit_settings(self.config_path, change)
        except (ConfigError, SyftMonitorError, OSError) as error:
            logger.error("auto-approve by reply: could not write the rule: %s", error)
            return
        logger.info(
            "auto-approval rule %s added for %s from job %s",
            safe_repr(rule.name),
            job.submitter,
            safe_repr(job.name),
        )

    def _shown_digest(self, record: ThreadRecord) -> str | None:
        """The review digest our new-job email carried, read from the owner's Sent mail."""
        if record.thread_id is None:
            return None
        for entry in self.reader.thread(record.thread_id, THREAD_HEADERS):
            if "SENT" in entry.label_ids and entry.headers.get("message-id") == record.message_id:
                return entry.headers.get(REVIEW_HEADER.lower()) or None
        return None

    def _answer(
        self, mail: MailMessage, record: ThreadRecord, text: str, report: RepliesReport
    ) -> None:
        """A short reply in the thread (once per reply: its key is the reply's Gmail id)."""
        reply_id = str(mail.message.get("Message-ID", "")).strip()
        references = tuple(
            dict.fromkeys(r for r in (record.message_id, reply_id) if is_message_id(r))
        )
        subject = str(mail.message.get("Subject", "")) or "Re: your reply"
        outgoing = OutgoingEmail.build(
            to=self.do_email,
            subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
            text=text + "\n\n-- \nSent automatically by syft-monitor.\n",
            html=None,
            notification_key=f"reply:{mail.id}",
            in_reply_to=reply_id if is_message_id(reply_id) else record.message_id,
            references=references,
        )
        thread = ThreadInfo(record.message_id, record.thread_id)
        delivered = self.dispatcher.deliver(outgoing, ANSWER_LABEL, self.do_email, thread)
        report.answers += delivered.emails

    # --- state and disk ---------------------------------------------------------------------

    def _jobs(self) -> list[LocalJob]:
        return list(list_local_jobs(self.root, self.do_email)) if self.root.is_dir() else []

    def _done(self, message_id: str, outcome: str) -> None:
        self._save(handled={message_id: outcome})

    def _save(
        self, *, history_id: str | None = None, handled: Mapping[str, str] | None = None
    ) -> None:
        now = to_timestamp()

        def write(doc: StateDocument) -> None:
            record = doc.email_replies
            if history_id is not None:
                record = record.model_copy(update={"history_id": history_id})
            if handled:
                record = record.with_handled(handled, now, limit=MAX_HANDLED)
            if record == doc.email_replies:
                raise Unchanged
            doc.email_replies = record

        self.state.update(write)


def _job_threads(doc: StateDocument) -> dict[str, str]:
    """Gmail thread id -> job key, for the job threads our notifications started."""
    return {r.thread_id: key for key, r in doc.threads.items() if r.thread_id}


def _key(job: LocalJob) -> str:
    return JobRef(job.datasite, job.submitter, job.name).key


def _refusal(mail: MailMessage, record: ThreadRecord, do_email: str) -> str | None:
    if mail.thread_id != record.thread_id:
        return "not in the job's thread"
    if "SENT" not in mail.label_ids:
        return "not sent from the data owner's account (no SENT label)"
    recipients = email.utils.getaddresses(
        [str(v) for name in ("To", "Cc") for v in mail.message.get_all(name) or ()]
    )
    if normalize_email(do_email) not in {normalize_email(a) for _, a in recipients if a}:
        # A forward to a colleague ("approve?") is not an answer to the notification.
        return "not addressed to the data owner (a forward, not a reply)"
    references = " ".join(
        str(value)
        for name in ("In-Reply-To", "References")
        for value in mail.message.get_all(name) or ()
    )
    if record.message_id not in references.split():
        return "not a reply to our email (our Message-ID is not in In-Reply-To/References)"
    return None


def _decided_outcome(command: Command) -> str:
    return {
        CommandKind.APPROVE: "approved",
        CommandKind.AUTO_APPROVE: "auto_approved",
        CommandKind.DENY: "denied",
    }.get(command.kind, "approved")


def _same_rule(a: AutoApprovalRule, b: AutoApprovalRule) -> bool:
    return a.model_copy(update={"name": ""}) == b.model_copy(update={"name": ""})


def _help_text(line: str) -> str:
    return (
        f"Your reply was not understood: {safe_repr(line, limit=80)}\n\n"
        "Reply to the new-job email with one of these on the first line:\n"
        "  approve                 approve the job as the email shows it\n"
        "  deny [reason]           reject it; the reason goes to the data scientist\n"
        "  auto-approve            approve it and identical jobs from the same sender from now on\n"
    )


_NOT_REVIEWABLE_TEXT = (
    "This job cannot be approved by reply: its email did not show all of it. Review the job"
    " folder on disk and approve it there (syft-job), or reply deny to reject it."
)
_CHANGED_TEXT = (
    "Not approved: the job changed since its email was sent, so the email no longer shows what"
    " would run. Review the job folder on disk and approve it there."
)
_LEGACY_TEXT = (
    "This job uses the old job layout, which cannot be decided by reply. Review it on disk and"
    " approve it there."
)
