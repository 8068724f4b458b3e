"""The `Monitor` base class of the seed API: check once, poll in the foreground, or in a thread.

An error in one check is logged once per incident (repeats of the same error stay at debug level
until a check succeeds), counted in metrics, and never ends the loop. Authentication errors slow
the loop down (exponential, capped) instead of hammering Google with a revoked token.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
import time
from typing import Any

from syft_monitors.errors import (
    ConfigError,
    CredentialsError,
    MissingScopeError,
    ProtocolError,
    QuotaError,
    SendError,
    ServiceError,
    StateError,
    SyftMonitorError,
)
from syft_monitors.metrics import Healthcheck, MetricsServer, MonitorMetrics

logger = logging.getLogger(__name__)

AUTH_BACKOFF_CAP = 15 * 60.0
#: An unchanged heartbeat is written at most this often (each write is an fsync or an API call).
HEARTBEAT_WRITE_EVERY = 60.0


def error_kind(error: BaseException) -> str:
    """The bounded metrics label for an error."""
    table: tuple[tuple[type[BaseException], str], ...] = (
        (CredentialsError, "auth"),
        (MissingScopeError, "auth"),  # the token works, but re-authorizing is the fix too
        (QuotaError, "quota"),
        (ServiceError, "service"),
        (ProtocolError, "protocol"),
        (SendError, "send"),
        (StateError, "state"),
        (ConfigError, "config"),
        (OSError, "transport"),
    )
    for cls, kind in table:
        if isinstance(error, cls):
            return kind
    return "internal"


class Monitor(abc.ABC):
    """Base of JobMonitor and PeerMonitor; subclasses implement `_check_all_entities`."""

    #: Label used in metrics and logs.
    monitor_name = "monitor"

    def __init__(self, sender: Any, state: Any, config: dict[str, Any] | None = None) -> None:
        self.sender = sender
        self.state = state
        self.config: dict[str, Any] = dict(config or {})
        if not hasattr(self, "metrics"):
            self.metrics = MonitorMetrics()
        self.metrics.init_monitor([self.monitor_name])
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self._failures = 0
        self.checks = 0
        self._metrics_server: MetricsServer | None = None
        self._health: Healthcheck | None = None
        self._heartbeat_written_at = 0.0
        self._heartbeat_failing = False
        #: Why the monitor is failing right now (its last poll, or recording it in the state);
        #: None when the last poll and its state write both worked. Kept in memory, not in the
        #: state, which may be exactly what fails.
        self.health_problem: str | None = None
        self.failing_since: float | None = None

    @abc.abstractmethod
    def _check_all_entities(self) -> None:
        """Query the sources, detect changes, send notifications, update state."""

    # --- running --------------------------------------------------------------------------------

    def check(
        self, interval: int | float | None = None, duration: int | float | None = None
    ) -> None:
        """Run once (interval None), or every `interval` s for `duration` s (None: forever)."""
        if interval is None:
            self._check_once()
            return
        self._serve_configured_metrics(float(interval))
        self.metrics.poll_interval.labels(self.monitor_name).set(float(interval))
        self._stop_event.clear()
        deadline = None if duration is None else time.monotonic() + duration
        while not self._stop_event.is_set():
            self._check_once()
            wait = self._next_wait(float(interval))
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= wait:
                    # The next check would fall at or after the deadline: none is due any more.
                    self._stop_event.wait(max(0.0, remaining))
                    return
            if self._stop_event.wait(wait):
                return

    def start(self, interval: int = 10) -> threading.Thread:
        """Poll every `interval` seconds in a daemon thread; returns the thread."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._serve_configured_metrics(float(interval))  # before the thread: callers may scrape
        self._stop_event.clear()
        self._thread = threading.Thread(
            target=self.check,
            kwargs={"interval": interval},
            name=f"syft-{self.monitor_name}",
            daemon=True,
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the background thread after its current check finishes, and the metrics port."""
        self._stop_event.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        if self._metrics_server is not None:
            self._metrics_server.stop()
            self._metrics_server = None

    def serve_metrics(
        self, port: int = 0, host: str = "127.0.0.1", *, interval: float = 30.0
    ) -> MetricsServer:
        """Serve `/metrics` and `/healthz` (unhealthy after 3 intervals without a good poll,
        at least 2 minutes); idempotent. Port 0 picks a free port (see `.port`)."""
        self.metrics.poll_interval.labels(self.monitor_name).set(interval)
        if self._metrics_server is None:
            self._health = Healthcheck(max_age=max(3 * interval, 120.0))
            self._metrics_server = MetricsServer(
                self.metrics, host=host, port=port, healthy=self._health
            ).start()
            logger.info("serving metrics on http://%s:%d/metrics", host, self._metrics_server.port)
        return self._metrics_server

    @property
    def metrics_server(self) -> MetricsServer | None:
        return self._metrics_server

    def _serve_configured_metrics(self, interval: float) -> None:
        port = self.config.get("metrics_port")
        if port is None or self._metrics_server is not None:
            return
        host = str(self.config.get("metrics_host") or "127.0.0.1")
        try:
            self.serve_metrics(int(port), host, interval=interval)
        except OSError as error:  # a taken port must not stop notifications
            self.metrics.errors.labels("config").inc()
            logger.error("cannot serve metrics on %s:%s: %s", host, port, error.strerror)

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- one check ------------------------------------------------------------------------------

    def _check_once(self) -> bool:
        # One check reads the state document once (see `StateManager.reading_once`).
        scope = getattr(self.state, "reading_once", None)
        with scope() if scope is not None else contextlib.nullcontext():
            return self._check_and_record()

    def _check_and_record(self) -> bool:
        started = time.monotonic()
        self.checks += 1
        try:
            self._check_all_entities()
        except Exception as error:  # the loop must survive anything a check throws
            self._failures += 1
            self._report(error)
            self.metrics.polls.labels(self.monitor_name, "error").inc()
            self._failing(describe_error(error))
            self._record_poll(success=False, error=error)
            return False
        finally:
            self.metrics.poll_duration.labels(self.monitor_name).observe(time.monotonic() - started)
        if self._last_error is not None:
            logger.info("%s recovered", type(self).__name__)
        self._last_error = None
        self._failures = 0
        self.metrics.polls.labels(self.monitor_name, "ok").inc()
        self.metrics.last_success.labels(self.monitor_name).set(time.time())
        if not self._record_poll(success=True, error=None):
            return False  # `_record_poll` said why: a poll whose state cannot be saved is no good
        self.health_problem = self.failing_since = None
        if self._health is not None:
            self._health.mark_success()
        self._run_maintenance()
        return True

    def _failing(self, problem: str) -> None:
        self.health_problem = problem
        if self.failing_since is None:
            self.failing_since = time.time()
        if self._health is not None:
            self._health.mark_failure(problem)

    def _maintenance(self) -> None:  # noqa: B027 - optional hook, most monitors need none
        """Periodic housekeeping after a good poll (compaction, heartbeat email); optional."""

    def _poll_events(self) -> int:
        """How many events the last poll produced (for the state's daily counter)."""
        return 0

    def _run_maintenance(self) -> None:
        try:
            self._maintenance()
        except Exception as error:  # housekeeping must never end the loop either
            self._report(error)

    def _report(self, error: Exception) -> None:
        kind = error_kind(error)
        self.metrics.errors.labels(kind).inc()
        text = describe_error(error)
        if text == self._last_error:
            logger.debug("%s still failing: %s", type(self).__name__, text)
            return
        self._last_error = text
        if isinstance(error, SyftMonitorError):
            logger.error("%s check failed: %s", type(self).__name__, text)
        else:
            logger.exception("%s check failed unexpectedly: %s", type(self).__name__, text)

    def _next_wait(self, interval: float) -> float:
        if self._failures and self._last_error and self._last_error.startswith("re-authorize"):
            return float(min(AUTH_BACKOFF_CAP, interval * 2 ** min(self._failures, 10)))
        return interval

    def _record_poll(self, *, success: bool, error: Exception | None) -> bool:
        """Write the heartbeat (when due); False when the state refused it."""
        recorder = getattr(self.state, "record_poll", None)
        if recorder is None:
            return True
        events = self._poll_events() if success else 0
        now = time.monotonic()
        quiet = success and not self._heartbeat_failing and events == 0 and not self.health_problem
        if quiet and now - self._heartbeat_written_at < HEARTBEAT_WRITE_EVERY:
            return True  # an idle, healthy poll does not rewrite state every few seconds
        try:
            recorder(
                success=success,
                error=describe_error(error) if error else None,
                events=events,
                monitor=self.monitor_name,
            )
        except SyftMonitorError as state_error:
            self.metrics.errors.labels(error_kind(state_error)).inc()
            problem = f"cannot record the poll in the state: {describe_error(state_error)}"
            if success:
                if problem != self._last_error:
                    logger.error("%s: %s", type(self).__name__, problem)
                self._last_error = problem
                self._failing(problem)
            else:
                logger.warning("could not record poll in state: %s", state_error)
            return False
        self._heartbeat_written_at = now
        self._heartbeat_failing = not success
        return True


def describe_error(error: BaseException) -> str:
    """One line for logs and state: never a token, never a traceback."""
    if isinstance(error, CredentialsError):
        return f"re-authorize: {error}"
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:500]
