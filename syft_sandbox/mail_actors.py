"""Simulated people answering email, through the official Gmail client as real mail apps do.

`MailUser.reply` answers the last message of a thread the way Gmail's web client does: from the
user's own account (so Gmail labels it SENT), with `In-Reply-To`/`References`, a `Re:` subject,
the thread id, and the quoted original under an ``On ... wrote:`` line. Its options produce the
shapes other clients send: HTML only, an Outlook-style quote, a signature, a forward.

`MailUser.forge_reply` is the attack the email approval must resist: another account writes a
message with the victim's address in `From` and our Message-ID in `In-Reply-To`. It lands in the
victim's inbox, in the same thread, but it was not sent from the victim's account: no SENT label.
"""

from __future__ import annotations

import base64
import email.utils
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any, Literal

QuoteStyle = Literal["gmail", "outlook", "none"]


class MailUser:
    def __init__(self, address: str, gmail: Any) -> None:
        self.address = address
        self.gmail = gmail

    def _raw(self, message_id: str) -> EmailMessage:
        got = self.gmail.users().messages().get(userId="me", id=message_id, format="raw").execute()
        data = base64.urlsafe_b64decode(got["raw"] + "=" * (-len(got["raw"]) % 4))
        parsed = BytesParser(policy=default_policy).parsebytes(data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        thread = (
            self.gmail.users().threads().get(userId="me", id=thread_id, format="minimal").execute()
        )
        return list(thread.get("messages", []))

    def reply(
        self,
        thread_id: str,
        text: str,
        *,
        html: str | None = None,
        html_only: bool = False,
        quote: QuoteStyle = "gmail",
        to_message: str | None = None,
        signature: str | None = None,
        to: str | None = None,
    ) -> dict[str, Any]:
        """Reply in `thread_id` to its first message (or the Gmail message `to_message`);
        `to` sends it elsewhere instead (a forward to a colleague)."""
        messages = self.thread_messages(thread_id)
        original = self._raw(to_message or messages[0]["id"])
        subject = str(original.get("Subject", ""))
        reply = EmailMessage()
        reply["From"] = self.address
        reply["To"] = to or str(original.get("Reply-To") or original.get("From") or self.address)
        reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        reply["Date"] = email.utils.formatdate(localtime=False)
        original_id = str(original.get("Message-ID", "")).strip()
        references = str(original.get("References", "")).split()
        reply["In-Reply-To"] = original_id
        reply["References"] = " ".join([*references, original_id])
        body = text + (f"\n\n-- \n{signature}" if signature else "")
        quoted = _quote(original, quote)
        plain = f"{body}\n\n{quoted}" if quoted else body
        if html_only:
            reply.set_content(html or _as_html(body, quoted), subtype="html")
        else:
            reply.set_content(plain)
            if html is not None:
                reply.add_alternative(html, subtype="html")
        raw = base64.urlsafe_b64encode(reply.as_bytes()).decode("ascii")
        sent = (
            self.gmail.users()
            .messages()
            .send(userId="me", body={"raw": raw, "threadId": thread_id})
            .execute()
        )
        return dict(sent)

    def forge_reply(self, victim: str, in_reply_to: str, subject: str, text: str) -> dict[str, Any]:
        """Send `victim` a "reply" from this account with `victim` forged into `From`."""
        forged = EmailMessage()
        forged["From"] = victim
        forged["Sender"] = victim
        forged["To"] = victim
        forged["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        forged["In-Reply-To"] = in_reply_to
        forged["References"] = in_reply_to
        forged.set_content(text)
        raw = base64.urlsafe_b64encode(forged.as_bytes()).decode("ascii")
        return dict(self.gmail.users().messages().send(userId="me", body={"raw": raw}).execute())


def _quote(original: EmailMessage, style: QuoteStyle) -> str:
    if style == "none":
        return ""
    part = original.get_body(preferencelist=("plain", "html"))
    content = part.get_content() if part is not None else ""
    text = content if isinstance(content, str) else ""
    sender = str(original.get("From", ""))
    when = str(original.get("Date", "Mon, 1 Jan 2026 10:00:00 +0000"))
    if style == "outlook":
        header = (
            f"________________________________\nFrom: {sender}\nSent: {when}\n"
            f"To: {original.get('To', '')}\nSubject: {original.get('Subject', '')}\n\n"
        )
        return header + text
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"On {when}, {sender} wrote:\n{quoted}"


def _as_html(body: str, quoted: str) -> str:
    from html import escape  # noqa: PLC0415 - only the HTML-only shape needs it

    lines = "<br>".join(escape(line) for line in body.splitlines())
    quote = (
        '<div class="gmail_quote"><div class="gmail_attr">On a day, someone wrote:</div>'
        f'<blockquote class="gmail_quote">{escape(quoted)}</blockquote></div>'
        if quoted
        else ""
    )
    return f'<div dir="ltr">{lines}</div><br>{quote}'
