"""The email we mean to send, and its MIME form.

An `OutgoingEmail` is pure data: planning produces it, a sender turns it into bytes with
`to_mime`. Its `message_id` is derived from `notification_key` alone, so a notification planned
again after a crash carries the SAME Message-ID and the sender can ask the mail service whether it
already went out (`NotificationSender.find_sent`).

Formats (`email_format` in the config):

* ``"text"``: a single text/plain part.
* ``"html"`` (default) and ``"both"``: multipart/alternative, text/plain first, text/html second.
  They are the same on purpose: an HTML-only email is unreadable in plain-text clients and screen
  readers, scores worse with spam filters, and breaks the email-approval reply parser, which reads
  the first text/plain part. ``"both"`` is kept because the seed configuration accepts it.
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.policy
import email.utils
import hashlib
import re
import types
from collections.abc import Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Literal

from syft_monitors.errors import InvalidEmailError, UnsafeHeaderError
from syft_monitors.notify.sanitize import ENCODED_WORD_START, sanitize_header
from syft_monitors.protocol.emails import is_valid_email, safe_repr

EmailFormat = Literal["html", "text", "both"]
EMAIL_FORMATS: tuple[EmailFormat, ...] = ("html", "text", "both")

MESSAGE_ID_DOMAIN = "syft-monitor.local"
#: Header carrying the notification key, read back from Sent mail for crash recovery.
KEY_HEADER = "X-Syft-Monitor-Key"
MAX_SUBJECT_CHARS = 200
#: RFC 5322 section 2.1.1: no line of a message may be longer than this.
MAX_LINE_OCTETS = 998
_MSGID_RE = re.compile(r"<[!-;=?-~]{1,250}@[!-;=?-~]{1,250}>")
_HEADER_NAME_RE = re.compile(r"[A-Za-z0-9-]{1,76}")
# Headers built here from structured fields: an extra header must not replace them.
_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "To",
        "From",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Auto-Submitted",
        "Bcc",
        "Cc",
        KEY_HEADER,
    )
)


def _digest(key: str, purpose: str) -> str:
    return hashlib.sha256(f"syft-monitor\x00{purpose}\x00{key}".encode()).hexdigest()


def message_id_for(notification_key: str) -> str:
    """The RFC 5322 Message-ID of the notification `notification_key` (always the same)."""
    return f"<{_digest(notification_key, 'message-id')[:40]}@{MESSAGE_ID_DOMAIN}>"


def reference_token(notification_key: str) -> str:
    """A single search word put in the body so the email can be found again in Sent.

    Gmail search does not index custom headers, so the key header alone cannot be searched for.
    """
    return "syftmon" + _digest(notification_key, "token")[:24]


def is_message_id(value: str) -> bool:
    """True for a syntactically safe `<local@domain>` Message-ID (no spaces, no line breaks).

    Nor an encoded word: In-Reply-To and References are unstructured headers to the email
    package, which an unpatched interpreter would decode into raw CR LF (CVE-2024-6923).
    """
    return _MSGID_RE.fullmatch(value) is not None and ENCODED_WORD_START not in value


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One planned notification to one recipient."""

    to: str
    subject: str
    text: str
    html: str | None
    message_id: str
    #: `event.key + ":" + role`, e.g. ``new_job:<job key>:do``; the identity of the send.
    notification_key: str
    #: DO emails about one job share it (the job key); None for stand-alone emails.
    thread_key: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_valid_email(self.to):
            raise InvalidEmailError(f"recipient is not a valid email address: {safe_repr(self.to)}")
        if not is_message_id(self.message_id):
            raise ValueError(f"invalid Message-ID {safe_repr(self.message_id)}")
        for name in self.headers:
            if _HEADER_NAME_RE.fullmatch(name) is None:
                raise ValueError(f"invalid header name {safe_repr(name)}")
        object.__setattr__(self, "subject", sanitize_header(self.subject, limit=MAX_SUBJECT_CHARS))
        object.__setattr__(self, "text", _encodable(self.text))
        if self.html is not None:
            object.__setattr__(self, "html", _encodable(self.html))
        object.__setattr__(self, "headers", types.MappingProxyType(dict(self.headers)))
        object.__setattr__(self, "references", tuple(self.references))

    @classmethod
    def build(
        cls,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        notification_key: str,
        thread_key: str | None = None,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> OutgoingEmail:
        """An email whose Message-ID and key header derive from `notification_key`."""
        extra = {KEY_HEADER: notification_key}
        extra.update(headers or {})
        return cls(
            to=to,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id_for(notification_key),
            notification_key=notification_key,
            thread_key=thread_key,
            in_reply_to=in_reply_to,
            references=references,
            headers=extra,
        )

    @property
    def reference_token(self) -> str:
        return reference_token(self.notification_key)


def _encodable(body: str) -> str:
    """`body` without lone surrogates (from undecodable file names), which UTF-8 cannot encode."""
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return body.encode("utf-8", errors="replace").decode("utf-8")
    return body


def to_mime(
    message: OutgoingEmail, sender_address: str | None = None, fmt: EmailFormat = "html"
) -> EmailMessage:
    """The RFC 5322 message for `message`; every header value is sanitised once more here.

    `sender_address` None leaves `From` out (the Gmail API fills in the account's address).
    """
    if fmt not in EMAIL_FORMATS:
        raise ValueError(f"unknown email format {safe_repr(fmt)}")
    if not is_valid_email(message.to):
        raise InvalidEmailError(f"recipient is not a valid email address: {safe_repr(message.to)}")
    if sender_address is not None and not is_valid_email(sender_address):
        raise InvalidEmailError(f"sender is not a valid email address: {safe_repr(sender_address)}")

    mime = EmailMessage(policy=email.policy.SMTP)
    mime["To"] = message.to
    if sender_address is not None:
        mime["From"] = sender_address
    mime["Subject"] = sanitize_header(message.subject, limit=MAX_SUBJECT_CHARS)
    mime["Date"] = email.utils.formatdate(usegmt=True)
    mime["Message-ID"] = message.message_id
    # RFC 3834: stops vacation responders and mailing lists from answering a notification.
    mime["Auto-Submitted"] = "auto-generated"
    threading = [ref for ref in message.references if is_message_id(ref)]
    if message.in_reply_to is not None and is_message_id(message.in_reply_to):
        mime["In-Reply-To"] = message.in_reply_to
        if message.in_reply_to not in threading:
            threading.append(message.in_reply_to)
    if threading:
        mime["References"] = " ".join(threading)
    mime[KEY_HEADER] = sanitize_header(message.notification_key, limit=900)
    for name, value in message.headers.items():
        if name.lower() in _RESERVED_HEADERS:
            continue
        if _HEADER_NAME_RE.fullmatch(name) is None:
            continue
        mime[name] = sanitize_header(value, limit=900)

    mime.set_content(message.text, subtype="plain", charset="utf-8")
    if fmt != "text" and message.html is not None:
        mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime


def to_bytes(
    message: OutgoingEmail, sender_address: str | None = None, fmt: EmailFormat = "html"
) -> bytes:
    """The bytes to hand to the mail service: `to_mime` serialised, read back and checked.

    `sanitize_header` already keeps line breaks and encoded words out of every header value.
    This is the second line of defence, and the one that covers the email package's own folding:
    the headers a receiver reads back must be exactly the ones set, with the values set, like
    CPython's `verify_generated_headers` (3.11.10+) but on every interpreter (CVE-2024-6923).
    Raises `UnsafeHeaderError` (and sends nothing) otherwise.
    """
    return checked_bytes(to_mime(message, sender_address, fmt), message)


def checked_bytes(mime: EmailMessage, message: OutgoingEmail) -> bytes:
    """`mime` (built from `message`) serialised; `UnsafeHeaderError` unless it reads back intact."""
    try:
        raw = mime.as_bytes()
    except email.errors.MessageError as error:  # HeaderWriteError on a fixed interpreter
        raise UnsafeHeaderError(
            f"email {message.notification_key}: a header cannot be written safely "
            f"({type(error).__name__})"
        ) from error
    problem = _header_problem(raw, mime, message)
    if problem is not None:
        raise UnsafeHeaderError(f"email {message.notification_key} not sent: {problem}")
    return raw


def _header_problem(raw: bytes, mime: EmailMessage, message: OutgoingEmail) -> str | None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    if any(len(line) > MAX_LINE_OCTETS for line in head.split(b"\r\n")):
        return f"a header line is longer than {MAX_LINE_OCTETS} octets"
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    written = [name.lower() for name in mime]
    read = [name.lower() for name in parsed]
    if read != written:
        # Names only: values are untrusted text, and a log line is no place for them.
        differing = ", ".join(sorted(set(read) ^ set(written))) or "repeated or reordered"
        return f"its headers would not survive serialisation (differing: {differing})"
    identity = {
        "to": message.to,
        "subject": message.subject,
        "message-id": message.message_id,
        KEY_HEADER.lower(): message.notification_key,
    }
    for name in dict.fromkeys(written):
        expected = identity.get(name)
        # A value folded onto the next line whole is read back with the folding space first.
        got = [str(value).strip() for value in parsed.get_all(name) or []]
        if got != [str(value).strip() for value in mime.get_all(name) or []] or (
            expected is not None and got != [expected]
        ):
            return f"its {name} header would not be read back as written"
    return None


def email_package_is_fixed() -> bool:
    """Whether this interpreter's email package has the CVE-2024-6923 fix, judged by behaviour.

    Version numbers cannot tell (distributions backport the fix): a header holding an encoded
    word that decodes to CR LF is serialised, and the fix either keeps it encoded or refuses it.
    Our own sanitising protects our emails either way; this is for `syft-bg doctor`.
    """
    probe = EmailMessage(policy=email.policy.SMTP)
    probe["Subject"] = "=?utf-8?q?probe=0D=0AX-Syft-Probe=3A_injected?="
    probe.set_content("probe")
    try:
        raw = probe.as_bytes()
    except email.errors.MessageError:  # HeaderWriteError: the fix refuses to write it
        return True
    return b"\nX-Syft-Probe:" not in raw
