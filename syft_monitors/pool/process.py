"""The pool process: the owners its source names, each polled on the shared scheduler.

`Pool.sync()` compares the source's owners with those served: new ones are added (their first
turns spread over `spread` seconds, so a restart does not poll a thousand owners at once), gone
ones are removed with their metrics, and an owner whose entry changed (another ConfigMap or
Secret) is rebuilt. Owners that stay are not touched: their cursors, backoffs and rate limiters
go on. `run()` syncs every `watch_every` seconds until stopped, and serves /metrics and /healthz.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from syft_monitors.errors import SyftMonitorError
from syft_monitors.google.shared import SharedServices
from syft_monitors.metrics import Healthcheck, MetricsServer
from syft_monitors.pool.metrics import PoolMetrics
from syft_monitors.pool.owner import SAFETY_REFRESH, OwnerSource, PoolOwner
from syft_monitors.pool.scheduler import PollScheduler
from syft_monitors.runtime.poll_loop import describe_error

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
DEFAULT_WATCH_EVERY = 3.0


def _spread_delay(name: str, spread: float) -> float:
    """A stable point in [0, spread) for `name`: the same owner starts at the same offset."""
    if spread <= 0:
        return 0.0
    digest = hashlib.sha256(name.encode()).digest()
    return spread * int.from_bytes(digest[:8], "big") / 2**64


class Pool:
    def __init__(
        self,
        source: OwnerSource,
        *,
        workers: int = DEFAULT_WORKERS,
        spread: float = 30.0,
        refresh_every: float = 300.0,
        safety_every: float = SAFETY_REFRESH,
        api_root: str | None = None,
        metrics: PoolMetrics | None = None,
    ) -> None:
        self.source = source
        self.metrics = metrics or PoolMetrics()
        self.spread = spread
        self.refresh_every = refresh_every
        self.safety_every = safety_every
        self.scheduler = PollScheduler(workers)
        self.owners: dict[str, PoolOwner] = {}
        self._fingerprints: dict[str, str] = {}
        self._services: dict[str | None, SharedServices] = {}
        self._services_lock = threading.Lock()
        self._api_root = api_root
        self._stop = threading.Event()
        self._last_source_error: str | None = None
        self.health = Healthcheck(max_age=120.0)
        self._server: MetricsServer | None = None

    def services(self, api_root: str | None) -> SharedServices:
        """The shared Google services for `api_root` (owners normally all use one)."""
        root = api_root or self._api_root
        with self._services_lock:
            found = self._services.get(root)
            if found is None:
                found = SharedServices(api_root=root)
                self._services[root] = found
            return found

    # --- owners -----------------------------------------------------------------------------

    def sync(self) -> bool:
        """Bring the served owners in line with the source; False when it cannot be read."""
        try:
            wanted = self.source.owners()
        except SyftMonitorError as error:
            text = describe_error(error)
            if text != self._last_source_error:
                logger.error("cannot read the pool's owners (serving the last known): %s", text)
            self._last_source_error = text
            return False
        if self._last_source_error is not None:
            logger.info("the pool's owners can be read again")
        self._last_source_error = None
        for name in [n for n in self.owners if n not in wanted]:
            self._remove(name)
        for name, fingerprint in wanted.items():
            if name in self.owners and self._fingerprints.get(name) == fingerprint:
                continue
            if name in self.owners:
                self._remove(name)
            self._add(name, fingerprint)
        self.metrics.owners.set(len(self.owners))
        return True

    def _add(self, name: str, fingerprint: str) -> None:
        owner = PoolOwner(
            name,
            self.source,
            services=self.services,
            metrics=self.metrics.for_owner(name),
            refresh_every=self.refresh_every,
            safety_every=self.safety_every,
        )
        self.owners[name] = owner
        self._fingerprints[name] = fingerprint
        self.scheduler.add(name, owner.turn, delay=_spread_delay(name, self.spread))
        logger.info("serving %s", name)

    def _remove(self, name: str) -> None:
        self.scheduler.remove(name)
        owner = self.owners.pop(name)
        self._fingerprints.pop(name, None)
        owner.close()
        self.metrics.forget(name)
        logger.info("no longer serving %s", name)

    # --- running ----------------------------------------------------------------------------

    def serve_metrics(self, port: int, host: str = "0.0.0.0") -> MetricsServer:  # noqa: S104
        self._server = MetricsServer(
            self.metrics,
            host=host,
            port=port,
            healthy=self.health,
        ).start()
        logger.info("serving metrics on http://%s:%d/metrics", host, self._server.port)
        return self._server

    def run(self, *, watch_every: float = DEFAULT_WATCH_EVERY) -> None:
        """Serve until `stop()`: sync the owners every `watch_every` seconds."""
        self.scheduler.start()
        try:
            while not self._stop.is_set():
                if self.sync():
                    self.health.mark_success()
                self._stop.wait(watch_every)
        finally:
            self.scheduler.stop()
            for name in list(self.owners):
                self._remove(name)
            if self._server is not None:
                self._server.stop()

    def stop(self) -> None:
        self._stop.set()

    def wait_started(self, timeout: float = 10.0) -> bool:
        """For tests and the bench: True once the first sync has happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.owners or self._last_source_error is not None:
                return True
            time.sleep(0.05)
        return False
