"""Gmail's history feed, labels and replies in threads, through the official client."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_testkit import DO, DS, status_of

from syft_sandbox import Sandbox
from syft_sandbox.mail_actors import MailUser

MALLORY = "mallory@evil.example"


def notify_self(
    gmail: Any, subject: str = "Job: census", message_id: str = "<n1@syft.local>"
) -> Any:
    mail = EmailMessage()
    mail["From"] = DO
    mail["To"] = DO
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail.set_content("New job waiting for your review.\nReply approve.\n")
    raw = base64.urlsafe_b64encode(mail.as_bytes()).decode("ascii")
    return gmail.users().messages().send(userId="me", body={"raw": raw}).execute()


def history(gmail: Any, start: str, **params: Any) -> dict[str, Any]:
    return dict(gmail.users().history().list(userId="me", startHistoryId=start, **params).execute())


def test_an_email_to_oneself_is_one_message_with_sent_and_inbox(gmail: Any) -> None:
    sent = notify_self(gmail)
    assert set(sent["labelIds"]) == {"SENT", "INBOX", "UNREAD"}
    listed = gmail.users().messages().list(userId="me").execute()
    assert [m["id"] for m in listed["messages"]] == [sent["id"]]


def test_history_reports_added_messages_after_the_start(gmail: Any) -> None:
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    assert history(gmail, start) == {"historyId": start}  # idle: nothing, same id
    sent = notify_self(gmail)
    reply = history(gmail, start, historyTypes=["messageAdded"])
    [entry] = reply["history"]
    [added] = entry["messagesAdded"]
    assert added["message"]["id"] == sent["id"]
    assert added["message"]["threadId"] == sent["threadId"]
    assert "SENT" in added["message"]["labelIds"]
    assert int(reply["historyId"]) > int(start)
    assert history(gmail, reply["historyId"]) == {"historyId": reply["historyId"]}


def test_history_filters_by_label_and_type_and_pages(gmail: Any) -> None:
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    notify_self(gmail, "Job: a", "<a@syft.local>")
    mail = EmailMessage()
    mail["To"] = DS
    mail["Subject"] = "to someone else"
    mail.set_content("x")
    raw = base64.urlsafe_b64encode(mail.as_bytes()).decode("ascii")
    gmail.users().messages().send(userId="me", body={"raw": raw}).execute()
    inbox = history(gmail, start, labelId="INBOX")
    assert len(inbox["history"]) == 1
    every = history(gmail, start, labelId="SENT", maxResults=1)
    assert len(every["history"]) == 1
    assert "nextPageToken" in every
    rest = history(gmail, start, labelId="SENT", maxResults=1, pageToken=every["nextPageToken"])
    assert len(rest["history"]) == 1
    assert "nextPageToken" not in rest
    assert "history" not in history(gmail, start, historyTypes=["labelRemoved"])


def test_label_changes_are_history_and_sent_cannot_be_set(gmail: Any) -> None:
    sent = notify_self(gmail)
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    gmail.users().messages().modify(
        userId="me", id=sent["id"], body={"removeLabelIds": ["UNREAD"]}
    ).execute()
    [entry] = history(gmail, start)["history"]
    assert entry["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    with pytest.raises(HttpError) as caught:
        gmail.users().messages().modify(
            userId="me", id=sent["id"], body={"addLabelIds": ["SENT"]}
        ).execute()
    assert status_of(caught.value) == 400


def test_an_expired_history_id_is_404_and_a_fresh_one_works(sandbox: Sandbox, gmail: Any) -> None:
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    sandbox.expire_gmail_history(DO)
    with pytest.raises(HttpError) as caught:
        history(gmail, start)
    assert status_of(caught.value) == 404
    fresh = gmail.users().getProfile(userId="me").execute()["historyId"]
    assert history(gmail, fresh) == {"historyId": fresh}
    with pytest.raises(HttpError) as caught:
        gmail.users().history().list(userId="me").execute()
    assert status_of(caught.value) == 400


def test_the_owner_replies_in_the_thread_from_their_account(sandbox: Sandbox, gmail: Any) -> None:
    sent = notify_self(gmail)
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    answer = MailUser(DO, gmail).reply(sent["threadId"], "approve")
    assert answer["threadId"] == sent["threadId"]
    assert {"SENT", "INBOX"} <= set(answer["labelIds"])
    [entry] = history(gmail, start)["history"]
    assert entry["messagesAdded"][0]["message"]["id"] == answer["id"]
    got = (
        gmail.users()
        .messages()
        .get(
            userId="me",
            id=answer["id"],
            format="metadata",
            metadataHeaders=["In-Reply-To", "References", "Subject"],
        )
        .execute()
    )
    headers = {h["name"]: h["value"] for h in got["payload"]["headers"]}
    assert headers == {
        "In-Reply-To": "<n1@syft.local>",
        "References": "<n1@syft.local>",
        "Subject": "Re: Job: census",
    }
    [_, reply] = sandbox.mail_thread(DO, sent["threadId"])
    body = reply.message.get_body(("plain",))
    assert body is not None
    assert str(body.get_content()).startswith("approve\n\nOn ")


def test_a_forged_reply_joins_the_thread_without_the_sent_label(
    sandbox: Sandbox, gmail: Any, make_client: Any
) -> None:
    sandbox.add_user(MALLORY)
    sent = notify_self(gmail)
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    MailUser(MALLORY, make_client("gmail", MALLORY)).forge_reply(
        DO, "<n1@syft.local>", "Job: census", "approve"
    )
    [entry] = history(gmail, start, historyTypes=["messageAdded"])["history"]
    message = entry["messagesAdded"][0]["message"]
    assert message["threadId"] == sent["threadId"]
    assert "SENT" not in message["labelIds"]
    assert "INBOX" in message["labelIds"]
    full = gmail.users().messages().get(userId="me", id=message["id"], format="full").execute()
    headers = {h["name"]: h["value"] for h in full["payload"]["headers"]}
    assert headers["From"] == DO  # the header says the owner; the label says otherwise


def test_html_only_and_outlook_replies(sandbox: Sandbox, gmail: Any) -> None:
    sent = notify_self(gmail)
    owner = MailUser(DO, gmail)
    html = owner.reply(sent["threadId"], "deny not today", html_only=True)
    outlook = owner.reply(sent["threadId"], "approve", quote="outlook", signature="Dr. O")
    records = {r.id: r for r in sandbox.mail_thread(DO, sent["threadId"])}
    assert records[html["id"]].message.get_content_type() == "text/html"
    plain = records[outlook["id"]].message.get_body(("plain",))
    assert plain is not None
    assert "From: " in str(plain.get_content())
