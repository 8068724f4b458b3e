"""Prometheus metrics of a monitor process: one private registry, names in docs/metrics.md.

Labels are bounded enums only (API method, outcome, event kind, error kind, monitor name); no
email, job name or file id ever becomes a label. Every label combination we know of is created at
start-up so dashboards and alerts see zeros instead of missing series.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from syft_monitors.events import EventKind

POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
REQUEST_OUTCOMES = (
    "ok",
    "client_error",
    "auth_error",
    "rate_limited",
    "server_error",
    "transport_error",
)
NOTIFICATION_OUTCOMES = ("sent", "failed", "recovered", "skipped")
FOLD_REASONS = ("per_sender", "burst", "low_budget")
DEFER_REASONS = ("quota_pause", "daily_budget")
ERROR_KINDS = (
    "auth",
    "quota",
    "service",
    "transport",
    "protocol",
    "send",
    "state",
    "config",
    "internal",
)
KNOWN_METHODS = {
    "drive": (
        "changes.list",
        "changes.getStartPageToken",
        "files.list",
        "files.get",
        "files.get_media",
    ),
    "gmail": (
        "messages.send",
        "messages.list",
        "messages.get",
        "users.getProfile",
        "history.list",
        "threads.get",
    ),
}


REPLY_OUTCOMES = (
    "approved",
    "denied",
    "auto_approved",
    "unknown",
    "empty",
    "already_decided",
    "changed",
    "not_reviewable",
    "not_found",
    "refused",
    "failed",
)


class MonitorMetrics:
    """All metrics of one monitor process, on their own registry (never the global one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.poll_duration = Histogram(
            "syft_monitor_poll_duration_seconds",
            "Wall time of one poll of a monitor (detection and the sends it triggered).",
            ["monitor"],
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.polls = Counter(
            "syft_monitor_polls",
            "Polls by monitor and outcome (ok, error).",
            ["monitor", "outcome"],
            registry=r,
        )
        self.requests = Counter(
            "syft_monitor_google_requests",
            "HTTP requests to Google APIs (every attempt, retries included).",
            ["api", "method", "outcome"],
            registry=r,
        )
        self.notifications = Counter(
            "syft_monitor_notifications",
            "Emails by event kind and outcome (sent, failed, recovered after a crash, skipped).",
            ["event", "outcome"],
            registry=r,
        )
        self.events = Counter(
            "syft_monitor_events_detected",
            "Distinct events detected, by kind.",
            ["kind"],
            registry=r,
        )
        self.errors = Counter(
            "syft_monitor_errors",
            "Errors by kind (auth, quota, service, transport, protocol, send, state, ...).",
            ["kind"],
            registry=r,
        )
        self.last_success = Gauge(
            "syft_monitor_last_successful_poll_timestamp_seconds",
            "Unix time of the last poll that completed without error.",
            ["monitor"],
            registry=r,
        )
        self.poll_interval = Gauge(
            "syft_monitor_poll_interval_seconds",
            "Configured time between two polls of a monitor (alerts count staleness in intervals).",
            ["monitor"],
            registry=r,
        )
        self.state_size = Gauge(
            "syft_monitor_state_size_bytes",
            "Size of the serialized monitor state.",
            registry=r,
        )
        self.pending_work = Gauge(
            "syft_monitor_pending_work_items",
            "Detected changes not yet fully notified (retried with backoff).",
            registry=r,
        )
        self.folded = Counter(
            "syft_monitor_notifications_folded",
            "Emails folded into a digest by flood control, by event kind and reason (per_sender, "
            "burst, low_budget).",
            ["event", "reason"],
            registry=r,
        )
        self.deferred = Counter(
            "syft_monitor_notifications_deferred",
            "Sends held by flood control, by reason (quota_pause, daily_budget).",
            ["reason"],
            registry=r,
        )
        self.budget = Gauge(
            "syft_monitor_send_budget",
            "Daily sending budget by priority (high: the whole budget; low: its strangers' share).",
            ["priority"],
            registry=r,
        )
        self.budget_remaining = Gauge(
            "syft_monitor_send_budget_remaining",
            "Sends left today by priority (UTC day).",
            ["priority"],
            registry=r,
        )
        self.senders_folded = Gauge(
            "syft_monitor_senders_folded",
            "Senders over their hourly email budget in the current window (their mail is folded).",
            registry=r,
        )
        self._initialise()
        self.approvals = Counter(
            "syft_monitor_approvals",
            "Approve service decisions by kind (job, peer) and outcome (approved, no_match, "
            "withdrawn, failed).",
            ["kind", "outcome"],
            registry=r,
        )
        for approval_kind in ("job", "peer"):
            for approval_outcome in ("approved", "no_match", "failed", "withdrawn"):
                self.approvals.labels(approval_kind, approval_outcome)
        self.email_replies = Counter(
            "syft_monitor_email_replies",
            "Replies to new-job emails by outcome (approved, denied, auto_approved, unknown, "
            "empty, already_decided, changed, not_reviewable, not_found, refused, failed).",
            ["outcome"],
            registry=r,
        )
        for reply_outcome in REPLY_OUTCOMES:
            self.email_replies.labels(reply_outcome)

    def _initialise(self) -> None:
        for api, methods in KNOWN_METHODS.items():
            for method in methods:
                for outcome in REQUEST_OUTCOMES:
                    self.requests.labels(api, method, outcome)
        for kind in EventKind:
            self.events.labels(kind.value)
            for outcome in NOTIFICATION_OUTCOMES:
                self.notifications.labels(kind.value, outcome)
        for outcome in NOTIFICATION_OUTCOMES:
            self.notifications.labels("heartbeat", outcome)
        for error_kind in ERROR_KINDS:
            self.errors.labels(error_kind)
        for outcome in NOTIFICATION_OUTCOMES:
            self.notifications.labels("digest", outcome)
        for kind in EventKind:
            for reason in FOLD_REASONS:
                self.folded.labels(kind.value, reason)
        for reason in DEFER_REASONS:
            self.deferred.labels(reason)
        for priority in ("high", "low"):
            self.budget.labels(priority)
            self.budget_remaining.labels(priority)

    def init_monitor(self, names: Iterable[str]) -> None:
        for name in names:
            self.polls.labels(name, "ok")
            self.polls.labels(name, "error")
            self.poll_duration.labels(name)

    def observe_request(self, api: str, method: str, outcome: str, seconds: float) -> None:
        """Hook for `syft_monitors.google.retry.execute(observer=...)`."""
        del seconds  # request latency is covered by the poll histogram; keep labels bounded
        self.requests.labels(api, method, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Exposition(Protocol):
    """Anything whose metrics a `MetricsServer` serves (one monitor's, or a pool's)."""

    def render(self) -> bytes: ...


def _always_healthy() -> tuple[bool, str]:
    return True, "ok"


class MetricsServer:
    """`/metrics` and `/healthz` on a background thread; port 0 picks a free port."""

    def __init__(
        self,
        metrics: Exposition,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        healthy: Callable[[], tuple[bool, str]] | None = None,
    ) -> None:
        self._metrics = metrics
        self._healthy: Callable[[], tuple[bool, str]] = healthy or _always_healthy
        handler = self._handler_class()
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    body = outer._metrics.render()
                    self._reply(200, body, CONTENT_TYPE_LATEST)
                elif self.path.split("?")[0] == "/healthz":
                    ok, reason = outer._healthy()
                    self._reply(200 if ok else 503, reason.encode() + b"\n", "text/plain")
                else:
                    self._reply(404, b"not found\n", "text/plain")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Scrapes every few seconds would flood the log; stay quiet."""

        return Handler


class Healthcheck:
    """Healthy while the last good poll is younger than `max_age` seconds; the reason names
    the current failure (a poll or a state write) even while that limit is not reached."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._started = time.time()
        self._last_success: float | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()

    def mark_success(self, when: float | None = None) -> None:
        with self._lock:
            self._last_success = time.time() if when is None else when
            self._failure = None

    def mark_failure(self, reason: str) -> None:
        with self._lock:
            self._failure = reason

    def __call__(self) -> tuple[bool, str]:
        with self._lock:
            reference = self._last_success or self._started
            failure = self._failure
        age = time.time() - reference
        if age <= self.max_age:
            return True, "ok" if failure is None else f"failing: {failure}"
        why = f": {failure}" if failure else ""
        return False, f"no successful poll for {age:.0f}s (limit {self.max_age:.0f}s){why}"
