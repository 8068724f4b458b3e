"""GmailSender against the sandbox's Gmail API, driven by the official Google client."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syft_monitors.errors import ConfigError, CredentialsError, QuotaError, SendError
from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.google.clients import build_gmail_service
from syft_monitors.google.retry import RetryPolicy
from syft_monitors.notify.email import KEY_HEADER, OutgoingEmail
from syft_monitors.notify.plan import (
    NotifyConfig,
    ThreadInfo,
    plan_heartbeat,
    plan_notifications,
)
from syft_monitors.notify.ratelimit import RateLimiter
from syft_monitors.notify.senders.gmail import GmailSender
from syft_sandbox import FaultRule, Sandbox, SandboxServer

DO = "owner@datasite.org"
DS = "scientist@uni.edu"
JOB = JobRef(datasite=DO, submitter=DS, name="analysis")


@pytest.fixture
def sandbox() -> Sandbox:
    world = Sandbox()
    world.add_user(DO)
    world.add_user(DS)
    return world


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with sandbox.serve() as running:
        yield running


@pytest.fixture
def token_path(sandbox: Sandbox, server: SandboxServer, tmp_path: Path) -> Path:
    return sandbox.write_token_file(DO, tmp_path / "token.json", token_uri=server.token_uri)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sender(token_path: Path, server: SandboxServer, sleeps: Sleeps) -> GmailSender:
    return GmailSender(
        token_path, api_root=server.url, retry_policy=RetryPolicy(sleep=sleeps, jitter=0.0)
    )


def emails(
    kind: EventKind, thread: ThreadInfo | None = None, **details: Any
) -> list[OutgoingEmail]:
    event = Event(kind=kind, do_email=DO, job=JOB, details=JobDetails(**details))
    return plan_notifications(event, config=NotifyConfig(), thread=thread)


def test_send_then_find_sent(sender: GmailSender, sandbox: Sandbox) -> None:
    do_email, ds_email = emails(EventKind.NEW_JOB, code={"main.py": b"print(1)\n"})
    assert sender.find_sent(do_email) is None

    result = sender.send(do_email)
    assert result.provider_id is not None
    assert result.thread_id is not None
    assert result.message_id == do_email.message_id

    (sent,) = sandbox.sent_mail(DO)
    assert sent.id == result.provider_id
    assert sent.message["Message-ID"] == do_email.message_id
    assert sent.message[KEY_HEADER] == do_email.notification_key
    assert sent.message["Subject"] == "Job: analysis"
    assert sent.message.get_content_type() == "multipart/alternative"

    assert sender.find_sent(do_email) == result
    assert sender.find_sent(ds_email) is None
    assert GmailSender.exactly_once is True


def test_thread_reply(sender: GmailSender, sandbox: Sandbox) -> None:
    first = sender.send(emails(EventKind.NEW_JOB)[0])
    thread = ThreadInfo(message_id=first.message_id, thread_id=first.thread_id)
    do_reply, ds_email = emails(EventKind.JOB_APPROVED, thread, approved_by=DO)

    reply = sender.send(do_reply, thread_id=thread.thread_id)
    other = sender.send(ds_email, thread_id=thread.thread_id)  # must not join the DO's thread

    assert reply.thread_id == first.thread_id
    assert other.thread_id != first.thread_id
    by_id = {m.id: m for m in sandbox.sent_mail(DO)}
    stored = by_id[reply.provider_id or ""].message
    assert stored["In-Reply-To"] == first.message_id
    assert stored["References"] == first.message_id
    assert stored["Subject"] == "Re: Job: analysis"
    assert sender.find_sent(do_reply) == reply
    # The DS really received theirs.
    assert [m.message["Subject"] for m in sandbox.received_mail(DS)] == ["Job Approved: analysis"]


def test_find_sent_falls_back_to_the_reference_word(sender: GmailSender) -> None:
    planned = emails(EventKind.NEW_JOB)[0]
    # As if Gmail had replaced our Message-ID: same key, body and header, another id.
    replaced = OutgoingEmail(
        to=planned.to,
        subject=planned.subject,
        text=planned.text,
        html=planned.html,
        message_id="<replaced-by-gmail@mail.gmail.com>",
        notification_key=planned.notification_key,
        thread_key=planned.thread_key,
    )
    result = sender.send(replaced)
    assert result.message_id == "<replaced-by-gmail@mail.gmail.com>"

    found = sender.find_sent(planned)
    assert found is not None
    assert found.provider_id == result.provider_id
    assert found.message_id == "<replaced-by-gmail@mail.gmail.com>"


def test_find_sent_reads_a_folded_key_header(sender: GmailSender, sandbox: Sandbox) -> None:
    # A heartbeat key is too long for one 78-column line: the key header is folded, and read
    # back with the folding space in front. Without trimming it the lookup missed the email.
    planned = plan_heartbeat(DO, 86400, datetime(2026, 5, 14, tzinfo=UTC))
    replaced = dataclasses.replace(planned, message_id="<replaced-by-gmail@mail.gmail.com>")
    result = sender.send(replaced)
    (sent,) = sandbox.sent_mail(DO)
    assert f"{KEY_HEADER}:\r\n {planned.notification_key}".encode() in sent.raw

    found = sender.find_sent(planned)
    assert found is not None
    assert found.provider_id == result.provider_id


def test_a_quote_of_the_reference_word_is_not_a_send(sender: GmailSender) -> None:
    planned = emails(EventKind.NEW_JOB)[0]
    quoted = f"approve\n\n> {planned.text}"  # a reply quoting the notification
    assert sender.send_notification(DO, "Re: Job: analysis", quoted)
    assert sender.find_sent(planned) is None


def test_rate_limited_send_is_retried(
    sender: GmailSender, sandbox: Sandbox, sleeps: Sleeps
) -> None:
    sandbox.faults.add(FaultRule.rate_limited(retry_after=3, method="messages.send", times=2))
    mark = sandbox.mark()
    result = sender.send(emails(EventKind.NEW_JOB)[0])
    assert result.provider_id is not None
    assert sleeps.calls == [3, 3]
    statuses = [r.status for r in sandbox.requests(mark, method="messages.send")]
    assert statuses == [429, 429, 200]
    assert len(sandbox.sent_mail(DO)) == 1


def test_persistent_rate_limit_is_a_quota_error(sender: GmailSender, sandbox: Sandbox) -> None:
    sandbox.faults.add(FaultRule.rate_limited(retry_after=1, method="messages.send"))
    with pytest.raises(QuotaError):
        sender.send(emails(EventKind.NEW_JOB)[0])
    assert len(sandbox.requests(0, method="messages.send")) == 5


def test_server_error_is_not_blindly_resent(sender: GmailSender, sandbox: Sandbox) -> None:
    sandbox.faults.add(FaultRule.server_error(500, method="messages.send", times=1))
    planned = emails(EventKind.NEW_JOB)[0]
    mark = sandbox.mark()
    with pytest.raises(SendError):
        sender.send(planned)
    assert len(sandbox.requests(mark, method="messages.send")) == 1
    # The dispatcher's next attempt asks first, then sends.
    assert sender.find_sent(planned) is None
    assert sender.send(planned).provider_id is not None
    assert sender.find_sent(planned) is not None


def test_revoked_token_is_a_credentials_error(sender: GmailSender, sandbox: Sandbox) -> None:
    sandbox.revoke_user(DO)
    with pytest.raises(CredentialsError):
        sender.send(emails(EventKind.NEW_JOB)[0])


def test_missing_token_file_is_a_credentials_error(server: SandboxServer, tmp_path: Path) -> None:
    sender = GmailSender(tmp_path / "absent.json", api_root=server.url)
    with pytest.raises(CredentialsError):
        sender.send(emails(EventKind.NEW_JOB)[0])
    assert sender.send_notification(DO, "s", "t") is False


def test_verify_and_observer(token_path: Path, server: SandboxServer) -> None:
    seen: list[tuple[str, str, str]] = []
    sender = GmailSender(
        token_path,
        api_root=server.url,
        observer=lambda api, method, outcome, _s: seen.append((api, method, outcome)),
    )
    assert sender.verify() == DO
    sender.send(emails(EventKind.NEW_JOB)[0])
    assert ("gmail", "getProfile", "ok") in seen
    assert ("gmail", "messages.send", "ok") in seen
    assert ("gmail", "messages.get", "ok") in seen


def test_one_service_per_thread(token_path: Path, server: SandboxServer) -> None:
    built: list[int] = []

    def factory(credentials: Any) -> Any:
        built.append(threading.get_ident())
        return build_gmail_service(credentials, api_root=server.url)

    sender = GmailSender(token_path, api_root=server.url, service_factory=factory)
    planned = emails(EventKind.NEW_JOB) + emails(EventKind.JOB_EXECUTED)
    errors: list[BaseException] = []

    def work(batch: list[OutgoingEmail]) -> None:
        try:
            for email in batch:
                sender.send(email)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work, args=([e],)) for e in planned]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(built) == len(planned)
    assert len(set(built)) == len(planned)
    sender.send(emails(EventKind.JOB_FAILED)[0])
    sender.send(emails(EventKind.JOB_REJECTED)[0])
    assert len(built) == len(planned) + 1  # the main thread built one and reused it


def test_rate_limiter_is_applied(token_path: Path, server: SandboxServer) -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1, clock=lambda: now[0], sleep=sleep)
    sender = GmailSender(token_path, api_root=server.url, rate_limiter=limiter)
    for email in emails(EventKind.NEW_JOB):
        sender.send(email)
    assert waits == [60.0]


def test_text_format(token_path: Path, server: SandboxServer, sandbox: Sandbox) -> None:
    sender = GmailSender(token_path, api_root=server.url, email_format="text")
    sender.send(emails(EventKind.NEW_JOB)[0])
    assert sandbox.sent_mail(DO)[0].message.get_content_type() == "text/plain"


def test_needs_some_credentials() -> None:
    with pytest.raises(ConfigError):
        GmailSender()
