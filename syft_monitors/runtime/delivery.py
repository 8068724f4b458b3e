"""Exactly-once delivery of the emails an event calls for.

For every planned email: skip it if the ledger (`runtime.ledger`) says it was sent; otherwise
record an intent, send, and record the result (the intent and the result replace each other in
one atomic state update). A
crash between the two leaves the intent: on the next attempt, a sender that can search its Sent
mail (Gmail) is asked whether the email left before sending it again, so a kill at any moment gives
neither a lost nor a duplicate email. SMTP and file senders cannot look, so they resend:
at-least-once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable

from syft_monitors import interrupt
from syft_monitors.errors import (
    CredentialsError,
    FloodDeferredError,
    MissingScopeError,
    QuotaError,
    RateLimitedError,
    SendUnsettledError,
    ServiceError,
    SyftMonitorError,
)
from syft_monitors.events import Event
from syft_monitors.google.errors import DAILY_QUOTA_REASONS
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.notify import flood as flood_policy
from syft_monitors.notify.email import OutgoingEmail
from syft_monitors.notify.plan import NotifyConfig, ThreadInfo, plan_notifications
from syft_monitors.notify.senders.base import NotificationSender, SendResult
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state.base import StateManager, Unchanged
from syft_monitors.state.holders import describe_holder
from syft_monitors.state.model import (
    DigestItem,
    DigestRecord,
    NotifiedRecord,
    SendIntent,
    StateDocument,
    parse_timestamp,
    to_timestamp,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Outcome:
    sent: int = 0
    recovered: int = 0
    skipped: int = 0
    folded: int = 0

    @property
    def emails(self) -> int:
        return self.sent + self.recovered


#: Longest wait for a sending slot inside a poll; beyond it the email waits for a later poll.
MAX_RATE_WAIT = 2.0
#: After an ambiguous failure, how long Sent mail may take to show the message. Gmail offers no
#: idempotency key, so the lookup is only trustworthy once the first attempt has settled.
SETTLE_SECONDS = 60.0
#: When another live process is sending an email, how soon to look again.
HELD_RETRY_SECONDS = 5.0


class Dispatcher:
    def __init__(
        self,
        sender: NotificationSender | None,
        state: StateManager,
        config: NotifyConfig,
        metrics: MonitorMetrics,
        *,
        settle_seconds: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sender = sender
        self.state = state
        self.ledger = Ledger(state)
        self.config = config
        self.metrics = metrics
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._told_unsearchable = False
        self._limiter_restored = False

    def dispatch(self, event: Event) -> Outcome:
        """Send what `event` calls for; raises SendError/QuotaError/CredentialsError to retry later.

        Emails already sent are skipped, so calling this again after a failure is always safe.
        Flood control may instead fold them into a digest (recorded as notified by it) or hold
        them (`FloodDeferredError`).
        """
        outcome = Outcome()
        if self.sender is None:  # notifications disabled: detection still runs and is recorded
            return outcome
        self.state.refresh()  # decided on the store as it is now, not as the poll began
        thread = self._thread(event)
        job_key = event.job.key if event.job is not None else None
        label = event.kind.value
        emails = plan_notifications(event, config=self.config, thread=thread)
        if self._folded(event, emails, outcome):
            return outcome
        about = (
            f"job {safe_repr(event.job.name)} from {event.job.submitter}"
            if event.job is not None
            else f"peer {event.peer}"
        )
        for email in emails:
            self._deliver(
                email,
                label,
                thread,
                job_key,
                event.do_email,
                outcome,
                counterpart=event.counterpart,
                about=about,
            )
        return outcome

    def _folded(self, event: Event, emails: list[OutgoingEmail], outcome: Outcome) -> bool:
        """Apply flood control to `event`: True when its emails were folded into a digest.

        Deciding and folding happen in one state update, so an email is either in a digest that
        is still open or sent on its own, never both, and a restart cannot refill a budget.
        """
        if not self.config.flood.enabled:
            return False
        label = event.kind.value
        is_notified = self.ledger.is_notified
        keys = [e.notification_key for e in emails if not is_notified(e.notification_key)]
        if not keys:
            return False
        now = self.clock()
        stamp = to_timestamp(dt.datetime.fromtimestamp(now, tz=dt.UTC))
        config = self.config.flood
        items = [
            DigestItem(
                key=e.notification_key,
                counterpart=event.counterpart,
                subject=e.subject,
                to_owner=e.to.lower() == event.do_email.lower(),
            )
            for e in emails
            if e.notification_key in keys
        ]

        def fold(doc: StateDocument) -> flood_policy.Decision:
            flood = flood_policy.current(doc.flood, now)
            decision = flood_policy.decide(config, flood, label, event.counterpart, now)
            # An email with an intent may already have left: only the send path may settle it.
            if decision.action == "fold" and any(key in doc.intents for key in keys):
                raise Unchanged(flood_policy.Decision("send"))
            if decision.action != "fold":
                raise Unchanged(decision)
            assert decision.digest is not None
            assert decision.group is not None
            fresh = [item for item in items if item.key not in doc.notified]
            if not fresh:
                raise Unchanged(flood_policy.Decision("send"))
            digest = flood.digests.get(decision.digest) or DigestRecord(
                group=decision.group,
                do_email=event.do_email,
                window_end=flood.window_start + flood_policy.WINDOW_SECONDS,
            )
            room = max(0, flood_policy.MAX_DIGEST_ITEMS - len(digest.items))
            kept, counted = fresh[:room], fresh[room:]
            digests = dict(flood.digests)
            digests[decision.digest] = digest.model_copy(
                update={
                    "items": [*digest.items, *kept],
                    "more_to_owner": digest.more_to_owner + sum(i.to_owner for i in counted),
                    "more_copies": digest.more_copies + sum(not i.to_owner for i in counted),
                }
            )
            doc.flood = flood.model_copy(update={"digests": digests})
            for item in fresh:
                doc.notified[item.key] = NotifiedRecord(sent_at=stamp, digest=decision.digest)
            return decision

        decision = self.state.update(fold)
        if decision.action == "defer":
            self.metrics.deferred.labels(decision.reason).inc()
            raise FloodDeferredError(
                f"flood control holds {label} mail ({decision.reason}); retry in "
                f"{decision.retry_after:.0f}s",
                retry_after=decision.retry_after,
            )
        if decision.action == "fold":
            self.metrics.folded.labels(label, decision.reason).inc()
            outcome.folded += len(items)
            logger.info("folded %s email(s) into digest (%s)", label, decision.reason)
            return True
        return False

    def flush_digests(self) -> Outcome:
        """Send every digest whose window has closed, exactly once, then forget it."""
        outcome = Outcome()
        if self.sender is None:
            return outcome
        now = self.clock()
        due = {
            key: record
            for key, record in self.state.view().flood.digests.items()
            if record.window_end <= now
        }
        html = self.config.email_format != "text"
        for key, record in sorted(due.items(), key=lambda item: item[1].window_end):
            email = flood_policy.plan_digest(key, record, html=html)
            self._deliver(email, flood_policy.DIGEST_LABEL, None, None, record.do_email, outcome)

            def forget(doc: StateDocument, key: str = key) -> None:
                if key not in doc.flood.digests or key not in doc.notified:
                    raise Unchanged
                digests = {k: v for k, v in doc.flood.digests.items() if k != key}
                doc.flood = doc.flood.model_copy(update={"digests": digests})

            self.state.update(forget)
        self._publish_budget()
        return outcome

    def _publish_budget(self) -> None:
        flood = flood_policy.current(self.state.view().flood, self.clock())
        high, low = flood_policy.remaining(self.config.flood, flood)
        self.metrics.budget_remaining.labels("high").set(high)
        self.metrics.budget_remaining.labels("low").set(low)
        self.metrics.budget.labels("high").set(self.config.flood.daily_budget)
        self.metrics.budget.labels("low").set(self.config.flood.low_budget)
        folding = sum(
            1
            for group, count in flood.counts.items()
            if group.startswith("sender:") and count >= self.config.flood.per_sender_per_hour
        )
        self.metrics.senders_folded.set(folding)

    def deliver(self, email: OutgoingEmail, label: str, do_email: str) -> Outcome:
        """Send one email that belongs to no event (the heartbeat), with the same guarantees."""
        outcome = Outcome()
        if self.sender is not None:
            self._deliver(email, label, None, None, do_email, outcome)
        return outcome

    def _deliver(
        self,
        email: OutgoingEmail,
        label: str,
        thread: ThreadInfo | None,
        job_key: str | None,
        do_email: str,
        outcome: Outcome,
        *,
        counterpart: str | None = None,
        about: str | None = None,
    ) -> None:
        assert self.sender is not None
        # Shared read-only views: a full working copy per email would copy the whole state. A
        # record read earlier in the poll is still true (it is never taken back) ...
        if self.ledger.is_notified(email.notification_key):
            outcome.skipped += 1
            return
        # ... but who holds the send, and whether an earlier attempt left an intent, must be
        # read from the store as it is now.
        self.state.refresh()
        self._not_held_elsewhere(email)
        pending = self.ledger.intent(email.notification_key)
        if pending is not None and self.sender.exactly_once:
            self._wait_until_settled(pending)
            found = self._find_sent(email)
            if found is not None:
                # Its process died before counting it: it still spent a send of today's budget.
                self._record(email, found, job_key, label, counterpart, do_email)
                self.metrics.notifications.labels(label, "recovered").inc()
                logger.info("email %s had been sent before a restart", email.notification_key)
                outcome.recovered += 1
                return
        self._wait_for_slot(email)
        interrupt.checkpoint()  # a backlog stops after the email in progress
        claimed = self.ledger.record_intent(
            SendIntent(
                notification_key=email.notification_key,
                message_id=email.message_id,
                recorded_at=to_timestamp(),
            )
        )
        if claimed is None:
            if self.ledger.is_notified(email.notification_key):  # another process sent it
                outcome.skipped += 1
                return
            self._not_held_elsewhere(email)  # claimed meanwhile by another live process
            raise SendUnsettledError(  # the holder let go in between: look again soon
                f"email {email.notification_key} changed hands; retrying",
                retry_after=HELD_RETRY_SECONDS,
            )
        try:
            thread_id = thread.thread_id if thread and email.in_reply_to else None
            with interrupt.shielded():
                result = self.sender.send(email, thread_id=thread_id)
        except interrupt.StopRequested:
            # Cut off by a stop (backoff, or past the grace period): its fate is unknown, like
            # an ambiguous failure's, so the next start settles and looks before resending.
            self.ledger.fail_intent(
                email.notification_key,
                "send interrupted by a stop",
                now=dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC),
            )
            raise
        except SyftMonitorError as error:
            self.metrics.notifications.labels(label, "failed").inc()
            if _certainly_not_sent(error):
                # Nothing can be in Sent mail, so the next attempt must not wait for it to settle.
                self.ledger.drop_intent(email.notification_key)
            else:
                self.ledger.fail_intent(
                    email.notification_key,
                    str(error),
                    now=dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC),
                )
            if isinstance(error, QuotaError):
                self._pause_low(error, label)
            raise
        self._record(email, result, job_key, label, counterpart, do_email)
        self.metrics.notifications.labels(label, "sent").inc()
        logger.info(
            "sent %s email%s to the %s",
            label,
            f" about {about}" if about else "",
            "data owner" if email.to.lower() == do_email.lower() else "data scientist",
        )
        outcome.sent += 1

    def _pause_low(self, error: QuotaError, label: str) -> None:
        """Gmail refused for quota: strangers' mail waits, so what quota is left goes to jobs."""
        if not self.config.flood.enabled:
            return
        now = self.clock()
        daily = error.reason in DAILY_QUOTA_REASONS
        seconds = flood_policy.pause_seconds(
            self.config.flood, error.reason, error.retry_after, daily=daily, now=now
        )

        def pause(doc: StateDocument) -> None:
            flood = flood_policy.current(doc.flood, now)
            doc.flood = flood_policy.pause_low(flood, seconds, now=now)

        self.state.update(pause)
        logger.warning(
            "Gmail quota error (%s): low-priority mail paused %s",
            error.reason or "rate limited",
            "until the next UTC day" if daily else f"for {seconds:.0f}s",
        )
        if flood_policy.priority(label) == "low":
            # Not a fault of this item: it waits for the pause, and the high-priority work after
            # it in this poll still gets its chance.
            pause_left = self.state.view().flood.paused_low_until - now
            self.metrics.deferred.labels("quota_pause").inc()
            raise FloodDeferredError(
                f"Gmail quota error; {label} mail paused for {pause_left:.0f}s",
                retry_after=max(pause_left, 1.0),
            ) from error

    def _not_held_elsewhere(self, email: OutgoingEmail) -> None:
        """Defer an email another live process is sending (sending it here too, or looking it
        up in Sent mail before that send is searchable, would duplicate it)."""
        holder = self.ledger.held_by(email.notification_key)
        if holder is None:
            return
        raise SendUnsettledError(
            f"email {email.notification_key} is being sent by another process on this state"
            f" ({describe_holder(holder)}); checking again later",
            retry_after=HELD_RETRY_SECONDS,
        )

    def _find_sent(self, email: OutgoingEmail) -> SendResult | None:
        """The earlier send of `email`; None also when the token may not search Sent mail.

        A send-only token (`gmail.send`: a common choice, as reading mail is a restricted scope)
        cannot look. Holding the email until someone re-authorizes would lose it in practice, so
        it is sent again: at least once, as with SMTP, instead of exactly once.
        """
        assert self.sender is not None
        try:
            return self.sender.find_sent(email)
        except MissingScopeError as error:
            # "config", not "auth": everything still works, so no re-authorize alert fires.
            self.metrics.errors.labels("config").inc()
            if not self._told_unsearchable:
                self._told_unsearchable = True
                logger.warning(
                    "cannot search Sent mail (%s): an email whose earlier send failed "
                    "ambiguously is sent again and may arrive twice; grant "
                    "gmail.readonly or gmail.modify for exactly-once delivery",
                    error,
                )
            return None

    def _wait_for_slot(self, email: OutgoingEmail) -> None:
        limiter = getattr(self.sender, "rate_limiter", None)
        if limiter is not None and not self._limiter_restored:
            # Sends of the previous process still count: a restart must not reopen the window.
            self._limiter_restored = True
            now = self.clock()
            limiter.restore([now - t for t in self.state.view().flood.recent_sends])
        wait = limiter.wait_time() if limiter is not None else 0.0
        if wait > MAX_RATE_WAIT:
            raise RateLimitedError(
                f"sending limit reached; {email.notification_key} waits {wait:.0f}s",
                retry_after=wait,
            )

    def _wait_until_settled(self, intent: SendIntent) -> None:
        if intent.failed_at is None:
            return  # a crash, not a failure: the process restart took longer than settling
        age = self.clock() - parse_timestamp(intent.failed_at).timestamp()
        if 0 <= age < self.settle_seconds:
            raise SendUnsettledError(
                f"email {intent.notification_key} failed {age:.0f}s ago and may still show up "
                "in Sent mail; checking again later",
                retry_after=self.settle_seconds - age,
            )

    def _thread(self, event: Event) -> ThreadInfo | None:
        """The data owner's thread about the job, if its first email was sent."""
        record = self.ledger.thread_for(event.job.key) if event.job is not None else None
        return ThreadInfo(record.message_id, record.thread_id) if record is not None else None

    def _record(
        self,
        email: OutgoingEmail,
        result: SendResult,
        job_key: str | None,
        label: str,
        counterpart: str | None,
        do_email: str,
    ) -> None:
        """The send's result and the flood counters it moves, in one write."""
        starts_thread = email.thread_key is not None and email.in_reply_to is None
        now = self.clock()
        to_owner = email.to.lower() == do_email.lower()

        def count(doc: StateDocument) -> None:
            flood = flood_policy.current(doc.flood, now)
            doc.flood = flood_policy.count_send(
                flood, label, counterpart, to_owner=to_owner, now=now
            )

        self.ledger.resolve_intent(
            email.notification_key,
            NotifiedRecord(
                sent_at=to_timestamp(),
                message_id=result.message_id,
                provider_id=result.provider_id,
                thread_id=result.thread_id,
            ),
            thread_job_key=job_key if starts_thread else None,
            with_change=count,
        )


def _certainly_not_sent(error: SyftMonitorError) -> bool:
    """A refusal that proves the email did not leave: no usable token (the request was never
    made, or Google answered 401), or any other 4xx answer (429 and 403 included)."""
    if isinstance(error, CredentialsError):
        return True
    status = getattr(error, "status", None) if isinstance(error, ServiceError) else None
    return status is not None and 400 <= status < 500
