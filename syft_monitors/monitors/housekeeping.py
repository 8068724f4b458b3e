"""What a monitor does besides detecting: keep state small, report its size, send the heartbeat.

Runs after each successful poll but acts on its own clock: compaction once an hour (it rewrites
the whole document), the size gauge every poll (a stat or a cached length), and the optional
heartbeat email once per `heartbeat_interval`. The heartbeat's notification key is the start of
its period, so a restart inside a period does not send it twice (Gmail: exactly once).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from syft_monitors.metrics import MonitorMetrics
from syft_monitors.notify.plan import plan_heartbeat
from syft_monitors.runtime.delivery import Dispatcher
from syft_monitors.state.base import StateManager

logger = logging.getLogger(__name__)

COMPACT_EVERY = 3600.0


class Housekeeping:
    def __init__(
        self,
        do_email: str,
        dispatcher: Dispatcher,
        metrics: MonitorMetrics,
        *,
        heartbeat_enabled: bool = False,
        heartbeat_interval: int = 86400,
        compact_every: float = COMPACT_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.do_email = do_email
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.heartbeat_enabled = heartbeat_enabled
        self.heartbeat_interval = max(60, heartbeat_interval)
        self.compact_every = compact_every
        self.clock = clock
        # Compact soon after start: a restarted monitor may carry a long-grown document.
        self._compacted_at: float | None = None

    def run(self, state: StateManager, *, sends_heartbeat: bool) -> None:
        now = self.clock()
        if self._compacted_at is None or now - self._compacted_at >= self.compact_every:
            report = state.compact()
            self._compacted_at = now
            if report.changed:
                logger.info(
                    "state compacted to %d bytes (dropped %d seen, %d notified, %d threads)",
                    report.size_bytes,
                    report.dropped_seen,
                    report.dropped_notified,
                    report.dropped_threads,
                )
        self.metrics.state_size.set(state.size_bytes())
        if self.heartbeat_enabled and sends_heartbeat:
            self._heartbeat(now)

    def _heartbeat(self, now: float) -> None:
        period_start = now - now % self.heartbeat_interval
        moment = dt.datetime.fromtimestamp(period_start, tz=dt.UTC)
        email = plan_heartbeat(
            self.do_email, self.heartbeat_interval, moment, config=self.dispatcher.config
        )
        outcome = self.dispatcher.deliver(email, "heartbeat", self.do_email)
        if outcome.sent:
            logger.info("heartbeat email sent to the data owner")
