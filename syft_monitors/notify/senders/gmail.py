"""Sending through the Gmail API as the data owner, with crash recovery.

Exactly-once: every email carries a Message-ID derived from its notification key, a
`X-Syft-Monitor-Key` header and a reference word in its body. `find_sent` looks for it in the
account (`rfc822msgid:` first, then the reference word in Sent, confirmed by the header), so after
a crash the dispatcher can tell whether the send went out before sending again.

Retries: a send that fails ambiguously (5xx, dropped connection: Gmail may have sent it) is not
blindly repeated. The sender first asks `find_sent`, and only sends again when the email is not
there. Refusals that certainly sent nothing (429 / rate-limit 403) are retried by
`syft_monitors.google.retry.execute` with back-off.

googleapiclient services are not thread-safe: one is built lazily per thread that sends.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syft_monitors.errors import (
    ConfigError,
    CredentialsError,
    QuotaError,
    SendError,
    ServiceError,
)
from syft_monitors.google.clients import build_gmail_service, load_credentials
from syft_monitors.google.retry import DEFAULT_POLICY, RequestObserver, RetryPolicy, execute
from syft_monitors.notify.email import KEY_HEADER, EmailFormat, OutgoingEmail, to_mime
from syft_monitors.notify.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from syft_monitors.notify.senders.base import NotificationSender, SendResult

logger = logging.getLogger(__name__)

GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.modify",)
API = "gmail"
#: Sends attempted for one email when each failure is ambiguous and `find_sent` finds nothing.
SEND_ATTEMPTS = 3
#: Candidates checked when searching Sent for the reference word (it is unique: one expected).
MAX_CANDIDATES = 10


class GmailSender(NotificationSender):
    exactly_once = True

    def __init__(
        self,
        token_path: Path | str | None = None,
        *,
        credentials: Any = None,
        service: Any = None,
        api_root: str | None = None,
        email_format: EmailFormat = "html",
        rate_limit_per_minute: int = DEFAULT_PER_MINUTE,
        rate_limiter: RateLimiter | None = None,
        observer: RequestObserver | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        service_factory: Callable[[Any], Any] | None = None,
    ) -> None:
        """One of `token_path`, `credentials` or `service` is needed.

        An injected `service` is used as is on every thread (the caller vouches for it); otherwise
        a service is built per thread from the credentials, pointed at `api_root` when given.
        """
        super().__init__(
            email_format=email_format,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_limiter=rate_limiter,
        )
        if token_path is None and credentials is None and service is None:
            raise ConfigError("GmailSender needs a token_path, credentials or a service")
        self.token_path = (
            Path(os.path.expanduser(str(token_path))) if token_path is not None else None
        )
        self.api_root = api_root
        self._credentials = credentials
        self._shared_service = service
        self._observer = observer
        self._policy = retry_policy
        self._factory = service_factory
        self._lock = threading.Lock()
        self._local = threading.local()

    # --- clients -------------------------------------------------------------------------

    def _get_credentials(self) -> Any:
        with self._lock:
            if self._credentials is None:
                assert self.token_path is not None
                self._credentials = load_credentials(
                    self.token_path, list(GMAIL_SCOPES), api_root=self.api_root
                )
            return self._credentials

    def _service(self) -> Any:
        if self._shared_service is not None:
            return self._shared_service
        service = getattr(self._local, "service", None)
        if service is None:
            credentials = self._get_credentials()
            if self._factory is not None:
                service = self._factory(credentials)
            else:
                service = build_gmail_service(credentials, api_root=self.api_root)
            self._local.service = service
        return service

    def _execute(self, request: Any, method: str) -> dict[str, Any]:
        response = execute(
            request, api=API, method=method, policy=self._policy, observer=self._observer
        )
        return response if isinstance(response, dict) else {}

    # --- sending -------------------------------------------------------------------------

    def _send(self, email: OutgoingEmail, *, thread_id: str | None) -> SendResult:
        raw = base64.urlsafe_b64encode(to_mime(email, None, self.email_format).as_bytes())
        body: dict[str, str] = {"raw": raw.decode("ascii")}
        # Gmail threads only replies (In-Reply-To + matching subject): a threadId on an email
        # that starts a conversation, or goes to someone else, would misfile it.
        if thread_id and email.in_reply_to is not None:
            body["threadId"] = thread_id
        last: ServiceError | None = None
        for attempt in range(1, SEND_ATTEMPTS + 1):
            if attempt > 1:
                found = self.find_sent(email)
                if found is not None:
                    logger.info("%s was delivered despite the error", email.notification_key)
                    return found
            try:
                request = self._service().users().messages().send(userId="me", body=body)
                response = self._execute(request, "users.messages.send")
            except (CredentialsError, QuotaError):
                raise
            except ServiceError as error:
                if not error.retryable:
                    raise SendError(f"Gmail refused the email: {error}") from error
                last = error
                logger.warning(
                    "Gmail send of %s failed (%s), attempt %d of %d",
                    email.notification_key,
                    error,
                    attempt,
                    SEND_ATTEMPTS,
                )
                continue
            return self._result(email, response)
        raise SendError(f"Gmail send failed {SEND_ATTEMPTS} times: {last}") from last

    def _result(self, email: OutgoingEmail, response: dict[str, Any]) -> SendResult:
        provider_id = _text(response.get("id"))
        thread_id = _text(response.get("threadId"))
        message_id = email.message_id
        if provider_id is not None:
            # Gmail may replace a client-set Message-ID; record the one it actually keeps. The
            # email is sent whatever happens here, so a failure must not turn into an error.
            try:
                headers = self._headers(provider_id, ["Message-ID"])
            except ServiceError as error:
                logger.warning("could not read back %s: %s", email.notification_key, error)
            else:
                message_id = headers.get("message-id") or message_id
        return SendResult(message_id=message_id, provider_id=provider_id, thread_id=thread_id)

    def _headers(self, provider_id: str, names: list[str]) -> dict[str, str]:
        request = (
            self._service()
            .users()
            .messages()
            .get(userId="me", id=provider_id, format="metadata", metadataHeaders=names)
        )
        response = self._execute(request, "users.messages.get")
        payload = response.get("payload") or {}
        found: dict[str, str] = {}
        for header in payload.get("headers") or []:
            name, value = header.get("name"), header.get("value")
            if isinstance(name, str) and isinstance(value, str):
                found.setdefault(name.lower(), value)
        return found

    # --- crash recovery ------------------------------------------------------------------

    def _search(self, query: str) -> list[dict[str, Any]]:
        request = (
            self._service()
            .users()
            .messages()
            .list(userId="me", q=query, maxResults=MAX_CANDIDATES, includeSpamTrash=True)
        )
        response = self._execute(request, "users.messages.list")
        messages = response.get("messages") or []
        return [m for m in messages if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def find_sent(self, email: OutgoingEmail) -> SendResult | None:
        """The earlier send of `email`, found by its Message-ID, else by its reference word in
        Sent confirmed by the key header; None when it was never sent."""
        bare_id = email.message_id.strip("<>")
        for hit in self._search(f"rfc822msgid:{bare_id}"):
            return SendResult(
                message_id=email.message_id,
                provider_id=hit["id"],
                thread_id=_text(hit.get("threadId")),
            )
        # The reference word is also in replies that quote the email: trust only the header.
        for hit in self._search(f'in:sent "{email.reference_token}"'):
            headers = self._headers(hit["id"], [KEY_HEADER, "Message-ID"])
            if headers.get(KEY_HEADER.lower()) == email.notification_key:
                return SendResult(
                    message_id=headers.get("message-id") or email.message_id,
                    provider_id=hit["id"],
                    thread_id=_text(hit.get("threadId")),
                )
        return None

    def verify(self) -> str:
        """The account's address (`users.getProfile`): proves the token works before polling."""
        response = self._execute(
            self._service().users().getProfile(userId="me"), "users.getProfile"
        )
        address = response.get("emailAddress")
        if not isinstance(address, str):
            raise SendError("Gmail profile has no email address")
        return address


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
