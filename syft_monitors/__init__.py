"""syft-monitor: background monitoring and email notifications for SyftBox data owners.

The seed API is importable from here. Names are resolved lazily so that `import syft_monitors`
(and the CLI's inspection commands) do not pay for the Google client until a monitor is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Monitor": "syft_monitors.runtime.poll_loop",
    "JobMonitor": "syft_monitors.monitors.seed_monitors",
    "PeerMonitor": "syft_monitors.monitors.seed_monitors",
    "NotificationMonitor": "syft_monitors.monitors.seed_monitors",
    "NotificationSender": "syft_monitors.notify.senders.base",
    "GmailSender": "syft_monitors.notify.senders.gmail",
    "SmtpSender": "syft_monitors.notify.senders.smtp",
    "FileSender": "syft_monitors.notify.senders.file",
    "StateManager": "syft_monitors.state.base",
    "JsonStateManager": "syft_monitors.state.json_file",
    "build_drive_service": "syft_monitors.google.clients",
    "build_gmail_service": "syft_monitors.google.clients",
    "MonitorConfig": "syft_monitors.config",
    "load_config": "syft_monitors.config",
    "DaemonManager": "syft_monitors.daemon.manager",
}

__all__ = [
    "DaemonManager",
    "FileSender",
    "GmailSender",
    "JobMonitor",
    "JsonStateManager",
    "Monitor",
    "MonitorConfig",
    "NotificationMonitor",
    "NotificationSender",
    "PeerMonitor",
    "SmtpSender",
    "StateManager",
    "__version__",
    "build_drive_service",
    "build_gmail_service",
    "load_config",
]

if TYPE_CHECKING:
    from syft_monitors.config import MonitorConfig, load_config
    from syft_monitors.daemon.manager import DaemonManager
    from syft_monitors.google.clients import build_drive_service, build_gmail_service
    from syft_monitors.monitors.seed_monitors import JobMonitor, NotificationMonitor, PeerMonitor
    from syft_monitors.notify.senders.base import NotificationSender
    from syft_monitors.notify.senders.file import FileSender
    from syft_monitors.notify.senders.gmail import GmailSender
    from syft_monitors.notify.senders.smtp import SmtpSender
    from syft_monitors.runtime.poll_loop import Monitor
    from syft_monitors.state.base import StateManager
    from syft_monitors.state.json_file import JsonStateManager


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'syft_monitors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
