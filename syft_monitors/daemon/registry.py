"""The services `syft-bg` knows, in the order it starts them.

A service is a `Monitor` built from the config file, run by its own daemon with its own PID and
log files (`syft-{name}.pid`, `.log`, `.error.log` in the config's daemon folder). Factories import
their monitor lazily: listing services or printing a status must not load the Google client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from syft_monitors.errors import ConfigError
from syft_monitors.protocol.emails import safe_repr

if TYPE_CHECKING:
    from syft_monitors.config import MonitorConfig
    from syft_monitors.metrics import MonitorMetrics
    from syft_monitors.runtime.poll_loop import Monitor


class MonitorFactory(Protocol):
    """`build(config, metrics, config_path=None) -> Monitor`; with `config_path` a service may
    re-read parts of the file on its own (approve re-reads its rules every tick)."""

    def __call__(
        self,
        config: MonitorConfig,
        metrics: MonitorMetrics | None,
        config_path: Path | None = None,
    ) -> Monitor: ...


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    description: str
    #: The interval when the config does not set one (the config's own default is the same).
    default_interval: int
    build: MonitorFactory
    interval_of: Callable[[MonitorConfig], int]
    #: Whether the config asks for this service (`syft-bg start` with no name starts those).
    configured_in: Callable[[MonitorConfig], bool]

    @property
    def pid_name(self) -> str:
        return f"syft-{self.name}.pid"

    @property
    def log_name(self) -> str:
        return f"syft-{self.name}.log"

    @property
    def error_log_name(self) -> str:
        return f"syft-{self.name}.error.log"

    @property
    def health_name(self) -> str:
        return f"syft-{self.name}.health.json"

    def interval(self, config: MonitorConfig) -> int:
        return self.interval_of(config)

    def is_configured(self, config: MonitorConfig) -> bool:
        return self.configured_in(config)


def _build_notify(
    config: MonitorConfig, metrics: MonitorMetrics | None, config_path: Path | None = None
) -> Monitor:
    from syft_monitors.monitors.seed_monitors import NotificationMonitor  # noqa: PLC0415

    return NotificationMonitor.from_config_model(config, metrics=metrics)


def _build_approve(
    config: MonitorConfig, metrics: MonitorMetrics | None, config_path: Path | None = None
) -> Monitor:
    from syft_monitors.approve.service import ApproveMonitor  # noqa: PLC0415

    return ApproveMonitor.from_config_model(config, metrics=metrics, config_path=config_path)


def _approve_configured(config: MonitorConfig) -> bool:
    # Without rules, peers or domains the approve service has nothing it could ever do.
    settings = config.approve
    return bool(settings.auto_approvals or settings.approved_peers or settings.approved_domains)


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec(
            name="notify",
            description="Email notifications for job and peer events",
            default_interval=30,
            build=_build_notify,
            interval_of=lambda config: config.interval,
            configured_in=lambda config: True,
        ),
        ServiceSpec(
            name="approve",
            description="Auto-approve jobs and peer requests that match the approve: rules",
            default_interval=5,
            build=_build_approve,
            interval_of=lambda config: config.approve.interval,
            configured_in=_approve_configured,
        ),
    )
}


def service_names() -> list[str]:
    return list(SERVICES)


def get_service(name: str) -> ServiceSpec:
    """The service called `name`, or a ConfigError naming the known ones."""
    spec = SERVICES.get(name)
    if spec is None:
        known = ", ".join(SERVICES)
        raise ConfigError(f"unknown service {safe_repr(name, 40)} (known: {known})")
    return spec
