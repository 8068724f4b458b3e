"""JobMonitor, PeerMonitor and NotificationMonitor: the seed API over one pipeline.

Each is a `Monitor` with a `Pipeline` that watches a set of interests. `NotificationMonitor`
watches everything with one changes feed, so running jobs and peers together still costs one Drive
request per idle poll; JobMonitor and PeerMonitor keep the seed's split (one request each).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from syft_monitors.config import MonitorConfig, load_config
from syft_monitors.drive.api import DriveApi
from syft_monitors.errors import CredentialsError
from syft_monitors.events import Event, EventKind
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.housekeeping import Housekeeping
from syft_monitors.monitors.pipeline import Pipeline, PollReport
from syft_monitors.notify.senders.base import NotificationSender
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.protocol.emails import validate_email
from syft_monitors.runtime.classify import WorkKind
from syft_monitors.runtime.delivery import Dispatcher
from syft_monitors.runtime.poll_loop import Monitor
from syft_monitors.runtime.wiring import (
    drive_api,
    notify_config,
    resolve_api_root,
    sender_from_config,
    state_from_config,
)
from syft_monitors.state.base import StateManager
from syft_monitors.state.json_file import JsonStateManager

logger = logging.getLogger(__name__)

JOB_INTERESTS = frozenset({WorkKind.JOB_MESSAGE, WorkKind.EVENTS})
PEER_INTERESTS = frozenset({WorkKind.PEER_CHANNEL, WorkKind.PEERS_FILE})
DEFAULT_NOTIFICATIONS_DIR = Path("~/.syft-notifications")


class _PipelineMonitor(Monitor):
    interests: frozenset[WorkKind] = frozenset()

    def __init__(
        self,
        *,
        do_email: str,
        sender: NotificationSender | None,
        state: StateManager,
        config: dict[str, Any] | None,
        drive_token_path: Path | str | None,
        syftbox_root: Path | str | None,
        google_api_root: str | None,
        strategy: str,
        drive: DriveApi | None,
        metrics: MonitorMetrics | None,
    ) -> None:
        self.metrics = metrics or MonitorMetrics()
        super().__init__(sender, state, config)
        self.do_email = validate_email(do_email, what="do_email")
        self.google_api_root = resolve_api_root(google_api_root)
        if drive is None and drive_token_path is not None:
            drive = drive_api(
                Path(drive_token_path), api_root=self.google_api_root, metrics=self.metrics
            )
        root = Path(os.path.expanduser(str(syftbox_root))) if syftbox_root else None
        self.syftbox_root = root
        self.dispatcher = Dispatcher(sender, state, notify_config(self.config), self.metrics)
        self.pipeline = Pipeline(
            self.monitor_name,
            self.do_email,
            interests=self.interests,
            drive=drive,
            state=state,
            dispatcher=self.dispatcher,
            metrics=self.metrics,
            strategy=strategy,
            syftbox_root=root if root is not None and root.is_dir() else None,
        )
        self.last_report: PollReport | None = None
        self.housekeeping = Housekeeping(
            self.do_email,
            self.dispatcher,
            self.metrics,
            heartbeat_enabled=bool(self.config.get("heartbeat_enabled", False)),
            heartbeat_interval=int(self.config.get("heartbeat_interval", 86400)),
        )

    def _check_all_entities(self) -> None:
        self.last_report = self.pipeline.poll()

    def _poll_events(self) -> int:
        return self.last_report.events if self.last_report is not None else 0

    def _maintenance(self) -> None:
        self.housekeeping.run(self.state, sends_heartbeat=self.interests >= JOB_INTERESTS)


class JobMonitor(_PipelineMonitor):
    """New jobs, approvals, completions, failures and rejections for one data owner."""

    monitor_name = "jobs"
    interests = JOB_INTERESTS

    def __init__(
        self,
        syftbox_root: Path | str | None,
        do_email: str,
        sender: NotificationSender | None,
        state: StateManager,
        config: dict[str, Any] | None = None,
        drive_token_path: Path | str | None = None,
        client: Any = None,
        *,
        google_api_root: str | None = None,
        strategy: str = "changes",
        drive: DriveApi | None = None,
        metrics: MonitorMetrics | None = None,
    ) -> None:
        if drive_token_path is None and drive is None and client is not None:
            drive_token_path = _require_drive_token(client)
        super().__init__(
            do_email=do_email,
            sender=sender,
            state=state,
            config=config,
            drive_token_path=drive_token_path,
            syftbox_root=syftbox_root,
            google_api_root=google_api_root,
            strategy=strategy,
            drive=drive,
            metrics=metrics,
        )

    @classmethod
    def from_client(
        cls,
        client: Any,
        gmail_token_path: str | Path | None = None,
        drive_token_path: str | Path | None = None,
        notifications: bool = True,
        **kwargs: Any,
    ) -> JobMonitor:
        """Create from a logged-in upstream client (`sc.login_do(...)`), by duck typing."""
        email, root, token = _client_parts(
            client, drive_token_path, needs_token=kwargs.get("drive") is None
        )
        sender, state = _defaults(gmail_token_path, notifications, kwargs.get("google_api_root"))
        return cls(root, email, sender, state, {}, token, **kwargs)

    @classmethod
    def from_config(cls, config_path: str | Path) -> JobMonitor:
        config = load_config(config_path)
        metrics = MonitorMetrics()
        return cls(
            config.syftbox_root,
            config.do_email,
            sender_from_config(config, metrics),
            state_from_config(config),
            config.model_dump(),
            config.drive_token_path,
            google_api_root=config.api_root(),
            strategy=config.strategy,
            metrics=metrics,
        )


class PeerMonitor(_PipelineMonitor):
    """Peer requests (both folder generations) and peers accepted by the data owner."""

    monitor_name = "peers"
    interests = PEER_INTERESTS

    def __init__(
        self,
        do_email: str,
        drive_token_path: Path | str | None,
        sender: NotificationSender | None,
        state: StateManager,
        config: dict[str, Any] | None = None,
        *,
        google_api_root: str | None = None,
        strategy: str = "changes",
        drive: DriveApi | None = None,
        metrics: MonitorMetrics | None = None,
    ) -> None:
        super().__init__(
            do_email=do_email,
            sender=sender,
            state=state,
            config=config,
            drive_token_path=drive_token_path,
            syftbox_root=None,
            google_api_root=google_api_root,
            strategy=strategy,
            drive=drive,
            metrics=metrics,
        )

    def notify_peer_granted(self, ds_email: str) -> bool:
        """Tell `ds_email` their request was accepted (also detected automatically)."""
        event = Event(
            EventKind.PEER_GRANTED,
            self.do_email,
            peer=validate_email(ds_email, what="ds_email"),
            source="manual",
        )
        outcome = self.dispatcher.dispatch(event)
        return outcome.emails > 0 or outcome.skipped > 0

    @classmethod
    def from_client(
        cls,
        client: Any,
        gmail_token_path: str | Path | None = None,
        notifications: bool = True,
        drive_token_path: str | Path | None = None,
        **kwargs: Any,
    ) -> PeerMonitor:
        email, _root, token = _client_parts(
            client, drive_token_path, needs_token=kwargs.get("drive") is None
        )
        sender, state = _defaults(gmail_token_path, notifications, kwargs.get("google_api_root"))
        return cls(email, token, sender, state, {}, **kwargs)

    @classmethod
    def from_config(cls, config_path: str | Path) -> PeerMonitor:
        config = load_config(config_path)
        metrics = MonitorMetrics()
        return cls(
            config.do_email,
            config.drive_token_path,
            sender_from_config(config, metrics),
            state_from_config(config),
            config.model_dump(),
            google_api_root=config.api_root(),
            strategy=config.strategy,
            metrics=metrics,
        )


class NotificationMonitor(_PipelineMonitor):
    """Jobs and peers together on one changes feed: one Drive request per idle poll."""

    monitor_name = "notify"
    interests = JOB_INTERESTS | PEER_INTERESTS

    @classmethod
    def from_config_model(
        cls, config: MonitorConfig, *, metrics: MonitorMetrics | None = None
    ) -> NotificationMonitor:
        metrics = metrics or MonitorMetrics()
        return cls(
            do_email=config.do_email,
            sender=sender_from_config(config, metrics),
            state=state_from_config(config),
            config=config.model_dump(),
            drive_token_path=config.drive_token_path,
            syftbox_root=config.syftbox_root,
            google_api_root=config.api_root(),
            strategy=config.strategy,
            drive=None,
            metrics=metrics,
        )

    @classmethod
    def from_config(cls, config_path: str | Path) -> NotificationMonitor:
        return cls.from_config_model(load_config(config_path))


#: Where upstream's clients keep the Drive token path. `sc.login_do()` returns a SyftboxManager
#: whose token sits in the connection configs of its sub-configs and on its live Drive
#: connections; older clients and stand-ins carry it directly.
_DIRECT_TOKEN_ATTRIBUTES = ("token_path", "drive_token_path", "_token_path")
_SUB_CONFIGS = (
    "datasite_owner_syncer_config",
    "peer_manager_config",
    "datasite_watcher_syncer_config",
)
_ROUTER_OWNERS = ("datasite_owner_syncer", "peer_manager", "datasite_watcher_syncer")
_LOOKED_AT = (
    "token_path, drive_token_path, connection_router.connections[].token_path, "
    "config.*.connection_configs[].token_path"
)


def _attribute(owner: Any, name: str) -> Any:
    # Upstream exposes some of these as properties that raise when a role is missing.
    try:
        return getattr(owner, name, None)
    except Exception:
        return None


def _token_of(owner: Any) -> Path | None:
    for name in _DIRECT_TOKEN_ATTRIBUTES:
        value = _attribute(owner, name)
        if value:
            return Path(os.path.expanduser(str(value)))
    return None


def _from_each(items: Any) -> Path | None:
    if not isinstance(items, list | tuple):
        return None
    for item in items:
        found = _token_of(item)
        if found is not None:
            return found
    return None


def _from_router(router: Any) -> Path | None:
    if router is None:
        return None
    return _token_of(router) or _from_each(_attribute(router, "connections"))


def client_drive_token_path(client: Any) -> Path | None:
    """Where an upstream client keeps its Drive token, None when it has none (e.g. Colab)."""
    found = _token_of(client)
    for name in ("connection_router", "connection", "_connection_router"):
        found = found or _from_router(_attribute(client, name))
    for owner in _ROUTER_OWNERS:
        found = found or _from_router(_attribute(_attribute(client, owner), "connection_router"))
    config = _attribute(client, "config")
    found = found or _from_each(_attribute(config, "connection_configs"))
    for name in _SUB_CONFIGS:
        found = found or _from_each(_attribute(_attribute(config, name), "connection_configs"))
    return found


def _require_drive_token(client: Any) -> Path:
    token = client_drive_token_path(client)
    if token is None:
        raise CredentialsError(
            f"no Drive token found on the client (looked at {_LOOKED_AT}): pass "
            "drive_token_path=... (the authorized-user token file sc.login_do() was given)"
        )
    return token


def _client_parts(
    client: Any, drive_token_path: str | Path | None, *, needs_token: bool = True
) -> tuple[str, Path | None, Path | None]:
    email = getattr(client, "email", None)
    if not isinstance(email, str):
        raise TypeError("client has no `email` attribute: pass a client from sc.login_do()")
    root = getattr(client, "syftbox_folder", None)
    if drive_token_path:
        token: Path | None = Path(os.path.expanduser(str(drive_token_path)))
    else:
        token = _require_drive_token(client) if needs_token else client_drive_token_path(client)
    return email, Path(str(root)) if root else None, token


def _defaults(
    gmail_token_path: str | Path | None, notifications: bool, api_root: str | None
) -> tuple[NotificationSender | None, StateManager]:
    gmail = Path(
        os.path.expanduser(str(gmail_token_path or DEFAULT_NOTIFICATIONS_DIR / "gmail_token.json"))
    )
    sender = GmailSender(gmail, api_root=resolve_api_root(api_root)) if notifications else None
    state = JsonStateManager(
        Path(os.path.expanduser(str(DEFAULT_NOTIFICATIONS_DIR / "state.json")))
    )
    return sender, state
