"""Gmail v1 through the official client: send, get, list by Message-ID, threads, profile."""

from __future__ import annotations

import base64
import io
from email.message import EmailMessage
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload
from sandbox_testkit import DO, DS, status_of

from syft_sandbox import Sandbox
from tests.support import wait_for


def message(subject: str, *, to: str = DS, message_id: str | None = None, **headers: str) -> str:
    mail = EmailMessage()
    mail["From"] = DO
    mail["To"] = to
    mail["Subject"] = subject
    if message_id:
        mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(f"Body of {subject}: job ready for review.\n")
    return base64.urlsafe_b64encode(mail.as_bytes()).decode("ascii")


def send(gmail: Any, raw: str, thread_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"raw": raw}
    if thread_id:
        body["threadId"] = thread_id
    return dict(gmail.users().messages().send(userId="me", body=body).execute())


def test_send_keeps_client_message_id_and_is_findable(sandbox: Sandbox, gmail: Any) -> None:
    sent = send(gmail, message("New job", message_id="<job-1.abc@syft.local>"))
    assert sent["labelIds"] == ["SENT"]
    got = (
        gmail.users()
        .messages()
        .get(
            userId="me", id=sent["id"], format="metadata", metadataHeaders=["Message-ID", "Subject"]
        )
        .execute()
    )
    headers = {h["name"]: h["value"] for h in got["payload"]["headers"]}
    assert headers == {"Message-ID": "<job-1.abc@syft.local>", "Subject": "New job"}
    found = gmail.users().messages().list(userId="me", q="rfc822msgid:<job-1.abc@syft.local>")
    assert found.execute()["messages"] == [{"id": sent["id"], "threadId": sent["threadId"]}]
    none = gmail.users().messages().list(userId="me", q="rfc822msgid:nope@x").execute()
    assert none == {"resultSizeEstimate": 0}


def test_message_id_is_added_when_missing(sandbox: Sandbox, gmail: Any) -> None:
    sent = send(gmail, message("No id"))
    [record] = sandbox.sent_mail(DO)
    assert record.id == sent["id"]
    assert record.message["Message-ID"].endswith("@mail.gmail.com>")
    assert record.message["Subject"] == "No id"
    assert "job ready" in record.message.get_content()


def test_get_formats(gmail: Any) -> None:
    sent = send(gmail, message("Formats"))
    minimal = gmail.users().messages().get(userId="me", id=sent["id"], format="minimal").execute()
    assert "payload" not in minimal
    assert minimal["snippet"].startswith("Body of Formats")
    full = gmail.users().messages().get(userId="me", id=sent["id"]).execute()
    data = base64.urlsafe_b64decode(full["payload"]["body"]["data"])
    assert b"job ready for review" in data
    raw = gmail.users().messages().get(userId="me", id=sent["id"], format="raw").execute()
    assert b"Subject: Formats" in base64.urlsafe_b64decode(raw["raw"])
    with pytest.raises(HttpError) as caught:
        gmail.users().messages().get(userId="me", id="missing").execute()
    assert status_of(caught.value) == 404


def test_reply_joins_thread_only_with_references_and_subject(sandbox: Sandbox, gmail: Any) -> None:
    first = send(gmail, message("Job X", message_id="<x1@syft.local>"))
    thread = first["threadId"]
    reply = send(
        gmail,
        message("Re: Job X", In_Reply_To="<x1@syft.local>", References="<x1@syft.local>"),
        thread,
    )
    assert reply["threadId"] == thread
    unrelated = send(gmail, message("Other subject", References="<x1@syft.local>"), thread)
    assert unrelated["threadId"] != thread
    got = gmail.users().threads().get(userId="me", id=thread, format="minimal").execute()
    assert [m["id"] for m in got["messages"]] == [first["id"], reply["id"]]
    with pytest.raises(HttpError) as caught:
        send(gmail, message("x"), "no-such-thread")
    assert status_of(caught.value) == 404


def test_list_in_sent_with_subject_and_words(gmail: Any) -> None:
    send(gmail, message("Job alpha approved"))
    send(gmail, message("Job beta rejected"))
    found = gmail.users().messages().list(userId="me", q='in:sent subject:"beta rejected"')
    assert len(found.execute()["messages"]) == 1
    words = gmail.users().messages().list(userId="me", q="job review -alpha").execute()
    assert len(words["messages"]) == 1
    paged = gmail.users().messages().list(userId="me", maxResults=1).execute()
    assert len(paged["messages"]) == 1
    assert "nextPageToken" in paged


def test_recipient_in_sandbox_receives_a_copy(sandbox: Sandbox, gmail: Any) -> None:
    send(gmail, message("Hello DS"))
    [received] = sandbox.received_mail(DS)
    assert received.message["Subject"] == "Hello DS"
    assert "INBOX" in received.label_ids


def test_profile_and_validation(sandbox: Sandbox, gmail: Any) -> None:
    send(gmail, message("one"))
    profile = gmail.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == DO
    assert profile["messagesTotal"] == 1
    with pytest.raises(HttpError) as caught:
        gmail.users().messages().send(userId="me", body={}).execute()
    assert status_of(caught.value) == 400
    no_recipient = EmailMessage()
    no_recipient["Subject"] = "nobody"
    no_recipient.set_content("x")
    raw = base64.urlsafe_b64encode(no_recipient.as_bytes()).decode()
    with pytest.raises(HttpError) as caught:
        send(gmail, raw)
    assert status_of(caught.value) == 400
    with pytest.raises(HttpError) as caught:
        gmail.users().getProfile(userId=DS).execute()
    assert status_of(caught.value) == 403


def test_deliver_puts_an_incoming_reply_in_the_thread(sandbox: Sandbox, gmail: Any) -> None:
    sent = send(gmail, message("Job Y", message_id="<y1@syft.local>"))
    reply = EmailMessage()
    reply["From"] = DS
    reply["To"] = DO
    reply["Subject"] = "Re: Job Y"
    reply["In-Reply-To"] = "<y1@syft.local>"
    reply.set_content("approve")
    record = sandbox.deliver(DO, reply)
    assert record.thread_id == sent["threadId"]
    inbox = gmail.users().messages().list(userId="me", q="in:inbox").execute()
    assert inbox["messages"] == [{"id": record.id, "threadId": sent["threadId"]}]


@pytest.mark.parametrize("resumable", [False, True])
def test_send_as_media_upload(sandbox: Sandbox, gmail: Any, resumable: bool) -> None:
    mail = EmailMessage()
    mail["To"] = DS
    mail["Subject"] = "uploaded"
    mail.set_content("via /upload")
    media = MediaIoBaseUpload(
        io.BytesIO(mail.as_bytes()), mimetype="message/rfc822", resumable=resumable
    )
    sent = gmail.users().messages().send(userId="me", body={}, media_body=media).execute()
    [record] = sandbox.sent_mail(DO)
    assert record.id == sent["id"]
    assert record.message["Subject"] == "uploaded"
    assert record.message["From"] == DO  # added when the client leaves it out


def test_granted_scopes_are_enforced_as_google_does(
    sandbox: Sandbox, gmail: Any, make_client: Any
) -> None:
    sandbox.grant_scopes(
        DO,
        [
            "https://www.googleapis.com/auth/gmail.send",
            "https://www.googleapis.com/auth/drive.readonly",
        ],
    )
    gmail.users().messages().send(userId="me", body={"raw": message("allowed")}).execute()
    with pytest.raises(HttpError) as caught:
        gmail.users().messages().list(userId="me", q="in:sent").execute()
    assert status_of(caught.value) == 403
    assert b"insufficientPermissions" in caught.value.content
    assert caught.value.resp.get("www-authenticate", "").endswith('error="insufficient_scope"')
    drive = make_client("drive", DO)
    drive.files().list().execute()  # drive.readonly may read ...
    with pytest.raises(HttpError) as caught:  # ... but not write
        drive.files().create(body={"name": "x"}).execute()
    assert status_of(caught.value) == 403
    sandbox.grant_scopes(DO, None)  # everything again
    gmail.users().messages().list(userId="me", q="in:sent").execute()


def test_search_index_lags_behind_sends(sandbox: Sandbox, gmail: Any) -> None:
    # Gmail's search index trails sends by seconds: Sent-mail lookups must not assume otherwise.
    sandbox.mail.index_lag = 0.5
    sent = send(gmail, message("Lagging", message_id="<lag-1@syft.local>"))
    query = "rfc822msgid:<lag-1@syft.local>"
    assert gmail.users().messages().list(userId="me", q=query).execute() == {
        "resultSizeEstimate": 0
    }
    # The message itself exists at once: only searching lags.
    assert gmail.users().messages().get(userId="me", id=sent["id"]).execute()["id"] == sent["id"]
    wait_for(
        lambda: "messages" in gmail.users().messages().list(userId="me", q=query).execute(),
        "the message to become searchable",
        5,
    )
