"""Hostile names through every template and every sender, checked on the bytes received.

A job folder named ``=?utf-8?q?Review=0D=0ABcc=3A_mallory=40evil.example=0D=0A=0D=0AApproved=2E?=``
passes the path checks and holds no control character; CPython before 3.11.10 (CVE-2024-6923,
the 3.11.7 this project runs on) decodes it into a raw CR LF while serialising the Subject, which
gave the owner's email a real Bcc recipient and a replaced body. Each case below is sent through
the Gmail API (the sandbox, official client), SMTP (aiosmtpd) and the file sender, and the raw
bytes that arrive are parsed: recipients, Subject, Message-ID and the key header must be exactly
what was set, with no extra header and the body intact.
"""

from __future__ import annotations

import base64
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.notify.email import KEY_HEADER, OutgoingEmail
from syft_monitors.notify.plan import (
    EVENT_HEADER,
    NotifyConfig,
    ThreadInfo,
    plan_heartbeat,
    plan_notifications,
)
from syft_monitors.notify.senders.base import NotificationSender, SendResult
from syft_monitors.notify.senders.file import FileSender
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.notify.senders.smtp import SmtpSender
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.demo_world import DO_EMAIL as DEMO_DO
from syft_sandbox.demo_world import DS_ALICE, DemoWorld
from tests.support import free_port

DO = "owner@datasite.org"
DS = "scientist@uni.edu"
MALLORY = "mallory@evil.example"
INJECTED = "Bcc: mallory@evil.example"


def _b64_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode("ascii") + "?="


#: The issue's name first; then the same payload in other disguises.
HOSTILE = {
    "encoded-word-crlf": (
        "=?utf-8?q?Review=0D=0ABcc=3A_mallory=40evil.example=0D=0A=0D=0AApproved=2E?="
    ),
    "encoded-word-base64-lf": _b64_word(f"Review\n{INJECTED}\n\nApproved."),
    "encoded-word-inside-a-word": "x=?utf-8?q?=0D=0ABcc=3A_mallory=40evil.example?=y",
    "encoded-word-behind-zero-width": "=\u200b?utf-8?q?R=0D=0ABcc=3A_mallory=40evil.example?=",
    "encoded-words-repeated-long": " ".join(
        ["=?utf-8?q?" + "=0D=0ABcc=3A_mallory=40evil.example" * 3 + "?="] * 12
    ),
    "bare-crlf": f"Review\r\n{INJECTED}\r\n\r\nApproved.",
    "bare-cr": f"Review\r{INJECTED}",
    "bare-lf": f"Review\n{INJECTED}",
    "unicode-line-separators": f"Review\u2028{INJECTED}\u2029X-Evil: 1\u0085X-Worse: 2",
    "vertical-tab-form-feed": f"Review\x0b{INJECTED}\x0cX-Evil: 1",
    "very-long-word": "A" * 5000,
    "very-long-non-ascii-word": "\u00e9" * 3000,
}


def planned(name: str) -> list[OutgoingEmail]:
    """Every email of every template, with `name` wherever Drive data reaches a header."""
    job = JobRef(datasite=DO, submitter=DS, name=name)
    thread = ThreadInfo(message_id="<first@syft-monitor.local>", thread_id=None)
    events = [
        (EventKind.NEW_JOB, JobDetails(files={f"{name}.py": "0" * 64}, code={name: b"x"}), None),
        (EventKind.JOB_APPROVED, JobDetails(approved_by=name, approval_method=name), None),
        (EventKind.JOB_APPROVED, JobDetails(approved_by=DO), thread),
        (EventKind.JOB_EXECUTED, JobDetails(return_code=0), thread),
        (EventKind.JOB_FAILED, JobDetails(return_code=1, stderr_tail=name), None),
        (EventKind.JOB_REJECTED, JobDetails(reason=name), None),
    ]
    emails: list[OutgoingEmail] = []
    for kind, details, reply_to in events:
        event = Event(kind=kind, do_email=DO, job=job, details=details)
        emails += plan_notifications(event, config=NotifyConfig(), thread=reply_to)
    # Peer names reach subjects too (the DS copy is skipped: the name is no address).
    for kind in (EventKind.NEW_PEER, EventKind.PEER_GRANTED):
        for peer in (name, DS):
            event = Event(kind=kind, do_email=DO, peer=peer)
            emails += plan_notifications(event, config=NotifyConfig())
    emails.append(plan_heartbeat(DO, 86400, datetime(2026, 5, 14, tzinfo=UTC)))
    return emails


def test_the_corpus_reaches_every_template() -> None:
    subjects = [mail.subject for mail in planned(HOSTILE["encoded-word-crlf"])]
    for start in (
        "Job: ",
        "Job Submitted: ",
        "Job Approved: ",
        "Re: Job: ",
        "Job Failed: ",
        "Job Completed: ",
        "Job Not Approved: ",
        "New Peer Request from ",
        "Peer Request Sent to ",
        "Peer Request Accepted: ",
        "heartbeat: ",
    ):
        assert any(subject.startswith(start) for subject in subjects), start
    assert sum("Review" in subject for subject in subjects) >= 8


def expected_names(mail: OutgoingEmail, sender_address: str | None) -> list[str]:
    names = ["to", "subject", "date", "message-id", "auto-submitted"]
    names += [KEY_HEADER.lower(), EVENT_HEADER.lower(), "mime-version", "content-type"]
    if sender_address is not None:
        names.append("from")
    if mail.in_reply_to is not None:
        names += ["in-reply-to", "references"]
    return sorted(names)


def check_received(raw: bytes, mail: OutgoingEmail, sender_address: str | None) -> None:
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    what = mail.subject
    assert sorted(name.lower() for name in parsed) == expected_names(mail, sender_address), what
    # Unfolding keeps the folding space of a value moved whole onto the next line: trimmed.
    assert values(parsed, "To") == [mail.to], what
    assert values(parsed, "Subject") == [mail.subject], what
    assert values(parsed, "Message-ID") == [mail.message_id], what
    assert values(parsed, KEY_HEADER) == [mail.notification_key], what
    if sender_address is not None:
        assert values(parsed, "From") == [sender_address], what
    if mail.in_reply_to is not None:
        assert values(parsed, "In-Reply-To") == [mail.in_reply_to], what
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n")), what
    assert parsed.get_content_type() == "multipart/alternative", what
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None, what
    assert body.get_content().replace("\r\n", "\n") == mail.text, what


def values(parsed: EmailMessage, name: str) -> list[str]:
    return [str(value).strip() for value in parsed.get_all(name) or []]


# --- the three senders, each with the raw bytes it delivered ---------------------------------


@pytest.fixture
def sandbox() -> Sandbox:
    world = Sandbox()
    for user in (DO, DS, MALLORY):
        world.add_user(user)
    return world


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with sandbox.serve() as running:
        yield running


class RawRecorder:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[RawRecorder, int]]:
    recorder = RawRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_gmail_sends_exactly_what_was_set(
    case: str, sandbox: Sandbox, server: SandboxServer, tmp_path: Path
) -> None:
    token = sandbox.write_token_file(DO, tmp_path / "token.json", token_uri=server.token_uri)
    sender = GmailSender(token, api_root=server.url)
    # The API adds From (the account) to what it sends.
    send_all(
        sender,
        HOSTILE[case],
        lambda result, mail: stored(sandbox, result.provider_id),
        sender_address=DO,
    )
    assert sandbox.received_mail(MALLORY) == []


def stored(sandbox: Sandbox, provider_id: str | None) -> bytes:
    (record,) = [m for m in sandbox.sent_mail(DO) if m.id == provider_id]
    return record.raw


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_smtp_sends_exactly_what_was_set(case: str, smtp_server: tuple[RawRecorder, int]) -> None:
    recorder, port = smtp_server
    sender = SmtpSender("127.0.0.1", port, starttls=False, from_address=DO)

    def received(result: object, mail: OutgoingEmail) -> bytes:
        rcpt_tos, raw = recorder.received[-1]
        assert rcpt_tos == [mail.to]
        return raw

    send_all(sender, HOSTILE[case], received, sender_address=DO)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_file_sender_writes_exactly_what_was_set(case: str, tmp_path: Path) -> None:
    sender = FileSender(tmp_path / "outbox", sender_address=DO)

    def written(result: SendResult, mail: OutgoingEmail) -> bytes:
        assert result.provider_id is not None
        return (tmp_path / "outbox" / result.provider_id).read_bytes()

    send_all(sender, HOSTILE[case], written, sender_address=DO)


def send_all(
    sender: NotificationSender,
    name: str,
    raw_of: Any,
    *,
    sender_address: str | None = None,
) -> None:
    broken: list[str] = []
    for mail in planned(name):
        result = sender.send(mail)
        try:
            check_received(raw_of(result, mail), mail, sender_address)
        except AssertionError:
            broken.append(mail.notification_key)
    sender.close()
    # All at once: the owner's email and the data scientist's "Job Submitted" alike.
    assert broken == []


def test_a_hostile_job_folder_on_drive_reaches_nobody_else(world: DemoWorld) -> None:
    """The issue's reproduction: the name passes the path checks, the monitor emails both."""
    world.sandbox.add_user(MALLORY)
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DEMO_DO)
    world.owner.accept_peer(DS_ALICE)
    world.poll()
    alice.submit_job(DEMO_DO, HOSTILE["encoded-word-crlf"], {"main.py": "print(1)\n"})
    sent = world.poll()
    neutral = "= ?utf-8?q?Review=0D=0ABcc=3A_mallory=40evil.example=0D=0A=0D=0AApproved=2E?="
    assert sorted((mail.to, mail.subject) for mail in sent) == [
        (DS_ALICE, f"Job Submitted: {neutral}"),
        (DEMO_DO, f"Job: {neutral}"),
    ]
    for mail in sent:
        parsed = BytesParser(policy=email.policy.default).parsebytes(mail.record.raw)
        assert parsed.get_all("Bcc") is None
        assert parsed.get_all("To") == [mail.to]
        assert str(parsed[KEY_HEADER]).startswith("new_job:")
        body = parsed.get_body(preferencelist=("plain",))
        assert body is not None
        assert "New job" in body.get_content() or "submitted" in body.get_content()
    assert world.sandbox.received_mail(MALLORY) == []
