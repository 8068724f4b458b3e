"""A thin, accounted Gmail reader: the history feed, single messages and thread metadata.

Every call goes through `google.retry.execute`. The googleapiclient service object is not
thread-safe, so each thread that calls builds its own from `service_factory` (cheap: the
discovery document is bundled, no network).

The feed is `users.history.list` from a stored history id, asking for added messages and added
labels (a sent draft may surface as either). An idle feed costs exactly one request. A history
id Gmail no longer keeps (typically after a week) is answered 404: `HistoryExpiredError`, and the
caller must re-baseline (`current_history_id`) and look at what it cares about directly.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from syft_monitors.errors import CredentialsError, ServiceError
from syft_monitors.google.clients import build_gmail_service
from syft_monitors.google.credentials import load_credentials
from syft_monitors.google.retry import DEFAULT_POLICY, RequestObserver, RetryPolicy, execute

ServiceFactory = Callable[[], Any]
API = "gmail"
HISTORY_TYPES = ("messageAdded", "labelAdded")
HISTORY_PAGE_SIZE = 500
#: A reply bigger than this is not read (a command is one line; this is generous for quotes).
MAX_MESSAGE_BYTES = 5 * 1024 * 1024


class HistoryExpiredError(ServiceError):
    """Gmail no longer keeps the stored history id (404): the feed must be re-baselined."""


@dataclasses.dataclass(frozen=True, slots=True)
class AddedMessage:
    """A message the feed reports as added (or newly labelled), with its thread."""

    id: str
    thread_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: tuple[AddedMessage, ...]
    #: The mailbox's current history id: where the next read starts.
    history_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class MailMessage:
    id: str
    thread_id: str
    label_ids: frozenset[str]
    message: EmailMessage


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One message of a thread as `threads.get(format=metadata)` describes it."""

    id: str
    label_ids: frozenset[str]
    #: Lower-cased header name -> value, for the headers asked for.
    headers: dict[str, str]


class GmailReader:
    def __init__(
        self,
        service_factory: ServiceFactory,
        *,
        observer: RequestObserver | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        page_size: int = HISTORY_PAGE_SIZE,
    ) -> None:
        self._factory = service_factory
        self._page_size = page_size
        self._local = threading.local()
        self._observer = observer
        self._policy = policy

    def _users(self) -> Any:
        users = getattr(self._local, "users", None)
        if users is None:
            users = self._factory().users()
            self._local.users = users
        return users

    def _call(self, request: Any, method: str) -> Any:
        try:
            return execute(
                request, api=API, method=method, policy=self._policy, observer=self._observer
            )
        except CredentialsError:
            self._local.users = None  # a re-authorization is picked up on the next call
            raise

    def current_history_id(self) -> str:
        """The mailbox's current history id (`users.getProfile`): a baseline for the feed."""
        reply = self._call(self._users().getProfile(userId="me"), "getProfile")
        return str(reply["historyId"])

    def history(self, start: str) -> HistoryPage:
        """Messages added or labelled after `start`, all pages, each once, oldest first."""
        found: dict[str, AddedMessage] = {}
        token: str | None = None
        latest = start
        while True:
            params: dict[str, Any] = {
                "userId": "me",
                "startHistoryId": start,
                "historyTypes": list(HISTORY_TYPES),
                "maxResults": self._page_size,
            }
            if token:
                params["pageToken"] = token
            try:
                reply = self._call(self._users().history().list(**params), "history.list")
            except ServiceError as error:
                if error.status == 404:
                    raise HistoryExpiredError(
                        "Gmail no longer keeps the stored history id", status=404
                    ) from error
                raise
            for record in reply.get("history") or ():
                for item in (
                    *(record.get("messagesAdded") or ()),
                    *(record.get("labelsAdded") or ()),
                ):
                    message = item.get("message") if isinstance(item, dict) else None
                    if isinstance(message, dict) and isinstance(message.get("id"), str):
                        found.setdefault(
                            message["id"],
                            AddedMessage(message["id"], str(message.get("threadId") or "")),
                        )
            latest = str(reply.get("historyId") or latest)
            token = reply.get("nextPageToken")
            if not token:
                return HistoryPage(tuple(found.values()), latest)

    def message(self, message_id: str) -> MailMessage:
        """One message, parsed (`format=raw`: the stdlib decodes transfer encodings, charsets)."""
        request = self._users().messages().get(userId="me", id=message_id, format="raw")
        reply = self._call(request, "messages.get")
        raw_text = str(reply.get("raw") or "")
        if len(raw_text) > MAX_MESSAGE_BYTES * 4 // 3 + 4:
            raise ServiceError(f"message {message_id} is too large to read as a reply")
        try:
            data = base64.urlsafe_b64decode(raw_text + "=" * (-len(raw_text) % 4))
        except (binascii.Error, ValueError) as error:
            raise ServiceError(f"message {message_id} has an undecodable body") from error
        parsed = BytesParser(policy=default_policy).parsebytes(data)
        assert isinstance(parsed, EmailMessage)  # policy.default always builds EmailMessage
        return MailMessage(
            id=message_id,
            thread_id=str(reply.get("threadId") or ""),
            label_ids=frozenset(str(label) for label in reply.get("labelIds") or ()),
            message=parsed,
        )

    def thread(self, thread_id: str, headers: list[str]) -> list[ThreadEntry]:
        """The thread's messages with their labels and the `headers` asked for."""
        request = (
            self._users()
            .threads()
            .get(userId="me", id=thread_id, format="metadata", metadataHeaders=headers)
        )
        reply = self._call(request, "threads.get")
        entries = []
        for message in reply.get("messages") or ():
            found: dict[str, str] = {}
            for header in (message.get("payload") or {}).get("headers") or ():
                name, value = header.get("name"), header.get("value")
                if isinstance(name, str) and isinstance(value, str):
                    found.setdefault(name.lower(), value.strip())
            entries.append(
                ThreadEntry(
                    id=str(message.get("id")),
                    label_ids=frozenset(str(label) for label in message.get("labelIds") or ()),
                    headers=found,
                )
            )
        return entries


def gmail_reader(
    token_path: str | os.PathLike[str], *, api_root: str | None, observer: RequestObserver | None
) -> GmailReader:
    """A reader whose service is built lazily, per thread, from the token file."""
    path = Path(os.path.expanduser(str(token_path)))

    def factory() -> Any:
        # No scope list: a token shared with Drive must not be narrowed when it refreshes.
        return build_gmail_service(load_credentials(path), api_root=api_root)

    return GmailReader(factory, observer=observer)
