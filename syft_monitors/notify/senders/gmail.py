"""Sending through the Gmail API as the data owner, with crash recovery.

Exactly-once: every email carries a Message-ID derived from its notification key, a
`X-Syft-Monitor-Key` header and a reference word in its body. `find_sent` looks for it in the
account (`rfc822msgid:` first, then the reference word in Sent, confirmed by the header), so after
a crash the dispatcher can tell whether the send went out before sending again.

Retries: a 429 certainly sent nothing, so the send is repeated after the back-off (or the
Retry-After) of the retry policy. A send that fails ambiguously (5xx, dropped connection: Gmail
may have sent it) is NOT repeated here: it raises `SendError`, the dispatcher keeps its intent,
and the next attempt starts with `find_sent`. Searching right after the failure could miss a
message Gmail has not indexed yet; the delay until the next attempt makes that less likely.

Searches are restricted to the SENT label: a copy the data owner received (emails to
themselves) has a different Gmail id and may sit in a different thread.

googleapiclient services are not thread-safe: one is built lazily per thread that sends.
"""

from __future__ import annotations

import base64
import dataclasses
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
    SyftMonitorError,
)
from syft_monitors.google.clients import build_gmail_service, load_credentials, resolve_api_root
from syft_monitors.google.retry import DEFAULT_POLICY, RequestObserver, RetryPolicy, execute
from syft_monitors.notify.email import KEY_HEADER, EmailFormat, OutgoingEmail, to_bytes
from syft_monitors.notify.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from syft_monitors.notify.senders.base import NotificationSender, SendResult

logger = logging.getLogger(__name__)

GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.modify",)
API = "gmail"
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
        # Like the monitors: explicit root, else $SYFT_GOOGLE_API_ROOT, else real Google.
        self.api_root = resolve_api_root(api_root)
        self._credentials = credentials
        self._shared_service = service
        self._observer = observer
        self._policy = retry_policy
        # The send itself is attempted once per loop turn: see `_send` for which errors repeat it.
        self._send_policy = dataclasses.replace(retry_policy, max_attempts=1)
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

    def _users(self) -> Any:
        # Building `service.users()` builds all its methods: once per thread and service.
        service = self._service()
        cached = getattr(self._local, "users", None)
        if cached is None or cached[0] is not service:
            cached = (service, service.users())
            self._local.users = cached
        return cached[1]

    def _execute(
        self, request: Any, method: str, policy: RetryPolicy | None = None
    ) -> dict[str, Any]:
        try:
            response = execute(
                request,
                api=API,
                method=method,
                policy=policy or self._policy,
                observer=self._observer,
            )
        except CredentialsError:
            self._forget_credentials()
            raise
        return response if isinstance(response, dict) else {}

    def _forget_credentials(self) -> None:
        """After Google rejected the token, read the token file again on the next call, so a
        re-authorization (a new file, an updated Secret) works without a restart."""
        if self.token_path is None:
            return  # injected credentials or service: the caller owns them
        with self._lock:
            self._credentials = None
        self._local.service = None

    # --- sending -------------------------------------------------------------------------

    def _send(self, email: OutgoingEmail, *, thread_id: str | None) -> SendResult:
        raw = base64.urlsafe_b64encode(to_bytes(email, None, self.email_format))
        body: dict[str, str] = {"raw": raw.decode("ascii")}
        # Gmail threads only replies (In-Reply-To + matching subject): a threadId on an email
        # that starts a conversation, or goes to someone else, would misfile it.
        if thread_id and email.in_reply_to is not None:
            body["threadId"] = thread_id
        attempt = 0
        while True:
            attempt += 1
            try:
                request = self._users().messages().send(userId="me", body=body)
                response = self._execute(request, "messages.send", self._send_policy)
            except QuotaError as error:
                # A 429 is a refusal: nothing was sent, so trying again cannot duplicate.
                if error.status != 429 or attempt >= self._policy.max_attempts:
                    raise
                self._policy.sleep(self._policy.delay(attempt, error.retry_after))
                continue
            except ServiceError as error:
                # 5xx or a broken connection: Gmail may have sent it. Not retried here; the
                # dispatcher keeps the intent and asks `find_sent` before trying again.
                raise SendError(
                    f"Gmail send of {email.notification_key} failed: {error}"
                ) from error
            return self._result(email, response)

    def _result(self, email: OutgoingEmail, response: dict[str, Any]) -> SendResult:
        provider_id = _text(response.get("id"))
        thread_id = _text(response.get("threadId"))
        message_id = email.message_id
        if provider_id is not None:
            # Gmail may replace a client-set Message-ID; record the one it actually keeps. The
            # email is sent whatever happens here, so a failure must not turn into an error.
            try:
                headers = self._headers(provider_id, ["Message-ID"])
            except SyftMonitorError as error:
                logger.warning("could not read back %s: %s", email.notification_key, error)
            else:
                message_id = headers.get("message-id") or message_id
        return SendResult(message_id=message_id, provider_id=provider_id, thread_id=thread_id)

    def _headers(self, provider_id: str, names: list[str]) -> dict[str, str]:
        request = (
            self._users()
            .messages()
            .get(userId="me", id=provider_id, format="metadata", metadataHeaders=names)
        )
        response = self._execute(request, "messages.get")
        payload = response.get("payload") or {}
        found: dict[str, str] = {}
        for header in payload.get("headers") or []:
            name, value = header.get("name"), header.get("value")
            if isinstance(name, str) and isinstance(value, str):
                # A header too long for one line (a heartbeat's key) is folded before its
                # value; unfolding leaves that space in front of it.
                found.setdefault(name.lower(), value.strip())
        return found

    # --- crash recovery ------------------------------------------------------------------

    def _search(self, query: str) -> list[dict[str, Any]]:
        request = (
            self._users()
            .messages()
            .list(
                userId="me",
                q=query,
                labelIds=["SENT"],
                maxResults=MAX_CANDIDATES,
                includeSpamTrash=True,
            )
        )
        response = self._execute(request, "messages.list")
        messages = response.get("messages") or []
        return [m for m in messages if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def find_sent(self, email: OutgoingEmail) -> SendResult | None:
        """The earlier send of `email`, found by its Message-ID, else by its reference word in
        Sent confirmed by the key header; None when it was never sent.

        Raises `ServiceError` / `CredentialsError` when Gmail cannot be searched: then nothing
        is known and the caller must not send.
        """
        bare_id = email.message_id.strip("<>")
        for hit in self._search(f"rfc822msgid:{bare_id}"):
            return SendResult(
                message_id=email.message_id,
                provider_id=hit["id"],
                thread_id=_text(hit.get("threadId")),
            )
        # The reference word is also in replies that quote the email: trust only the header.
        for hit in self._search(f'"{email.reference_token}"'):
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
        response = self._execute(self._users().getProfile(userId="me"), "getProfile")
        address = response.get("emailAddress")
        if not isinstance(address, str):
            raise SendError("Gmail profile has no email address")
        return address


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
