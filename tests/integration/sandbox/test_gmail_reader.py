"""`GmailReader` against the sandbox: the history feed over pages, each message once, the 404."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from sandbox_testkit import DO

from syft_monitors.gmail.history import GmailReader, HistoryExpiredError
from syft_monitors.google.clients import build_gmail_service
from syft_sandbox import Sandbox, SandboxServer


def send_to_self(gmail: Any, subject: str) -> dict[str, Any]:
    mail = EmailMessage()
    mail["To"] = DO
    mail["Subject"] = subject
    mail.set_content("body\n")
    raw = base64.urlsafe_b64encode(mail.as_bytes()).decode("ascii")
    return dict(gmail.users().messages().send(userId="me", body={"raw": raw}).execute())


@pytest.fixture
def reader(sandbox: Sandbox, server: SandboxServer) -> GmailReader:
    def factory() -> Any:
        credentials = Credentials(sandbox.access_token(DO))  # type: ignore[no-untyped-call]
        return build_gmail_service(credentials, api_root=server.url)

    return GmailReader(factory, page_size=2)


def test_the_feed_follows_pages_and_reports_each_message_once(
    sandbox: Sandbox, gmail: Any, reader: GmailReader
) -> None:
    start = reader.current_history_id()
    sent = [send_to_self(gmail, f"n{i}") for i in range(5)]
    gmail.users().messages().modify(
        userId="me", id=sent[0]["id"], body={"addLabelIds": ["STARRED"]}
    ).execute()
    mark = sandbox.mark()
    page = reader.history(start)
    assert [m.id for m in page.messages] == [s["id"] for s in sent]
    assert [m.thread_id for m in page.messages] == [s["threadId"] for s in sent]
    assert len(sandbox.requests(mark, api="gmail")) == 3  # 6 records, 2 a page
    assert reader.history(page.history_id).messages == ()
    message = reader.message(sent[1]["id"])
    assert message.message["Subject"] == "n1"
    assert {"SENT", "INBOX"} <= message.label_ids
    [entry] = reader.thread(sent[1]["threadId"], ["Subject"])
    assert entry.headers == {"subject": "n1"}


def test_an_expired_history_id_raises_its_own_error(sandbox: Sandbox, reader: GmailReader) -> None:
    start = reader.current_history_id()
    sandbox.expire_gmail_history(DO)
    with pytest.raises(HistoryExpiredError):
        reader.history(start)
