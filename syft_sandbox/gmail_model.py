"""Mailboxes: sent and received messages, threads and Message-IDs, per sandbox user."""

from __future__ import annotations

import email.utils
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from syft_sandbox.apierror import ApiError
from syft_sandbox.gmail_query import Term, matches

_SUBJECT_PREFIX_RE = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)
_MSGID_RE = re.compile(r"<[^<>\s]+>")


def _new_id() -> str:
    return secrets.token_hex(8)


def parse_message(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)  # policy.default always builds EmailMessage
    return parsed


def normalized_subject(subject: str) -> str:
    return _SUBJECT_PREFIX_RE.sub("", subject).strip().casefold()


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    owner: str
    label_ids: list[str]
    raw: bytes
    parsed: EmailMessage
    internal_date: int  # milliseconds since the epoch
    history_id: int
    # Searches read every message: decode each once (raw bytes never change after storing).
    _headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _text: str | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str:
        key = name.lower()
        if key not in self._headers:
            values = self.parsed.get_all(name) or []
            self._headers[key] = ", ".join(str(v) for v in values)
        return self._headers[key]

    def labels(self) -> set[str]:
        return set(self.label_ids)

    def text(self) -> str:
        if self._text is None:
            headers = " ".join(self.header(h) for h in ("subject", "from", "to", "cc"))
            self._text = headers + " " + _body_text(self.parsed)
        return self._text

    def snippet(self) -> str:
        return " ".join(_body_text(self.parsed).split())[:200]


@dataclass(frozen=True)
class MailRecord:
    """A message as Python callers see it: ids plus the parsed RFC 822 message."""

    id: str
    thread_id: str
    label_ids: tuple[str, ...]
    message: EmailMessage
    raw: bytes


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return ""
    return content if isinstance(content, str) else ""


@dataclass(frozen=True)
class HistoryRecord:
    """One change of a mailbox, as `users.history.list` reports it."""

    id: int
    #: "messageAdded", "labelAdded" or "labelRemoved".
    kind: str
    message_id: str
    #: The labels added or removed (labelAdded / labelRemoved).
    label_ids: tuple[str, ...] = ()


@dataclass
class Mailbox:
    email: str
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    threads: dict[str, list[str]] = field(default_factory=dict)
    #: RFC 822 Message-ID (without brackets) -> our message ids, for threading and rfc822msgid:.
    by_rfc_id: dict[str, list[str]] = field(default_factory=dict)
    #: Changes in history-id order, the feed `users.history.list` reads.
    history: list[HistoryRecord] = field(default_factory=list)
    #: A startHistoryId below this is too old: Gmail answers 404 (see `expire_history`).
    history_floor: int = 0


class Mailboxes:
    """Not thread-safe by itself: the sandbox calls it under its model lock."""

    def __init__(self, clock_ms: Callable[[], float]) -> None:
        self._clock_ms = clock_ms
        self._boxes: dict[str, Mailbox] = {}
        self._history = 1000
        #: Messages each user may send per UTC day, as Gmail enforces (consumer accounts about
        #: 500, Workspace 2,000); None: unlimited. Beyond it a send gets Gmail's 403
        #: dailyLimitExceeded, like the real service once an account hits its sending limit.
        self.daily_send_limit: int | None = None
        self._sent_today: dict[str, tuple[int, int]] = {}
        #: Seconds before a stored message shows up in searches (`messages.list` with `q`),
        #: as Gmail's search index lags behind sends. `messages.get` sees it at once.
        self.index_lag = 0.0

    def add_user(self, email_address: str) -> None:
        self._boxes.setdefault(email_address, Mailbox(email_address))

    def box(self, email_address: str) -> Mailbox:
        return self._boxes[email_address]

    def history_id(self) -> int:
        return self._history

    def expire_history(self, user: str) -> None:
        """Make every history id handed out so far too old for `users.history.list` (404), as
        Gmail does after about a week, or sooner "in some rare circumstances"."""
        self._history += 1
        self._boxes[user].history_floor = self._history

    def history_since(self, user: str, start: int) -> list[HistoryRecord] | None:
        """Records after `start`, oldest first; None when `start` is too old (expired)."""
        box = self._boxes[user]
        if start < box.history_floor:
            return None
        return [record for record in box.history if record.id > start]

    def change_labels(
        self, user: str, message_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> StoredMessage:
        """`messages.modify`: add and remove labels, each change a history record."""
        box = self._boxes[user]
        stored = box.messages.get(message_id)
        if stored is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        add, remove = list(add), list(remove)
        if {"SENT", "DRAFT"} & {*add, *remove}:
            raise ApiError(400, "invalidArgument", "Invalid label: SENT and DRAFT are system-set")
        added = [label for label in dict.fromkeys(add) if label not in stored.label_ids]
        removed = [label for label in dict.fromkeys(remove) if label in stored.label_ids]
        if added:
            stored.label_ids.extend(added)
            self._history += 1
            box.history.append(HistoryRecord(self._history, "labelAdded", message_id, tuple(added)))
        if removed:
            stored.label_ids[:] = [label for label in stored.label_ids if label not in removed]
            self._history += 1
            box.history.append(
                HistoryRecord(self._history, "labelRemoved", message_id, tuple(removed))
            )
        if added or removed:
            stored.history_id = self._history
        return stored

    def _count_against_limit(self, user: str) -> None:
        day = int(self._clock_ms() // 86_400_000)
        seen_day, count = self._sent_today.get(user, (day, 0))
        count = count if seen_day == day else 0
        if self.daily_send_limit is not None and count >= self.daily_send_limit:
            raise ApiError(403, "dailyLimitExceeded", "Daily Limit Exceeded", domain="usageLimits")
        self._sent_today[user] = (day, count + 1)

    def send(self, user: str, raw: bytes, thread_id: str | None) -> StoredMessage:
        """Store an outgoing message for `user` and deliver copies to recipients we host."""
        parsed = parse_message(raw)
        recipients = [
            address.lower()
            for _, address in email.utils.getaddresses(
                [str(v) for h in ("to", "cc", "bcc") for v in (parsed.get_all(h) or [])]
            )
            if address
        ]
        if not recipients:
            raise ApiError(400, "invalidArgument", "Recipient address required")
        self._count_against_limit(user)
        extra = b""
        if parsed.get("message-id") is None:
            extra += f"Message-ID: <{secrets.token_hex(12)}@mail.gmail.com>\r\n".encode("ascii")
        if parsed.get("date") is None:
            extra += f"Date: {email.utils.formatdate(self._clock_ms() / 1000)}\r\n".encode("ascii")
        if parsed.get("from") is None:
            extra += f"From: {user}\r\n".encode("ascii")
        if extra:
            raw = extra + raw
            parsed = parse_message(raw)
        box = self._boxes[user]
        if thread_id is not None and thread_id not in box.threads:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        joined = (
            thread_id if thread_id is not None and self._may_join(box, thread_id, parsed) else None
        )
        # A message to oneself is one message with both labels, as in Gmail (not two copies).
        own = user.lower() in recipients
        labels = ["SENT", "INBOX", "UNREAD"] if own else ["SENT"]
        stored = self._store(box, raw, parsed, labels, joined)
        for recipient in dict.fromkeys(recipients):
            if recipient in self._boxes and recipient != user.lower():
                target = self._boxes[recipient]
                self._store(
                    target,
                    raw,
                    parsed,
                    ["INBOX", "UNREAD"],
                    self._thread_by_reference(target, parsed),
                )
        return stored

    def receive(self, user: str, raw: bytes) -> StoredMessage:
        """Put a message into `user`'s inbox as if it arrived from outside."""
        parsed = parse_message(raw)
        if parsed.get("message-id") is None:
            raw = f"Message-ID: <{secrets.token_hex(12)}@mail.example>\r\n".encode("ascii") + raw
            parsed = parse_message(raw)
        box = self._boxes[user]
        return self._store(
            box, raw, parsed, ["INBOX", "UNREAD"], self._thread_by_reference(box, parsed)
        )

    def search(
        self, user: str, terms: list[Term], label_ids: list[str], include_spam_trash: bool
    ) -> list[StoredMessage]:
        box = self._boxes[user]
        candidates: Iterable[StoredMessage] = box.messages.values()
        for term in terms:
            if term.key == "rfc822msgid" and not term.negated:
                ids = box.by_rfc_id.get(term.value.strip().strip("<>"), [])
                candidates = [box.messages[i] for i in ids]
        if self.index_lag > 0:
            indexed_before = self._clock_ms() - self.index_lag * 1000
            candidates = [m for m in candidates if m.internal_date <= indexed_before]
        found = [
            m
            for m in candidates
            if all(label in m.label_ids for label in label_ids)
            and (include_spam_trash or not ({"SPAM", "TRASH"} & m.labels()))
            and matches(terms, m)
        ]
        found.sort(key=lambda m: (m.internal_date, m.history_id), reverse=True)
        return found

    def _may_join(self, box: Mailbox, thread_id: str, parsed: EmailMessage) -> bool:
        """Gmail threads a sent message only when its references and subject fit the thread."""
        first = box.messages[box.threads[thread_id][0]]
        return any(
            box.messages[m].thread_id == thread_id for m in self._referenced(box, parsed)
        ) and normalized_subject(str(parsed.get("subject", ""))) == normalized_subject(
            first.header("subject")
        )

    def _thread_by_reference(self, box: Mailbox, parsed: EmailMessage) -> str | None:
        subject = normalized_subject(str(parsed.get("subject", "")))
        for message_id in self._referenced(box, parsed):
            message = box.messages[message_id]
            if normalized_subject(message.header("subject")) == subject:
                return message.thread_id
        return None

    @staticmethod
    def _referenced(box: Mailbox, parsed: EmailMessage) -> list[str]:
        text = str(parsed.get("references", "")) + " " + str(parsed.get("in-reply-to", ""))
        found: list[str] = []
        for reference in _MSGID_RE.findall(text):
            found.extend(box.by_rfc_id.get(reference.strip("<>"), []))
        return found

    def _store(
        self,
        box: Mailbox,
        raw: bytes,
        parsed: EmailMessage,
        labels: list[str],
        thread_id: str | None,
    ) -> StoredMessage:
        self._history += 1
        message_id = _new_id()
        thread = thread_id or message_id
        stored = StoredMessage(
            id=message_id,
            thread_id=thread,
            owner=box.email,
            label_ids=list(labels),
            raw=raw,
            parsed=parsed,
            internal_date=int(self._clock_ms()),
            history_id=self._history,
        )
        box.messages[message_id] = stored
        box.threads.setdefault(thread, []).append(message_id)
        box.history.append(HistoryRecord(self._history, "messageAdded", message_id))
        rfc_id = stored.header("message-id").strip().strip("<>")
        if rfc_id:
            box.by_rfc_id.setdefault(rfc_id, []).append(message_id)
        return stored
