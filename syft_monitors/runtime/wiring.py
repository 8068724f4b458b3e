"""Build the parts a monitor needs from paths and config: Drive client, sender, state."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syft_monitors.config import MonitorConfig
from syft_monitors.drive.api import DriveApi
from syft_monitors.errors import ConfigError
from syft_monitors.google.clients import build_drive_service, resolve_api_root
from syft_monitors.google.credentials import load_credentials
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.notify.plan import NotifyConfig
from syft_monitors.notify.senders.base import NotificationSender
from syft_monitors.notify.senders.file import FileSender
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.notify.senders.smtp import SmtpSender
from syft_monitors.state.base import StateManager
from syft_monitors.state.json_file import JsonStateManager

DRIVE_SCOPES = ["https://www.googleapis.com/auth/drive"]

__all__ = [
    "DRIVE_SCOPES",
    "drive_api",
    "notify_config",
    "resolve_api_root",
    "sender_from_config",
    "state_from_config",
]


def drive_api(token_path: Path, *, api_root: str | None, metrics: MonitorMetrics) -> DriveApi:
    """A DriveApi whose service is built lazily on each thread that uses it."""
    path = Path(os.path.expanduser(str(token_path)))

    def factory() -> Any:
        # No scope list: a token shared with Gmail must not be narrowed when it refreshes.
        credentials = load_credentials(path)
        return build_drive_service(credentials, api_root=api_root)

    return DriveApi(factory, observer=metrics.observe_request)


def notify_config(config: Mapping[str, Any] | None) -> NotifyConfig:
    """The notification toggles of a seed-style config dict (unknown keys are ignored here)."""
    data = dict(config or {})
    fields = NotifyConfig.model_fields
    return NotifyConfig.model_validate({k: v for k, v in data.items() if k in fields})


def sender_from_config(config: MonitorConfig, metrics: MonitorMetrics) -> NotificationSender:
    if config.sender == "gmail":
        return GmailSender(
            config.gmail_token_path,
            api_root=config.api_root(),
            email_format=config.email_format,
            rate_limit_per_minute=config.rate_limit_per_minute,
            observer=metrics.observe_request,
        )
    if config.sender == "smtp":
        if config.smtp is None:
            raise ConfigError("sender is smtp but the config has no smtp: section")
        smtp = config.smtp
        password = None
        if smtp.password_file is not None:
            try:
                password = Path(os.path.expanduser(str(smtp.password_file))).read_text().strip()
            except OSError as error:
                raise ConfigError(f"cannot read smtp.password_file: {error.strerror}") from error
        return SmtpSender(
            smtp.host,
            smtp.port,
            username=smtp.username,
            password=password,
            starttls=smtp.starttls,
            ssl=smtp.ssl,
            from_address=smtp.from_address or config.do_email,
            timeout=smtp.timeout,
            email_format=config.email_format,
            rate_limit_per_minute=config.rate_limit_per_minute,
        )
    folder = config.mail_folder or config.state_file.parent / "outbox"
    return FileSender(folder, email_format=config.email_format)


def state_from_config(config: MonitorConfig) -> StateManager:
    """The state backend the config names: a JSON file, or a ConfigMap on Kubernetes."""
    if config.state_backend == "file":
        return JsonStateManager(config.state_file)
    if config.state_backend == "configmap" and config.state_configmap is not None:
        try:
            # Lazy: only monitors running on Kubernetes need the `kubernetes` package.
            from syft_monitors.state.configmap import ConfigMapStateManager  # noqa: PLC0415
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in ("kubernetes", "urllib3"):
                raise
            raise ConfigError(
                "state backend configmap needs the kubernetes client: install"
                " syft-monitor[operator]"
            ) from e
        settings = config.state_configmap
        return ConfigMapStateManager(
            settings.name, settings.namespace, heartbeat_name=settings.heartbeat
        )
    raise ConfigError(f"state backend {config.state_backend!r} is not available in this build")
