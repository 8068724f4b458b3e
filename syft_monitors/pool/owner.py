"""One data owner inside a pool: its credentials, its monitor, and one turn of its polling.

Each owner has what a single-owner process has, and nothing of another owner: its own
credentials (held in memory, re-read from their source after an auth error and every
`refresh_every` seconds), its own state backend (its changes cursor and exactly-once records), its
own rate limiter and flood policy (in its sender and dispatcher), its own metrics series and its
own error backoff. Only the Google service objects and the HTTP connections are shared
(`google.shared`), and those carry no owner's data between requests.

The monitor is the production `NotificationMonitor`, so a pooled owner detects and notifies
exactly as its own pod would; the pool only decides when each owner's poll runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

from google.auth.credentials import Credentials as BaseCredentials

from syft_monitors.config import MonitorConfig
from syft_monitors.drive.api import DriveApi
from syft_monitors.errors import ConfigError, CredentialsError, SyftMonitorError
from syft_monitors.google.credentials import credentials_from_info, parse_token_info
from syft_monitors.google.shared import SharedServices
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.senders.base import NotificationSender
from syft_monitors.notify.senders.file import FileSender
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.notify.senders.smtp import SmtpSender
from syft_monitors.pool.assignment import PartVersions, TokenPurpose
from syft_monitors.pool.metrics import OwnerMetrics
from syft_monitors.runtime.poll_loop import describe_error, error_kind
from syft_monitors.state.base import StateManager

logger = logging.getLogger(__name__)

#: How often an owner whose token was refused looks for a new one while it backs off.
AUTH_RECHECK = 60.0
#: How soon an owner that could not be set up (config or Secret unreadable) is tried again.
SETUP_RETRY = 30.0
#: How often an owner whose source tells the versions of its parts re-reads them all anyway:
#: a safety net for a version the pool missed (a lost assignment update), not the way changes
#: arrive (those come with the assignment within about a minute).
SAFETY_REFRESH = 3600.0


@dataclasses.dataclass(frozen=True)
class OwnerParts:
    """What a source gives the pool for one owner."""

    config: MonitorConfig
    tokens: Mapping[TokenPurpose, bytes]
    #: Where a file sender writes this owner's emails (never shared with another owner).
    outbox: Path


class OwnerSource(Protocol):
    """Where the pool finds its owners: a folder (local mode) or Kubernetes (the assignment)."""

    def owners(self) -> dict[str, str]:
        """The owners to serve now: name -> a fingerprint of where their parts are."""

    def parts(self, name: str) -> OwnerParts:
        """The owner's config and tokens, read now; `SyftMonitorError` when unreadable."""

    def tokens(
        self, name: str, purposes: Collection[TokenPurpose] | None = None
    ) -> dict[TokenPurpose, bytes]:
        """The owner's tokens (only those of `purposes` when given), read now: after an auth
        error, or to follow a rotation."""

    def config(self, name: str) -> MonitorConfig:
        """The owner's config, read now."""

    def versions(self, name: str) -> PartVersions | None:
        """The versions of the owner's parts as its source knows them now without reading
        them; None when it cannot tell (the owner then re-reads them on a timer)."""

    def state(self, name: str, config: MonitorConfig) -> StateManager:
        """The owner's own state backend."""


class OwnerCredentials:
    """An owner's credentials by purpose, parsed from token bytes held only in memory."""

    def __init__(self, owner: str, tokens: Mapping[TokenPurpose, bytes], token_uri: str | None):
        self.owner = owner
        self.token_uri = token_uri
        self._tokens: dict[TokenPurpose, bytes] = {}
        self._credentials: dict[TokenPurpose, BaseCredentials] = {}
        self.replace(tokens)

    def replace(
        self,
        tokens: Mapping[TokenPurpose, bytes],
        purposes: Collection[TokenPurpose] | None = None,
    ) -> bool:
        """Take new token bytes (for `purposes` only, when given: the others are kept); True
        when any changed (their credentials are parsed again)."""
        changed = False
        considered = set(self._tokens) | set(tokens) if purposes is None else set(purposes)
        for purpose in considered:
            new = tokens.get(purpose)
            if new != self._tokens.get(purpose):
                changed = True
                self._credentials.pop(purpose, None)
                if new is None:
                    self._tokens.pop(purpose, None)
                else:
                    self._tokens[purpose] = new
        return changed

    def get(self, purpose: TokenPurpose) -> BaseCredentials:
        found = self._credentials.get(purpose)
        if found is not None:
            return found
        data = self._tokens.get(purpose)
        what = f"the {purpose} token of {self.owner}"
        if data is None:
            raise CredentialsError(f"{what} is missing")
        info = parse_token_info(data, what=what)
        credentials = credentials_from_info(info, what=what, token_uri=self.token_uri)
        self._credentials[purpose] = credentials
        return credentials

    def text(self, purpose: TokenPurpose) -> str | None:
        """A secret that is not an OAuth token (the SMTP password), as text."""
        data = self._tokens.get(purpose)
        return None if data is None else data.decode("utf-8", "replace").strip()

    def source(self, purpose: TokenPurpose) -> Callable[[], BaseCredentials]:
        return lambda: self.get(purpose)


class PooledMonitor(NotificationMonitor):
    """A `NotificationMonitor` whose polls the pool's scheduler runs, one turn at a time."""

    def poll_once(self) -> bool:
        """One poll with its heartbeat and housekeeping, as the single-owner loop does it."""
        return self._check_once()

    def next_wait(self, interval: float) -> float:
        """Seconds until the next poll: the interval, longer while the token is refused."""
        return self._next_wait(interval)

    @property
    def auth_failing(self) -> bool:
        return bool(self._last_error and self._last_error.startswith("re-authorize"))


def _fraction(name: str) -> float:
    """A stable point in [0, 1) for `name`."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def config_fingerprint(config: MonitorConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


class PoolOwner:
    """One owner of the pool; `turn()` is its job in the scheduler."""

    def __init__(
        self,
        name: str,
        source: OwnerSource,
        *,
        services: Callable[[str | None], SharedServices],
        metrics: OwnerMetrics,
        refresh_every: float = 300.0,
        safety_every: float = SAFETY_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.source = source
        self.metrics = metrics
        #: Re-read every part this often when the source tells no versions (a folder).
        self.refresh_every = refresh_every
        #: ... and about this often when it does (the assignment): changes come with new
        #: versions. Each owner's own period lies in [0.5, 1.5) x `safety_every`, stable for its
        #: name: a thousand owners set up within seconds must not re-read all at once each hour.
        self.safety_every = safety_every * (0.5 + _fraction(name))
        #: How often a refused owner looks for a new token (sooner when tokens refresh sooner).
        self.auth_recheck = min(AUTH_RECHECK, refresh_every)
        self._services = services
        self._clock = clock
        self.monitor: PooledMonitor | None = None
        self.credentials: OwnerCredentials | None = None
        self.interval = 30.0
        self._config_print: str | None = None
        #: The versions of the parts held now (as the source told them before they were read).
        self._versions: PartVersions | None = None
        self._refreshed_at = 0.0
        self._retry_at = 0.0
        #: New token bytes were read since the last poll: a refused owner tries them at once.
        self._tokens_changed = False
        self.setup_error: str | None = None

    # --- the scheduler's job ----------------------------------------------------------------

    def turn(self) -> float:
        """Set up or refresh when due, poll once; returns the seconds until the next turn."""
        now = self._clock()
        try:
            versions = self.source.versions(self.name)
        except SyftMonitorError:
            versions = None  # left the assignment meanwhile: the pool removes it
        every = self.refresh_every if versions is None else self.safety_every
        if self.monitor is None or now - self._refreshed_at >= every:
            try:
                self._refresh(versions)
            except SyftMonitorError as error:
                self._setup_failed(error)
                if self.monitor is None:
                    return min(SETUP_RETRY, self.interval)
                # A running owner keeps polling with what it has (an API server blip must not
                # stop its notifications); the refresh is tried again next turn.
        elif versions is not None and versions != self._versions:
            try:
                self._follow(versions)
            except SyftMonitorError as error:
                self._setup_failed(error)  # tried again next turn: the versions still differ
        monitor = self.monitor
        if monitor is None:  # closed meanwhile: the owner left the pool
            return SETUP_RETRY
        if monitor.auth_failing:
            # While Google refuses the token, look for a new one (a re-authorized Secret) every
            # minute, and poll again only when it changed or the backoff is over.
            self._tokens_changed |= self._reload_tokens()
            if not self._tokens_changed and now < self._retry_at:
                return min(self.auth_recheck, self._retry_at - now)
        self._tokens_changed = False
        monitor.poll_once()
        wait = monitor.next_wait(self.interval)
        self._retry_at = self._clock() + wait
        if monitor.auth_failing:
            return min(self.auth_recheck, wait)
        return wait

    def close(self) -> None:
        """The owner left the pool (or is rebuilt): its monitor and credentials are dropped."""
        if self.monitor is not None:
            self.monitor.stop(timeout=0)
        self.monitor = None
        self.credentials = None

    # --- set-up -----------------------------------------------------------------------------

    def _refresh(self, versions: PartVersions | None) -> None:
        parts = self.source.parts(self.name)
        self._refreshed_at = self._clock()
        self._versions = versions
        fingerprint = config_fingerprint(parts.config)
        if self.monitor is not None and fingerprint == self._config_print:
            if self.credentials is not None:
                self._tokens_changed |= self.credentials.replace(parts.tokens)
            self.setup_error = None
            return
        if self.monitor is not None:
            logger.info("%s: config changed, rebuilding its monitor", self.name)
            self.close()
        self.monitor = self._build(parts)
        self._config_print = fingerprint
        if self.setup_error is not None:
            logger.info("%s: set up again", self.name)
        self.setup_error = None

    def _follow(self, versions: PartVersions) -> None:
        """Re-read only the parts whose version changed since they were read."""
        before = self._versions or PartVersions()
        if versions.config_map != before.config_map:
            # A new config may rebuild the monitor, which takes every part: read them all.
            self._refresh(versions)
            return
        changed = versions.changed_tokens(before)
        if changed and self.credentials is not None:
            tokens = self.source.tokens(self.name, changed)
            self._tokens_changed |= self.credentials.replace(tokens, changed)
            logger.info("%s: read its rotated %s token(s) again", self.name, ", ".join(changed))
        self._versions = versions
        self.setup_error = None

    def _reload_tokens(self) -> bool:
        try:
            tokens = self.source.tokens(self.name)
        except SyftMonitorError as error:
            logger.warning("%s: cannot re-read its tokens: %s", self.name, describe_error(error))
            return False
        credentials = self.credentials
        return credentials is not None and credentials.replace(tokens)

    def _setup_failed(self, error: SyftMonitorError) -> None:
        text = describe_error(error)
        if text != self.setup_error:
            what = "cannot be set up" if self.monitor is None else "cannot re-read its parts"
            logger.error("%s: %s: %s", self.name, what, text)
        self.setup_error = text
        self.metrics.errors.labels(error_kind(error)).inc()

    def _build(self, parts: OwnerParts) -> PooledMonitor:
        config = parts.config
        services = self._services(config.api_root())
        credentials = OwnerCredentials(self.name, parts.tokens, services.token_uri)
        self.credentials = credentials
        self.interval = float(config.interval)
        drive = DriveApi(
            lambda: services.client("drive", credentials.source("drive")),
            observer=self.metrics.observe_request,
        )
        monitor = PooledMonitor(
            do_email=config.do_email,
            sender=self._sender(config, credentials, services, parts.outbox),
            state=self.source.state(self.name, config),
            # A pooled owner never serves its own metrics port: the pool's /metrics has it.
            config={**config.model_dump(), "metrics_port": None},
            drive_token_path=None,
            # Pools watch Drive only: they mount no owner's SyftBox folder.
            syftbox_root=None,
            google_api_root=services.api_root,
            strategy=config.strategy,
            drive=drive,
            metrics=self.metrics,
        )
        monitor.metrics.poll_interval.labels(monitor.monitor_name).set(self.interval)
        return monitor

    def _sender(
        self,
        config: MonitorConfig,
        credentials: OwnerCredentials,
        services: SharedServices,
        outbox: Path,
    ) -> NotificationSender:
        if config.sender == "gmail":
            return GmailSender(
                service=services.client("gmail", credentials.source("gmail")),
                api_root=services.api_root,
                email_format=config.email_format,
                rate_limit_per_minute=config.rate_limit_per_minute,
                observer=self.metrics.observe_request,
            )
        if config.sender == "smtp":
            if config.smtp is None:
                raise ConfigError("sender is smtp but the config has no smtp: section")
            smtp = config.smtp
            return SmtpSender(
                smtp.host,
                smtp.port,
                username=smtp.username,
                password=credentials.text("smtp_password"),
                starttls=smtp.starttls,
                ssl=smtp.ssl,
                from_address=smtp.from_address or config.do_email,
                timeout=smtp.timeout,
                email_format=config.email_format,
                rate_limit_per_minute=config.rate_limit_per_minute,
            )
        return FileSender(outbox, email_format=config.email_format)


def describe(owner: PoolOwner) -> dict[str, Any]:
    """What `syft-bg pool` reports about an owner (no token, no address)."""
    monitor = owner.monitor
    return {
        "name": owner.name,
        "ready": monitor is not None,
        "problem": owner.setup_error or (monitor.health_problem if monitor else None),
        "polls": monitor.checks if monitor else 0,
    }
