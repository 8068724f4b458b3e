"""The loop a service runs, as a daemon or in the foreground: poll, sleep, reload, stop.

SIGTERM and SIGINT stop the loop: at once when it sleeps, and mid-poll when the poll waits on
the network or a retry backoff (`interrupt`: what was detected is already in the state, so the
next start resumes it). A send in progress is left to finish for up to the grace period
($SYFT_STOP_GRACE, 8 s: below `syft-bg stop`'s and Docker's 10 s before SIGKILL), then cut off
and recorded as unsettled. A second SIGINT interrupts at once, for a stuck foreground run.
SIGHUP only sets a flag and wakes the sleep: it re-reads the config file and, when it is
valid, builds a new monitor from it for the next poll, which runs right away. The state lives in
the state store, not in the monitor, so nothing is lost by the swap. An `--interval` given at
start keeps winning over the config's interval after reloads.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from syft_monitors import interrupt
from syft_monitors.config import MonitorConfig, check_token_files, load_config
from syft_monitors.daemon.health import check_state_file, health_of, write_health
from syft_monitors.daemon.registry import ServiceSpec
from syft_monitors.errors import ConfigError, SyftMonitorError
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.runtime.poll_loop import Monitor
from syft_monitors.state.holders import describe_holder
from syft_monitors.state.json_file import JsonStateManager

logger = logging.getLogger(__name__)

#: Seconds a send in progress may take after SIGTERM before it is cut off.
STOP_GRACE = 8.0
GRACE_ENV = "SYFT_STOP_GRACE"


def stop_grace() -> float:
    """$SYFT_STOP_GRACE when it is a positive number of seconds, else STOP_GRACE."""
    raw = os.environ.get(GRACE_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return STOP_GRACE
    return value if 0 < value < 3600 else STOP_GRACE


class ServiceRunner:
    """One service's monitor, driven until `request_stop` (or a signal)."""

    def __init__(
        self,
        spec: ServiceSpec,
        config_path: Path,
        *,
        interval: int | None = None,
        health_file: Path | None = None,
    ) -> None:
        if interval is not None and interval < 1:
            raise ConfigError("interval must be at least 1 second")
        self.spec = spec
        self.config_path = config_path
        self.interval_override = interval
        self.metrics = MonitorMetrics()
        self.config: MonitorConfig | None = None
        self.monitor: Monitor | None = None
        self.polls = 0
        self._stop_reason: str | None = None
        self._reload_requested = False
        self._wake = threading.Event()
        self.stop_grace = stop_grace()
        #: Where a daemon reports each poll's outcome for `syft-bg status` (see `health`).
        self.health_file = health_file
        self._grace_over = False
        self._grace_armed = False

    # --- control (safe from signal handlers: flags and an event only) -----------------------

    def request_stop(self, reason: str = "requested") -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        self._wake.set()

    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop_reason is not None

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop after the current poll, SIGHUP reloads (main thread only)."""

        def on_stop(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGINT and self.stopping:
                raise KeyboardInterrupt
            first = not self.stopping
            self.request_stop(signal.Signals(signum).name)
            if first:
                # Only now: SIGALRM stays whoever's it was until a stop needs the alarm.
                signal.signal(signal.SIGALRM, on_grace_over)
                signal.setitimer(signal.ITIMER_REAL, self.stop_grace)
                self._grace_armed = True
            interrupt.request_stop()  # raises when the poll waits somewhere safe to leave

        def on_grace_over(signum: int, frame: FrameType | None) -> None:
            self._grace_over = True
            interrupt.force_stop()

        def on_reload(signum: int, frame: FrameType | None) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    # --- running ----------------------------------------------------------------------------

    def setup(self) -> None:
        """Load the config and build the monitor; ConfigError (or another of ours) on failure."""
        config = load_config(self.config_path)
        check_token_files(config)
        check_state_file(config)
        self.monitor = self.spec.build(config, self.metrics, self.config_path)
        self.config = config
        self._serve_metrics()
        self._announce()

    def _announce(self) -> None:
        """Say so when another process runs this service on the same state (they share it
        safely, see `state.holders`, but polling twice is rarely what was meant)."""
        state = getattr(self.monitor, "state", None)
        if not isinstance(state, JsonStateManager):
            return
        others = state.announce(self.spec.name)
        if not others:
            return
        who = ", ".join(describe_holder(holder) for holder in others)
        logger.warning(
            "%s: another %s process (%s) uses the same state file %s; both poll and share"
            " the work: an email one of them is sending is left to it, never sent twice",
            self.spec.name,
            self.spec.name,
            who,
            state.path,
        )

    @property
    def interval(self) -> int:
        if self.interval_override is not None:
            return self.interval_override
        assert self.config is not None, "setup() first"
        return self.spec.interval(self.config)

    def run(
        self,
        *,
        once: bool = False,
        on_first_poll: Callable[[bool, str | None], None] | None = None,
    ) -> bool:
        """Poll until stopped (or once); returns whether the last poll succeeded.
        `on_first_poll(ok, problem)` hears how the first poll went (`syft-bg start` waits
        for it)."""
        if self.monitor is None:
            self.setup()
        ok = True
        while True:
            self._wake.clear()
            if self.stopping:
                logger.info("%s: stopping (%s)", self.spec.name, self._stop_reason)
                break
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
            monitor = self.monitor
            assert monitor is not None
            try:
                # check() would drop the outcome, which `run --once` turns into its exit code.
                ok = monitor._check_once()
            except interrupt.StopRequested:
                logger.info(
                    "%s: stop interrupted the poll in progress (%s); what it found is kept in"
                    " the state and handled at the next start",
                    self.spec.name,
                    "a send was cut off after the grace period"
                    if self._grace_over
                    else "waiting on the network or a retry",
                )
                ok = False
                self.polls += 1
                continue  # the loop's top logs the stop and ends
            self.polls += 1
            self._report_health(monitor)
            if on_first_poll is not None:
                on_first_poll(ok, monitor.health_problem)
                on_first_poll = None
            if once:
                break
            # The monitor stretches the wait while its token is rejected (capped backoff).
            self._wake.wait(monitor._next_wait(float(self.interval)))
        return ok

    def _report_health(self, monitor: Monitor) -> None:
        if self.health_file is not None:
            write_health(
                self.health_file,
                health_of(os.getpid(), monitor.health_problem, monitor.failing_since),
            )

    def reload(self) -> bool:
        """Re-read the config; a valid one replaces the monitor, an invalid one is only logged."""
        try:
            config = load_config(self.config_path)
            # As at start: a token path that does not exist, or a broken file, keeps the old
            # config instead of a monitor whose every poll fails.
            check_token_files(config)
            monitor = self.spec.build(config, self.metrics, self.config_path)
        except SyftMonitorError as error:
            logger.error(
                "%s: config reload rejected, keeping the previous config: %s",
                self.spec.name,
                error,
            )
            return False
        except Exception:  # a reload must never take a running service down
            logger.exception(
                "%s: config reload failed, keeping the previous config", self.spec.name
            )
            return False
        old_config, old_monitor = self.config, self.monitor
        if old_monitor is not None:
            old_monitor.stop()
        self.config, self.monitor = config, monitor
        self._serve_metrics()
        if old_config is not None and old_config.home() != config.home():
            logger.warning(
                "%s: daemon_dir changed; the PID and log files move on the next restart",
                self.spec.name,
            )
        logger.info(
            "%s: config reloaded from %s (interval %d s)",
            self.spec.name,
            self.config_path,
            self.interval,
        )
        return True

    def close(self) -> None:
        if self._grace_armed:
            signal.setitimer(signal.ITIMER_REAL, 0)  # no grace alarm after the loop
            self._grace_armed = False
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            monitor.stop()

    def _serve_metrics(self) -> None:
        config, monitor = self.config, self.monitor
        if config is None or monitor is None or config.metrics_port is None:
            return
        try:
            monitor.serve_metrics(
                config.metrics_port, config.metrics_host, interval=float(self.interval)
            )
        except OSError as error:  # a taken port must not stop the service
            logger.error(
                "%s: cannot serve metrics on %s:%s: %s",
                self.spec.name,
                config.metrics_host,
                config.metrics_port,
                error.strerror,
            )
