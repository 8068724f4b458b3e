"""The approve service: accept peer requests and approve jobs that match the config's rules.

It never runs a job: it only writes the approval, exactly as a data owner approving by hand with
upstream's `syft-job` would, and the owner's own tools run approved jobs.

What triggers work, precisely (one tick = one `check()`):

- Drive: one `changes.list` on the service's own cursor (`cursors["approve"]` in the shared state)
  per tick; an idle tick costs exactly that one request (none while no rule, peer or domain is
  configured). From the changes it takes, without any
  further request: channel folders shared with the owner (peer requests), any `msgv2_*` or
  `syfteventsmessagev3_*` file (job traffic: the owner's client is receiving a job or publishing
  its effects, so the local jobs are evaluated again), and the owner's `SYFT_peers.json` (the
  owner decided something by hand: forget which peers were known to be decided). A peer request
  costs Drive requests only when a rule accepts its address (then the peers file is read and the
  acceptance written).
- First start (no cursor yet): the start token, one listing of the folders shared with the owner
  so that requests already waiting are considered once, and an evaluation of every job waiting
  on disk. A refused cursor is handled the same way. Later starts resume from the cursor; waiting
  jobs are evaluated once per process start (disk only).
- Local disk, every tick: the job folder names are listed (directories only, no file read); a
  folder that was not there on the previous tick is evaluated. Jobs are read and evaluated only
  when a trigger says so, under the owner client's sync lock (`.sync.lock`), so a job half
  written by the owner's sync is never seen; when the lock is busy the evaluation waits for the
  next tick. A job whose files, run script and state did not change since its last evaluation
  under the same rules is not read again.
- Rules: with `from_config(path)` (or `config_path=`) the config file is read every tick and a
  changed `approve:` section applies at once: all waiting jobs are evaluated again, and when the
  peer rules list anyone, the waiting peer requests are listed again (one listing). An invalid
  file is logged once and the previous rules stay in force.

What a rule approves stays what was reviewed: the approval is written with the hashes of every
file of the submission, and an approved job that has not started is checked again whenever its
files change (their sizes and times are compared every tick, the contents when they moved). A job
that changed is put back to `pending` with the reason (`approval_problem`, `withdraw_approval`)
and the owner gets an "approval withdrawn" email in the job's thread. A rule that does not pin
what runs (`AutoApprovalRule.inert`) is warned about once and never approves.

Every decision is logged, counted (`syft_monitor_approvals_total{kind,outcome}`) and notified:
the data scientist gets "Job Approved" / "Peer Request Accepted", the owner a reply in the job's
thread, through the same dispatcher and the same state as the notify service. The events carry
the same keys the notify service derives when it sees the approval later, so each email is sent
once whichever service gets there first. Before a job's approval the service also delivers the
job's "new job" event when nobody has yet, so the owner's thread starts with the job, not with
its approval. A failed send is retried with backoff by this process; if it exits first, the
notify service sends what is still missing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from syft_monitors.approve.email_replies import EmailReplies, RepliesReport
from syft_monitors.approve.matching import Submission, match_job
from syft_monitors.approve.peers import (
    AcceptOutcome,
    PeerAcceptor,
    PeerRequest,
    request_from_folder,
)
from syft_monitors.approve.run_script import JobDeclaration
from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule, email_domain
from syft_monitors.config import MonitorConfig, load_config
from syft_monitors.drive.api import DriveApi
from syft_monitors.drive.files import DriveFile
from syft_monitors.drive.writes import DriveWriter
from syft_monitors.errors import (
    CredentialsError,
    InvalidNameError,
    SendDeferredError,
    SyftMonitorError,
)
from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.files import read_regular
from syft_monitors.gmail.history import GmailReader, gmail_reader
from syft_monitors.job_folders.approval import (
    CODE_DIR,
    RUN_SCRIPT,
    CodeFiles,
    approval_problem,
    collect_code_files,
    is_eligible,
    job_folder_names,
    read_code_preview,
    recorded_hashes,
    sha256_file,
    submission_hashes,
    sync_lock,
    withdraw_approval,
    write_approval,
)
from syft_monitors.job_folders.listing import LocalJob, list_local_jobs
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.notify.preview import MAX_FILE_BYTES, MAX_TOTAL_CODE_BYTES
from syft_monitors.notify.senders.base import NotificationSender
from syft_monitors.protocol.emails import normalize_email, safe_repr, validate_email
from syft_monitors.protocol.jobs import CONFIG_FILE, INBOX, JobLayout
from syft_monitors.protocol.messages import is_message_filename
from syft_monitors.protocol.names import PEERS_FILE, PeerChannel, parse_drive_name
from syft_monitors.protocol.peers import PeerState
from syft_monitors.runtime.classify import WorkKind
from syft_monitors.runtime.delivery import Dispatcher
from syft_monitors.runtime.poll_loop import Monitor, error_kind
from syft_monitors.runtime.sources import ChangesFeedSource
from syft_monitors.runtime.wiring import (
    drive_api,
    notify_config,
    sender_from_config,
    state_from_config,
)
from syft_monitors.state.base import StateManager, Unchanged
from syft_monitors.state.model import PeerRetryRecord, StateDocument

logger = logging.getLogger(__name__)

CURSOR_NAME = "approve"
RETRY_BASE = 30.0
RETRY_CAP = 3600.0
_DECIDED = (PeerState.ACCEPTED.value, PeerState.REJECTED.value)
#: A watched job's fingerprint that equals no real one: its next tick checks it.
_UNCHECKED = object()


@dataclasses.dataclass(slots=True)
class ApproveReport:
    """What one tick did (for tests, logs and the CLI)."""

    changes: int = 0
    baseline: bool = False
    rules_reloaded: bool = False
    peers_considered: int = 0
    peers_accepted: int = 0
    jobs_evaluated: int = 0
    jobs_approved: int = 0
    #: Approved jobs that changed before running and were put back to pending.
    jobs_withdrawn: int = 0
    emails: int = 0
    #: The owner's sync held its lock: job evaluation was left for the next tick.
    jobs_deferred: bool = False
    #: Email replies (`approve.email_replies`): what the Gmail history step did.
    replies: RepliesReport | None = None


@dataclasses.dataclass(slots=True)
class _PendingEvents:
    events: list[Event]
    attempts: int
    next_at: float


class ApproveMonitor(Monitor):
    """Auto-accept peer requests and auto-approve jobs for one data owner."""

    monitor_name = "approve"

    def __init__(
        self,
        do_email: str,
        settings: ApproveSettings,
        *,
        state: StateManager,
        sender: NotificationSender | None,
        drive: DriveApi | None,
        syftbox_root: Path | str | None,
        config: Mapping[str, Any] | None = None,
        metrics: MonitorMetrics | None = None,
        config_path: Path | str | None = None,
        clock: Callable[[], float] = time.time,
        gmail: GmailReader | None = None,
    ) -> None:
        self.metrics = metrics or MonitorMetrics()
        self.gmail = gmail
        self._replies: EmailReplies | None = None
        self._replies_unavailable_logged = False
        super().__init__(sender, state, dict(config or {}))
        self.do_email = validate_email(do_email, what="do_email")
        self.settings = settings
        self.drive = drive
        self.syftbox_root = Path(os.path.expanduser(str(syftbox_root))) if syftbox_root else None
        self.config_path = Path(os.path.expanduser(str(config_path))) if config_path else None
        self.clock = clock
        self.dispatcher = Dispatcher(sender, state, notify_config(self.config), self.metrics)
        # Its own cursor on the shared feed code: no listing at a baseline, the peer requests
        # are listed by the acceptor when rules accept anyone.
        self.feed = (
            ChangesFeedSource(drive, frozenset({WorkKind.PEER_CHANNEL}), list_on_baseline=False)
            if drive is not None
            else None
        )
        self.acceptor = (
            PeerAcceptor(
                self.do_email,
                drive,
                DriveWriter(drive, observer=self.metrics.observe_request),
                self.syftbox_root,
            )
            if drive is not None
            else None
        )
        self.last_report: ApproveReport | None = None
        self._config_raw: bytes | None = None
        self._config_error: str | None = None
        self._rules_version = 0
        # Jobs: folder names seen on the previous tick (None: not listed yet in this process).
        self._known_folders: frozenset[tuple[str, ...]] | None = None
        self._evaluate_all = True
        self._new_folders: set[tuple[str, ...]] = set()
        self._verdicts: dict[tuple[str, str, str], tuple[Any, int]] = {}
        self._root_missing_logged = False
        # Peers known to be accepted or rejected; cleared when the owner's peers file changes.
        self._decided: set[str] = set()
        self._pending_events: list[_PendingEvents] = []
        # Approved jobs with recorded hashes, not started yet: folder key -> (job, fingerprint).
        self._watched: dict[tuple[str, ...], tuple[LocalJob, Any]] = {}
        self._warned_inert: set[AutoApprovalRule] = set()
        if self.config_path is not None:
            self._remember_config()
        self._warn_inert()

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def from_config_model(
        cls,
        config: MonitorConfig,
        *,
        metrics: MonitorMetrics | None = None,
        config_path: Path | str | None = None,
    ) -> ApproveMonitor:
        """Build from a validated config; with `config_path`, rules are re-read every tick."""
        metrics = metrics or MonitorMetrics()
        drive = (
            drive_api(config.drive_token_path, api_root=config.api_root(), metrics=metrics)
            if config.drive_token_path is not None
            else None
        )
        # Lazy (no request, no token read until used): `email_replies` may be switched on by a
        # config reload.
        gmail = None
        if config.gmail_token_path is not None:
            gmail = gmail_reader(
                config.gmail_token_path,
                api_root=config.api_root(),
                observer=metrics.observe_request,
            )
        return cls(
            config.do_email,
            config.approve,
            gmail=gmail,
            state=state_from_config(config),
            sender=sender_from_config(config, metrics),
            drive=drive,
            syftbox_root=config.syftbox_root,
            config=config.model_dump(),
            metrics=metrics,
            config_path=config_path,
        )

    @classmethod
    def from_config(cls, config_path: str | Path) -> ApproveMonitor:
        return cls.from_config_model(load_config(config_path), config_path=config_path)

    @property
    def interval(self) -> int:
        """Seconds between ticks, from the (possibly reloaded) `approve.interval`."""
        return self.settings.interval

    # --- one tick ---------------------------------------------------------------------------

    def _check_all_entities(self) -> None:
        self.last_report = self.tick()

    def tick(self) -> ApproveReport:
        report = ApproveReport(rules_reloaded=self._reload_rules())
        if report.rules_reloaded:
            self._evaluate_all = True
        self._drive_step(report)
        self._jobs_step(report)
        self._replies_step(report)
        self._retry_events(report)
        return report

    # --- email replies ----------------------------------------------------------------------

    def _replies_step(self, report: ApproveReport) -> None:
        """Approve or deny by replies to the new-job emails (`approve.email_replies`)."""
        if not self.settings.email_replies:
            return
        if self._replies is None:
            if self.gmail is None or self.syftbox_root is None:
                if not self._replies_unavailable_logged:
                    self._replies_unavailable_logged = True
                    logger.warning("email_replies needs a Gmail token and the SyftBox folder")
                return
            self._replies = EmailReplies(
                self.do_email,
                self.gmail,
                self.state,
                syftbox_root=self.syftbox_root,
                dispatcher=self.dispatcher,
                notify=lambda events: self._notify(events, report),
                settings=lambda: self.settings,
                config_path=self.config_path,
                metrics=self.metrics,
                clock=self.clock,
            )
        self._replies.notify = lambda events: self._notify(events, report)
        report.replies = self._replies.step()

    # --- rules ------------------------------------------------------------------------------

    def _remember_config(self) -> None:
        assert self.config_path is not None
        try:
            self._config_raw = read_regular(self.config_path)
        except OSError:
            self._config_raw = None

    def _reload_rules(self) -> bool:
        """Re-read the config file; True when the `approve:` section changed."""
        if self.config_path is None:
            return False
        try:
            raw = read_regular(self.config_path)
        except OSError as error:
            self._config_problem(f"cannot read {self.config_path}: {error.strerror}")
            return False
        if raw == self._config_raw:
            return False
        self._config_raw = raw
        try:
            config = load_config(self.config_path)
        except SyftMonitorError as error:
            self._config_problem(str(error))
            return False
        self._config_error = None
        if normalize_email(config.do_email) != normalize_email(self.do_email):
            logger.warning("do_email changed in the config; it applies after a restart only")
        if config.approve == self.settings:
            return False
        self.settings = config.approve
        self._rules_version += 1
        logger.info(
            "auto-approval rules reloaded: %d rule(s), %d approved peer(s), %d domain(s)",
            len(self.settings.auto_approvals),
            len(self.settings.approved_peers),
            len(self.settings.approved_domains),
        )
        self._warn_inert()
        return True

    def _warn_inert(self) -> None:
        """One warning per rule (and per version of it) that stays inactive until pinned."""
        for rule in self.settings.auto_approvals:
            reason = rule.refusal()
            if reason is not None and rule not in self._warned_inert:
                self._warned_inert.add(rule)
                logger.warning("auto-approval rule inactive, it approves nothing: %s", reason)

    def _config_problem(self, text: str) -> None:
        if text != self._config_error:
            self._config_error = text
            logger.error("config not reloaded, keeping the previous rules: %s", text)

    # --- Drive: the feed and peer requests --------------------------------------------------

    def _drive_step(self, report: ApproveReport) -> None:
        if self.feed is None or self.acceptor is None:
            return
        if not (self.settings.accepts_any_peer or self.settings.auto_approvals):
            return  # nothing configured: no request at all until rules appear
        doc = self.state.view()
        batch = self.feed.read(doc.cursors.get(CURSOR_NAME))
        report.changes = len(batch.files) + len(batch.removed)
        report.baseline = batch.baseline
        started_over = batch.baseline or batch.rebaselined
        if started_over:
            self._evaluate_all = True
        candidates = self._requests_in(batch.files)
        relist = started_over or report.rules_reloaded
        if relist and self.settings.accepts_any_peer:
            for key, request in self.acceptor.list_requests().items():
                candidates.setdefault(key, request)
        now = self.clock()
        for key, retry in doc.approve_retries.items():
            if key not in candidates and retry.next_at <= now:
                retried = _request_from_retry(retry)
                if retried is not None:
                    candidates[key] = retried
        finished, failed = self._consider_peers(candidates, doc, report)
        self._save_drive_progress(batch.cursor, finished, failed)

    def _requests_in(self, files: list[DriveFile]) -> dict[str, PeerRequest]:
        """Peer requests among changed files; notes job traffic and the owner's decisions."""
        candidates: dict[str, PeerRequest] = {}
        for file in files:
            if file.is_folder:
                request = request_from_folder(file, self.do_email)
                if request is not None:
                    candidates.setdefault(request.key, request)
            elif file.name == PEERS_FILE and file.owned_by(self.do_email):
                self._decided.clear()
            elif is_message_filename(file.name):
                self._evaluate_all = True
        return candidates

    def _consider_peers(
        self, candidates: Mapping[str, PeerRequest], doc: StateDocument, report: ApproveReport
    ) -> tuple[set[str], dict[str, tuple[PeerRequest, str]]]:
        assert self.acceptor is not None
        finished: set[str] = set()
        failed: dict[str, tuple[PeerRequest, str]] = {}
        for key, request in candidates.items():
            if not self.settings.accepts_peer(request.email):
                finished.add(key)  # no rule (any more) accepts this address
                continue
            if key in self._decided or doc.peers.get(key) in _DECIDED:
                self._decided.add(key)
                finished.add(key)
                continue
            report.peers_considered += 1
            try:
                outcome = self.acceptor.accept(request)
            except CredentialsError:
                raise
            except SyftMonitorError as error:
                self.metrics.approvals.labels("peer", "failed").inc()
                self.metrics.errors.labels(error_kind(error)).inc()
                logger.warning("could not accept peer %s, will retry: %s", request.email, error)
                failed[key] = (request, str(error))
                continue
            self._decided.add(key)
            finished.add(key)
            if outcome is AcceptOutcome.ACCEPTED:
                self._peer_accepted(request, report)
            elif outcome is AcceptOutcome.REJECTED_BY_OWNER:
                logger.info("not accepting %s: the data owner rejected this peer", request.email)
        return finished, failed

    def _peer_accepted(self, request: PeerRequest, report: ApproveReport) -> None:
        key = request.key
        report.peers_accepted += 1
        self.metrics.approvals.labels("peer", "approved").inc()
        logger.info(
            "auto-accepted peer request from %s (%s folders)",
            request.email,
            request.channel.generation.value,
        )

        def write(doc: StateDocument) -> None:
            # Only this peer: the notify service compares the peers file with the rest.
            if doc.peers.get(key) == PeerState.ACCEPTED.value:
                raise Unchanged
            doc.peers[key] = PeerState.ACCEPTED.value

        self.state.update(write)
        event = Event(
            EventKind.PEER_GRANTED,
            self.do_email,
            peer=request.email,
            details=JobDetails(reason=acceptance_reason(self.settings, request.email)),
            source="approve",
        )
        self._notify([event], report)

    def _save_drive_progress(
        self,
        cursor: str | None,
        finished: set[str],
        failed: Mapping[str, tuple[PeerRequest, str]],
    ) -> None:
        """The cursor and the peer retries, in one write (none when nothing changed)."""
        now = self.clock()

        def unchanged(doc: StateDocument) -> bool:
            cursor_moved = cursor is not None and doc.cursors.get(CURSOR_NAME) != cursor
            return not (cursor_moved or failed or finished & doc.approve_retries.keys())

        if unchanged(self.state.view()):
            return  # an idle tick writes nothing

        def write(doc: StateDocument) -> None:
            if unchanged(doc):
                raise Unchanged
            done = [key for key in finished if key in doc.approve_retries]
            if cursor is not None:
                doc.cursors[CURSOR_NAME] = cursor
            for key in done:
                del doc.approve_retries[key]
            for key, (request, error) in failed.items():
                previous = doc.approve_retries.get(key)
                attempts = (previous.attempts if previous is not None else 0) + 1
                doc.approve_retries[key] = PeerRetryRecord(
                    email=request.email,
                    folder=request.folder_name,
                    attempts=attempts,
                    next_at=now + min(RETRY_CAP, RETRY_BASE * 2 ** (attempts - 1)),
                    error=error[:500],
                )

        self.state.update(write)

    # --- local jobs -------------------------------------------------------------------------

    def _jobs_step(self, report: ApproveReport) -> None:
        root = self.syftbox_root
        if root is None or not (self.settings.auto_approvals or self._watched):
            return
        if not root.is_dir():
            if not self._root_missing_logged:
                self._root_missing_logged = True
                logger.warning("SyftBox folder %s not found: jobs cannot be approved", root)
            return
        self._root_missing_logged = False
        names = job_folder_names(root, self.do_email)
        if self._known_folders is not None:
            self._new_folders.update(names - self._known_folders)
        self._known_folders = names
        self._new_folders.update(self._moved_approvals())
        if not (self._evaluate_all or self._new_folders):
            return
        with sync_lock(root) as held:
            if not held:
                report.jobs_deferred = True
                logger.debug("the owner's sync holds its lock; jobs are evaluated next tick")
                return
            listing = list_local_jobs(root, self.do_email)
            wanted = None if self._evaluate_all else set(self._new_folders)
            for job in listing:
                if wanted is not None and _folder_key(job) not in wanted:
                    continue
                if is_eligible(job):
                    if self.settings.auto_approvals:
                        self._evaluate(job, report)
                    continue
                self._watched.pop(_folder_key(job), None)
                approved = recorded_hashes(job.state)
                if approved is not None and job.layout is JobLayout.CURRENT:
                    self._check_approved(job, approved, report)
        self._evaluate_all = False
        self._new_folders.clear()

    def _moved_approvals(self) -> set[tuple[str, ...]]:
        """Watched approved jobs whose files' sizes or times changed since they were checked."""
        moved = set()
        for folder, (job, fingerprint) in self._watched.items():
            try:
                now = collect_code_files(job).fingerprint
            except SyftMonitorError:
                now = None
            if now != fingerprint:
                moved.add(folder)
        return moved

    def _check_approved(
        self, job: LocalJob, approved: dict[str, str], report: ApproveReport
    ) -> None:
        """Keep watching an approval that still holds; withdraw one whose job changed."""
        assert self.syftbox_root is not None
        fingerprint: Any
        try:
            fingerprint = collect_code_files(job).fingerprint
        except SyftMonitorError:
            fingerprint = _UNCHECKED
        problem = approval_problem(approved, job.path)
        if problem is None:
            self._watched[_folder_key(job)] = (job, fingerprint)
            return
        name = safe_repr(job.name)
        try:
            state = withdraw_approval(self.syftbox_root, job, approved, problem)
        except (SyftMonitorError, OSError) as error:
            self.metrics.approvals.labels("job", "failed").inc()
            logger.error("could not withdraw the approval of changed job %s: %s", name, error)
            self._watched[_folder_key(job)] = (job, _UNCHECKED)  # try again next tick
            return
        if state is None:
            return  # the state moved on (started, decided again) under our feet
        report.jobs_withdrawn += 1
        self.metrics.approvals.labels("job", "withdrawn").inc()
        self._verdicts.pop((job.layout.value, normalize_email(job.submitter), job.name), None)
        self._new_folders.add(_folder_key(job))
        logger.warning(
            "withdrew the approval of job %s from %s: %s; it is pending again",
            name,
            job.submitter,
            problem,
        )
        event = Event(
            EventKind.APPROVAL_WITHDRAWN,
            self.do_email,
            job=JobRef(job.datasite, job.submitter, job.name),
            details=JobDetails(status="pending", reason=problem),
            source="approve",
            instance=_approval_instance(job.state, approved),
        )
        self._notify([event], report)

    def _evaluate(self, job: LocalJob, report: ApproveReport) -> None:
        assert self.syftbox_root is not None
        key = (job.layout.value, normalize_email(job.submitter), job.name)
        name = safe_repr(job.name)
        try:
            code = collect_code_files(job)
        except SyftMonitorError as error:
            self._refuse(key, ("unusable", str(error), job.updated_at), job, str(error), report)
            return
        if self._verdicts.get(key) == (code.fingerprint, self._rules_version):
            return
        declaration: JobDeclaration | str
        try:
            declaration = JobDeclaration.from_config(
                job.config, legacy=job.layout is JobLayout.LEGACY
            )
        except SyftMonitorError as error:
            declaration = str(error)
        submission = Submission(
            code.files,
            code.run_script,
            declaration,
            canonical_layout=job.layout is JobLayout.CURRENT,
        )
        try:
            result = match_job(self.settings.auto_approvals, job.submitter, submission, sha256_file)
        except SyftMonitorError as error:
            self._refuse(key, code.fingerprint, job, str(error), report)
            return
        if result.rule is None:
            self._refuse(key, code.fingerprint, job, f"no rule matches: {result.explain()}", report)
            return
        self._verdicts[key] = (code.fingerprint, self._rules_version)
        report.jobs_evaluated += 1
        now = dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC)
        try:
            hashes = submission_hashes(job.path) if job.layout is JobLayout.CURRENT else None
            state = write_approval(self.syftbox_root, job, self.do_email, now, hashes)
        except (SyftMonitorError, OSError) as error:
            self.metrics.approvals.labels("job", "failed").inc()
            logger.error("could not write the approval of job %s: %s", name, error)
            self._verdicts.pop(key, None)
            return
        report.jobs_approved += 1
        self.metrics.approvals.labels("job", "approved").inc()
        if hashes:
            # Taken under the same lock as the hashes, so it describes the approved files.
            try:
                watched: Any = collect_code_files(job).fingerprint
            except SyftMonitorError:
                watched = _UNCHECKED
            self._watched[_folder_key(job)] = (job, watched)
        logger.info(
            "auto-approved job %s from %s (rule %s, %s layout)",
            name,
            job.submitter,
            safe_repr(result.rule),
            job.layout.value,
        )
        self._notify(self._job_events(job, code, state), report)

    def _refuse(
        self,
        key: tuple[str, str, str],
        fingerprint: Any,
        job: LocalJob,
        why: str,
        report: ApproveReport,
    ) -> None:
        """Log and count a job that stays pending, once per content and rules version."""
        if self._verdicts.get(key) == (fingerprint, self._rules_version):
            return
        self._verdicts[key] = (fingerprint, self._rules_version)
        report.jobs_evaluated += 1
        self.metrics.approvals.labels("job", "no_match").inc()
        logger.info("job %s from %s stays pending: %s", safe_repr(job.name), job.submitter, why)

    def _job_events(self, job: LocalJob, code: CodeFiles, state: Mapping[str, Any]) -> list[Event]:
        ref = JobRef(job.datasite, job.submitter, job.name)
        prefix = f"{CODE_DIR}/" if job.layout is JobLayout.CURRENT else ""
        preview = read_code_preview(
            code.files, prefix=prefix, max_file=MAX_FILE_BYTES, max_total=MAX_TOTAL_CODE_BYTES
        )
        new_job = Event(
            EventKind.NEW_JOB,
            self.do_email,
            job=ref,
            details=JobDetails(
                code=preview,
                code_truncated=len(preview) < len(code.files),
                submitted_at=job.submitted_at.isoformat() if job.submitted_at else None,
                status="pending",
                config=dict(job.config),
                run_sh=_small_file(job.path / RUN_SCRIPT),
                config_yaml=_small_file(job.path / CONFIG_FILE),
            ),
            source="approve",
        )
        approved = Event(
            EventKind.JOB_APPROVED,
            self.do_email,
            job=ref,
            details=JobDetails(
                status="approved",
                approved_by=str(state.get("approved_by") or self.do_email),
                approval_method="auto",
            ),
            source="approve",
        )
        return [new_job, approved]

    # --- notifications ----------------------------------------------------------------------

    def _notify(self, events: list[Event], report: ApproveReport, attempts: int = 0) -> None:
        """Deliver in order; what fails (and what follows it) is retried later, in order."""
        if self.sender is None:
            return  # nothing recorded: a notify service on the same state will send them
        for index, event in enumerate(events):
            if self.dispatcher.ledger.is_seen(event.key):
                continue
            try:
                outcome = self.dispatcher.dispatch(event)
            except SendDeferredError as deferred:
                # Waiting on purpose (another process is sending it, a send settling, the
                # sending limit): not a failure, so no backoff grows.
                logger.info(
                    "%s email(s) wait %.0fs: %s", event.kind.value, deferred.retry_after, deferred
                )
                self._pending_events.append(
                    _PendingEvents(events[index:], attempts, self.clock() + deferred.retry_after)
                )
                return
            except SyftMonitorError as error:
                self.metrics.errors.labels(error_kind(error)).inc()
                delay = min(RETRY_CAP, RETRY_BASE * 2**attempts)
                logger.warning(
                    "could not send the %s email(s), retrying in %.0fs: %s",
                    event.kind.value,
                    delay,
                    error,
                )
                self._pending_events.append(
                    _PendingEvents(events[index:], attempts + 1, self.clock() + delay)
                )
                return
            report.emails += outcome.emails
            self.metrics.events.labels(event.kind.value).inc()
            self.dispatcher.ledger.mark_seen([event.key], "event")

    def _retry_events(self, report: ApproveReport) -> None:
        now = self.clock()
        due = [p for p in self._pending_events if p.next_at <= now]
        if not due:
            return
        self._pending_events = [p for p in self._pending_events if p.next_at > now]
        for pending in due:
            self._notify(pending.events, report, attempts=pending.attempts)


def _small_file(path: Path) -> bytes | None:
    """A submission file for the new-job email, one byte over the cap when it is larger."""
    preview = read_code_preview({path.name: path}, prefix="", max_file=MAX_FILE_BYTES, max_total=1)
    return preview.get(path.name)


def _approval_instance(state: Mapping[str, Any], approved: Mapping[str, str]) -> str:
    """One id per approval (its time and hashes): each withdrawn approval is emailed once."""
    raw = json.dumps([str(state.get("approved_at")), sorted(approved.items())])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def _folder_key(job: LocalJob) -> tuple[str, ...]:
    if job.layout is JobLayout.CURRENT:
        return (INBOX, job.submitter, job.name)
    return (job.name,)


def _request_from_retry(retry: PeerRetryRecord) -> PeerRequest | None:
    try:
        channel = parse_drive_name(retry.folder)
    except InvalidNameError:
        return None
    if not isinstance(channel, PeerChannel):
        return None
    return PeerRequest(retry.email, channel, retry.folder)


def acceptance_reason(settings: ApproveSettings, email: str) -> str:
    """Which setting accepted `email` (for the data owner's email)."""
    if normalize_email(email) in {normalize_email(peer) for peer in settings.approved_peers}:
        return "it is listed in approved_peers"
    if normalize_email(email) in settings.auto_accept_emails():
        return "an auto-approval rule names it"
    return f"its domain {email_domain(email)} is in approved_domains"
