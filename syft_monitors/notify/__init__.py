"""Notifications: which email each event causes, how it looks, and how it is sent.

`plan_notifications` turns an `Event` into `OutgoingEmail`s (pure), `render` fills the jinja2
templates, and a `NotificationSender` (Gmail, SMTP, or .eml files) delivers them.
"""

from __future__ import annotations

from syft_monitors.notify.email import EmailFormat, OutgoingEmail, message_id_for, to_mime
from syft_monitors.notify.plan import (
    NotifyConfig,
    ThreadInfo,
    plan_heartbeat,
    plan_notifications,
)
from syft_monitors.notify.ratelimit import RateLimiter

__all__ = [
    "EmailFormat",
    "NotifyConfig",
    "OutgoingEmail",
    "RateLimiter",
    "ThreadInfo",
    "message_id_for",
    "plan_heartbeat",
    "plan_notifications",
    "to_mime",
]
