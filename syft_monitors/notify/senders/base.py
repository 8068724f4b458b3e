"""The one interface every email sender implements.

Delivery guarantees differ and are declared by `exactly_once`:

* A sender that can search what it already sent (Gmail) implements `find_sent`; the dispatcher
  asks it after a crash before sending again, so no email is lost or duplicated.
* SMTP and file senders cannot look back: `find_sent` returns None and a crash between "sent"
  and "recorded" resends the email (at-least-once). The deterministic Message-ID lets a
  recipient's mail client drop the duplicate.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import types
import uuid
from typing import ClassVar

from syft_monitors.errors import InvalidEmailError, SyftMonitorError
from syft_monitors.notify.email import EMAIL_FORMATS, EmailFormat, OutgoingEmail
from syft_monitors.notify.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from syft_monitors.protocol.emails import safe_repr

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    """What the mail service says about a sent email."""

    #: The RFC 5322 Message-ID the email carries (ours, or the one the service assigned).
    message_id: str
    #: The service's own id (Gmail message id, .eml file name); None when there is none.
    provider_id: str | None = None
    #: Gmail's thread id; None for services without threads.
    thread_id: str | None = None


class NotificationSender(abc.ABC):
    """Sends `OutgoingEmail`s; every send first waits for the rate limiter."""

    #: True when `find_sent` can tell whether an email already left (crash recovery).
    exactly_once: ClassVar[bool] = False

    def __init__(
        self,
        *,
        email_format: EmailFormat = "html",
        rate_limit_per_minute: int = DEFAULT_PER_MINUTE,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        if email_format not in EMAIL_FORMATS:
            raise ValueError(f"unknown email format {safe_repr(email_format)}")
        self.email_format: EmailFormat = email_format
        self.rate_limiter = rate_limiter or RateLimiter(rate_limit_per_minute)

    def send(self, email: OutgoingEmail, *, thread_id: str | None = None) -> SendResult:
        """Send `email` (waiting for the rate limiter first).

        Raises `SendError`, or `QuotaError` / `CredentialsError` when that is the cause.
        `thread_id` is the provider's thread to put the email in (Gmail only).
        """
        self.rate_limiter.acquire()
        try:
            return self._send(email, thread_id=thread_id)
        finally:
            # The provider counts a send when it arrives, which may be well after the slot was
            # taken: count it at completion so no window of the provider's ever exceeds the limit.
            self.rate_limiter.restamp()

    @abc.abstractmethod
    def _send(self, email: OutgoingEmail, *, thread_id: str | None) -> SendResult:
        """Deliver `email`; called after rate limiting."""

    def find_sent(self, email: OutgoingEmail) -> SendResult | None:
        """The result of an earlier send of `email`, or None when none is known.

        The default cannot look back and always answers None (at-least-once delivery).
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook: most senders hold nothing open
        """Release connections; the sender must not be used afterwards."""

    def __enter__(self) -> NotificationSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    # --- the seed API ----------------------------------------------------------------------

    def send_notification(
        self, to_email: str, subject: str, body_text: str, body_html: str | None = None
    ) -> bool:
        """Seed-compatible one-off send: True when sent, False (logged) when it failed.

        Each call is a new notification (random key), so two identical calls send two emails.
        """
        try:
            email = OutgoingEmail.build(
                to=to_email,
                subject=subject,
                text=body_text,
                html=body_html,
                notification_key=f"adhoc:{uuid.uuid4().hex}",
            )
        except InvalidEmailError as error:
            logger.error("not sending %s: %s", safe_repr(subject), error)
            return False
        try:
            self.send(email)
        except SyftMonitorError as error:
            logger.error("sending %s to %s failed: %s", safe_repr(subject), email.to, error)
            return False
        return True
