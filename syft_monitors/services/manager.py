"""`ServiceManager`: every service of one config file, and the status table `syft-bg` shows.

"last poll", "last error" and "events today" come from the state store's heartbeat, shown for
running services. Whether a running service is failing comes first from its health file
(`daemon.health`, written outside the state after every poll, so a state that cannot be
written still shows), then from the heartbeat, then from the state being unreadable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from syft_monitors.daemon.health import read_health
from syft_monitors.daemon.manager import DaemonManager
from syft_monitors.daemon.registry import SERVICES, get_service, service_names
from syft_monitors.errors import SyftMonitorError

logger = logging.getLogger(__name__)

#: Overrides the default config file (`$SYFT_MONITOR_HOME/config.yaml`).
CONFIG_ENV = "SYFT_MONITOR_CONFIG"


def resolve_config_path(config_path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit path, else $SYFT_MONITOR_CONFIG, else `default_config_path()`, expanded."""
    from syft_monitors.config import default_config_path  # noqa: PLC0415

    raw = config_path or os.environ.get(CONFIG_ENV) or default_config_path()
    return Path(os.path.expanduser(os.fspath(raw))).absolute()


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    description: str
    running: bool
    pid: int | None
    uptime_seconds: float | None
    #: The config asks for this service (`start` without a name starts it; `status` fails when
    #: it is down). None when the config cannot be read.
    configured: bool | None
    last_poll_at: str | None
    #: The most recent error, only while no poll has succeeded since.
    last_error: str | None
    events_today: int | None
    log_file: Path
    error_log_file: Path
    #: Running, but its polls (or saving them in the state) fail: `last_error` says why.
    failing: bool = False

    @property
    def state(self) -> str:
        if not self.running:
            return "stopped"
        return "failing" if self.failing else "running"

    @property
    def down(self) -> bool:
        """A configured service that is not running."""
        return bool(self.configured) and not self.running

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = self.state
        data["log_file"] = str(self.log_file)
        data["error_log_file"] = str(self.error_log_file)
        return data


class ServiceManager:
    """Start, stop and inspect the services of one config file."""

    def __init__(self, config_path: str | os.PathLike[str] | None = None) -> None:
        self.config_path = resolve_config_path(config_path)

    def list_services(self) -> list[str]:
        return service_names()

    def daemon(self, name: str, **kwargs: Any) -> DaemonManager:
        return DaemonManager(self.config_path, get_service(name).name, **kwargs)

    def start_service(self, name: str, interval: int | None = None) -> bool:
        return self.daemon(name).start(interval)

    def stop_service(self, name: str) -> bool:
        return self.daemon(name).stop()

    def restart_service(self, name: str, interval: int | None = None) -> bool:
        return self.daemon(name).restart(interval)

    def configured_services(self) -> list[str]:
        """The services the config asks for (raises ConfigError for an invalid config)."""
        from syft_monitors.config import load_config  # noqa: PLC0415

        config = load_config(self.config_path)
        return [name for name, spec in SERVICES.items() if spec.is_configured(config)]

    def ensure_running(self, names: list[str], *, restart: bool = False) -> dict[str, bool]:
        """Start each named service that is not running (restart running ones with `restart`);
        returns name -> running afterwards."""
        result: dict[str, bool] = {}
        for name in names:
            daemon = self.daemon(name)
            if daemon.is_running() and not restart:
                result[name] = True
                continue
            ok = daemon.restart() if restart else daemon.start()
            result[name] = ok or daemon.is_running()
        return result

    def service_status(self, name: str) -> ServiceStatus:
        return self._status(name, _Snapshot.read(self.config_path))

    def get_all_status(self) -> dict[str, ServiceStatus]:
        snapshot = _Snapshot.read(self.config_path)
        return {name: self._status(name, snapshot) for name in self.list_services()}

    def _status(self, name: str, snapshot: _Snapshot) -> ServiceStatus:
        spec = get_service(name)
        daemon = self.daemon(name)
        pid = daemon.get_pid()
        # Each service's own heartbeat in the shared state; shown for running services only,
        # where it describes something alive.
        beat = snapshot.heartbeats.get(spec.name, {}) if pid is not None else {}
        problem: str | None = None
        if pid is not None:
            health = read_health(daemon.health_file)
            if health is not None and health.pid == pid:
                problem = health.problem  # the daemon's own word on its last poll
            else:  # an older daemon, or none written yet: what the state says
                problem = beat.get("current_error") or snapshot.state_problem
        return ServiceStatus(
            name=spec.name,
            description=spec.description,
            running=pid is not None,
            pid=pid,
            uptime_seconds=daemon.uptime() if pid is not None else None,
            configured=snapshot.configured.get(name) if snapshot.ok else None,
            last_poll_at=beat.get("last_poll_at"),
            last_error=problem,
            events_today=beat.get("events_today"),
            log_file=daemon.log_file,
            error_log_file=daemon.error_log_file,
            failing=problem is not None,
        )


@dataclasses.dataclass(slots=True)
class _Snapshot:
    """What the config and the state say, read once for a whole status table."""

    ok: bool
    configured: dict[str, bool]
    heartbeats: dict[str, dict[str, Any]]
    #: Why the state could not be read, if it could not.
    state_problem: str | None = None

    @classmethod
    def read(cls, config_path: Path) -> _Snapshot:
        from syft_monitors.config import load_config  # noqa: PLC0415

        try:
            config = load_config(config_path)
        except SyftMonitorError:
            return cls(False, {}, {})
        configured = {name: spec.is_configured(config) for name, spec in SERVICES.items()}
        names = [spec.name for spec in SERVICES.values()]
        beats, problem = _heartbeats(config, names)
        return cls(True, configured, beats, problem)


def _heartbeats(config: Any, monitors: list[str]) -> tuple[dict[str, dict[str, Any]], str | None]:
    # A missing state file means "never polled": do not create one (nor its lock) by looking.
    # (`exists` follows the path without opening it: a FIFO is refused by the state itself.)
    if config.state_backend == "file" and not Path(config.state_file).exists():
        return {}, None
    from syft_monitors.runtime.wiring import state_from_config  # noqa: PLC0415

    try:
        state = state_from_config(config)
        return {name: _describe(state.heartbeat(name)) for name in monitors}, None
    except SyftMonitorError as error:
        logger.warning("cannot read the state's heartbeat: %s", error)
        return {}, str(error)


def _describe(beat: Any) -> dict[str, Any]:
    current = None
    if beat.last_error is not None and (
        beat.last_success_at is None
        or (
            beat.last_error_at is not None
            and _when(beat.last_error_at) >= _when(beat.last_success_at)
        )
    ):
        current = beat.last_error
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return {
        "last_poll_at": beat.last_poll_at,
        "current_error": current,
        "events_today": beat.events_today if beat.events_day == today else 0,
    }


def _when(stamp: str) -> dt.datetime:
    from syft_monitors.state.model import parse_timestamp  # noqa: PLC0415

    return parse_timestamp(stamp)
