"""Email senders behind one interface: Gmail API (exactly-once), SMTP and .eml files."""

from __future__ import annotations

from syft_monitors.notify.senders.base import NotificationSender, SendResult
from syft_monitors.notify.senders.file import FileSender
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.notify.senders.smtp import SmtpSender

__all__ = ["FileSender", "GmailSender", "NotificationSender", "SendResult", "SmtpSender"]
